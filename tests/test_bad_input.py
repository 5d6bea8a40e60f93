"""Acceptance: bad input never crashes anything and never stores anything.

Every bad frame gets the documented error (with its ``ref`` echoed) on a socket that stays
open; protocol violations close the socket with the documented code; bad HTTP bodies get
the documented status and code in the one error shape; a bad setting stops ``atdesk serve``
with one clear line. After each, the account concerned has stored nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.clients import Api, Socket, User, unique
from tests.gateway_process import TEST_ENV, GatewayProcess, free_port

# --- helpers -------------------------------------------------------------------------


async def assert_still_open(socket: Socket) -> None:
    """The socket still answers: a ping gets its pong, with the ref echoed."""
    ref = f"alive-{uuid.uuid4().hex}"
    await socket.send_json({"type": "ping", "ref": ref})
    assert await socket.recv() == {"type": "pong", "ref": ref}


async def assert_error_reply(
    socket: Socket, raw: str | bytes, *, code: str, ref: str | None
) -> dict[str, Any]:
    """Send one raw frame; its one reply is the error ``code`` echoing ``ref``."""
    await socket.connection.send(raw)
    reply = await socket.recv()
    assert reply["type"] == "error", reply
    assert reply["code"] == code, reply
    if ref is None:
        assert "ref" not in reply, reply
    else:
        assert reply["ref"] == ref, reply
    assert isinstance(reply["message"], str) and reply["message"], reply
    assert "Traceback" not in reply["message"]
    await assert_still_open(socket)
    return reply


async def assert_nothing_stored(api: Api, user: User) -> None:
    listed = await api.call("GET", "/v1/conversations", user)
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"conversations": [], "next": None}


def assert_error_body(response: httpx.Response, status: int, code: str) -> None:
    """The one HTTP error shape of PROTOCOL.md, with this status and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert "Traceback" not in response.text


# --- bad frames on a signed-in socket: an error, and the socket stays open ------------


@dataclass(frozen=True)
class Context:
    """What a bad frame may need to be realistic: a real brand, the sender's own token."""

    handle: str
    token: str


def js(frame: Any) -> Callable[[Context], str]:
    return lambda _: json.dumps(frame)


def raw(text: str | bytes) -> Callable[[Context], str | bytes]:
    return lambda _: text


def send_to_brand(**fields: Any) -> Callable[[Context], str]:
    """A send to the real brand, with ``fields`` replacing (or, set to ..., removing) fields."""

    def build(ctx: Context) -> str:
        frame: dict[str, Any] = {
            "type": "send", "ref": "s", "client_id": uuid.uuid4().hex, "to": f"@{ctx.handle}",
            "text": "hello",
        }  # fmt: skip
        for name, value in fields.items():
            if value is ...:
                frame.pop(name)
            else:
                frame[name] = value
        return json.dumps(frame)

    return build


INVALID = "invalid_frame"
C = "c_0000000000000000000000000"  # well formed, but no such conversation

