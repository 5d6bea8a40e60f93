"""The Python SDK against a real gateway on 127.0.0.1: killed, restarted, and still exact."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pty
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from atdesk_sdk import (
    Ack,
    ApiError,
    AtdeskClient,
    AtdeskError,
    AuthError,
    Backoff,
    Connected,
    ConnectionState,
    Disconnected,
    Event,
    Message,
    MessageEvent,
    ReadEvent,
    SendFailed,
    SendRejected,
    TypingEvent,
)
from atdesk_sdk.api import HttpApi

from tests.clients import Api, Socket, User
from tests.gateway_process import GatewayProcess


def fast_backoff() -> Backoff:
    return Backoff(initial_s=0.05, maximum_s=0.5)


@pytest.fixture
async def stack() -> AsyncIterator[contextlib.AsyncExitStack]:
    """Closes what a test opened, even when it fails half-way."""
    async with contextlib.AsyncExitStack() as resources:
        yield resources


def sdk_client(
    gateway: GatewayProcess, user: User, stack: contextlib.AsyncExitStack, **options: Any
) -> AtdeskClient:
    client = AtdeskClient(gateway.http_url, token=user.token, backoff=fast_backoff(), **options)
    stack.push_async_callback(client.close)
    return client


class Collector:
    """Everything one client's ``events()`` yields, gathered by a task of its own."""

    def __init__(self, client: AtdeskClient, stack: contextlib.AsyncExitStack) -> None:
        self.client = client
        self.events: list[Event] = []
        self.error: AtdeskError | None = None
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._collect())
        stack.push_async_callback(self.stop)

    async def _collect(self) -> None:
        try:
            async for event in self.client.events():
                self.events.append(event)
                self._changed.set()
        except AtdeskError as error:
            self.error = error
            self._changed.set()

    def messages(self, conversation_id: str | None = None) -> list[Message]:
        return [
            event.message
            for event in self.events
            if isinstance(event, MessageEvent)
            and conversation_id in (None, event.message.conversation_id)
        ]

    def count(self, kind: type[Any]) -> int:
        return sum(isinstance(event, kind) for event in self.events)

    async def until(self, condition: Callable[[], bool], timeout: float = 60) -> None:
        """Wait for ``condition``; the timeout only guards against a hang."""
        async with asyncio.timeout(timeout):
            while True:
                self._changed.clear()
                if condition():
                    return
                await self._changed.wait()

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


def as_rows(messages: list[Message]) -> list[tuple[int, str, str, str]]:
    return [(m.seq, m.id, m.client_id, m.text) for m in messages]


def history_rows(history: list[dict[str, Any]]) -> list[tuple[int, str, str, str]]:
    return [(m["seq"], m["id"], m["client_id"], m["text"]) for m in history]


async def desk(api: Api) -> tuple[User, User, str]:
    """A brand with an agent, and a consumer: (agent, consumer, handle)."""
    owner = await api.sign_up("owner")
    agent = await api.sign_up("agent")
    consumer = await api.sign_up("lea")
    handle = await api.create_brand(owner)
    await api.add_member(owner, handle, agent)
    return agent, consumer, handle


# --- 1. the gateway dies mid-conversation; nothing is lost or doubled ---------------------


