"""The queue as consumers and members see it, against a real gateway: positions in the list
and in live frames, moving up when a case ahead leaves; no queue without routing; the
member who answers a waiting case takes it; the rating state of a conversation; and the
brands an account follows, from any device.

"Nothing else arrived" is proven without sleeping, as in tests/test_authorization.py: the
events of a request are in the sockets' queues before its answer, so the frames received
before a later ping's pong are all there is.
"""

from __future__ import annotations

from typing import Any

from tests.clients import Api, Socket, User
from tests.gateway_process import GatewayProcess


async def frames_until_pong(socket: Socket) -> list[dict[str, Any]]:
    await socket.send_json({"type": "ping", "ref": "barrier"})
    frames = []
    while (frame := await socket.recv()) != {"type": "pong", "ref": "barrier"}:
        frames.append(frame)
    return frames


async def changes(socket: Socket) -> dict[str, dict[str, Any]]:
    """Conversation id -> the last state of it this socket was sent, until now."""
    return {
        frame["conversation"]["id"]: frame["conversation"]
        for frame in await frames_until_pong(socket)
        if frame["type"] == "conversation"
    }


async def ok(api: Api, method: str, path: str, user: User, **kwargs: Any) -> Any:
    response = await api.call(method, path, user, **kwargs)
    assert response.status_code in (200, 201, 204), response.text
    return response.json() if response.content else None


async def positions(api: Api, user: User) -> dict[str, int | None]:
    """The queue positions the viewer's list gives, by conversation id."""
    listed = await ok(api, "GET", "/v1/conversations?limit=200", user)
    return {c["id"]: c.get("queue_position") for c in listed["conversations"]}


async def routed_brand(api: Api, name: str, *, auto_assign: bool = True) -> tuple[str, User, User]:
    """A brand with an owner and an agent who stays offline, so cases wait."""
    owner, agent = await api.sign_up("owner"), await api.sign_up("agent")
    handle = await api.create_brand(owner, name)
    await api.add_member(owner, handle, agent)
    await ok(api, "PATCH", f"/v1/brands/{handle}", owner, json={"auto_assign": auto_assign})
    return handle, owner, agent


async def waiting_consumers(
    api: Api, gateway: GatewayProcess, handle: str, count: int
) -> tuple[list[User], list[Socket], list[str]]:
    consumers = [await api.sign_up(f"c{n}") for n in range(count)]
    phones = [await Socket.open(gateway.ws_url, consumer) for consumer in consumers]
    threads = []
    for phone in phones:
        threads.append((await phone.send_message("hello?", to=f"@{handle}"))["conversation_id"])
    for phone in phones:
        await frames_until_pong(phone)
    return consumers, phones, threads


