"""Scale-out acceptance: many nodes on PostgreSQL and Redis, and no loss through failures.

These tests always run on PostgreSQL and Redis, whatever ATDESK_TEST_BACKEND says.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import psycopg
import pytest
import redis.asyncio as redis
import websockets
from sqlalchemy.engine import make_url

from gateway.handlers.service import SEEN_ONLINE_S
from gateway.redis_bus import CLOCK_SLACK
from tests.clients import Api, Socket, User
from tests.gateway_process import GatewayProcess, free_port
from tests.tcp_proxy import TcpProxy


class Cluster(Protocol):
    def __call__(self, count: int, env: dict[str, str] | None = None) -> list[GatewayProcess]: ...


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    nodes: list[GatewayProcess] = []

    def start(count: int, env: dict[str, str] | None = None) -> list[GatewayProcess]:
        first = GatewayProcess(tmp_path / "node0", env, backend="postgres")
        (tmp_path / "node0").mkdir()
        nodes.append(first)
        for index in range(1, count):
            (tmp_path / f"node{index}").mkdir()
            nodes.append(first.sibling(tmp_path / f"node{index}"))
        for node in nodes:
            node.start()
        return nodes

    yield start
    for node in reversed(nodes):
        node.destroy()


@pytest.fixture
async def api_of() -> AsyncIterator[Callable[[GatewayProcess], Api]]:
    clients: list[Api] = []

    def make(node: GatewayProcess) -> Api:
        clients.append(Api(node.http_url))
        return clients[-1]

    yield make
    for client in clients:
        await client.close()


async def registered(node: GatewayProcess, user: User) -> None:
    """Wait until ``user``'s socket is in the cluster's presence (a node registers it in
    Redis just after the welcome)."""
    client = redis.Redis.from_url(node.env["ATDESK_REDIS_URL"])
    key = f"{node.env['ATDESK_REDIS_PREFIX']}:presence:{user.account_id}"
    try:
        async with asyncio.timeout(10):
            while not await client.smembers(key):
                await asyncio.sleep(0.02)
    finally:
        await client.aclose()


async def _drain(socket: Socket, count: int, timeout: float = 60) -> list[dict[str, Any]]:
    """``count`` message objects, deduplicated by (conversation, seq) as clients do."""
    seen: dict[tuple[str, int], dict[str, Any]] = {}
    order: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while len(order) < count:
            frame = await socket.recv(timeout)
            if frame["type"] == "message":
                message = frame["message"]
                key = (message["conversation_id"], message["seq"])
                if key not in seen:
                    seen[key] = message
                    order.append(message)
    return order


async def _opened(
    api: Api, consumer_node: GatewayProcess, desk_node: GatewayProcess
) -> tuple[Socket, Socket, str]:
    """A consumer on ``consumer_node`` opens a conversation with a new brand whose owner's
    desk is on ``desk_node``: (the consumer's socket, the desk, the conversation's id),
    the opening message already read off the desk."""
    owner, consumer = await api.sign_up("owner"), await api.sign_up("lea")
    handle = await api.create_brand(owner)
    consumer_socket = await Socket.open(consumer_node.ws_url, consumer)
    desk = await Socket.open(desk_node.ws_url, owner)
    await registered(consumer_node, owner)  # no automatic answer among the messages
    opening = await consumer_socket.send_message("0", to=f"@{handle}")
    await _drain(desk, 1)
    return consumer_socket, desk, opening["conversation_id"]


async def test_every_message_reaches_every_socket_on_every_node_in_order(
    cluster: Cluster, api_of: Callable[[GatewayProcess], Api]
) -> None:
    a, b, c = cluster(3)
    api = api_of(a)
    owner, first_agent, second_agent, consumer = [
        await api.sign_up(name) for name in ("owner", "agent", "agent", "lea")
    ]
    handle = await api.create_brand(owner)
    await api.add_member(owner, handle, first_agent)
    await api.add_member(owner, handle, second_agent)
    consumer_socket = await Socket.open(a.ws_url, consumer)
    agent_b = await Socket.open(b.ws_url, first_agent)
    agent_c = await Socket.open(c.ws_url, second_agent)
    opening = await consumer_socket.send_message("hello", to=f"@{handle}")
    conversation_id = opening["conversation_id"]
    for socket in (agent_b, agent_c):
        assert [m["seq"] for m in await _drain(socket, 1)] == [1]

    async def send(socket: Socket, count: int) -> None:
        for i in range(count):
            await socket.send_json(
                {"type": "send", "client_id": uuid.uuid4().hex, "conversation_id": conversation_id,
                 "text": f"#{i}"}
            )  # fmt: skip

    total = 300
    readers = [asyncio.create_task(_drain(s, total)) for s in (consumer_socket, agent_b, agent_c)]
    await asyncio.gather(send(consumer_socket, 100), send(agent_b, 100), send(agent_c, 100))
    received = await asyncio.gather(*readers)
    history = await api.history(consumer, conversation_id)
    assert [m["seq"] for m in history] == list(range(1, total + 2))
    for messages in received:
        assert [m["seq"] for m in messages] == list(range(2, total + 2))
        assert [m["id"] for m in messages] == [m["id"] for m in history[1:]]
    for socket in (consumer_socket, agent_b, agent_c):
        await socket.close()


class RedisServer:
    """A Redis of the test's own, so that restarting it disturbs nobody else."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(100):
            if (
                subprocess.run(
                    ["redis-cli", "-p", str(self.port), "ping"], capture_output=True
                ).stdout.strip()
                == b"PONG"
            ):
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def calls(self, command: str) -> int:
        """How many times ``command`` ran on this server since it started."""
        stats = subprocess.run(
            ["redis-cli", "-p", str(self.port), "INFO", "commandstats"],
            capture_output=True, check=True, text=True,
        ).stdout  # fmt: skip
        for line in stats.splitlines():
            if line.startswith(f"cmdstat_{command}:"):
                return int(line.split("calls=", 1)[1].split(",", 1)[0])
        return 0

    def subscribers(self) -> list[str]:
        """Ids of the connections subscribed to a channel."""
        listing = subprocess.run(
            ["redis-cli", "-p", str(self.port), "CLIENT", "LIST"],
            capture_output=True, check=True, text=True,
        ).stdout  # fmt: skip
        return [
            dict(field.split("=", 1) for field in line.split() if "=" in field)["id"]
            for line in listing.splitlines()
            if " sub=0 " not in line
        ]

    async def wait_for_subscribers(self, count: int) -> None:
        async with asyncio.timeout(30):
            while len(self.subscribers()) < count:
                await asyncio.sleep(0.05)

    def kill_subscribers(self) -> int:
        """Drop every connection subscribed to a channel; how many there were."""
        subscribers = self.subscribers()
        for client_id in subscribers:
            subprocess.run(
                ["redis-cli", "-p", str(self.port), "CLIENT", "KILL", "ID", client_id],
                capture_output=True, check=True,
            )  # fmt: skip
        return len(subscribers)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


