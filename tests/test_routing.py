"""Automatic routing: the pure rules, then a real gateway routing cases and queueing them."""

from __future__ import annotations

import asyncio
from typing import Any

from gateway import routing
from tests.clients import Api, Socket, User
from tests.gateway_process import GatewayProcess


def test_agents_take_cases_and_members_do_when_there_are_no_agents() -> None:
    assert routing.candidates({"o": "owner", "a": "admin", "g1": "agent", "g2": "agent"}) == {
        "g1", "g2",
    }  # fmt: skip
    assert routing.candidates({"o": "owner", "a": "admin"}) == {"o", "a"}
    assert routing.candidates({}) == set()


def test_the_least_busy_online_agent_gets_the_case() -> None:
    load = {"ana": 3, "ben": 1, "cy": 1}
    assert routing.choose({"ana", "ben", "cy"}, load) == "ben"  # tie with cy: smallest id
    assert routing.choose({"ana", "dee"}, load) == "dee"  # nobody's cases count as 0
    assert routing.choose(set(), load) is None  # nobody online: the queue


def test_a_reopened_case_stays_with_its_agent_while_they_are_online() -> None:
    load = {"ana": 9, "ben": 0}
    assert routing.choose({"ana", "ben"}, load, current="ana") == "ana"
    assert routing.choose({"ben"}, load, current="ana") == "ben"
    assert routing.choose(set(), load, current="ana") is None


# --- against a real gateway ------------------------------------------------------------


async def assignment(api: Api, user: User, conversation_id: str) -> tuple[str | None, Any]:
    conversation = (await api.call("GET", f"/v1/conversations/{conversation_id}", user)).json()
    assignee = conversation["assignee"]
    return (None if assignee is None else assignee["id"]), conversation.get("queue_position")


async def wait_for_assignee(socket: Socket, conversation_id: str) -> str:
    while True:
        frame = await socket.recv_until("conversation")
        conversation = frame["conversation"]
        if conversation["id"] == conversation_id and conversation["assignee"] is not None:
            return str(conversation["assignee"]["id"])


async def sockets_open(api: Api, count: int) -> None:
    """Wait until the gateway counts exactly ``count`` live sockets (closes take a moment)."""
    async with asyncio.timeout(10):
        while True:
            text = (await api.call("GET", "/metrics")).text
            if f"websocket_connections {float(count)}" in text:
                return
            await asyncio.sleep(0.02)


async def test_cases_go_to_the_least_busy_online_agent_or_wait_in_the_queue(
    own_gateway: GatewayProcess,
) -> None:
    own_gateway.start()
    api = Api(own_gateway.http_url)
    owner, ana, ben = [await api.sign_up(name) for name in ("owner", "ana", "ben")]
    handle = await api.create_brand(owner, "routed")
    for agent in (ana, ben):
        await api.add_member(owner, handle, agent)
    patched = await api.call("PATCH", f"/v1/brands/{handle}", owner, json={"auto_assign": True})
    assert patched.status_code == 200 and patched.json()["auto_assign"] is True
    desks = {ana.account_id: await Socket.open(own_gateway.ws_url, ana),
             ben.account_id: await Socket.open(own_gateway.ws_url, ben)}  # fmt: skip
    first, second = sorted(desks)
    consumers = [await api.sign_up(f"c{n}") for n in range(5)]
    phones = [await Socket.open(own_gateway.ws_url, c) for c in consumers]
    threads: list[str] = []
    # Both free: the smaller id; then the other (fewer open cases); then a tie again.
    for n, expected in enumerate((first, second, first)):
        ack = await phones[n].send_message("help", to=f"@{handle}")
        threads.append(ack["conversation_id"])
        assert await wait_for_assignee(phones[n], ack["conversation_id"]) == expected
        assert await assignment(api, consumers[n], ack["conversation_id"]) == (expected, None)

    # Nobody online: cases wait, and their consumers see their place in the queue.
    for socket in desks.values():
        await socket.close()
    await sockets_open(api, len(phones))
    for n in (3, 4):
        ack = await phones[n].send_message("hello?", to=f"@{handle}")
        threads.append(ack["conversation_id"])
    assert await assignment(api, consumers[3], threads[3]) == (None, 1)
    assert await assignment(api, consumers[4], threads[4]) == (None, 2)

    # Ben is back: the queued cases are his.
    desk = await Socket.open(own_gateway.ws_url, ben)
    assert await wait_for_assignee(phones[3], threads[3]) == ben.account_id
    assert await wait_for_assignee(phones[4], threads[4]) == ben.account_id
    resolved = await api.call("POST", f"/v1/conversations/{threads[1]}/resolve", ben)
    assert resolved.status_code == 200
    # A reopened case goes back to its agent while they are online.
    await phones[1].send_message("one more thing", conversation_id=threads[1])
    async with asyncio.timeout(10):  # routed after the commit; the first owner may be Ana
        while await assignment(api, consumers[1], threads[1]) != (ben.account_id, None):
            await asyncio.sleep(0.02)
    for socket in [desk, *phones]:
        await socket.close()
    await api.close()


async def test_brands_that_assign_by_hand_are_left_alone(api: Api, gateway: GatewayProcess) -> None:
    owner, agent, lea = [await api.sign_up(name) for name in ("owner", "agent", "lea")]
    handle = await api.create_brand(owner, "manual")
    await api.add_member(owner, handle, agent)
    desk = await Socket.open(gateway.ws_url, agent)
    phone = await Socket.open(gateway.ws_url, lea)
    conversation_id = (await phone.send_message("hi", to=f"@{handle}"))["conversation_id"]
    await desk.recv_until("message")
    await desk.send_message("hello", conversation_id=conversation_id)
    # Without routing there is no queue: nobody is assigned, and no place is given.
    assert await assignment(api, lea, conversation_id) == (None, None)
    for socket in (desk, phone):
        await socket.close()


async def test_an_agent_coming_online_takes_the_queue(own_gateway: GatewayProcess) -> None:
    own_gateway.start()
    api = Api(own_gateway.http_url)
    owner, ana, lea, max_ = [await api.sign_up(n) for n in ("owner", "ana", "lea", "max")]
    handle = await api.create_brand(owner, "queue")
    await api.add_member(owner, handle, ana)
    patched = await api.call("PATCH", f"/v1/brands/{handle}", owner, json={"auto_assign": True})
    assert patched.status_code == 200
    threads = []
    for consumer in (lea, max_):
        phone = await Socket.open(own_gateway.ws_url, consumer)
        threads.append((await phone.send_message("hi", to=f"@{handle}"))["conversation_id"])
        await phone.close()
    assert [await assignment(api, owner, t) for t in threads] == [(None, 1), (None, 2)]
    desk = await Socket.open(own_gateway.ws_url, ana)
    for thread in threads:
        assert await wait_for_assignee(desk, thread) == ana.account_id
    await desk.close()
    await api.close()
