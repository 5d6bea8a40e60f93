"""Presence across nodes, on a real Redis: two hubs stand for two gateway nodes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

import pytest
import redis.asyncio as redis

from gateway.hub import Hub
from gateway.presence import RedisPresence
from gateway.protocol import CloseCode
from tests.gateway_process import REDIS_URL


class Device:
    """The least a hub needs of a live socket."""

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        self.session_id = uuid.uuid4().hex

    def brand_ids(self) -> Iterable[str]:
        return ()

    def set_role(self, brand_id: str, role: str | None) -> None: ...

    def deliver_message(self, conversation_id: str, seq: int, text: str) -> bool:
        return True

    def push(self, text: str) -> None: ...

    def close_soon(self, code: CloseCode, reason: str) -> None: ...


@pytest.fixture
async def client() -> AsyncIterator[redis.Redis]:
    connection = redis.Redis.from_url(REDIS_URL)
    yield connection
    await connection.aclose()


async def _until(condition: Callable[[], Awaitable[bool]], *, timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.05)


async def test_an_account_online_on_one_node_is_online_for_all(client: redis.Redis) -> None:
    prefix = f"test-presence-{uuid.uuid4().hex}"
    hub_a, hub_b = Hub(), Hub()
    node_a = RedisPresence(client, prefix, "node-a", hub_a, node_ttl_s=1)
    node_b = RedisPresence(client, prefix, "node-b", hub_b, node_ttl_s=1)
    await node_a.start()
    await node_b.start()
    phone = Device("lea")
    hub_a.add(phone)

    async def lea_online_for_b() -> bool:
        return await node_b.offline(["lea", "max"]) == {"max"}

    await _until(lea_online_for_b)
    hub_a.remove(phone)

    async def lea_offline_for_b() -> bool:
        return await node_b.offline(["lea"]) == {"lea"}

    await _until(lea_offline_for_b)

    # A node that dies takes its accounts offline once its heartbeat key expires.
    hub_a.add(Device("lea"))
    await _until(lea_online_for_b)
    assert node_a._task is not None
    node_a._task.cancel()  # the node stops beating, as after kill -9; its sets stay behind
    await _until(lea_offline_for_b)
    await node_b.close()