async def test_gateway_killed_and_restarted_mid_conversation_history_is_exact(
    own_gateway: GatewayProcess, tmp_path: Path, stack: contextlib.AsyncExitStack
) -> None:
    own_gateway.start()
    api = Api(own_gateway.http_url)
    stack.push_async_callback(api.close)
    agent, consumer, handle = await desk(api)
    lea = sdk_client(own_gateway, consumer, stack, state_path=tmp_path / "lea.jsonl")
    sam = sdk_client(own_gateway, agent, stack, state_path=tmp_path / "sam.jsonl")
    await lea.connect()
    await sam.connect()
    lea_events, sam_events = Collector(lea, stack), Collector(sam, stack)
    lea_texts = [f"lea {n}" for n in range(60)]
    sam_texts = [f"sam {n}" for n in range(60)]

    first = await lea.send(to=f"@{handle}", text=lea_texts[0])
    conversation_id = first.conversation_id
    await sam_events.until(lambda: len(sam_events.messages()) == 1)
    await sam.send(conversation_id=conversation_id, text=sam_texts[0])
    for n in range(1, 6):  # a few turns of a normal conversation
        await lea.send(conversation_id=conversation_id, text=lea_texts[n])
        await sam.send(conversation_id=conversation_id, text=sam_texts[n])

    def send_all(client: AtdeskClient, texts: list[str]) -> list[asyncio.Task[Ack]]:
        return [
            asyncio.create_task(client.send(conversation_id=conversation_id, text=text))
            for text in texts
        ]

    # Both sides send at once; the gateway is SIGKILLed the moment Lea's third ack is in,
    # with her later messages queued and both sides' next messages in flight.
    lea_sends = send_all(lea, lea_texts[6:30])
    sam_sends = send_all(sam, sam_texts[6:30])
    lea_sends[2].add_done_callback(lambda _: own_gateway.kill())
    await lea_events.until(lambda: lea_events.count(Disconnected) >= 1)
    await sam_events.until(lambda: sam_events.count(Disconnected) >= 1)
    assert not all(task.done() for task in lea_sends), "the kill must land mid-conversation"
    lea_sends += send_all(lea, lea_texts[30:40])  # written while the gateway is down
    sam_sends += send_all(sam, sam_texts[30:40])
    own_gateway.start()
    async with asyncio.timeout(60):
        acks = await asyncio.gather(*lea_sends, *sam_sends)

    # Then a graceful restart (close 1001) while both are sending again.
    lea_sends = send_all(lea, lea_texts[40:60])
    sam_sends = send_all(sam, sam_texts[40:60])
    stopping: list[asyncio.Future[None]] = []
    # In a thread: a graceful stop waits for the clients to answer the close handshake.
    lea_sends[0].add_done_callback(
        lambda _: stopping.append(asyncio.ensure_future(asyncio.to_thread(own_gateway.stop)))
    )
    await lea_events.until(lambda: lea_events.count(Disconnected) >= 2)
    async with asyncio.timeout(60):
        await lea_events.until(lambda: bool(stopping))
        await stopping[0]
    own_gateway.start()
    async with asyncio.timeout(60):
        acks += await asyncio.gather(*lea_sends, *sam_sends)

    await lea.sync()  # a barrier: all committed messages have been delivered
    await sam.sync()
    history = await api.history(consumer, conversation_id)
    rows = history_rows(history)
    assert [row[0] for row in rows] == list(range(1, 121))
    assert [m["text"] for m in history if m["sender"]["role"] == "consumer"] == lea_texts
    assert [m["text"] for m in history if m["sender"]["role"] == "agent"] == sam_texts
    assert len({m["client_id"] for m in history}) == 120
    stored = {m["client_id"]: (m["seq"], m["id"]) for m in history}
    assert all(stored[ack.client_id] == (ack.seq, ack.id) for ack in acks)
    # Both sides saw exactly the history: every message once, in seq order.
    assert as_rows(lea_events.messages(conversation_id)) == rows
    assert as_rows(sam_events.messages(conversation_id)) == rows
    assert lea.pending() == [] and sam.pending() == []
    # Reconnected after each restart (more often if a socket got in while one was stopping).
    assert lea_events.count(Connected) >= 3 and sam_events.count(Connected) >= 3
    for client in (lea, sam):
        await client.close()
    for collector in (lea_events, sam_events):
        await collector.stop()
    await api.close()


# --- 2. the SDK's own process crashes; its outbox is resent on restart --------------------