async def test_connected_clients_get_everything_sent_while_redis_was_down(
    own_redis: RedisServer, cluster: Cluster, api_of: Callable[[GatewayProcess], Api]
) -> None:
    a, b = cluster(2, {"ATDESK_REDIS_URL": own_redis.url})
    api = api_of(a)
    owner, consumer = await api.sign_up("owner"), await api.sign_up("lea")
    handle = await api.create_brand(owner)
    consumer_socket = await Socket.open(a.ws_url, consumer)
    desk = await Socket.open(b.ws_url, owner)
    await registered(a, owner)
    # While Redis is down, and after it came back empty until every node has said again
    # who is on it, node A cannot know that the owner is online on node B: it sends no
    # automatic answer, rather than a wrong one (which would shift the seqs below).
    opening = await consumer_socket.send_message("before", to=f"@{handle}")
    conversation_id = opening["conversation_id"]
    await _drain(desk, 1)

    own_redis.stop()  # in the middle of the stream
    # Past the time node A trusts having seen the owner online, so that it must ask Redis.
    await asyncio.sleep(SEEN_ONLINE_S + 0.2)
    during = [
        await consumer_socket.send_message(f"during {i}", conversation_id=conversation_id)
        for i in range(20)
    ]
    own_redis.start()
    await asyncio.sleep(SEEN_ONLINE_S + 0.2)
    after = [
        await consumer_socket.send_message(f"after {i}", conversation_id=conversation_id)
        for i in range(20)
    ]
    # The desk never reconnected; it must hear all of it soon after Redis is back.
    received = await _drain(desk, 40, timeout=5)
    assert [m["id"] for m in received] == [ack["id"] for ack in during + after]
    assert [m["seq"] for m in received] == list(range(2, 42))
    await desk.send_json({"type": "ping", "ref": "same socket"})
    while (frame := await desk.recv())["type"] != "pong":
        assert frame["type"] != "message" or frame["message"]["seq"] <= 41
    await consumer_socket.close()
    await desk.close()