BAD_FRAMES: list[Any] = [
    # Not JSON at all.
    pytest.param(raw('{"type": "ping", "ref": "j1"'), INVALID, None, id="truncated-json"),
    pytest.param(raw('{"type": "ping", "ref": "j2"} extra'), INVALID, None, id="trailing-text"),
    pytest.param(raw("{'type': 'ping'}"), INVALID, None, id="single-quotes"),
    pytest.param(raw('{"type": "ping", "ref": "j3", "n": NaN}'), INVALID, None, id="nan"),
    pytest.param(raw(""), INVALID, None, id="empty-text"),
    pytest.param(raw("   "), INVALID, None, id="whitespace-text"),
    # Binary frames: the contract is UTF-8 JSON.
    pytest.param(raw(b"\x00\xff\xfe\x80"), INVALID, None, id="binary-garbage"),
    pytest.param(raw(b"\xc3\x28"), INVALID, None, id="binary-invalid-utf8"),
    # JSON, but not one object.
    pytest.param(js([{"type": "ping", "ref": "a1"}]), INVALID, None, id="array"),
    pytest.param(js("ping"), INVALID, None, id="string"),
    pytest.param(js(42), INVALID, None, id="number"),
    pytest.param(js(None), INVALID, None, id="null"),
    pytest.param(js(True), INVALID, None, id="bool"),
    # Unknown or missing type.
    pytest.param(js({"type": "shout", "ref": "t1"}), INVALID, "t1", id="unknown-type"),
    pytest.param(js({"type": "PING", "ref": "t2"}), INVALID, "t2", id="type-wrong-case"),
    pytest.param(js({"type": "pong", "ref": "t3"}), INVALID, "t3", id="server-frame-type"),
    pytest.param(js({"ref": "t4"}), INVALID, "t4", id="no-type"),
    pytest.param(js({"type": None, "ref": "t5"}), INVALID, "t5", id="null-type"),
    pytest.param(js({"type": 7, "ref": "t6"}), INVALID, "t6", id="number-type"),
    pytest.param(js({}), INVALID, None, id="empty-object"),
    # Missing fields, for each frame type.
    pytest.param(send_to_brand(client_id=...), INVALID, "s", id="send-no-client_id"),
    pytest.param(send_to_brand(text=...), INVALID, "s", id="send-no-text"),
    pytest.param(js({"type": "sync", "ref": "m1", "after_seq": 0}), INVALID, "m1",
                 id="sync-no-conversation_id"),
    pytest.param(js({"type": "sync", "ref": "m2", "conversation_id": C}), INVALID, "m2",
                 id="sync-no-after_seq"),
    pytest.param(js({"type": "read", "ref": "m3", "conversation_id": C}), INVALID, "m3",
                 id="read-no-seq"),
    pytest.param(js({"type": "read", "ref": "m4", "seq": 1}), INVALID, "m4",
                 id="read-no-conversation_id"),
    pytest.param(js({"type": "typing", "ref": "m5"}), INVALID, "m5",
                 id="typing-no-conversation_id"),
    pytest.param(js({"type": "hello", "ref": "m6"}), INVALID, "m6", id="hello-no-token"),
    # Wrong types and out-of-range values.
    pytest.param(send_to_brand(text=5), INVALID, "s", id="send-text-number"),
    pytest.param(send_to_brand(text=["hi"]), INVALID, "s", id="send-text-list"),
    pytest.param(send_to_brand(client_id=5), INVALID, "s", id="send-client_id-number"),
    pytest.param(send_to_brand(client_id=""), INVALID, "s", id="send-client_id-empty"),
    pytest.param(send_to_brand(client_id="c" * 65), INVALID, "s", id="send-client_id-65"),
    pytest.param(send_to_brand(to=["@acme"]), INVALID, "s", id="send-to-list"),
    pytest.param(send_to_brand(to=None, conversation_id={"id": C}), INVALID, "s",
                 id="send-conversation_id-object"),
    pytest.param(js({"type": "sync", "ref": "w1", "conversation_id": C, "after_seq": "0"}),
                 INVALID, "w1", id="sync-after_seq-string"),
    pytest.param(js({"type": "sync", "ref": "w2", "conversation_id": C, "after_seq": -1}),
                 INVALID, "w2", id="sync-after_seq-negative"),
    pytest.param(js({"type": "sync", "ref": "w3", "conversation_id": C, "after_seq": 1.5}),
                 INVALID, "w3", id="sync-after_seq-float"),
    pytest.param(js({"type": "sync", "ref": "w4", "conversation_id": C, "after_seq": 2**64}),
                 INVALID, "w4", id="sync-after_seq-huge"),
    pytest.param(js({"type": "sync", "ref": "w5", "conversation_id": "", "after_seq": 0}),
                 INVALID, "w5", id="sync-conversation_id-empty"),
    pytest.param(js({"type": "read", "ref": "w6", "conversation_id": C, "seq": None}),
                 INVALID, "w6", id="read-seq-null"),
    pytest.param(js({"type": "read", "ref": "w7", "conversation_id": C, "seq": True}),
                 INVALID, "w7", id="read-seq-bool"),
    pytest.param(js({"type": "typing", "ref": "w8", "conversation_id": 123}), INVALID, "w8",
                 id="typing-conversation_id-number"),
    pytest.param(js({"type": "ping", "ref": 5}), INVALID, None, id="ref-number"),
    pytest.param(js({"type": "ping", "ref": ["r"]}), INVALID, None, id="ref-list"),
    pytest.param(js({"type": "ping", "ref": "r" * 129}), INVALID, "r" * 129, id="ref-too-long"),
    # send: exactly one of to and conversation_id; text 1..4000 characters after trimming.
    pytest.param(send_to_brand(conversation_id=C), INVALID, "s", id="send-to-and-conversation_id"),
    pytest.param(send_to_brand(to=...), INVALID, "s", id="send-neither-to-nor-conversation_id"),
    pytest.param(send_to_brand(to=None), INVALID, "s", id="send-to-null"),
    pytest.param(send_to_brand(text=""), INVALID, "s", id="send-text-empty"),
    pytest.param(send_to_brand(text=" \n\t\u3000 "), INVALID, "s", id="send-text-whitespace"),
    pytest.param(send_to_brand(text="x" * 4001), "too_large", "s", id="send-text-4001"),
    pytest.param(send_to_brand(text=" " + "é" * 4001 + " "), "too_large", "s",
                 id="send-text-4001-after-trim"),
    pytest.param(send_to_brand(text="x" * 60_000), "too_large", "s", id="send-text-60000"),
    # A second hello, even a valid one.
    pytest.param(lambda ctx: json.dumps({"type": "hello", "ref": "h2", "token": ctx.token}),
                 INVALID, "h2", id="hello-twice"),
    # Valid frames about things that do not exist.
    pytest.param(send_to_brand(to="@nosuchbrand_" + uuid.uuid4().hex[:12]), "unknown_brand", "s",
                 id="send-unknown-brand"),
    pytest.param(send_to_brand(to="@A"), "unknown_brand", "s", id="send-impossible-handle"),
    pytest.param(send_to_brand(to="no such brand!"), "unknown_brand", "s",
                 id="send-to-not-a-handle"),
    pytest.param(send_to_brand(to=None, conversation_id=C), "not_found", "s",
                 id="send-unknown-conversation"),
    pytest.param(js({"type": "sync", "ref": "n1", "conversation_id": C, "after_seq": 0}),
                 "not_found", "n1", id="sync-unknown-conversation"),
    pytest.param(js({"type": "read", "ref": "n2", "conversation_id": C, "seq": 1}),
                 "not_found", "n2", id="read-unknown-conversation"),
    pytest.param(js({"type": "typing", "ref": "n3", "conversation_id": C}), "not_found", "n3",
                 id="typing-unknown-conversation"),
]  # fmt: skip


