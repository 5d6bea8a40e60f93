"""The socket server's changes to uvicorn's protocol: it reads ahead a few frames before
it stops reading until the app catches up, what is written to a socket during one pass of
the event loop goes out in one write, and a text frame can be written without a coroutine
while the socket can take it.

Protocol logic without a socket: the transport records what the protocol asks of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.websockets import WebSocket
from uvicorn.config import Config
from uvicorn.server import ServerState
from websockets.protocol import Protocol, Side, State

from gateway import ws_protocol
from gateway.settings import Settings
from gateway.websocket import LiveConnection
from gateway.ws_protocol import (
    FLUSH_BYTES,
    READ_AHEAD_FRAMES,
    SEND_TEXT_NOW,
    CoalescingTransport,
    GatewayWebSocketProtocol,
)
from tests.closed_connections import outlived_close


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.closing = False

    def pause_reading(self) -> None:
        self.calls.append("pause")

    def resume_reading(self) -> None:
        self.calls.append("resume")

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.calls.append(f"write {bytes(data).decode()}")

    def close(self) -> None:
        self.calls.append("close")
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 0  # every write went out at once


def reading_protocol() -> tuple[
    GatewayWebSocketProtocol, RecordingTransport, Callable[[str], None]
]:
    """A protocol on a recording transport, and how a text frame arrives on it."""
    protocol = GatewayWebSocketProtocol(
        Config(app=None, ws=GatewayWebSocketProtocol), ServerState(), {}
    )
    transport = RecordingTransport()
    protocol.transport = transport  # type: ignore[assignment]

    def frame_arrives(text: str) -> None:
        protocol.frames, protocol.curr_msg_data_type = [text.encode()], "text"
        protocol.send_receive_event_to_app()

    return protocol, transport, frame_arrives


def test_reading_pauses_only_once_read_ahead_frames_wait_and_resumes_when_all_are_taken() -> None:
    async def scenario() -> None:
        protocol, transport, frame_arrives = reading_protocol()
        for n in range(READ_AHEAD_FRAMES - 1):
            frame_arrives(f"f{n}")
        assert transport.calls == []  # uvicorn alone pauses after every frame
        frame_arrives("last that fits")
        frame_arrives("one more")  # already on its way when reading paused
        assert transport.calls == ["pause"]
        taken = []
        for _ in range(READ_AHEAD_FRAMES):
            taken.append(await protocol.receive())
            assert transport.calls == ["pause"]  # until every waiting frame is taken
        taken.append(await protocol.receive())
        assert [message["text"] for message in taken][-2:] == ["last that fits", "one more"]
        assert transport.calls == ["pause", "resume"]
        frame_arrives("after")
        assert transport.calls == ["pause", "resume"]

    asyncio.run(scenario())


def test_after_the_gateway_closes_reading_goes_on_until_the_close_reply() -> None:
    async def scenario() -> None:
        protocol, transport, frame_arrives = reading_protocol()
        for n in range(READ_AHEAD_FRAMES):  # a flooding client: the gateway stopped taking
            frame_arrives(f"f{n}")
        assert transport.calls == ["pause"]
        protocol.close_sent = True  # the gateway closed (uvicorn resumes reading then)
        protocol.read_paused = False
        frame_arrives("still flooding")
        frame_arrives("and more")
        assert transport.calls == ["pause"]  # not paused again: the close reply must be read

    asyncio.run(scenario())


def test_a_missing_pong_closes_the_socket_only_while_the_gateway_is_reading() -> None:
    async def scenario() -> None:
        config = Config(app=None, ws=GatewayWebSocketProtocol, ws_ping_timeout=20.0)
        protocol = GatewayWebSocketProtocol(config, ServerState(), {})
        socket = RecordingTransport()
        protocol.transport = socket
        protocol.read_paused = True  # the pong may wait unread behind the client's frames
        protocol.keepalive_timeout()
        assert socket.calls == [] and not protocol.close_sent
        assert protocol.pong_timer is not None  # asked again a period later
        protocol.pong_timer.cancel()
        protocol.read_paused = False
        protocol.keepalive_timeout()
        assert protocol.close_sent and socket.calls[-1] == "close"

    asyncio.run(scenario())


def test_the_protocol_writes_through_a_coalescing_transport() -> None:
    async def scenario() -> None:
        protocol = GatewayWebSocketProtocol(
            Config(app=None, ws=GatewayWebSocketProtocol), ServerState(), {}
        )
        socket = RecordingTransport()
        protocol.connection_made(socket)
        assert isinstance(protocol.transport, CoalescingTransport)
        protocol.transport.write(b"x")
        await asyncio.sleep(0)
        assert socket.calls == ["write x"]

    asyncio.run(scenario())


def test_a_full_buffer_of_writes_goes_out_at_once_so_flow_control_sees_it() -> None:
    async def scenario() -> None:
        socket = RecordingTransport()
        transport = CoalescingTransport(socket, asyncio.get_running_loop())
        frame = b"y" * 1000
        while not socket.calls:
            transport.write(frame)
        # uvicorn's send checks the transport's flow control before each frame: it sees
        # these bytes within one pass, not only after a client stopped reading long ago.
        whole_frames_to_the_cap = -(-FLUSH_BYTES // len(frame)) * len(frame)
        assert socket.calls == ["write " + "y" * whole_frames_to_the_cap]
        assert transport.get_write_buffer_size() == 0
        await asyncio.sleep(0)
        assert len(socket.calls) == 1

    asyncio.run(scenario())


def test_writes_made_in_one_pass_of_the_loop_reach_the_socket_as_one_write() -> None:
    async def scenario() -> None:
        socket = RecordingTransport()
        transport = CoalescingTransport(socket, asyncio.get_running_loop())
        transport.write(b"a")
        transport.write(bytearray(b"b"))
        transport.write(memoryview(b"c"))
        assert socket.calls == []
        assert transport.get_write_buffer_size() == 3
        await asyncio.sleep(0)  # the rest of this pass
        assert socket.calls == ["write abc"]
        transport.write(b"d")
        await asyncio.sleep(0)
        transport.write(b"e")
        transport.close()  # what waits goes first
        await asyncio.sleep(0)
        transport.write(b"f")  # after the close: nowhere to go
        await asyncio.sleep(0)
        assert socket.calls == ["write abc", "write d", "write e", "close"]

    asyncio.run(scenario())


class BytesTransport(RecordingTransport):
    def __init__(self) -> None:
        super().__init__()
        self.written = b""

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)


UPGRADE = (
    b"GET /v1/ws HTTP/1.1\r\nHost: gateway\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def text_frame(text: str) -> bytes:
    return bytes([0x81, len(text)]) + text.encode()  # a short, unmasked server frame


def test_a_text_frame_is_written_at_once_only_while_the_socket_can_take_it() -> None:
    async def scenario() -> None:
        answers: list[bool] = []
        seen: dict[str, Any] = {}

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            seen["handshake kept"] = (protocol.request, protocol.response)
            seen["scope"] = scope
            send_now = seen["send_now"] = scope["extensions"][SEND_TEXT_NOW]
            answers.append(send_now("first"))
            protocol.pause_writing()  # the client stopped reading: this frame must wait
            answers.append(send_now("held"))
            protocol.resume_writing()
            answers.append(send_now("second"))

        protocol = GatewayWebSocketProtocol(
            Config(app=app, ws=GatewayWebSocketProtocol), ServerState(), {}
        )
        socket = BytesTransport()
        protocol.connection_made(socket)
        protocol.data_received(UPGRADE)
        for _ in range(100):  # the app's few passes (it may fail: uvicorn only logs that)
            if len(answers) == 3:
                break
            await asyncio.sleep(0)
        await asyncio.sleep(0)  # the pass's writes, coalesced
        assert answers == [True, False, True]
        assert seen["handshake kept"] == (None, None)  # open: the handshake is let go
        assert socket.written.startswith(b"HTTP/1.1 101 ")
        assert socket.written.endswith(text_frame("first") + text_frame("second"))
        protocol.connection_lost(None)
        assert SEND_TEXT_NOW not in seen["scope"]["extensions"]  # no cycle left behind
        assert seen["send_now"]("too late") is False
        await asyncio.sleep(0)
        assert b"too late" not in socket.written

    asyncio.run(scenario())


def test_a_frame_the_socket_refuses_waits_for_the_writer_and_the_next_ones_behind_it() -> None:
    async def scenario() -> None:
        written: list[tuple[str, str]] = []
        socket_takes = True

        def send_text_now(text: str) -> bool:
            if socket_takes:
                written.append(("at once", text))
            return socket_takes

        async def asgi_send(message: Any) -> None:
            written.append(("writer", message["text"]))

        async def receive() -> Any:
            return {"type": "websocket.disconnect"}

        scope = {"type": "websocket", "path": "/v1/ws", "headers": []}
        scope["extensions"] = {SEND_TEXT_NOW: send_text_now}
        gateway: Any = SimpleNamespace(settings=Settings())
        websocket = WebSocket(scope, receive, asgi_send)
        connection = LiveConnection(websocket, gateway, receive, asgi_send)
        writer = asyncio.create_task(connection._write_loop())
        connection.push("before the writer waits")  # it has not started: queued
        await asyncio.sleep(0)
        connection.push("a")  # the writer waits for frames: straight out
        socket_takes = False
        connection.push("b")  # refused (flow control): the writer's
        socket_takes = True
        connection.push("c")  # the socket would take it, but b is not out yet
        for _ in range(3):
            await asyncio.sleep(0)
        connection.push("d")  # the writer waits again
        writer.cancel()
        assert written == [
            ("writer", "before the writer waits"),
            ("at once", "a"),
            ("writer", "b"),
            ("writer", "c"),
            ("at once", "d"),
        ]

    asyncio.run(scenario())


def test_a_closed_socket_leaves_no_reference_cycle() -> None:
    """Freed as soon as it closed, without a garbage collection: a frozen cycle would stay
    until the next thaw (gateway.collector). The client goes before any handshake."""
    config = Config(app=None, ws=GatewayWebSocketProtocol)
    assert outlived_close(GatewayWebSocketProtocol, config) == []


@pytest.mark.parametrize("length", [0, 125, 126, 65_535, 65_536])
def test_a_frame_made_once_for_a_fan_out_is_what_a_client_reads(length: int) -> None:
    # Every length form of the header (7 bits, 16, 64), and text that is not ASCII.
    text = ("é" * length)[:length]
    client = Protocol(Side.CLIENT, state=State.OPEN)
    frame = ws_protocol.text_frame(text)
    assert ws_protocol.text_frame(text) is frame  # the same bytes for the next socket
    client.receive_data(frame + ws_protocol.text_frame(text + "!"))
    assert [event.data.decode() for event in client.events_received()] == [text, text + "!"]