async def test_positions_are_in_the_list_and_move_up_live(
    api: Api, gateway: GatewayProcess
) -> None:
    handle, owner, agent = await routed_brand(api, "queued")
    consumers, phones, threads = await waiting_consumers(api, gateway, handle, 4)
    # Each consumer's list has their own place; the desk's list has every place.
    for n, consumer in enumerate(consumers):
        assert await positions(api, consumer) == {threads[n]: n + 1}
    assert await positions(api, owner) == {thread: n + 1 for n, thread in enumerate(threads)}
    desk = await Socket.open(gateway.ws_url, owner)  # an owner: never routed cases (agents are)

    # The first case is assigned: the three behind move up, and are told so.
    await ok(api, "POST", f"/v1/conversations/{threads[0]}/assign", owner,
             json={"account_id": agent.account_id})  # fmt: skip
    first = await changes(phones[0])
    assert first[threads[0]]["assignee"]["id"] == agent.account_id
    assert "queue_position" not in first[threads[0]]
    for n in (1, 2, 3):
        fetched = await ok(api, "GET", f"/v1/conversations/{threads[n]}", consumers[n])
        assert fetched["queue_position"] == n
        assert await changes(phones[n]) == {threads[n]: fetched}  # the frame is the object
    desk_saw = await changes(desk)
    assert {t: c.get("queue_position") for t, c in desk_saw.items()} == {
        threads[0]: None, threads[1]: 1, threads[2]: 2, threads[3]: 3,
    }  # fmt: skip

    # The case in the middle is resolved: only those behind it move.
    await ok(api, "POST", f"/v1/conversations/{threads[2]}/resolve", owner, json={})
    assert await changes(phones[1]) == {}
    assert "queue_position" not in (await changes(phones[2]))[threads[2]]
    assert (await changes(phones[3]))[threads[3]]["queue_position"] == 2

    # Unassigned again, the first case is back at the front (it has waited longest).
    await ok(api, "POST", f"/v1/conversations/{threads[0]}/assign", owner,
             json={"account_id": None})  # fmt: skip
    assert (await changes(phones[0]))[threads[0]]["queue_position"] == 1
    assert (await changes(phones[1]))[threads[1]]["queue_position"] == 2
    assert (await changes(phones[3]))[threads[3]]["queue_position"] == 3
    assert await positions(api, owner) == {
        threads[0]: 1, threads[1]: 2, threads[2]: None, threads[3]: 3,
    }  # fmt: skip

    # A reopened case joins at the back; nobody ahead of it moves.
    await phones[2].send_message("one more thing", conversation_id=threads[2])
    reopened = await ok(api, "GET", f"/v1/conversations/{threads[2]}", consumers[2])
    assert (reopened["case"], reopened["queue_position"]) == (2, 4)
    for n in (0, 1, 3):
        assert await changes(phones[n]) == {}
    for socket in (desk, *phones):
        await socket.close()


async def test_without_routing_there_is_no_queue(api: Api, gateway: GatewayProcess) -> None:
    handle, owner, agent = await routed_brand(api, "byhand", auto_assign=False)
    consumers, phones, threads = await waiting_consumers(api, gateway, handle, 2)
    for consumer in consumers:
        for position in (await positions(api, consumer)).values():
            assert position is None
    assert await positions(api, owner) == {threads[0]: None, threads[1]: None}
    fetched = await ok(api, "GET", f"/v1/conversations/{threads[1]}", consumers[1])
    assert "queue_position" not in fetched and fetched["assignee"] is None
    # Assigning by hand moves nobody: there is no queue to move in.
    await ok(api, "POST", f"/v1/conversations/{threads[0]}/assign", owner,
             json={"account_id": agent.account_id})  # fmt: skip
    assert await changes(phones[1]) == {}
    assert "queue_position" not in (await changes(phones[0]))[threads[0]]

    # Routing turned on: the waiting case has a place, and is told; off again: gone.
    await ok(api, "PATCH", f"/v1/brands/{handle}", owner, json={"auto_assign": True})
    assert (await changes(phones[1]))[threads[1]]["queue_position"] == 1
    assert await changes(phones[0]) == {}  # assigned: not waiting
    await ok(api, "PATCH", f"/v1/brands/{handle}", owner, json={"auto_assign": False})
    assert "queue_position" not in (await changes(phones[1]))[threads[1]]
    assert await positions(api, consumers[1]) == {threads[1]: None}
    for socket in phones:
        await socket.close()


async def test_the_member_who_answers_a_waiting_case_takes_it(
    api: Api, gateway: GatewayProcess
) -> None:
    handle, owner, _agent = await routed_brand(api, "answered")
    consumers, phones, threads = await waiting_consumers(api, gateway, handle, 2)
    desk = await Socket.open(gateway.ws_url, owner)
    await desk.send_message("On it!", conversation_id=threads[0])
    taken = (await changes(phones[0]))[threads[0]]
    assert taken["assignee"] == {"id": owner.account_id, "display_name": owner.display_name}
    assert "queue_position" not in taken  # not "#1 in line" under the agent's answer
    assert (await changes(phones[1]))[threads[1]]["queue_position"] == 1
    fetched = await ok(api, "GET", f"/v1/conversations/{threads[0]}", consumers[0])
    assert fetched["assignee"]["id"] == owner.account_id and "queue_position" not in fetched
    # A second answer changes nothing more.
    await desk.send_message("Still on it.", conversation_id=threads[0])
    assert await changes(phones[0]) == {} and await changes(phones[1]) == {}
    for socket in (desk, *phones):
        await socket.close()


