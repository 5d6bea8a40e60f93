"""Automatic routing: the pure rules, then a real gateway routing cases and queueing them."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Iterator
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
    # A new brand routes its cases automatically; nothing to turn on.
    brand = await api.call("GET", f"/v1/brands/{handle}")
    assert brand.status_code == 200 and brand.json()["auto_assign"] is True
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
    await api.set_auto_assign(owner, handle, False)
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


# --- the queue is routed in order, and nothing is left behind ---------------------------


async def assigned_in_order(socket: Socket, threads: list[str]) -> list[tuple[str, str]]:
    """(conversation id, assignee id) of each of ``threads``, in the order this socket was
    told they were assigned (events are published in commit order)."""
    told: dict[str, str] = {}
    async with asyncio.timeout(15):
        while len(told) < len(threads):
            conversation = (await socket.recv_until("conversation"))["conversation"]
            if conversation["id"] in threads and conversation["id"] not in told:
                if conversation["assignee"] is not None:
                    told[conversation["id"]] = conversation["assignee"]["id"]
    return list(told.items())


async def open_cases(api: Api, gateway: GatewayProcess, handle: str, count: int) -> list[str]:
    """``count`` new cases at the brand, from as many consumers (their sockets closed)."""
    threads = []
    for n in range(count):
        phone = await Socket.open(gateway.ws_url, await api.sign_up(f"c{n}"))
        threads.append((await phone.send_message("hello?", to=f"@{handle}"))["conversation_id"])
        await phone.close()
    return threads


async def test_turning_routing_on_routes_the_waiting_cases_before_new_ones(
    api: Api, gateway: GatewayProcess
) -> None:
    owner, ana, ben = [await api.sign_up(name) for name in ("owner", "ana", "ben")]
    handle = await api.create_brand(owner, "turnedon")
    await api.set_auto_assign(owner, handle, False)
    for agent in (ana, ben):
        await api.add_member(owner, handle, agent)
    waiting = await open_cases(api, gateway, handle, 5)  # by hand: nobody is assigned
    assert [await assignment(api, owner, t) for t in waiting] == [(None, None)] * 5
    desk = await Socket.open(gateway.ws_url, ana)  # Ana online; Ben stays offline

    patched = await api.call("PATCH", f"/v1/brands/{handle}", owner, json={"auto_assign": True})
    assert patched.status_code == 200
    # A new case right behind: it joins the queue after the five, it does not overtake them.
    newest = await open_cases(api, gateway, handle, 1)
    threads = waiting + newest
    assert await assigned_in_order(desk, threads) == [(t, ana.account_id) for t in threads]
    for thread in threads:
        assert await assignment(api, owner, thread) == (ana.account_id, None)
    await desk.close()


async def test_a_member_given_a_role_while_online_takes_the_queue(
    api: Api, gateway: GatewayProcess
) -> None:
    owner, ana, lea = [await api.sign_up(name) for name in ("owner", "ana", "lea")]
    handle = await api.create_brand(owner, "promoted")
    await api.add_member(owner, handle, ana)  # the only agent, offline
    patched = await api.call("PATCH", f"/v1/brands/{handle}", owner, json={"auto_assign": True})
    assert patched.status_code == 200
    threads = await open_cases(api, gateway, handle, 3)
    assert [await assignment(api, owner, t) for t in threads] == [(None, 1), (None, 2), (None, 3)]
    desk = await Socket.open(gateway.ws_url, lea)  # online before she is a member
    await api.add_member(owner, handle, lea)
    assert await assigned_in_order(desk, threads) == [(t, lea.account_id) for t in threads]
    await desk.close()


async def test_an_agent_coming_online_takes_the_oldest_case_first(
    api: Api, gateway: GatewayProcess
) -> None:
    owner, ana = await api.sign_up("owner"), await api.sign_up("ana")
    handle = await api.create_brand(owner, "fifo")
    await api.add_member(owner, handle, ana)
    patched = await api.call("PATCH", f"/v1/brands/{handle}", owner, json={"auto_assign": True})
    assert patched.status_code == 200
    threads = await open_cases(api, gateway, handle, 3)  # nobody online: they wait
    assert [await assignment(api, owner, t) for t in threads] == [(None, 1), (None, 2), (None, 3)]
    desk = await Socket.open(gateway.ws_url, ana)
    assert await assigned_in_order(desk, threads) == [(t, ana.account_id) for t in threads]
    await desk.close()


@contextlib.contextmanager
def writes_held(gateway: GatewayProcess) -> Iterator[None]:
    """Another writer holds the database (as another node would), so the gateway's writes
    wait, in the order they were made, while its reads go on (SQLite in WAL mode). On
    PostgreSQL nothing is held: the writes race as they come."""
    if gateway.postgres_database is not None:
        yield
        return
    db = sqlite3.connect(gateway.workdir / "atdesk.sqlite3", isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        yield
        db.execute("ROLLBACK")
    finally:
        db.close()


async def test_a_case_taken_meanwhile_does_not_stop_the_queue(
    own_gateway: GatewayProcess,
) -> None:
    own_gateway.start()
    api = Api(own_gateway.http_url)
    owner, ana = await api.sign_up("owner"), await api.sign_up("ana")
    handle = await api.create_brand(owner, "stolen")
    await api.add_member(owner, handle, ana)
    patched = await api.call("PATCH", f"/v1/brands/{handle}", owner, json={"auto_assign": True})
    assert patched.status_code == 200
    threads = await open_cases(api, own_gateway, handle, 6)

    async def take_by_hand(thread: str) -> None:
        response = await api.call("POST", f"/v1/conversations/{thread}/assign", owner,
                                  json={"account_id": owner.account_id})  # fmt: skip
        assert response.status_code == 200, response.text

    with writes_held(own_gateway):
        # The owner takes the two oldest cases by hand; the writes wait for the database.
        taken = [asyncio.create_task(take_by_hand(thread)) for thread in threads[:2]]
        await asyncio.sleep(0.3)
        # Ana comes online: routing reads the oldest case (not yet taken) and its write
        # queues behind the owner's. (The pauses only make the race likely; whatever the
        # timing, the outcome below is the same.)
        desk = await Socket.open(own_gateway.ws_url, ana)
        await asyncio.sleep(0.3)
    await asyncio.gather(*taken)
    rest = threads[2:]
    assert await assigned_in_order(desk, rest) == [(t, ana.account_id) for t in rest]
    for thread in threads[:2]:
        assert await assignment(api, owner, thread) == (owner.account_id, None)
    for thread in rest:
        assert await assignment(api, owner, thread) == (ana.account_id, None)
    await desk.close()
    await api.close()