async def test_a_lost_subscription_is_repaired_from_the_database(
    own_redis: RedisServer, cluster: Cluster, api_of: Callable[[GatewayProcess], Api]
) -> None:
    """Pub/sub keeps nothing for a subscriber that is away: what was published while node B
    resubscribed never reaches it through Redis, only through reading back the database."""
    a, b = cluster(2, {"ATDESK_REDIS_URL": own_redis.url})
    consumer_socket, desk, conversation_id = await _opened(api_of(a), a, b)

    # Keep both nodes' subscriptions down while messages are committed, then stop: no
    # later message reveals the gap, so only reading back on resubscribe can deliver them.
    async def keep_subscriptions_down(stop: asyncio.Event) -> int:
        kills = 0
        while not stop.is_set():
            kills += own_redis.kill_subscribers()
            await asyncio.sleep(0.01)
        return kills

    stop = asyncio.Event()
    killer = asyncio.create_task(keep_subscriptions_down(stop))
    await asyncio.sleep(0.2)
    acks = [
        await consumer_socket.send_message(str(i), conversation_id=conversation_id)
        for i in range(1, 11)
    ]
    stop.set()
    assert await killer >= 2
    received = await _drain(desk, 10, timeout=30)
    assert [m["id"] for m in received] == [ack["id"] for ack in acks]
    await consumer_socket.close()
    await desk.close()


async def test_a_silent_subscription_counts_as_down_from_when_it_was_last_heard(
    tmp_path: Path,
    own_redis: RedisServer,
    cluster: Cluster,
    api_of: Callable[[GatewayProcess], Api],
) -> None:
    """A route that drops everything without a word: node B's pings go out without error
    and nothing comes back. Reading back once it is over must start from when B last heard
    Redis, not from its last ping, or what was committed early in the silence is lost."""
    proxy = TcpProxy("127.0.0.1", own_redis.port)
    await proxy.start()
    (a,) = cluster(1, {"ATDESK_REDIS_URL": own_redis.url})
    (tmp_path / "silenced").mkdir()
    b = a.sibling(tmp_path / "silenced", {"ATDESK_REDIS_URL": f"redis://127.0.0.1:{proxy.port}/0"})
    try:
        await asyncio.to_thread(b.start)  # the proxy runs on this loop: keep it turning
        consumer_socket, desk, conversation_id = await _opened(api_of(a), a, b)
        # Answered: while B is silent, A cannot see the owner online and would answer.
        await desk.send_message("answered", conversation_id=conversation_id)

        proxy.silence()
        acks = [
            await consumer_socket.send_message(str(i), conversation_id=conversation_id)
            for i in range(1, 4)
        ]
        # Longer than the read-back's slack: only a read-back from before the silence
        # holds these. Then no later message reveals the gap.
        await asyncio.sleep(CLOCK_SLACK.total_seconds() + 3)
        proxy.restore()
        received = await _drain(desk, 3, timeout=30)
        assert [m["id"] for m in received] == [ack["id"] for ack in acks]
        await consumer_socket.close()
        await desk.close()
    finally:
        b.destroy()
        if proxy.running:
            await proxy.cut()


async def test_a_message_no_node_can_read_is_dropped_and_the_bus_goes_on(
    cluster: Cluster, api_of: Callable[[GatewayProcess], Api]
) -> None:
    a, b = cluster(2)
    consumer_socket, desk, conversation_id = await _opened(api_of(a), a, b)
    client = redis.Redis.from_url(a.env["ATDESK_REDIS_URL"])
    try:  # a node of another version, say
        await client.publish(f"{a.env['ATDESK_REDIS_PREFIX']}:events", b'{"node":"n_x","event":1}')
    finally:
        await client.aclose()
    ack = await consumer_socket.send_message("after it", conversation_id=conversation_id)
    assert [m["id"] for m in await _drain(desk, 1, timeout=10)] == [ack["id"]]
    await consumer_socket.close()
    await desk.close()