@pytest.mark.parametrize(("build", "code", "ref"), BAD_FRAMES)
async def test_a_bad_frame_gets_its_error_and_stores_nothing(
    gateway: GatewayProcess,
    api: Api,
    build: Callable[[Context], str | bytes],
    code: str,
    ref: str | None,
) -> None:
    owner = await api.sign_up("owner")
    handle = await api.create_brand(owner)
    sender = await api.sign_up("sender")
    socket = await Socket.open(gateway.ws_url, sender)
    try:
        await assert_error_reply(socket, build(Context(handle, sender.token)), code=code, ref=ref)
        # The same socket still works for real: a good frame after the bad one is handled.
        await assert_error_reply(
            socket,
            json.dumps({"type": "typing", "ref": "after", "conversation_id": C}),
            code="not_found",
            ref="after",
        )
    finally:
        await socket.close()
    await assert_nothing_stored(api, sender)
    await assert_nothing_stored(api, owner)


async def test_text_of_exactly_4000_characters_after_trimming_is_accepted(
    gateway: GatewayProcess, api: Api
) -> None:
    owner = await api.sign_up("owner")
    handle = await api.create_brand(owner)
    sender = await api.sign_up("sender")
    await api.set_auto_assign(owner, handle, False)  # no assignment frames meanwhile
    desk = await Socket.open(gateway.ws_url, owner)  # no automatic answer in the history
    socket = await Socket.open(gateway.ws_url, sender)
    try:
        text = "é" * 3999 + "!"
        ack = await socket.send_message(f" \n{text}\t ", to=f"@{handle}")
        await assert_error_reply(
            socket,
            json.dumps({"type": "send", "ref": "big", "client_id": "c2",
                        "conversation_id": ack["conversation_id"], "text": text + "!"}),
            code="too_large", ref="big",
        )  # fmt: skip
    finally:
        await socket.close()
        await desk.close()
    [message] = await api.history(sender, ack["conversation_id"])
    assert message["text"] == text
    assert len(message["text"]) == 4000


