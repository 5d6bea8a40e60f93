"""A TCP proxy the test can cut, silence and restore: network failures between two real
parts, one that both ends see (cut) and one that neither does (silence)."""

from __future__ import annotations

import asyncio
import contextlib

from tests.gateway_process import free_port


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._silent = False

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    @property
    def running(self) -> bool:
        return self._server is not None

    async def cut(self) -> None:
        """Refuse new connections and drop the open ones, as if the host went away."""
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def silence(self) -> None:
        """Let nothing through either way, and no error either: a dead route or a dropped
        NAT entry, where what is sent goes out fine and no answer ever comes."""
        self._silent = True

    def restore(self) -> None:
        """Let data through again. The connections that lost data are reset, as the far end
        resets them once the route is back."""
        self._silent = False
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, upstream_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while data := await source.read(65536):
                    if not self._silent:
                        sink.write(data)
                        await sink.drain()
            sink.transport.abort()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))
        self._writers -= {writer, upstream_writer}