async def test_an_answer_assigns_nobody_without_routing(api: Api, gateway: GatewayProcess) -> None:
    handle, owner, _agent = await routed_brand(api, "manualanswer", auto_assign=False)
    consumers, phones, threads = await waiting_consumers(api, gateway, handle, 1)
    desk = await Socket.open(gateway.ws_url, owner)
    await desk.send_message("Hello!", conversation_id=threads[0])
    assert await changes(phones[0]) == {}
    fetched = await ok(api, "GET", f"/v1/conversations/{threads[0]}", consumers[0])
    assert fetched["assignee"] is None and "queue_position" not in fetched
    for socket in (desk, *phones):
        await socket.close()


async def test_the_rating_state_follows_the_latest_resolved_case(
    api: Api, gateway: GatewayProcess
) -> None:
    handle, owner, agent = await routed_brand(api, "rated", auto_assign=False)
    consumers, phones, threads = await waiting_consumers(api, gateway, handle, 1)
    lea, thread = consumers[0], threads[0]
    tablet = await Socket.open(gateway.ws_url, lea)  # Lea's other device
    desk = await Socket.open(gateway.ws_url, agent)

    async def state(user: User) -> Any:
        return (await ok(api, "GET", f"/v1/conversations/{thread}", user)).get("rating")

    assert await state(lea) is None  # nothing resolved yet
    await ok(api, "POST", f"/v1/conversations/{thread}/resolve", agent, json={})
    unrated = {"case": 1, "score": None}
    assert await state(lea) == unrated and await state(owner) == unrated
    assert (await changes(tablet))[thread]["rating"] == unrated
    await frames_until_pong(phones[0])
    await frames_until_pong(desk)

    # Rated on the phone: the tablet and the desk learn it live, without the comment.
    await ok(api, "POST", f"/v1/conversations/{thread}/rating", lea, json={"score": 4,
             "comment": "quick"})  # fmt: skip
    rated = {"case": 1, "score": 4}
    assert (await changes(tablet))[thread]["rating"] == rated
    assert (await changes(desk))[thread]["rating"] == rated
    listed = await ok(api, "GET", "/v1/conversations", lea)
    assert [c.get("rating") for c in listed["conversations"]] == [rated]

    # Reopened: case 1 stays the latest resolved one; resolving case 2 asks again.
    await phones[0].send_message("it broke again", conversation_id=thread)
    assert await state(lea) == rated
    await ok(api, "POST", f"/v1/conversations/{thread}/resolve", agent, json={})
    assert await state(lea) == {"case": 2, "score": None}
    for socket in (tablet, desk, *phones):
        await socket.close()


async def test_me_says_which_brands_i_follow(api: Api) -> None:
    lea, max_ = await api.sign_up("lea"), await api.sign_up("max")
    owner = await api.sign_up("owner")
    handles = sorted([await api.create_brand(owner, "zeta"), await api.create_brand(owner, "alfa")])
    assert (await ok(api, "GET", "/v1/me", lea))["following"] == []
    for handle in handles:
        await ok(api, "POST", f"/v1/brands/{handle}/follow", lea)
    phone, laptop = lea, await api.sign_in(lea)  # another device, another session
    assert (await ok(api, "GET", "/v1/me", laptop))["following"] == handles
    await ok(api, "DELETE", f"/v1/brands/{handles[0]}/follow", phone)
    assert (await ok(api, "GET", "/v1/me", laptop))["following"] == handles[1:]
    assert (await ok(api, "GET", "/v1/me", max_))["following"] == []
