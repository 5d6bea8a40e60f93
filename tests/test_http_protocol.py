"""gateway.http_protocol: a closed HTTP connection is freed without the garbage collector
(a frozen cycle would stay until the next thaw: gateway.collector)."""

from __future__ import annotations

import asyncio

from starlette.types import Receive, Scope, Send
from uvicorn.config import Config

from gateway.http_protocol import GatewayHTTPProtocol
from tests.closed_connections import outlived_close


async def answer_ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


def config() -> Config:
    loaded = Config(app=answer_ok, http=GatewayHTTPProtocol, log_level="warning")
    loaded.load()
    return loaded


def test_a_connection_closed_at_once_leaves_no_reference_cycle() -> None:
    assert outlived_close(GatewayHTTPProtocol, config()) == []


def test_a_connection_closed_after_two_requests_leaves_no_reference_cycle() -> None:
    async def two_requests(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(2):  # kept alive between them
            writer.write(b"GET / HTTP/1.1\r\nHost: atdesk\r\n\r\n")
            assert (await reader.readuntil(b"ok")).startswith(b"HTTP/1.1 200")

    assert outlived_close(GatewayHTTPProtocol, config(), two_requests) == []
