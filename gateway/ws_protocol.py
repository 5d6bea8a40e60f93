"""uvicorn's ``websockets-sansio`` protocol, with five changes for a busy gateway.

- **Reading ahead.** uvicorn stops reading a socket after every frame it hands on and
  starts again once the application has taken it: two ``epoll_ctl`` system calls and a
  selector update per frame received, on a path that a pipelining client (2 sends in
  flight, as both SDKs do) takes for every message. Here a socket is paused only once
  ``READ_AHEAD_FRAMES`` frames wait for the application, which still bounds what a socket
  that is not being read can hold (frames are at most 64 KiB).
- **A keepalive that waits while the gateway is not reading.** uvicorn closes a socket
  (1011) when the pong to its ping has not been read within the timeout; while reading
  is paused, because the socket's frames wait for the gateway, the pong waits unread
  behind them. A client pipelining sends to a busy gateway was closed for the gateway's
  slowness. While reading is paused, the timeout is put off by another period.
- **One write per pass of the event loop.** Each frame was one ``send`` system call; an
  agent's socket gets a frame per message of a committed batch, all in one pass. The
  frames written to a socket in one pass now go out together, early in the next pass
  (``loop.call_soon``), or at once when ``FLUSH_BYTES`` wait: a socket's flow control
  (uvicorn's ``send`` waits while the transport's buffer is over its high-water mark)
  must see what is written, or a client that stops reading could make the gateway buffer
  everything meant for it.
- **Writing without a task.** An ASGI ``send`` is a coroutine, so the gateway wrote
  through a writer task per socket: a task step per frame, each waking the writer alone
  when sends come one by one (an ack to one socket, a message to an agent's). The
  ``SEND_TEXT_NOW`` extension writes a text frame at once when the socket can take it,
  as uvicorn's ``send`` would have without waiting; when it cannot (flow control, closing)
  it says so and the frame goes the ASGI way. Without compression, a frame's bytes are
  the same for every socket: a fan-out makes them once (``text_frame``).
- **Letting go of the handshake.** uvicorn keeps each socket's handshake request and
  response for good; an open socket drops them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State

from gateway.http_protocol import release_closed_transport
from gateway.remember import remember_last

READ_AHEAD_FRAMES = 8
FLUSH_BYTES = 64 * 1024  # asyncio's default high-water mark for a transport's buffer
# The scope extension: a callable taking a text frame, True once it is written.
SEND_TEXT_NOW = "atdesk.send_text_now"


class GatewayWebSocketProtocol(WebSocketsSansIOProtocol):
    def keepalive_timeout(self) -> None:
        if self.read_paused and self.ping_timeout is not None:
            self.pong_timer = self.loop.call_later(self.ping_timeout, self.keepalive_timeout)
            return
        super().keepalive_timeout()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.transport = CoalescingTransport(self.transport, self.loop)

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if self.response.status_code == 101:  # the app runs: it has a scope
            # Not a dict as ASGI's own extensions are: the callable itself, one lookup less.
            self.scope["extensions"][SEND_TEXT_NOW] = self.send_text_now  # type: ignore[assignment]

    def start_keepalive(self) -> None:
        # uvicorn calls this once, just after it sent the accepted handshake's response; it
        # keeps the request and response for the socket's life and never reads them again:
        # 9 of an open socket's ~104 objects (headers as dicts of lists), which every full
        # garbage collection walks. Here rather than in ``send``, which every frame passes.
        super().start_keepalive()
        self.request = self.response = None  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        # The protocol and its scope hold each other: a cycle only the garbage collector
        # would free, rarely under load (gateway.collector).
        scope = getattr(self, "scope", None)  # made once the handshake arrived
        if scope is not None:
            scope["extensions"].pop(SEND_TEXT_NOW, None)
        # Python 3.11's transport cycle (gateway.http_protocol); the socket transport is
        # under the coalescing one.
        release_closed_transport(getattr(self.transport, "_transport", None))

    def send_text_now(self, text: str) -> bool:
        """What ``send`` does with a ``websocket.send`` when it need not wait; False (and
        nothing written) when it would have waited for the buffer to drain, or failed."""
        if (
            not self.writable.is_set()
            or self.disconnected
            or self.close_sent
            or not self.handshake_complete
            or self.initial_response is not None
        ):
            return False
        conn = self.conn
        if conn.extensions:  # compressed: each socket's deflate state makes its own bytes
            try:
                conn.send_text(text.encode())
            except InvalidState:
                return False
            self.transport.write(b"".join(conn.data_to_send()))
            return True
        if conn.state is not State.OPEN:
            return False
        pending = conn.data_to_send()  # a control frame it queued, say: it goes first
        frame = text_frame(text)
        self.transport.write(b"".join([*pending, frame]) if pending else frame)
        return True

    def send_receive_event_to_app(self) -> None:
        # uvicorn pauses reading here unless it is paused already: say it is, then decide.
        paused = self.read_paused
        self.read_paused = True
        try:
            super().send_receive_event_to_app()
        finally:
            self.read_paused = paused
        # Once the gateway has sent its close, frames are dropped and reading must go on
        # until the client's close reply arrives (uvicorn resumed it): the frames still
        # queued are never taken, and pausing for them stalled the closing handshake
        # until the client's own timeout (10 s in most libraries).
        if not paused and not self.close_sent and self.queue.qsize() >= READ_AHEAD_FRAMES:
            self.read_paused = True
            self.transport.pause_reading()


@remember_last
def text_frame(text: str) -> bytes:
    """A server's uncompressed text frame (unmasked): the same bytes for every socket a
    fan-out writes one message to, so made once for them all (websockets' own, made for
    each socket, cost 5.3 us a frame here against 0.4: a message reaches four sockets in
    the benchmark, about 3% of its CPU)."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])


class CoalescingTransport(asyncio.Transport):
    """Writes made during one pass of the event loop reach ``transport`` as one write."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closed:
            return  # as a closed transport does, short of its warning
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))
        self._pending_bytes += len(data)
        if self._pending_bytes >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        data, self._pending, self._pending_bytes = b"".join(self._pending), [], 0
        self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._closed = True
        self._transport.close()

    def abort(self) -> None:
        self._pending, self._pending_bytes, self._closed = [], 0, True
        self._transport.abort()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + self._pending_bytes