CRASHING_PROCESS = """
import asyncio, sys
from atdesk_sdk import AtdeskClient, Backoff

async def main():
    url, token, state, to = sys.argv[1:5]
    client = AtdeskClient(url, token=token, state_path=state, backoff=Backoff(0.05, 0.2))
    await client.connect()
    for n in range(3):
        await client.send(to=to, text=f"acked {n}")
    print("acked", flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # the test stops the gateway meanwhile
    sends = [asyncio.create_task(client.send(to=to, text=f"queued {n}")) for n in range(4)]
    while len(client.pending()) < 4:
        await asyncio.sleep(0.01)
    print("queued", flush=True)
    await asyncio.sleep(3600)  # until SIGKILL

asyncio.run(main())
"""


async def test_a_crashed_process_resends_its_outbox_when_it_starts_again(
    own_gateway: GatewayProcess, tmp_path: Path, stack: contextlib.AsyncExitStack
) -> None:
    own_gateway.start()
    api = Api(own_gateway.http_url)
    stack.push_async_callback(api.close)
    _, consumer, handle = await desk(api)
    state = tmp_path / "crashing.jsonl"
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CRASHING_PROCESS, own_gateway.http_url, consumer.token,
        str(state), f"@{handle}", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    assert child.stdin is not None and child.stdout is not None
    async with asyncio.timeout(60):
        assert await child.stdout.readline() == b"acked\n"
        own_gateway.kill()
        child.stdin.write(b"go\n")
        await child.stdin.drain()
        assert await child.stdout.readline() == b"queued\n"
    child.kill()  # SIGKILL: the outbox is only on disk now
    await child.wait()
    child.stdin.close()
    own_gateway.start()

    restarted = sdk_client(own_gateway, consumer, stack, state_path=state)
    queued = restarted.pending()
    assert [entry.text for entry in queued] == [f"queued {n}" for n in range(4)]
    # The first queued message did reach the gateway, but its ack was lost.
    lost_ack = await Socket.open(own_gateway.ws_url, consumer)
    committed = await lost_ack.send_message(
        "queued 0", to=f"@{handle}", client_id=queued[0].client_id
    )
    await lost_ack.close()

    await restarted.connect()
    async with asyncio.timeout(60):
        await restarted.flush()
    history = await api.history(consumer, committed["conversation_id"])
    # Nobody of the brand was online: the gateway answered the first message (PROTOCOL 6).
    assert [m["sender"]["role"] for m in history] == ["consumer", "system"] + ["consumer"] * 6
    assert [m["text"] for m in history if m["sender"]["role"] == "consumer"] == [
        f"acked {n}" for n in range(3)
    ] + [f"queued {n}" for n in range(4)]
    assert [m["seq"] for m in history] == list(range(1, 9))
    assert history[4]["id"] == committed["id"]
    assert restarted.pending() == []
    await restarted.close()
    await api.close()


async def test_rate_limited_sends_are_retried_in_order(
    tmp_path: Path, stack: contextlib.AsyncExitStack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="atdesk_sdk")
    slow = GatewayProcess(tmp_path, {"ATDESK_SEND_RATE": "20", "ATDESK_SEND_BURST": "3"})
    stack.callback(slow.destroy)
    slow.start()
    api = Api(slow.http_url)
    stack.push_async_callback(api.close)
    agent, consumer, handle = await desk(api)
    lea = sdk_client(slow, consumer, stack)
    await lea.connect()
    texts = [f"burst {n}" for n in range(30)]
    first = await lea.send(to=f"@{handle}", text=texts[0])
    sends = [
        asyncio.create_task(lea.send(conversation_id=first.conversation_id, text=text))
        for text in texts[1:]
    ]
    async with asyncio.timeout(60):
        await asyncio.gather(*sends)
    history = await api.history(agent, first.conversation_id)
    # The automatic answer to the first message (nobody online) came before its ack.
    assert history[1]["sender"]["role"] == "system"
    assert [m["text"] for m in history if m["sender"]["role"] == "consumer"] == texts
    assert [m["seq"] for m in history] == list(range(1, 32))
    refusals = [r for r in caplog.records if "refused (rate_limited)" in r.getMessage()]
    assert refusals, "the gateway never refused a send: the test proved nothing"


