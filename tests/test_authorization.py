"""Acceptance 5: the authorization matrix, against a real server.

For every HTTP endpoint and every socket frame that takes a conversation or a brand, an
outsider (another consumer, another brand's member, a signed-out caller) gets nothing:
404 / 401 / ``not_found``, and no frame of that conversation ever reaches their socket.

"Nothing arrived" is proven without sleeping: every event is handed to the sockets' queues
before the gateway answers the frame or request that caused it, and a socket handles its
frames other than ``send`` in order, so once a ``ping`` sent afterwards is answered by its
``pong``, whatever that socket was ever going to receive about the exchange has been
received. (Sends run concurrently, so replies to an outsider's own sends are awaited by ref.)
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import websockets

from tests.clients import Api, Socket, User, staffed
from tests.gateway_process import GatewayProcess

# Shaped like the gateway's ids (a prefix and 26 Crockford characters), never given out.
UNKNOWN_CONVERSATION = "c_00000000000000000000000000"
UNKNOWN_ACCOUNT = "a_00000000000000000000000000"


@dataclass
class World:
    handle: str
    owner: User
    agent: User
    consumer: User  # C: has one thread with the brand
    conversation_id: str  # C's thread with the brand: the one everybody else probes
    stranger: User  # X: another consumer, with a thread of their own with the same brand
    stranger_conversation_id: str
    rival: User  # the owner of another brand
    rival_handle: str
    rival_conversation_id: str  # C's thread with the rival's brand: the rival's to see
    signed_out: User  # C's account, through a session that has signed out


async def open_thread(gateway: GatewayProcess, user: User, handle: str, text: str) -> str:
    socket = await Socket.open(gateway.ws_url, user)
    try:
        ack = await socket.send_message(text, to=f"@{handle}")
    finally:
        await socket.close()
    assert ack["seq"] == 1
    return str(ack["conversation_id"])


async def build_world(gateway: GatewayProcess, api: Api) -> World:
    owner = await api.sign_up("owner")
    agent = await api.sign_up("agent")
    consumer = await api.sign_up("lea")
    stranger = await api.sign_up("xavier")
    rival = await api.sign_up("rival")
    handle = await api.create_brand(owner, "acme")
    await api.add_member(owner, handle, agent)
    rival_handle = await api.create_brand(rival, "rival")
    # Assigned by hand: who may see and do what, with no routing moving cases meanwhile.
    for admin, brand in ((owner, handle), (rival, rival_handle)):
        await api.set_auto_assign(admin, brand, False)
    async with staffed(gateway.ws_url, owner, rival):
        conversation_id = await open_thread(gateway, consumer, handle, "my order never came")
        stranger_conversation_id = await open_thread(gateway, stranger, handle, "hello there")
        rival_conversation_id = await open_thread(gateway, consumer, rival_handle, "hi rival")
    signed_out = await api.sign_in(consumer)
    response = await api.call("DELETE", "/v1/sessions/current", signed_out)
    assert response.status_code == 204, response.text
    return World(
        handle=handle, owner=owner, agent=agent, consumer=consumer,
        conversation_id=conversation_id, stranger=stranger,
        stranger_conversation_id=stranger_conversation_id, rival=rival,
        rival_handle=rival_handle, rival_conversation_id=rival_conversation_id,
        signed_out=signed_out,
    )  # fmt: skip


# --- callers --------------------------------------------------------------------------

MEMBERS = ("owner", "agent")
OUTSIDERS = ("stranger", "rival")
SIGNED_OUT = ("no_token", "garbage_token", "wrong_scheme", "revoked_token")
CALLERS = ("consumer", *MEMBERS, *OUTSIDERS, *SIGNED_OUT)


def headers_for(world: World, caller: str) -> dict[str, str]:
    users = {
        "consumer": world.consumer, "owner": world.owner, "agent": world.agent,
        "stranger": world.stranger, "rival": world.rival, "revoked_token": world.signed_out,
    }  # fmt: skip
    if caller in users:
        return users[caller].auth
    if caller == "no_token":
        return {}
    if caller == "garbage_token":
        return {"Authorization": f"Bearer {secrets.token_urlsafe(32)}"}
    if caller == "wrong_scheme":  # a live token, but not presented as a bearer token
        return {"Authorization": f"Basic {world.consumer.token}"}
    raise AssertionError(caller)


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    return body


async def assert_untouched(api: Api, world: World) -> None:
    """C's thread is as the world built it: nobody resolved, assigned or wrote to it."""
    response = await api.call("GET", f"/v1/conversations/{world.conversation_id}", world.owner)
    assert response.status_code == 200, response.text
    conversation = response.json()
    assert (conversation["status"], conversation["case"]) == ("open", 1)
    assert conversation["assignee"] is None
    assert conversation["last_seq"] == 1
    assert [m["seq"] for m in await api.history(world.owner, world.conversation_id)] == [1]


# --- HTTP: endpoints that take a conversation -----------------------------------------