async def test_a_node_killed_mid_stream_loses_nothing_acked(
    cluster: Cluster, api_of: Callable[[GatewayProcess], Api]
) -> None:
    a, b = cluster(2)
    api = api_of(a)
    owner = await api.sign_up("owner")
    handle = await api.create_brand(owner)
    consumers: list[User] = [await api.sign_up(f"c{i}") for i in range(50)]
    # A member online on the node that lives: no automatic answers among the messages.
    desk = await Socket.open(a.ws_url, owner)
    sockets = [await Socket.open(b.ws_url, consumer) for consumer in consumers]
    acked: dict[str, dict[str, Any]] = {}
    outboxes: list[list[str]] = [[uuid.uuid4().hex for _ in range(20)] for _ in consumers]

    async def run(socket: Socket, outbox: list[str]) -> None:
        try:
            for client_id in outbox:
                await socket.send_json(
                    {"type": "send", "client_id": client_id, "to": f"@{handle}",
                     "text": f"m {client_id}"}
                )  # fmt: skip
            while True:
                frame = await socket.recv(timeout=30)
                if frame["type"] == "ack":
                    acked[frame["client_id"]] = frame
                    if len(acked) == 300:
                        b.kill()
        except (websockets.ConnectionClosed, TimeoutError):
            return

    await asyncio.gather(*(run(s, o) for s, o in zip(sockets, outboxes, strict=True)))
    assert 300 <= len(acked) < 1000, "the kill must land while messages are in flight"

    # Every client moves to node A, resends what has no ack (same client_id), and syncs.
    results = []
    for consumer, outbox in zip(consumers, outboxes, strict=True):
        session = await api.sign_in(consumer)
        socket = await Socket.open(a.ws_url, session)
        conversation_id = None
        for client_id in outbox:
            ack = acked.get(client_id) or await socket.send_message(
                f"m {client_id}", to=f"@{handle}", client_id=client_id
            )
            conversation_id = ack["conversation_id"]
        assert conversation_id is not None
        await socket.send_json(
            {"type": "sync", "ref": "s", "conversation_id": conversation_id, "after_seq": 0}
        )
        synced = await _drain(socket, len(outbox))
        results.append((outbox, synced))
        await socket.close()
    for outbox, synced in results:
        # Live frames of the resends and the sync's frames interleave; after the client's
        # dedupe by (conversation, seq), the thread is whole and gapless.
        assert sorted(m["seq"] for m in synced) == list(range(1, len(outbox) + 1))
        assert sorted(m["client_id"] for m in synced) == sorted(outbox)
        for message in synced:
            if message["client_id"] in acked:
                assert message["id"] == acked[message["client_id"]]["id"]
    await desk.close()


async def test_sigterm_under_load_closes_with_1001_and_every_ack_is_stored(
    cluster: Cluster, api_of: Callable[[GatewayProcess], Api]
) -> None:
    [node] = cluster(1)
    api = api_of(node)
    owner = await api.sign_up("owner")
    handle = await api.create_brand(owner)
    consumers = [await api.sign_up(f"c{i}") for i in range(10)]
    sockets = [await Socket.open(node.ws_url, consumer) for consumer in consumers]
    acked: dict[str, dict[str, Any]] = {}
    close_codes: list[int | None] = []

    async def run(socket: Socket) -> None:
        for _ in range(200):
            await socket.send_json(
                {"type": "send", "client_id": uuid.uuid4().hex, "to": f"@{handle}", "text": "x"}
            )
        try:
            while True:
                frame = await socket.recv(timeout=30)
                if frame["type"] == "ack":
                    acked[frame["client_id"]] = frame
                    if len(acked) == 500 and node.process is not None:
                        node.process.terminate()  # SIGTERM, mid-stream
        except websockets.ConnectionClosed as closed:
            close_codes.append(closed.rcvd.code if closed.rcvd else None)

    await asyncio.gather(*(run(socket) for socket in sockets))
    # uvicorn re-raises the signal once it has shut down cleanly, as a process should.
    assert node.process is not None and node.process.wait(30) in (0, -signal.SIGTERM)
    assert "Traceback" not in node.log()
    assert close_codes == [1001] * len(sockets)
    assert 500 <= len(acked) < 2000
    stored = dict(node.query("SELECT client_id, id FROM messages"))
    for client_id, ack in acked.items():
        assert stored.get(client_id) == ack["id"], f"ack {client_id} has no stored row"