# --- 3. a conversation started while the client was away ---------------------------------


async def test_conversations_started_while_away_are_found_and_synced(
    gateway: GatewayProcess, api: Api, tmp_path: Path, stack: contextlib.AsyncExitStack
) -> None:
    agent, consumer, handle = await desk(api)
    early = await Socket.open(gateway.ws_url, consumer)
    stack.push_async_callback(early.close)
    before = await early.send_message("before the agent's first sign-in", to=f"@{handle}")

    state = tmp_path / "agent.jsonl"
    sam = sdk_client(gateway, agent, stack, state_path=state)
    await sam.connect()
    seen = Collector(sam, stack)
    await sam.sync()
    await sam.close()
    await seen.stop()
    assert seen.messages() == []  # a new client starts from now; history is a call away

    # While the agent is away: the known thread moves on, and a new one starts.
    missed = await early.send_message("while away", conversation_id=before["conversation_id"])
    newcomer_user = await api.sign_up("newcomer")
    newcomer = await Socket.open(gateway.ws_url, newcomer_user)
    stack.push_async_callback(newcomer.close)
    opened = [await newcomer.send_message(f"new thread {n}", to=f"@{handle}") for n in range(3)]

    sam = sdk_client(gateway, agent, stack, state_path=state)
    await sam.connect()
    seen = Collector(sam, stack)
    await sam.sync()
    new_id = opened[0]["conversation_id"]
    # Nobody was online: the gateway answered the new thread's first message.
    assert [
        (m.sender.role, m.text) for m in seen.messages(new_id) if m.sender.role != "system"
    ] == [("consumer", f"new thread {n}") for n in range(3)]
    assert [m.sender.role for m in seen.messages(new_id)][:2] == ["consumer", "system"]
    assert [(m.seq, m.id) for m in seen.messages(before["conversation_id"])] == [
        (missed["seq"], missed["id"])
    ]
    await sam.close()
    await seen.stop()


# --- 4. a dead token stops the client instead of looping ----------------------------------


async def test_a_dead_token_stops_the_client_with_an_auth_error(
    gateway: GatewayProcess, api: Api, stack: contextlib.AsyncExitStack
) -> None:
    _, consumer, handle = await desk(api)
    forged = AtdeskClient(gateway.http_url, token="not-a-token", backoff=fast_backoff())
    stack.push_async_callback(forged.close)
    with pytest.raises(AuthError):
        await forged.connect()
    assert forged.state is ConnectionState.FAILED
    await forged.close()

    session = await api.sign_in(consumer)
    lea = sdk_client(gateway, session, stack)
    await lea.connect()
    events = Collector(lea, stack)
    await lea.send(to=f"@{handle}", text="about to sign out")
    revoked = await api.call("DELETE", "/v1/sessions/current", session)
    assert revoked.status_code == 204
    await events.until(lambda: events.error is not None)
    assert isinstance(events.error, AuthError)
    assert lea.state is ConnectionState.FAILED  # the connection loop has returned
    assert events.count(Connected) == 1 and events.count(Disconnected) == 0
    with pytest.raises(AuthError):
        await lea.send(to=f"@{handle}", text="too late")
    assert lea.pending() == []
    await lea.close()
    await events.stop()


# --- 5. the rest of the client: directory, listings, receipts, typing, refusals -----------