async def test_out_of_range_numbers_on_a_real_conversation_are_invalid_not_internal(
    gateway: GatewayProcess, api: Api
) -> None:
    """Numbers past what the database holds are the client's error, never the gateway's."""
    owner = await api.sign_up("owner")
    handle = await api.create_brand(owner)
    sender = await api.sign_up("sender")
    await api.set_auto_assign(owner, handle, False)  # no assignment frames meanwhile
    desk = await Socket.open(gateway.ws_url, owner)  # no automatic answer in the history
    socket = await Socket.open(gateway.ws_url, sender)
    try:
        ack = await socket.send_message("hi", to=f"@{handle}")
        conversation_id = ack["conversation_id"]
        for number in (2**63, 2**64, 10**30):
            for frame in (
                {"type": "sync", "ref": "big", "conversation_id": conversation_id,
                 "after_seq": number},
                {"type": "read", "ref": "big", "conversation_id": conversation_id, "seq": number},
            ):  # fmt: skip
                await assert_error_reply(socket, json.dumps(frame), code=INVALID, ref="big")
        await socket.send_json(
            {"type": "sync", "ref": "ok", "conversation_id": conversation_id, "after_seq": 0}
        )
        [message] = await socket.messages(1)
        assert message["seq"] == 1
        synced = await socket.recv_until("synced", ref="ok")
        assert synced["last_seq"] == 1
    finally:
        await socket.close()
        await desk.close()
    assert [m["text"] for m in await api.history(sender, conversation_id)] == ["hi"]
    assert "Traceback" not in gateway.log()


# --- protocol violations close the socket with the documented code --------------------


async def test_a_frame_over_64_kib_closes_with_1009_and_others_are_still_served(
    gateway: GatewayProcess, api: Api
) -> None:
    owner = await api.sign_up("owner")
    handle = await api.create_brand(owner)
    sender = await api.sign_up("sender")
    bystander = await Socket.open(gateway.ws_url, await api.sign_up("bystander"))
    socket = await Socket.open(gateway.ws_url, sender)
    frame = {"type": "send", "ref": "s", "client_id": "c1", "to": f"@{handle}", "text": "hi"}
    # Exactly 64 KiB is still allowed (a ping padded to the limit)...
    exact = json.dumps({"type": "ping", "ref": "exact", "pad": ""})
    exact = exact.replace('"pad": ""', '"pad": "' + "p" * (64 * 1024 - len(exact)) + '"')
    assert len(exact.encode()) == 64 * 1024
    await socket.connection.send(exact)
    assert await socket.recv() == {"type": "pong", "ref": "exact"}
    # ...one byte more is not, even for a frame that would otherwise be a valid send.
    frame["pad"] = "p" * (64 * 1024)
    await socket.connection.send(json.dumps(frame))
    assert await socket.closed_with() == 1009
    await assert_still_open(bystander)
    await bystander.close()
    await assert_nothing_stored(api, sender)
    await assert_nothing_stored(api, owner)


async def test_a_frame_over_64_kib_before_hello_closes_with_1009(gateway: GatewayProcess) -> None:
    socket = await Socket.open(gateway.ws_url)
    await socket.connection.send("x" * (64 * 1024 + 1))
    assert await socket.closed_with() == 1009


FIRST_FRAMES_NOT_HELLO: list[Any] = [
    pytest.param(js({"type": "ping", "ref": "p"}), id="ping"),
    pytest.param(send_to_brand(), id="valid-send"),
    pytest.param(js({"type": "sync", "conversation_id": C, "after_seq": 0}), id="sync"),
    pytest.param(js({"type": "shout"}), id="unknown-type"),
    pytest.param(raw('{"type": "hello", "token": '), id="invalid-json"),
    pytest.param(raw(b"\x00\xff"), id="binary-garbage"),
    pytest.param(js([{"type": "hello"}]), id="array"),
    pytest.param(js(None), id="null"),
]


@pytest.mark.parametrize("build", FIRST_FRAMES_NOT_HELLO)
async def test_a_first_frame_other_than_hello_closes_with_4400(
    gateway: GatewayProcess, api: Api, build: Callable[[Context], str | bytes]
) -> None:
    owner = await api.sign_up("owner")
    handle = await api.create_brand(owner)
    socket = await Socket.open(gateway.ws_url)
    await socket.connection.send(build(Context(handle, owner.token)))
    assert await socket.closed_with() == 4400
    await assert_nothing_stored(api, owner)