async def test_database_unreachable_means_errors_never_acks_and_heals_by_itself(
    tmp_path: Path, api_of: Callable[[GatewayProcess], Api]
) -> None:
    node = GatewayProcess(tmp_path, backend="postgres")
    direct = make_url(node.env["ATDESK_DATABASE_URL"])
    proxy = TcpProxy(direct.host or "127.0.0.1", direct.port or 5432)
    await proxy.start()
    node.env["ATDESK_DATABASE_URL"] = direct.set(port=proxy.port).render_as_string(
        hide_password=False
    )
    try:
        await asyncio.to_thread(node.start)  # the proxy runs on this loop: keep it turning
        api = api_of(node)
        owner, consumer = await api.sign_up("owner"), await api.sign_up("lea")
        handle = await api.create_brand(owner)
        desk = await Socket.open(node.ws_url, owner)  # no automatic answer among the seqs
        socket = await Socket.open(node.ws_url, consumer)
        before = await socket.send_message("before", to=f"@{handle}")
        conversation_id = before["conversation_id"]

        await proxy.cut()
        ready = await api.call("GET", "/readyz")
        assert ready.status_code == 503 and ready.json()["error"]["code"] == "not_ready"
        client_ids = [uuid.uuid4().hex for _ in range(5)]
        for client_id in client_ids:
            await socket.send_json(
                {"type": "send", "ref": client_id, "client_id": client_id,
                 "conversation_id": conversation_id, "text": "during"}
            )  # fmt: skip
            reply = await socket.recv(timeout=30)
            assert (reply["type"], reply["code"], reply["ref"]) == ("error", "internal", client_id)

        await proxy.start()
        async with asyncio.timeout(30):
            while (await api.call("GET", "/readyz")).status_code != 200:
                await asyncio.sleep(0.1)
        after = await socket.send_message("after", conversation_id=conversation_id)
        assert after["seq"] == 2  # nothing from the outage was stored
        retried = await socket.send_message(
            "during", conversation_id=conversation_id, client_id=client_ids[0]
        )
        assert retried["seq"] == 3
        await socket.close()
        await desk.close()
    finally:
        if proxy.running:
            await proxy.cut()
        node.destroy()


async def test_send_limits_hold_across_nodes_in_total(
    cluster: Cluster, api_of: Callable[[GatewayProcess], Api]
) -> None:
    # 10 at once, then one every 10 s: a flood of a few seconds earns at most one more.
    limits = {"ATDESK_SEND_RATE": "0.1", "ATDESK_SEND_BURST": "10"}
    a, b = cluster(2, limits)
    api = api_of(a)
    owner, consumer = await api.sign_up("owner"), await api.sign_up("lea")
    handle = await api.create_brand(owner)
    on_a = await Socket.open(a.ws_url, consumer)
    on_b = await Socket.open(b.ws_url, await api.sign_in(consumer))

    async def flood(socket: Socket) -> list[dict[str, Any]]:
        for i in range(20):
            await socket.send_json(
                {"type": "send", "ref": str(i), "client_id": uuid.uuid4().hex,
                 "to": f"@{handle}", "text": "flood"}
            )  # fmt: skip
        replies: list[dict[str, Any]] = []
        while len(replies) < 20:
            frame = await socket.recv()
            if frame["type"] in ("ack", "error"):
                replies.append(frame)
        return replies

    replies = [r for rs in await asyncio.gather(flood(on_a), flood(on_b)) for r in rs]
    acks = [r for r in replies if r["type"] == "ack"]
    refusals = [r for r in replies if r["type"] == "error"]
    assert 10 <= len(acks) <= 11  # one node alone would have allowed 10 on each
    assert {r["code"] for r in refusals} == {"rate_limited"}
    assert all(r["retry_after_s"] > 0 for r in refusals)
    await on_a.close()
    await on_b.close()


async def test_workers_share_one_port_and_one_bus(
    tmp_path: Path, api_of: Callable[[GatewayProcess], Api]
) -> None:
    node = GatewayProcess(tmp_path, backend="postgres", extra_args=["--workers", "2"])
    try:
        node.start()
        api = api_of(node)
        owner, consumer = await api.sign_up("owner"), await api.sign_up("lea")
        handle = await api.create_brand(owner)
        # Connections land on either process; with enough of them, both are used, and every
        # message reaches every socket whichever process holds it.
        desks = [await Socket.open(node.ws_url, await api.sign_in(owner)) for _ in range(8)]
        phone = await Socket.open(node.ws_url, consumer)
        acks = [await phone.send_message(f"#{i}", to=f"@{handle}") for i in range(5)]
        for desk in desks:
            received = await _drain(desk, 5)
            assert [m["id"] for m in received] == [ack["id"] for ack in acks]
            await desk.close()
        await phone.close()
        assert node.process is not None
        workers = subprocess.run(
            ["pgrep", "-P", str(node.process.pid), "-f", "spawn_main"],
            capture_output=True, text=True,
        ).stdout.split()  # fmt: skip
        assert len(workers) == 2
    finally:
        node.destroy()


