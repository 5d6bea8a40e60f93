"""The gateway's Redis client on a real Redis, with more commands in flight than
connections in its pool."""

from __future__ import annotations

import asyncio
import uuid

from gateway import redis_client
from tests.gateway_process import REDIS_URL


async def test_more_commands_in_flight_than_connections_wait_for_one() -> None:
    client = redis_client.connect(REDIS_URL)
    key = f"test-pool-{uuid.uuid4().hex}"
    try:
        in_flight = 3 * redis_client.MAX_CONNECTIONS
        # redis-py's default pool refused every one past the hundredth ("Too many
        # connections"), and each caller took it for Redis being down.
        counts = await asyncio.gather(*(client.incr(key) for _ in range(in_flight)))
        assert sorted(counts) == list(range(1, in_flight + 1))
    finally:
        await client.delete(key)
        await client.aclose()
