"""uvicorn's ``websockets-sansio`` protocol, reading ahead a few frames before it pauses.

uvicorn stops reading a socket after every frame it hands on and starts again once the
application has taken it: two ``epoll_ctl`` system calls and a selector update per frame
received, on a path that a pipelining client (2 sends in flight, as both SDKs do) takes
for every message. Here a socket is paused only once ``READ_AHEAD_FRAMES`` frames wait
for the application, which still bounds what a socket that is not being read can hold
(frames are at most 64 KiB).
"""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

READ_AHEAD_FRAMES = 8


class ReadAheadWebSocketProtocol(WebSocketsSansIOProtocol):
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