BAD_HELLOS: list[Any] = [
    pytest.param({"type": "hello", "token": "not-a-token"}, id="unknown-token"),
    pytest.param({"type": "hello", "token": ""}, id="empty-token"),
    pytest.param({"type": "hello", "token": "x" * 600}, id="overlong-token"),
    pytest.param({"type": "hello"}, id="missing-token"),
    pytest.param({"type": "hello", "token": None}, id="null-token"),
    pytest.param({"type": "hello", "token": 12345}, id="number-token"),
    pytest.param({"type": "hello", "token": ["t"]}, id="list-token"),
]


@pytest.mark.parametrize("hello", BAD_HELLOS)
async def test_a_bad_or_missing_token_closes_with_4401(
    gateway: GatewayProcess, hello: dict[str, Any]
) -> None:
    socket = await Socket.open(gateway.ws_url)
    await socket.send_json(hello)
    assert await socket.closed_with() == 4401


async def test_a_signed_out_token_closes_with_4401(gateway: GatewayProcess, api: Api) -> None:
    user = await api.sign_up("leaver")
    signed_out = await api.call("DELETE", "/v1/sessions/current", user)
    assert signed_out.status_code == 204
    socket = await Socket.open(gateway.ws_url)
    await socket.send_json({"type": "hello", "token": user.token})
    assert await socket.closed_with() == 4401


async def test_no_hello_within_the_timeout_closes_with_4401(tmp_path: Path) -> None:
    server = GatewayProcess(tmp_path, env={"ATDESK_HELLO_TIMEOUT_S": "0.5"})
    server.start()
    try:
        api = Api(server.http_url)
        try:
            user = await api.sign_up("slow")
            silent = await Socket.open(server.ws_url)
            assert await silent.closed_with() == 4401
            # The timeout is per socket: a client that says hello is served as usual.
            prompt = await Socket.open(server.ws_url, user)
            await assert_still_open(prompt)
            await prompt.close()
        finally:
            await api.close()
    finally:
        server.stop()
    assert "Traceback" not in server.log()


# --- HTTP ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "auth"),
    [
        ("/v1/accounts", b'{"email": "a@example.com", "password": ', False),
        ("/v1/accounts", b"not json", False),
        ("/v1/accounts", b"\xff\xfe\x00", False),
        ("/v1/sessions", b'{"email": "a@example.com" "password": "x"}', False),
        ("/v1/brands", b"{'handle': 'acme'}", True),
        ("/v1/brands", b"", True),
    ],
)
async def test_an_invalid_json_body_is_400_invalid_json(
    api: Api, path: str, body: bytes, auth: bool
) -> None:
    user = await api.sign_up("json") if auth else None
    response = await api.call(
        "POST", path, user, content=body, headers={"content-type": "application/json"}
    )
    assert_error_body(response, 400, "invalid_json")
    if user is not None:
        me = await api.call("GET", "/v1/me", user)
        assert me.json()["brands"] == []


ACCOUNT = {"password": "correct horse", "display_name": "Vera"}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param([], id="array"),
        pytest.param("{}", id="string"),
        pytest.param({}, id="empty"),
        pytest.param({**ACCOUNT, "password": ...}, id="no-password"),
        pytest.param({**ACCOUNT, "display_name": ...}, id="no-display_name"),
        pytest.param({**ACCOUNT, "email": ...}, id="no-email"),
        pytest.param({**ACCOUNT, "password": "short77"}, id="password-7"),
        pytest.param({**ACCOUNT, "password": "p" * 257}, id="password-257"),
        pytest.param({**ACCOUNT, "password": 12345678}, id="password-number"),
        pytest.param({**ACCOUNT, "email": 5}, id="email-number"),
        pytest.param({**ACCOUNT, "email": "not-an-email"}, id="email-no-at"),
        pytest.param({**ACCOUNT, "email": "a@b@example.com"}, id="email-two-ats"),
        pytest.param({**ACCOUNT, "display_name": ""}, id="display_name-empty"),
        pytest.param({**ACCOUNT, "display_name": "   "}, id="display_name-blank"),
        pytest.param({**ACCOUNT, "display_name": "n" * 65}, id="display_name-65"),
        pytest.param({**ACCOUNT, "display_name": None}, id="display_name-null"),
    ],
)
async def test_a_sign_up_that_breaks_the_schema_is_422_and_creates_no_account(
    api: Api, body: Any
) -> None:
    email = f"{unique('schema')}@example.com"
    if isinstance(body, dict):
        body = {"email": email, **body}
        body = {key: value for key, value in body.items() if value is not ...}
    response = await api.call("POST", "/v1/accounts", json=body)
    assert_error_body(response, 422, "invalid_input")
    sign_in = await api.call(
        "POST", "/v1/sessions", json={"email": email, "password": "correct horse"}
    )
    assert_error_body(sign_in, 401, "bad_credentials")


