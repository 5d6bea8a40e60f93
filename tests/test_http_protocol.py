"""gateway.http_protocol: a closed HTTP connection is freed without the garbage collector."""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

import pytest
from starlette.types import Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.server import ServerState

from gateway.http_protocol import GatewayHTTPProtocol


async def answer_ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.parametrize("requests", [0, 2], ids=["closed-at-once", "after-two-requests"])
def test_a_closed_connection_leaves_no_reference_cycle(requests: int) -> None:
    """Freed as soon as it closed: a frozen cycle would stay until the next thaw
    (gateway.collector)."""

    async def scenario() -> list[weakref.ref[Any]]:
        loop = asyncio.get_running_loop()
        lost = loop.create_future()
        made: list[weakref.ref[Any]] = []

        class Protocol(GatewayHTTPProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                super().connection_made(transport)
                made.extend([weakref.ref(transport), weakref.ref(self)])

            def connection_lost(self, exc: Exception | None) -> None:
                super().connection_lost(exc)
                lost.set_result(None)

        config = Config(app=answer_ok, http=GatewayHTTPProtocol, log_level="warning")
        config.load()
        server = await loop.create_server(
            lambda: Protocol(config, ServerState(), {}), "127.0.0.1", 0
        )
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(requests):  # kept alive between them
            writer.write(b"GET / HTTP/1.1\r\nHost: atdesk\r\n\r\n")
            assert (await reader.readuntil(b"ok")).startswith(b"HTTP/1.1 200")
        writer.close()
        await lost
        server.close()
        await server.wait_closed()
        await asyncio.sleep(0)  # the transport's last callback
        return made

    gc.disable()
    try:
        made = asyncio.run(scenario())
        assert len(made) == 2 and [ref() for ref in made] == [None, None]
    finally:
        gc.enable()
