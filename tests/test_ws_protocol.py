"""The socket server reads ahead a few frames, then stops reading until the app catches up.

Protocol logic without a socket: the transport records what the protocol asks of it.
"""

from __future__ import annotations

import asyncio

from uvicorn.config import Config
from uvicorn.server import ServerState

from gateway.ws_protocol import READ_AHEAD_FRAMES, ReadAheadWebSocketProtocol


class RecordingTransport:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def pause_reading(self) -> None:
        self.calls.append("pause")

    def resume_reading(self) -> None:
        self.calls.append("resume")


def test_reading_pauses_only_once_read_ahead_frames_wait_and_resumes_when_all_are_taken() -> None:
    async def scenario() -> None:
        protocol = ReadAheadWebSocketProtocol(
            Config(app=None, ws=ReadAheadWebSocketProtocol), ServerState(), {}
        )
        transport = RecordingTransport()
        protocol.transport = transport  # type: ignore[assignment]

        def frame_arrives(text: str) -> None:
            protocol.frames, protocol.curr_msg_data_type = [text.encode()], "text"
            protocol.send_receive_event_to_app()

        for n in range(READ_AHEAD_FRAMES - 1):
            frame_arrives(f"f{n}")
        assert transport.calls == []  # uvicorn alone pauses after every frame
        frame_arrives("last that fits")
        frame_arrives("one more")  # already on its way when reading paused
        assert transport.calls == ["pause"]
        taken = [await protocol.receive() for _ in range(READ_AHEAD_FRAMES + 1)]
        assert [message["text"] for message in taken][-2:] == ["last that fits", "one more"]
        assert transport.calls == ["pause", "resume"]
        frame_arrives("after")
        assert transport.calls == ["pause", "resume"]

    asyncio.run(scenario())