async def test_sign_in_limits_hold_across_nodes(
    cluster: Cluster, api_of: Callable[[GatewayProcess], Api]
) -> None:
    a, b = cluster(2, {"ATDESK_LOGIN_ATTEMPTS_PER_MINUTE": "3"})
    user = await api_of(a).sign_up("lea")
    wrong = {"email": user.email, "password": "not the password"}
    codes = []
    for node in (a, b, a, b):
        response = await api_of(node).call("POST", "/v1/sessions", json=wrong)
        codes.append(response.json()["error"]["code"])
    assert codes == ["bad_credentials"] * 3 + ["rate_limited"]


async def test_the_automatic_answer_asks_every_node_who_is_online(
    cluster: Cluster, api_of: Callable[[GatewayProcess], Api]
) -> None:
    a, b = cluster(2)
    api = api_of(a)
    owner, lea = await api.sign_up("owner"), await api.sign_up("lea")
    staffed_handle = await api.create_brand(owner, "staffed")
    empty_handle = await api.create_brand(await api.sign_up("away"), "empty")
    desk = await Socket.open(b.ws_url, owner)  # online, but on the other node
    await registered(a, owner)
    phone = await Socket.open(a.ws_url, lea)
    staffed = await phone.send_message("hi", to=f"@{staffed_handle}")
    again = await phone.send_message("still there?", conversation_id=staffed["conversation_id"])
    assert again["seq"] == 2  # no automatic answer came between
    empty = await phone.send_message("hi", to=f"@{empty_handle}")
    roles = {
        handle: [m["sender"]["role"] for m in await api.history(lea, ack["conversation_id"])]
        for handle, ack in ((staffed_handle, staffed), (empty_handle, empty))
    }
    assert roles == {staffed_handle: ["consumer", "consumer"], empty_handle: ["consumer", "system"]}
    await phone.close()
    await desk.close()


async def test_cases_waiting_at_once_share_one_look_at_who_is_online(
    own_redis: RedisServer, cluster: Cluster, api_of: Callable[[GatewayProcess], Api]
) -> None:
    """Cases of one brand waiting for their first answer, whose members are on another node,
    ask together whether a member is online: one look in Redis answers them all (a look
    each piled reads and round trips onto the busy node, before every ack)."""
    a, b = cluster(2, {"ATDESK_REDIS_URL": own_redis.url})
    api = api_of(a)
    owner = await api.sign_up("owner")
    handle = await api.create_brand(owner)
    desk = await Socket.open(b.ws_url, owner)
    await registered(a, owner)
    phones = [await Socket.open(a.ws_url, await api.sign_up(f"c{i}")) for i in range(20)]
    opened = [await phone.send_message("hi", to=f"@{handle}") for phone in phones]
    # Past the time node A trusts having seen the owner online: every case must ask again.
    await asyncio.sleep(SEEN_ONLINE_S + 0.2)
    looks_before = own_redis.calls("mget")  # presence's look at which nodes are alive
    # Reads of the brand's members wait, as on a node whose database is busy: the burst's
    # cases all ask meanwhile.
    url = make_url(a.env["ATDESK_DATABASE_URL"]).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False)) as members_locked:
        members_locked.execute("LOCK TABLE memberships IN ACCESS EXCLUSIVE MODE")
        burst = asyncio.gather(
            *(
                phone.send_message("still there?", conversation_id=ack["conversation_id"])
                for phone, ack in zip(phones, opened, strict=True)
            )
        )
        await asyncio.sleep(1)
    await burst
    looks = own_redis.calls("mget") - looks_before
    assert 1 <= looks <= 2  # two if the burst outlasted SEEN_ONLINE_S on a slow machine
    received = await _drain(desk, 40)
    assert {m["sender"]["role"] for m in received} == {"consumer"}  # nobody was answered
    for phone in phones:
        await phone.close()
    await desk.close()
