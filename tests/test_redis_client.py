"""The gateway's Redis client and send limits on a real Redis, with more commands in
flight than connections in the client's pool."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest

from gateway import redis_client
from gateway.limits import RedisSendLimiter
from tests.gateway_process import REDIS_URL, free_port


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


async def test_a_send_limit_holds_for_many_sends_at_once() -> None:
    client = redis_client.connect(REDIS_URL)
    try:
        limiter = RedisSendLimiter(client, f"test-sends-{uuid.uuid4().hex}", rate=0.001, burst=10)
        sends = 2 * RedisSendLimiter.MAX_BATCH + 1  # three calls at least
        waits = await asyncio.gather(*(limiter.take("lea") for _ in range(sends)))
        # The burst, to the first ten asked for (the takes keep their order), not one more.
        assert waits[:10] == [0.0] * 10
        assert min(waits[10:]) > 0
    finally:
        await client.aclose()


async def test_each_account_in_one_call_spends_from_its_own_limit() -> None:
    client = redis_client.connect(REDIS_URL)
    try:
        limiter = RedisSendLimiter(client, f"test-sends-{uuid.uuid4().hex}", rate=0.001, burst=2)
        accounts = ["lea", "max", "lea", "lea", "zoe", "max", "max", "lea"]
        waits = await asyncio.gather(*(limiter.take(account) for account in accounts))
        allowed = [account for account, wait in zip(accounts, waits, strict=True) if wait == 0]
        assert allowed == ["lea", "max", "lea", "zoe", "max"]  # the first two of each
    finally:
        await client.aclose()


async def test_sends_are_allowed_and_logged_while_redis_is_unreachable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = redis_client.connect(f"redis://127.0.0.1:{free_port()}/0")  # nobody listens
    try:
        limiter = RedisSendLimiter(client, "test-down", rate=0.001, burst=1)
        with caplog.at_level(logging.WARNING, logger="gateway.limits"):
            waits = await asyncio.gather(*(limiter.take("lea") for _ in range(5)))
        assert waits == [0.0] * 5
        assert "send limits unavailable" in caplog.text
    finally:
        await client.aclose()
