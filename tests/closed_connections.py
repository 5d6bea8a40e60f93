"""What outlives a server connection once it closed, with the garbage collector off: a
real server and client on 127.0.0.1, the protocol under test on the server's side."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState

Talk = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def outlived_close(protocol_class: Any, config: Config, talk: Talk | None = None) -> list[str]:
    """The names of the types, of the server's protocol and its transport, still alive after
    the client talked (``talk``; None: nothing) and closed. Empty: both were freed by
    reference counting alone."""

    async def scenario() -> list[weakref.ref[Any]]:
        loop = asyncio.get_running_loop()
        lost = loop.create_future()
        made: list[weakref.ref[Any]] = []

        class Protocol(protocol_class):  # type: ignore[misc]
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                super().connection_made(transport)
                made.extend([weakref.ref(transport), weakref.ref(self)])

            def connection_lost(self, exc: Exception | None) -> None:
                super().connection_lost(exc)
                lost.set_result(None)

        server = await loop.create_server(
            lambda: Protocol(config, ServerState(), {}), "127.0.0.1", 0
        )
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        if talk is not None:
            await talk(reader, writer)
        writer.close()
        await lost
        server.close()
        await server.wait_closed()
        await asyncio.sleep(0)  # the transport's last callback
        return made

    gc.disable()
    try:
        made = asyncio.run(scenario())
        assert len(made) == 2, "the protocol was never connected"
        return [type(alive).__name__ for ref in made if (alive := ref()) is not None]
    finally:
        gc.enable()