async def test_other_schema_violations_are_422_invalid_input(api: Api) -> None:
    owner = await api.sign_up("owner")
    handle = await api.create_brand(owner)
    other = await api.sign_up("other")
    fine = unique("fine")[:30]
    cases: list[tuple[str, str, User | None, dict[str, Any]]] = [
        ("POST", "/v1/sessions", None, {"json": {"email": other.email}}),
        ("POST", "/v1/sessions", None, {"json": {"email": other.email, "password": 5}}),
        ("POST", "/v1/brands", other, {"json": {"handle": fine}}),
        ("POST", "/v1/brands", other, {"json": {"handle": fine, "name": ""}}),
        ("POST", "/v1/brands", other, {"json": {"handle": fine, "name": "  "}}),
        ("POST", "/v1/brands", other, {"json": {"handle": fine, "name": "n" * 81}}),
        ("POST", "/v1/brands", other, {"json": {"handle": 5, "name": "Fine"}}),
        ("POST", f"/v1/brands/{handle}/members", owner,
         {"json": {"email": other.email, "role": "owner"}}),
        ("POST", f"/v1/brands/{handle}/members", owner, {"json": {"email": other.email}}),
        ("GET", "/v1/brands", None, {"params": {"limit": 0}}),
        ("GET", "/v1/brands", None, {"params": {"limit": "ten"}}),
        ("GET", "/v1/brands", None, {"params": {"q": "q" * 81}}),
        ("GET", "/v1/conversations", other, {"params": {"status": "closed"}}),
        ("GET", "/v1/conversations", other, {"params": {"limit": 201}}),
        ("GET", "/v1/conversations", other, {"params": {"before": "not a cursor"}}),
    ]  # fmt: skip
    for method, path, user, kwargs in cases:
        response = await api.call(method, path, user, **kwargs)
        assert_error_body(response, 422, "invalid_input")
    me = await api.call("GET", "/v1/me", other)
    assert me.json()["brands"] == []
    brand = await api.call("GET", f"/v1/brands/{fine}")
    assert_error_body(brand, 404, "unknown_brand")
    assert (await api.call("GET", "/v1/brands", params={"q": "q" * 80})).status_code == 200


@pytest.mark.parametrize(
    "handle",
    ["a", "h" * 31, "has-dash", "has space", "", "@", "ünïcode", "dot.ted", "UPPER-case",
     "admin", "Support", "@atdesk", "root", "help", "www"],
)  # fmt: skip
async def test_an_invalid_or_reserved_handle_is_422_invalid_handle(api: Api, handle: str) -> None:
    owner = await api.sign_up("owner")
    response = await api.call("POST", "/v1/brands", owner, json={"handle": handle, "name": "X"})
    assert_error_body(response, 422, "invalid_handle")
    me = await api.call("GET", "/v1/me", owner)
    assert me.json()["brands"] == []


async def test_a_taken_email_is_409_in_any_case(api: Api) -> None:
    first = await api.sign_up("first")
    again = await api.call(
        "POST", "/v1/accounts",
        json={"email": f"  {first.email.upper()} ", "password": "another password",
              "display_name": "Imposter"},
    )  # fmt: skip
    assert_error_body(again, 409, "email_taken")
    # The first account is untouched; the second password opens nothing.
    wrong = await api.call(
        "POST", "/v1/sessions", json={"email": first.email, "password": "another password"}
    )
    assert_error_body(wrong, 401, "bad_credentials")
    await api.sign_in(first)


async def test_a_taken_handle_is_409_in_any_case(api: Api) -> None:
    owner = await api.sign_up("owner")
    handle = await api.create_brand(owner)
    rival = await api.sign_up("rival")
    for taken in (handle.upper(), f"@{handle}", f" {handle.title()} "):
        response = await api.call("POST", "/v1/brands", rival, json={"handle": taken, "name": "R"})
        assert_error_body(response, 409, "handle_taken")
    me = await api.call("GET", "/v1/me", rival)
    assert me.json()["brands"] == []
    brand = await api.call("GET", f"/v1/brands/{handle}")
    assert brand.json()["name"] == "Acme Inc"