async def test_directory_listings_typing_read_receipts_and_refusals(
    gateway: GatewayProcess, api: Api, stack: contextlib.AsyncExitStack
) -> None:
    agent, consumer, handle = await desk(api)
    async with (
        sdk_client(gateway, consumer, stack) as lea,
        sdk_client(gateway, agent, stack) as sam,
    ):
        assert [brand.handle for brand in await lea.search_brands(handle[:-1])] == [handle]
        assert (await lea.brand(f"@{handle.upper()}")).name == "Acme Inc"
        with pytest.raises(ApiError) as unknown:
            await lea.brand("nosuchbrand_x")
        assert (unknown.value.status, unknown.value.code) == (404, "unknown_brand")
        assert [(b.handle, b.role) for b in (await sam.me()).brands] == [(handle, "agent")]

        await lea.connect()
        await sam.connect()
        lea_events, sam_events = Collector(lea, stack), Collector(sam, stack)
        with pytest.raises(SendRejected) as refused:
            await lea.send(to="@nosuchbrand_x", text="hello?")
        assert refused.value.code == "unknown_brand"
        await lea_events.until(lambda: lea_events.count(SendFailed) == 1)
        assert lea.pending() == []
        with pytest.raises(ValueError):
            await lea.send(to=f"@{handle}", text="x" * 4001)

        ack = await lea.send(to=f"@{handle}", text="hi", client_id="my-own-id-1")
        assert (ack.client_id, ack.seq) == ("my-own-id-1", 1)
        reply = await sam.send(conversation_id=ack.conversation_id, text="hello Lea")
        assert reply.seq == 2

        await sam.typing(ack.conversation_id)
        await lea_events.until(lambda: lea_events.count(TypingEvent) == 1)
        typing = [e for e in lea_events.events if isinstance(e, TypingEvent)]
        assert typing == [TypingEvent(ack.conversation_id, agent.account_id)]

        await lea.mark_read(ack.conversation_id, 2)
        expected = ReadEvent(ack.conversation_id, consumer.account_id, 2)
        await sam_events.until(lambda: expected in sam_events.events)

        page = await lea.conversations()
        assert [(c.id, c.brand.handle, c.last_seq) for c in page.conversations] == [
            (ack.conversation_id, handle, 2)
        ]
        assert page.next is None
        assert [c.id for c in await sam.all_conversations()] == [ack.conversation_id]
        history = await sam.history(ack.conversation_id)
        assert [(m.seq, m.sender.role, m.text) for m in history] == [
            (1, "consumer", "hi"),
            (2, "agent", "hello Lea"),
        ]
        assert (await lea.messages(ack.conversation_id, after_seq=1)).messages == (history[1],)
        await lea_events.until(lambda: len(lea_events.messages()) == 2)
        assert lea_events.messages() == history
        for collector in (lea_events, sam_events):
            await collector.stop()


async def test_register_device_for_push(
    gateway: GatewayProcess, api: Api, stack: contextlib.AsyncExitStack
) -> None:
    user = await api.sign_up("pushed")
    async with sdk_client(gateway, user, stack) as client:
        await client.register_device("android", "fcm-token-abc")
        await client.register_device("android", "fcm-token-abc")  # idempotent per token
        listed = await api.call("GET", "/v1/devices", user)
        assert [d["push_token"] for d in listed.json()["devices"]] == ["fcm-token-abc"]
        await client.unregister_device("fcm-token-abc")
        listed = await api.call("GET", "/v1/devices", user)
        assert listed.json()["devices"] == []
        with pytest.raises(ApiError) as bad:
            await client.register_device("fax", "fcm-token-abc")
        assert bad.value.status == 422