CONVERSATION_ENDPOINTS = ("get", "messages", "resolve", "assign")


async def call_conversation_endpoint(
    api: Api, world: World, endpoint: str, conversation_id: str, headers: dict[str, str]
) -> httpx.Response:
    path = f"/v1/conversations/{conversation_id}"
    if endpoint == "get":
        return await api.call("GET", path, headers=headers)
    if endpoint == "messages":
        return await api.call("GET", path + "/messages", headers=headers)
    if endpoint == "resolve":
        estimate = {"agent_estimate": 4}
        return await api.call("POST", path + "/resolve", headers=headers, json=estimate)
    if endpoint == "assign":
        assignee = {"account_id": world.agent.account_id}
        return await api.call("POST", path + "/assign", headers=headers, json=assignee)
    raise AssertionError(endpoint)


OK = (200, "")
NOT_FOUND = (404, "not_found")
FORBIDDEN = (403, "forbidden")
UNAUTHENTICATED = (401, "unauthenticated")

# caller -> expected (status, code) on get, messages, resolve, assign.
CONVERSATION_MATRIX: dict[str, tuple[tuple[int, str], ...]] = {
    "consumer": (OK, OK, FORBIDDEN, FORBIDDEN),
    "owner": (OK, OK, OK, OK),
    "agent": (OK, OK, OK, OK),
    "stranger": (NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    "rival": (NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    "no_token": (UNAUTHENTICATED,) * 4,
    "garbage_token": (UNAUTHENTICATED,) * 4,
    "wrong_scheme": (UNAUTHENTICATED,) * 4,
    "revoked_token": (UNAUTHENTICATED,) * 4,
}


def test_the_conversation_matrix_covers_every_caller() -> None:
    assert set(CONVERSATION_MATRIX) == set(CALLERS)


@pytest.mark.parametrize("endpoint", CONVERSATION_ENDPOINTS)
@pytest.mark.parametrize("caller", CALLERS)
async def test_conversation_endpoints(
    gateway: GatewayProcess, api: Api, caller: str, endpoint: str
) -> None:
    world = await build_world(gateway, api)
    status, code = CONVERSATION_MATRIX[caller][CONVERSATION_ENDPOINTS.index(endpoint)]
    headers = headers_for(world, caller)
    conversation_id = world.conversation_id
    response = await call_conversation_endpoint(api, world, endpoint, conversation_id, headers)

    if status != 200:
        body = assert_error(response, status, code)
        if status in (401, 404):
            # A thread the caller may not see is indistinguishable from one that does not exist.
            unknown = await call_conversation_endpoint(
                api, world, endpoint, UNKNOWN_CONVERSATION, headers
            )
            assert unknown.status_code == status
            assert unknown.json() == body
        await assert_untouched(api, world)
        return

    assert response.status_code == 200, response.text
    payload = response.json()
    if endpoint == "messages":
        [message] = payload["messages"]
        assert (message["conversation_id"], message["seq"]) == (world.conversation_id, 1)
        assert message["sender"]["id"] == world.consumer.account_id
        assert payload["last_seq"] == 1
        return
    assert payload["id"] == world.conversation_id
    assert payload["consumer"] == {
        "id": world.consumer.account_id, "display_name": world.consumer.display_name,
    }  # fmt: skip
    if endpoint == "resolve":
        assert payload["status"] == "resolved"
    if endpoint == "assign":
        assert payload["assignee"]["id"] == world.agent.account_id


@pytest.mark.parametrize("caller", CALLERS)
async def test_conversation_list(gateway: GatewayProcess, api: Api, caller: str) -> None:
    world = await build_world(gateway, api)
    response = await api.call("GET", "/v1/conversations", headers=headers_for(world, caller))
    if caller in SIGNED_OUT:
        assert_error(response, 401, "unauthenticated")
        return
    assert response.status_code == 200, response.text
    listed = {conversation["id"] for conversation in response.json()["conversations"]}
    # Each caller sees exactly their own threads and their brands' threads.
    expected = {
        "consumer": {world.conversation_id, world.rival_conversation_id},
        "owner": {world.conversation_id, world.stranger_conversation_id},
        "agent": {world.conversation_id, world.stranger_conversation_id},
        "stranger": {world.stranger_conversation_id},
        "rival": {world.rival_conversation_id},
    }[caller]
    assert listed == expected
    # Every thread of the world is open: the filters hold the same line.
    for status, wanted in (("open", expected), ("resolved", set())):
        filtered = await api.call(
            "GET", "/v1/conversations", headers=headers_for(world, caller),
            params={"status": status, "limit": 200},
        )  # fmt: skip
        assert filtered.status_code == 200, filtered.text
        assert {c["id"] for c in filtered.json()["conversations"]} == wanted


# --- HTTP: endpoints that take a brand ------------------------------------------------

NON_ADMINS = ("agent", "consumer", *OUTSIDERS)


async def roles_of(api: Api, user: User) -> list[dict[str, str]]:
    response = await api.call("GET", "/v1/me", user)
    assert response.status_code == 200, response.text
    brands: list[dict[str, str]] = response.json()["brands"]
    return brands


async def assert_members_untouched(api: Api, world: World) -> None:
    assert await roles_of(api, world.agent) == [{"handle": world.handle, "role": "agent"}]
    assert await roles_of(api, world.owner) == [{"handle": world.handle, "role": "owner"}]
    assert await roles_of(api, world.stranger) == []
    assert await roles_of(api, world.consumer) == []
    assert await roles_of(api, world.rival) == [{"handle": world.rival_handle, "role": "owner"}]
    # And the stranger, had they been let in, would now see C's thread.
    response = await api.call("GET", f"/v1/conversations/{world.conversation_id}", world.stranger)
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize("caller", CALLERS)
async def test_listing_members(gateway: GatewayProcess, api: Api, caller: str) -> None:
    """Members see who works for the brand (to hand a conversation over); nobody else."""
    world = await build_world(gateway, api)
    response = await api.call(
        "GET", f"/v1/brands/{world.handle}/members", headers=headers_for(world, caller)
    )
    if caller in MEMBERS:
        assert response.status_code == 200, response.text
        listed = [(m["account_id"], m["role"]) for m in response.json()["members"]]
        assert listed == [(world.owner.account_id, "owner"), (world.agent.account_id, "agent")]
        # Emails are for those who manage the team; an agent sees names.
        emails = [m["email"] for m in response.json()["members"]]
        if caller == "owner":
            assert emails == [world.owner.email, world.agent.email]
        else:
            assert emails == [None, None]
    else:
        assert_error(response, *(UNAUTHENTICATED if caller in SIGNED_OUT else FORBIDDEN))


@pytest.mark.parametrize("caller", (*NON_ADMINS, *SIGNED_OUT))
async def test_adding_members(gateway: GatewayProcess, api: Api, caller: str) -> None:
    world = await build_world(gateway, api)
    headers = headers_for(world, caller)
    status, code = UNAUTHENTICATED if caller in SIGNED_OUT else FORBIDDEN
    path = f"/v1/brands/{world.handle}/members"
    # The classic attempts: let a stranger in as admin; promote oneself; demote the owner.
    attempts = [
        {"email": world.stranger.email, "role": "admin"},
        {"email": world.agent.email, "role": "admin"},
        {"email": world.owner.email, "role": "agent"},
        {"email": "nobody-at-all@example.com", "role": "agent"},  # unknown accounts too
    ]
    for body in attempts:
        response = await api.call("POST", path, headers=headers, json=body)
        assert_error(response, status, code)
    await assert_members_untouched(api, world)


@pytest.mark.parametrize("caller", (*NON_ADMINS, *SIGNED_OUT))
async def test_removing_members(gateway: GatewayProcess, api: Api, caller: str) -> None:
    world = await build_world(gateway, api)
    headers = headers_for(world, caller)
    status, code = UNAUTHENTICATED if caller in SIGNED_OUT else FORBIDDEN
    path = f"/v1/brands/{world.handle}/members/"
    bodies = []
    for target in (world.agent.account_id, world.owner.account_id, UNKNOWN_ACCOUNT):
        response = await api.call("DELETE", path + target, headers=headers)
        bodies.append(assert_error(response, status, code))
    # Non-admins cannot even tell a member from an account that is none.
    assert bodies[0] == bodies[2]
    await assert_members_untouched(api, world)


async def test_admins_manage_members_but_not_owners(gateway: GatewayProcess, api: Api) -> None:
    """The positive side of the members matrix, and the limits of an admin."""
    world = await build_world(gateway, api)
    admin = await api.sign_up("admin")
    await api.add_member(world.owner, world.handle, admin, role="admin")
    members = f"/v1/brands/{world.handle}/members"

    # An admin adds and removes agents...
    stranger_as_agent = {"email": world.stranger.email, "role": "agent"}
    added = await api.call("POST", members, admin, json=stranger_as_agent)
    assert added.status_code == 201, added.text
    assert added.json() == {"account_id": world.stranger.account_id, "role": "agent"}
    visible = await api.call("GET", f"/v1/conversations/{world.conversation_id}", world.stranger)
    assert visible.status_code == 200, visible.text
    removed = await api.call("DELETE", f"{members}/{world.stranger.account_id}", admin)
    assert removed.status_code == 204, removed.text
    hidden = await api.call("GET", f"/v1/conversations/{world.conversation_id}", world.stranger)
    assert_error(hidden, 404, "not_found")

    # ...but touches no owner, and makes nobody owner.
    owner_as_agent = {"email": world.owner.email, "role": "agent"}
    demote = await api.call("POST", members, admin, json=owner_as_agent)
    assert_error(demote, 403, "forbidden")
    remove = await api.call("DELETE", f"{members}/{world.owner.account_id}", admin)
    assert_error(remove, 403, "forbidden")
    crown = await api.call("POST", members, admin, json={"email": admin.email, "role": "owner"})
    assert_error(crown, 422, "invalid_input")
    assert await roles_of(api, world.owner) == [{"handle": world.handle, "role": "owner"}]
    assert await roles_of(api, admin) == [{"handle": world.handle, "role": "admin"}]


async def test_a_brand_keeps_its_last_owner(gateway: GatewayProcess, api: Api) -> None:
    world = await build_world(gateway, api)
    members = f"/v1/brands/{world.handle}/members"
    demote = await api.call(
        "POST", members, world.owner, json={"email": world.owner.email, "role": "admin"}
    )
    assert_error(demote, 409, "last_owner")
    remove = await api.call("DELETE", f"{members}/{world.owner.account_id}", world.owner)
    assert_error(remove, 409, "last_owner")
    assert await roles_of(api, world.owner) == [{"handle": world.handle, "role": "owner"}]


# --- the socket -----------------------------------------------------------------------

Connect = Callable[[User | None], Awaitable[Socket]]


@pytest.fixture
async def connect(gateway: GatewayProcess) -> AsyncIterator[Connect]:
    """Open sockets (signed in when given a user); all are closed when the test ends."""
    opened: list[Socket] = []

    async def open_socket(user: User | None) -> Socket:
        socket = await Socket.open(gateway.ws_url)
        opened.append(socket)
        if user is not None:
            await socket.hello(user)
        return socket

    yield open_socket
    for socket in opened:
        await socket.close()


async def frames_until_answered(
    socket: Socket, probes: Sequence[dict[str, Any]] = (), ref: str = "barrier"
) -> list[dict[str, Any]]:
    """Every frame this socket receives until a ping sent now is answered, and every probe
    (sent earlier) is answered too: sends are handled concurrently, so theirs may come later."""
    await socket.send_json({"type": "ping", "ref": ref})
    unanswered = {probe["ref"] for probe in probes}
    frames: list[dict[str, Any]] = []
    ponged = False
    while unanswered or not ponged:
        frame = await socket.recv()
        if frame == {"type": "pong", "ref": ref}:
            ponged = True
            continue
        frames.append(frame)
        unanswered.discard(frame.get("ref"))
    return frames


async def frames_until_closed(socket: Socket) -> tuple[list[dict[str, Any]], int | None]:
    """Every frame this socket receives until the gateway closes it, and the close code."""
    frames: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(10):
            while True:
                frames.append(json.loads(await socket.connection.recv()))
    except websockets.ConnectionClosed as closed:
        return frames, closed.rcvd.code if closed.rcvd else None


def probe_frames(conversation_id: str, prefix: str) -> list[dict[str, Any]]:
    """Every frame that takes a conversation, aimed at ``conversation_id``."""
    return [
        {"type": "send", "ref": f"{prefix}-send", "client_id": secrets.token_hex(8),
         "conversation_id": conversation_id, "text": "let me in"},
        {"type": "sync", "ref": f"{prefix}-sync", "conversation_id": conversation_id,
         "after_seq": 0},
        {"type": "read", "ref": f"{prefix}-read", "conversation_id": conversation_id, "seq": 1},
        {"type": "typing", "ref": f"{prefix}-typing", "conversation_id": conversation_id},
    ]  # fmt: skip


async def send_probes(socket: Socket, probes: list[dict[str, Any]]) -> None:
    for probe in probes:
        await socket.send_json(probe)


def not_found_replies(probes: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return sorted(("error", "not_found", probe["ref"]) for probe in probes)


def summary(frames: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(type, code, ref) of each frame, sorted: replies to concurrent frames may interleave."""
    return sorted((frame["type"], frame.get("code", ""), frame.get("ref", "")) for frame in frames)


async def exchange(api: Api, world: World, consumer_socket: Socket, agent_socket: Socket) -> None:
    """C and the agent use the thread in every way that makes frames, each step confirmed.

    Every step ends once its effect reached the other side, and the gateway hands an event
    to all sockets at once, so afterwards nothing of the exchange is still on its way.
    """
    conversation_id = world.conversation_id
    ack = await agent_socket.send_message("Sorry! Looking now.", conversation_id=conversation_id)
    [answer] = await consumer_socket.messages(1)
    assert (answer["seq"], answer["id"]) == (ack["seq"], ack["id"])

    await consumer_socket.send_json({"type": "typing", "conversation_id": conversation_id})
    await agent_socket.recv_until(
        "typing", conversation_id=conversation_id, account_id=world.consumer.account_id
    )
    await agent_socket.send_json({"type": "typing", "conversation_id": conversation_id})
    await consumer_socket.recv_until(
        "typing", conversation_id=conversation_id, account_id=world.agent.account_id
    )
    seq = ack["seq"]
    read = {"type": "read", "conversation_id": conversation_id, "seq": seq}
    await consumer_socket.send_json(read)
    await agent_socket.recv_until(
        "read", conversation_id=conversation_id, account_id=world.consumer.account_id, seq=seq
    )
    await agent_socket.send_json(read)
    await consumer_socket.recv_until(
        "read", conversation_id=conversation_id, account_id=world.agent.account_id, seq=seq
    )

    path = f"/v1/conversations/{conversation_id}"
    assigned = await api.call(
        "POST", path + "/assign", world.agent, json={"account_id": world.agent.account_id}
    )
    assert assigned.status_code == 200, assigned.text
    agent_ref = {"id": world.agent.account_id, "display_name": world.agent.display_name}
    await conversation_frame(consumer_socket, id=conversation_id, assignee=agent_ref)
    resolved = await api.call("POST", path + "/resolve", world.agent)
    assert resolved.status_code == 200, resolved.text
    await conversation_frame(consumer_socket, id=conversation_id, status="resolved")

    reopen = await consumer_socket.send_message("still broken", conversation_id=conversation_id)
    await conversation_frame(agent_socket, id=conversation_id, status="open", case=2)
    [again] = await agent_socket.messages(1)
    assert (again["seq"], again["text"]) == (reopen["seq"], "still broken")


async def conversation_frame(socket: Socket, **fields: Any) -> dict[str, Any]:
    """The next conversation object pushed to ``socket`` with these field values."""
    while True:
        frame = await socket.recv_until("conversation")
        conversation: dict[str, Any] = frame["conversation"]
        if all(conversation.get(key) == value for key, value in fields.items()):
            return conversation


async def test_outsider_sockets_get_not_found_and_see_nothing(
    gateway: GatewayProcess, api: Api, connect: Connect
) -> None:
    world = await build_world(gateway, api)
    await connect(world.owner)  # a member's socket too, so the thread's events fan out widely
    agent_socket = await connect(world.agent)
    consumer_socket = await connect(world.consumer)
    outsiders = {"stranger": await connect(world.stranger), "rival": await connect(world.rival)}

    # The probes go out first and are answered while the thread is busy.
    probes = {name: probe_frames(world.conversation_id, name) for name in outsiders}
    for name, socket in outsiders.items():
        await send_probes(socket, probes[name])

    await exchange(api, world, consumer_socket, agent_socket)

    replies = {
        name: await frames_until_answered(socket, probes[name])
        for name, socket in outsiders.items()
    }
    for name, frames in replies.items():
        assert summary(frames) == not_found_replies(probes[name]), name
        assert all(world.conversation_id not in json.dumps(frame) for frame in frames)

    # The refusals say no more than those for a thread that does not exist.
    stranger = outsiders["stranger"]
    unknown = probe_frames(UNKNOWN_CONVERSATION, "unknown")
    await send_probes(stranger, unknown)
    refusals = await frames_until_answered(stranger, unknown)
    assert summary(refusals) == not_found_replies(unknown)

    def messages(frames: list[dict[str, Any]]) -> dict[str, str]:
        return {frame["ref"].split("-")[-1]: frame["message"] for frame in frames}

    assert messages(refusals) == messages(replies["stranger"])

    # Nothing the outsiders sent was committed or moved anything.
    history = await api.history(world.consumer, world.conversation_id)
    assert [(m["seq"], m["sender"]["id"]) for m in history] == [
        (1, world.consumer.account_id), (2, world.agent.account_id),
        (3, world.consumer.account_id),
    ]  # fmt: skip
    assert all(m["text"] != "let me in" for m in history)


@pytest.mark.parametrize("token", ["garbage", "empty", "revoked", "missing"])
async def test_a_signed_out_socket_is_closed_before_any_frame(
    gateway: GatewayProcess, api: Api, connect: Connect, token: str
) -> None:
    world = await build_world(gateway, api)
    socket = await connect(None)
    hello: dict[str, Any] = {"type": "hello", "client": "tests/1"}
    if token != "missing":
        hello["token"] = {
            "garbage": secrets.token_urlsafe(32), "empty": "", "revoked": world.signed_out.token,
        }[token]  # fmt: skip
    await socket.send_json(hello)
    for probe in probe_frames(world.conversation_id, "after-hello"):
        # The gateway may already have closed: these must not be answered either way.
        try:
            await socket.send_json(probe)
        except websockets.ConnectionClosed:
            break
    assert await frames_until_closed(socket) == ([], 4401)
    await assert_untouched(api, world)


@pytest.mark.parametrize("kind", ["send", "sync", "read", "typing"])
async def test_a_socket_without_hello_is_closed_before_any_frame(
    gateway: GatewayProcess, api: Api, connect: Connect, kind: str
) -> None:
    world = await build_world(gateway, api)
    socket = await connect(None)
    [probe] = [p for p in probe_frames(world.conversation_id, "nohello") if p["type"] == kind]
    await socket.send_json(probe)
    assert await frames_until_closed(socket) == ([], 4400)
    await assert_untouched(api, world)


async def test_signing_out_stops_a_live_socket_at_once(
    gateway: GatewayProcess, api: Api, connect: Connect
) -> None:
    world = await build_world(gateway, api)
    device = await api.sign_in(world.consumer)
    device_socket = await connect(device)
    agent_socket = await connect(world.agent)
    await agent_socket.send_message("anyone there?", conversation_id=world.conversation_id)
    [seen] = await device_socket.messages(1)
    assert seen["seq"] == 2

    signed_out = await api.call("DELETE", "/v1/sessions/current", device)
    assert signed_out.status_code == 204, signed_out.text
    await agent_socket.send_message("hello?", conversation_id=world.conversation_id)
    await agent_socket.send_json({"type": "typing", "conversation_id": world.conversation_id})
    assert await frames_until_closed(device_socket) == ([], 4401)
    response = await api.call("GET", f"/v1/conversations/{world.conversation_id}", device)
    assert_error(response, 401, "unauthenticated")


async def test_a_removed_member_stops_receiving_at_once(
    gateway: GatewayProcess, api: Api, connect: Connect
) -> None:
    world = await build_world(gateway, api)
    leaver = await api.sign_up("leaver")
    await api.add_member(world.owner, world.handle, leaver)
    leaver_socket = await connect(leaver)
    agent_socket = await connect(world.agent)
    consumer_socket = await connect(world.consumer)

    # While a member, the leaver's socket gets the thread's frames and may use it.
    await consumer_socket.send_message("are you there?", conversation_id=world.conversation_id)
    received = await frames_until_answered(leaver_socket, ref="before")
    assert [(f["type"], f["message"]["seq"]) for f in received] == [("message", 2)]
    await leaver_socket.send_json({"type": "typing", "conversation_id": world.conversation_id})
    await consumer_socket.recv_until("typing", account_id=leaver.account_id)

    removed = await api.call(
        "DELETE", f"/v1/brands/{world.handle}/members/{leaver.account_id}", world.owner
    )
    assert removed.status_code == 204, removed.text

    await exchange(api, world, consumer_socket, agent_socket)
    assert await frames_until_answered(leaver_socket, ref="after") == []

    probes = probe_frames(world.conversation_id, "leaver")
    await send_probes(leaver_socket, probes)
    assert summary(await frames_until_answered(leaver_socket, probes)) == not_found_replies(probes)
    response = await api.call("GET", f"/v1/conversations/{world.conversation_id}", leaver)
    assert_error(response, 404, "not_found")
    listed = await api.call("GET", "/v1/conversations", leaver)
    assert listed.status_code == 200, listed.text
    assert listed.json()["conversations"] == []

    # Still nothing, even after the refusals: the socket is an outsider's now.
    more = await consumer_socket.send_message("one more", conversation_id=world.conversation_id)
    [last] = await agent_socket.messages(1)
    assert last["seq"] == more["seq"] == 5
    assert await frames_until_answered(leaver_socket, ref="end") == []
    history = await api.history(world.consumer, world.conversation_id)
    assert [m["seq"] for m in history] == [1, 2, 3, 4, 5]
    assert all(m["sender"]["id"] != leaver.account_id for m in history)


async def test_a_new_agent_receives_from_the_moment_they_are_added(
    gateway: GatewayProcess, api: Api, connect: Connect
) -> None:
    world = await build_world(gateway, api)
    newcomer = await api.sign_up("newcomer")
    newcomer_socket = await connect(newcomer)
    agent_socket = await connect(world.agent)
    consumer_socket = await connect(world.consumer)

    # Before: an outsider, refused and told nothing.
    probes = probe_frames(world.conversation_id, "early")
    await send_probes(newcomer_socket, probes)
    await exchange(api, world, consumer_socket, agent_socket)
    early = await frames_until_answered(newcomer_socket, probes)
    assert summary(early) == not_found_replies(probes)

    await api.add_member(world.owner, world.handle, newcomer)

    # After: the same open socket gets the thread live, and may use it.
    ack = await consumer_socket.send_message("hello again", conversation_id=world.conversation_id)
    [message] = await newcomer_socket.messages(1)
    assert (message["conversation_id"], message["seq"]) == (world.conversation_id, ack["seq"])
    await consumer_socket.send_json({"type": "typing", "conversation_id": world.conversation_id})
    typing = await newcomer_socket.recv_until("typing")
    assert typing == {
        "type": "typing", "conversation_id": world.conversation_id,
        "account_id": world.consumer.account_id,
    }  # fmt: skip
    await newcomer_socket.send_json(
        {"type": "sync", "ref": "catch-up", "conversation_id": world.conversation_id,
         "after_seq": 0}
    )  # fmt: skip
    caught_up = await newcomer_socket.messages(ack["seq"])
    assert [m["seq"] for m in caught_up] == list(range(1, ack["seq"] + 1))
    synced = await newcomer_socket.recv_until("synced", ref="catch-up")
    assert synced["last_seq"] == ack["seq"]
    reply = await newcomer_socket.send_message("I can help", conversation_id=world.conversation_id)
    [answer] = await consumer_socket.messages(1)
    assert (answer["seq"], answer["sender"]["id"]) == (reply["seq"], newcomer.account_id)
    assert answer["sender"]["role"] == "agent"


async def test_members_never_see_the_consumers_email(
    gateway: GatewayProcess, api: Api, connect: Connect
) -> None:
    world = await build_world(gateway, api)
    owner_socket = await connect(world.owner)
    agent_socket = await connect(world.agent)
    consumer_socket = await connect(world.consumer)
    # A brand-new thread, so the members' sockets also see one being created.
    handle = await api.create_brand(world.owner, "second")
    ack = await consumer_socket.send_message(f"@{handle} hi", to=f"@{handle}")

    await exchange(api, world, consumer_socket, agent_socket)

    # The owner's socket was only listening: it holds every frame a member got.
    seen: list[Any] = await frames_until_answered(owner_socket)
    kinds = {frame["type"] for frame in seen}
    assert {"conversation", "message", "typing", "read"} <= kinds, kinds
    seen += await frames_until_answered(agent_socket)
    for member in (world.owner, world.agent):
        for conversation_id in (world.conversation_id, ack["conversation_id"]):
            for path in ("", "/messages"):
                url = f"/v1/conversations/{conversation_id}{path}"
                response = await api.call("GET", url, member)
                if member is world.agent and conversation_id == ack["conversation_id"]:
                    assert_error(response, 404, "not_found")  # not a member of the second brand
                    continue
                assert response.status_code == 200, response.text
                seen.append(response.json())
        listed = await api.call("GET", "/v1/conversations", member)
        assert listed.status_code == 200, listed.text
        seen.append(listed.json())

    consumers = [item["consumer"] for item in _walk(seen) if "consumer" in item]
    assert len(consumers) >= 10, "the members saw conversation objects"
    for consumer in consumers:
        if consumer["id"] == world.consumer.account_id:
            assert consumer == {
                "id": world.consumer.account_id, "display_name": world.consumer.display_name,
            }  # fmt: skip
    text = json.dumps(seen)
    assert world.consumer.account_id in text
    assert world.consumer.email not in text
    assert world.consumer.email.split("@")[0] not in text


def _walk(value: Any) -> list[dict[str, Any]]:
    """Every dict nested in ``value``, ``value`` included."""
    found: list[dict[str, Any]] = [value] if isinstance(value, dict) else []
    inner = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    for item in inner:
        found += _walk(item)
    return found


# --- service quality (PROTOCOL 6): ratings, statistics, the brand's profile -----------

CREATED = (201, "")

# caller -> rating C's resolved case; reading the brand's statistics; patching the brand.
SERVICE_MATRIX: dict[str, tuple[tuple[int, str], ...]] = {
    "consumer": (CREATED, FORBIDDEN, FORBIDDEN),
    "owner": (FORBIDDEN, OK, OK),
    "agent": (FORBIDDEN, OK, FORBIDDEN),
    "stranger": (NOT_FOUND, FORBIDDEN, FORBIDDEN),
    "rival": (NOT_FOUND, FORBIDDEN, FORBIDDEN),
    "no_token": (UNAUTHENTICATED,) * 3,
    "garbage_token": (UNAUTHENTICATED,) * 3,
    "wrong_scheme": (UNAUTHENTICATED,) * 3,
    "revoked_token": (UNAUTHENTICATED,) * 3,
}


def test_the_service_matrix_covers_every_caller() -> None:
    assert set(SERVICE_MATRIX) == set(CALLERS)


@pytest.mark.parametrize("caller", CALLERS)
async def test_service_endpoints(gateway: GatewayProcess, api: Api, caller: str) -> None:
    world = await build_world(gateway, api)
    resolved = await api.call(
        "POST", f"/v1/conversations/{world.conversation_id}/resolve", world.agent
    )
    assert resolved.status_code == 200, resolved.text
    headers = headers_for(world, caller)
    rating, stats, patch = SERVICE_MATRIX[caller]

    path = f"/v1/conversations/{world.conversation_id}/rating"
    response = await api.call("POST", path, headers=headers, json={"score": 1})
    if rating == CREATED:
        assert response.status_code == 201, response.text
    else:
        body = assert_error(response, *rating)
        if rating[0] in (401, 404):
            unknown = f"/v1/conversations/{UNKNOWN_CONVERSATION}/rating"
            probe = await api.call("POST", unknown, headers=headers, json={"score": 1})
            assert (probe.status_code, probe.json()) == (rating[0], body)
        # Nobody rated in the consumer's place: the case is still theirs to rate.
        own = await api.call("POST", path, world.consumer, json={"score": 5})
        assert own.status_code == 201, own.text
    # The rating state is on the conversation for its participants only; the stranger's own
    # thread (never resolved) has none.
    score = 1 if rating == CREATED else 5
    for name in ("consumer", "owner", "agent", "stranger", "rival"):
        user = getattr(world, name)
        seen = await api.call("GET", f"/v1/conversations/{world.conversation_id}", user)
        if name in ("stranger", "rival"):
            assert_error(seen, 404, "not_found")
        else:
            assert seen.json()["rating"] == {"case": 1, "score": score}, (name, seen.text)
        listed = (await api.call("GET", "/v1/conversations", user)).json()["conversations"]
        ratings = {c["id"]: c.get("rating") for c in listed}
        assert ratings.get(world.stranger_conversation_id) is None
        assert (world.conversation_id in ratings) == (name in ("consumer", "owner", "agent"))

    response = await api.call("GET", f"/v1/brands/{world.handle}/stats", headers=headers)
    if stats == OK:
        assert response.status_code == 200, response.text
        assert response.json()["figures"]["resolved_cases"] == 1
    else:
        assert_error(response, *stats)

    hours = {"time_zone": "UTC", "weekly": {"mon": [["00:00", "24:00"]]}}
    response = await api.call(
        "PATCH", f"/v1/brands/{world.handle}", headers=headers, json={"hours": hours}
    )
    brand = (await api.call("GET", f"/v1/brands/{world.handle}")).json()
    if patch == OK:
        assert response.status_code == 200, response.text
        assert brand["hours"]["weekly"]["mon"] == [["00:00", "24:00"]]
    else:
        assert_error(response, *patch)
        assert brand["hours"] is None


async def test_only_the_consumer_is_asked_to_rate(
    gateway: GatewayProcess, api: Api, connect: Connect
) -> None:
    world = await build_world(gateway, api)
    sockets = {
        name: await connect(user)
        for name, user in (("consumer", world.consumer), ("agent", world.agent),
                           ("stranger", world.stranger), ("rival", world.rival))
    }  # fmt: skip
    resolved = await api.call(
        "POST", f"/v1/conversations/{world.conversation_id}/resolve", world.owner
    )
    assert resolved.status_code == 200, resolved.text
    for name, socket in sockets.items():
        kinds = [frame["type"] for frame in await frames_until_answered(socket)]
        expected = {
            "consumer": ["conversation", "rating_request"],
            "agent": ["conversation"],
        }.get(name, [])
        assert kinds == expected, (name, kinds)


# --- notices (PROTOCOL 7) and canned replies ------------------------------------------

NO_CONTENT = (204, "")

# caller -> follow; post a notice; list notices (public); list, add, delete canned replies.
NOTICE_MATRIX: dict[str, tuple[tuple[int, str], ...]] = {
    "consumer": (NO_CONTENT, FORBIDDEN, OK, FORBIDDEN, FORBIDDEN, FORBIDDEN),
    "owner": (NO_CONTENT, CREATED, OK, OK, CREATED, NO_CONTENT),
    "agent": (NO_CONTENT, FORBIDDEN, OK, OK, FORBIDDEN, FORBIDDEN),
    "stranger": (NO_CONTENT, FORBIDDEN, OK, FORBIDDEN, FORBIDDEN, FORBIDDEN),
    "rival": (NO_CONTENT, FORBIDDEN, OK, FORBIDDEN, FORBIDDEN, FORBIDDEN),
    **{
        caller: (UNAUTHENTICATED, UNAUTHENTICATED, OK, UNAUTHENTICATED, UNAUTHENTICATED,
                 UNAUTHENTICATED)
        for caller in SIGNED_OUT
    },
}  # fmt: skip


@pytest.mark.parametrize("caller", CALLERS)
async def test_notice_and_canned_endpoints(gateway: GatewayProcess, api: Api, caller: str) -> None:
    world = await build_world(gateway, api)
    brand = f"/v1/brands/{world.handle}"
    kept = await api.call("POST", brand + "/canned", world.owner, json={"title": "k", "text": "k"})
    assert kept.status_code == 201, kept.text
    headers = headers_for(world, caller)
    calls = [
        ("POST", brand + "/follow", None),
        ("POST", brand + "/notices", {"title": "t", "text": "x"}),
        ("GET", brand + "/notices", None),
        ("GET", brand + "/canned", None),
        ("POST", brand + "/canned", {"title": "new", "text": "x"}),
        ("DELETE", brand + "/canned/" + kept.json()["id"], None),
    ]
    for (method, path, body), (status, code) in zip(calls, NOTICE_MATRIX[caller], strict=True):
        response = await api.call(method, path, headers=headers, json=body)
        if code:
            assert_error(response, status, code)
        else:
            assert response.status_code == status, (method, path, response.text)
    notices = (await api.call("GET", brand + "/notices")).json()["notices"]
    assert len(notices) == (1 if caller == "owner" else 0)
    canned = (await api.call("GET", brand + "/canned", world.owner)).json()["canned"]
    assert [c["title"] for c in canned] == (["new"] if caller == "owner" else ["k"])
    # Whom an account follows is in its own GET /v1/me, and in nobody else's.
    for name in ("consumer", "stranger", "owner", "agent", "rival"):
        me = await api.call("GET", "/v1/me", getattr(world, name))
        assert me.json()["following"] == ([world.handle] if name == caller else []), name