async def test_bad_credentials_are_the_same_answer_for_unknown_email_and_wrong_password(
    api: Api,
) -> None:
    user = await api.sign_up("known")
    unknown = await api.call(
        "POST", "/v1/sessions",
        json={"email": f"{unique('nobody')}@example.com", "password": "correct horse"},
    )  # fmt: skip
    wrong = await api.call(
        "POST", "/v1/sessions", json={"email": user.email, "password": "wrong horse"}
    )
    assert_error_body(unknown, 401, "bad_credentials")
    assert_error_body(wrong, 401, "bad_credentials")
    assert unknown.json() == wrong.json()
    assert unknown.headers.get("www-authenticate") == wrong.headers.get("www-authenticate")


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Bearer"},
     {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "nope"}],
)  # fmt: skip
async def test_a_missing_or_bad_bearer_token_is_401(api: Api, headers: dict[str, str]) -> None:
    for method, path in (("GET", "/v1/me"), ("GET", "/v1/conversations"),
                         ("POST", "/v1/brands")):  # fmt: skip
        response = await api.call(method, path, headers=headers, json={"handle": "x", "name": "y"})
        assert_error_body(response, 401, "unauthenticated")


async def test_a_body_over_64_kib_is_413(api: Api) -> None:
    email = f"{unique('big')}@example.com"
    body = {"email": email, "password": "correct horse", "display_name": "B", "pad": "p" * 70_000}
    response = await api.call("POST", "/v1/accounts", json=body)
    assert_error_body(response, 413, "too_large")
    sign_in = await api.call(
        "POST", "/v1/sessions", json={"email": email, "password": "correct horse"}
    )
    assert_error_body(sign_in, 401, "bad_credentials")


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/index.html"), ("GET", "/nope"), ("GET", "/v1/nope"), ("POST", "/v1/brands/x/y/z"),
     ("GET", "/v2/me"), ("GET", "/v1/conversations/c/messages/1")],
)  # fmt: skip
async def test_an_unknown_route_is_404_in_the_error_shape(api: Api, method: str, path: str) -> None:
    assert_error_body(await api.call(method, path), 404, "not_found")


@pytest.mark.parametrize("path", ["/v1/wsx", "/v1/ws/", "/v1", "/ws"])
async def test_a_socket_anywhere_but_v1_ws_is_refused(gateway: GatewayProcess, path: str) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        await Socket.open(gateway.ws_url.replace("/v1/ws", path))
    assert refused.value.response.status_code == 403


async def test_plain_http_to_the_socket_path_is_404(api: Api) -> None:
    assert_error_body(await api.call("GET", "/v1/ws"), 404, "not_found")


async def test_a_wrong_method_is_405_in_the_error_shape_with_allow(api: Api) -> None:
    response = await api.call("DELETE", "/v1/me")
    assert_error_body(response, 405, "method_not_allowed")
    assert "GET" in response.headers["allow"]


# --- bad settings --------------------------------------------------------------------


@pytest.mark.parametrize(
    "setting",
    [
        "ATDESK_DATABASE_URL=mysql://x",
        "ATDESK_DATABASE_URL=::::",
        "ATDESK_SEND_RATE=abc",
        "ATDESK_SEND_BURST=0",
        "ATDESK_SEND_BURST=inf",
        "ATDESK_FRAME_RATE=-1",
        "ATDESK_HELLO_TIMEOUT_S=nan",
        "ATDESK_ALLOWED_ORIGINS=desk.example.com",
        "ATDESK_REDIS_URL=http://localhost:6379",
    ],
)
def test_a_bad_setting_stops_serve_with_one_clear_line(tmp_path: Path, setting: str) -> None:
    name, _, value = setting.partition("=")
    env = {
        **os.environ, **TEST_ENV,
        "ATDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'atdesk.sqlite3'}", name: value,
    }  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve", "--port", str(free_port())],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("atdesk: "), done.stderr
    assert name in lines[0], done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert done.stdout == ""
    assert not (tmp_path / "atdesk.sqlite3").exists()
