"""uvicorn's ``websockets-sansio`` protocol, with two changes for a busy gateway.

- **Reading ahead.** uvicorn stops reading a socket after every frame it hands on and
  starts again once the application has taken it: two ``epoll_ctl`` system calls and a
  selector update per frame received, on a path that a pipelining client (2 sends in
  flight, as both SDKs do) takes for every message. Here a socket is paused only once
  ``READ_AHEAD_FRAMES`` frames wait for the application, which still bounds what a socket
  that is not being read can hold (frames are at most 64 KiB).
- **One write per pass of the event loop.** Each frame was one ``send`` system call; an
  agent's socket gets a frame per message of a committed batch, all in one pass. The
  frames written to a socket in one pass now go out together, at the end of the pass.
  Every system call also lets go of the GIL, and the database thread, waiting for it,
  then holds the event loop up until it lets go in turn.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

READ_AHEAD_FRAMES = 8


class GatewayWebSocketProtocol(WebSocketsSansIOProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.transport = CoalescingTransport(self.transport, self.loop)

    def send_receive_event_to_app(self) -> None:
        # uvicorn pauses reading here unless it is paused already: say it is, then decide.
        paused = self.read_paused
        self.read_paused = True
        try:
            super().send_receive_event_to_app()
        finally:
            self.read_paused = paused
        if not paused and self.queue.qsize() >= READ_AHEAD_FRAMES:
            self.read_paused = True
            self.transport.pause_reading()


class CoalescingTransport(asyncio.Transport):
    """Writes made during one pass of the event loop reach ``transport`` as one write."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def flush(self) -> None:
        if not self._pending:
            return
        data, self._pending = b"".join(self._pending), []
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending = []
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
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))