async def test_an_idle_connection_is_given_up_before_the_server_closes_it() -> None:
    """A server that drops a connection idle for 1.5 s as its next request arrives (the
    gateway's keep-alive runs out after 5 s; shortened here): a request after 2.5 s idle
    must not be sent on it."""
    answered = 0
    connections: list[asyncio.StreamWriter] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal answered
        connections.append(writer)
        loop = asyncio.get_running_loop()
        idle_since = loop.time()
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                await reader.readuntil(b"\r\n\r\n")  # a GET: headers only
                if loop.time() - idle_since > 1.5:
                    break  # closed as the request came, unanswered
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
                await writer.drain()
                answered += 1
                idle_since = loop.time()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    api = HttpApi(f"http://127.0.0.1:{port}")
    try:
        assert await api.call("GET", "/v1/brands", auth=False) == {}
        await asyncio.sleep(2.5)
        assert await api.call("GET", "/v1/brands", auth=False) == {}
        assert answered == 2
    finally:
        await api.aclose()
        server.close()
        for writer in connections:
            writer.close()
        await asyncio.gather(*(w.wait_closed() for w in connections), return_exceptions=True)
        await server.wait_closed()


# --- 6. the terminal chat, driven through a pseudo-terminal -------------------------------


class Terminal:
    """The far side of a pseudo-terminal: what the program printed, and a keyboard."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.output = b""
        os.set_blocking(fd, False)

    def type(self, line: str) -> None:
        os.write(self.fd, line.encode() + b"\n")

    async def expect(self, text: str, timeout: float = 30) -> None:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            while text.encode() not in self.output:
                readable: asyncio.Future[None] = loop.create_future()
                loop.add_reader(self.fd, _resolve, readable)
                try:
                    await readable
                finally:
                    loop.remove_reader(self.fd)
                try:
                    self.output += os.read(self.fd, 65536)
                except BlockingIOError:
                    continue
                except OSError:  # EIO: the program exited and closed the terminal
                    raise AssertionError(f"{text!r} never printed:\n{self.output!r}") from None


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def test_terminal_chat_against_the_demo_gateway(tmp_path: Path) -> None:
    demo = GatewayProcess(tmp_path, extra_args=["--demo"])
    demo.start()
    master, slave = pty.openpty()
    chat: subprocess.Popen[bytes] | None = None
    try:
        assert "lea@example.com" in demo.log() and "'atdesk-demo'" in demo.log()
        async with httpx.AsyncClient(base_url=demo.http_url) as http:
            signed_in = await http.post(
                "/v1/sessions", json={"email": "agent@acme.example", "password": "atdesk-demo"}
            )
        assert signed_in.status_code == 201, signed_in.text
        session = signed_in.json()
        agent = User(session["account_id"], "agent@acme.example", "Sam", session["token"])
        desk_socket = await Socket.open(demo.ws_url, agent)

        chat = subprocess.Popen(
            [sys.executable, "-m", "atdesk_sdk", "chat", "@acme", "--url", demo.http_url],
            stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
            env={**os.environ, "ATDESK_EMAIL": "lea@example.com", "ATDESK_PASSWORD": "atdesk-demo"},
        )  # fmt: skip
        os.close(slave)
        terminal = Terminal(master)
        await terminal.expect("Talking to @acme (ACME Telecom)")
        await terminal.expect("[connected]")

        terminal.type("my order 123 never came")
        [received] = await desk_socket.messages(1)
        assert (received["text"], received["sender"]["display_name"]) == (
            "my order 123 never came",
            "Lea",
        )
        await desk_socket.send_message(
            "Sorry Lea! Checking now.", conversation_id=received["conversation_id"]
        )
        await terminal.expect("Sam (agent): Sorry Lea! Checking now.")

        terminal.type("/quit")
        async with asyncio.timeout(30):
            assert await asyncio.to_thread(chat.wait) == 0
        api = Api(demo.http_url)
        history = await api.history(agent, received["conversation_id"])
        await api.close()
        assert [(m["sender"]["role"], m["text"]) for m in history] == [
            ("consumer", "my order 123 never came"),
            ("agent", "Sorry Lea! Checking now."),
        ]
        await desk_socket.close()
    finally:
        if chat is not None and chat.poll() is None:
            os.killpg(chat.pid, signal.SIGKILL)
            chat.wait()
        os.close(master)
        demo.destroy()
