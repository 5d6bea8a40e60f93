"""Sign-in limits: the sliding window, then a back-off that doubles with each lockout."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

from gateway.limits import LocalLoginLimiter, RedisLoginLimiter, lockout_s
from tests.gateway_process import REDIS_URL


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("strikes", "extra"), [(0, 0.0), (1, 0.0), (2, 120.0), (3, 240.0), (6, 1920.0), (7, 3600.0)]
)
def test_each_lockout_within_the_hour_doubles(strikes: int, extra: float) -> None:
    assert lockout_s(strikes, 60.0) == extra


async def test_a_key_that_keeps_failing_waits_longer_each_time() -> None:
    clock = FakeClock()
    limiter = LocalLoginLimiter(limit=2, window_s=60.0, clock=clock)
    await limiter.fail("ip:1")
    await limiter.fail("ip:1")
    assert await limiter.retry_after("ip:1") == 60.0  # the first lockout: the window alone
    clock.now += 60
    assert await limiter.retry_after("ip:1") == 0.0
    await limiter.fail("ip:1")
    await limiter.fail("ip:1")
    assert await limiter.retry_after("ip:1") == 120.0  # the second: twice as long
    clock.now += 120
    await limiter.fail("ip:1")
    await limiter.fail("ip:1")
    assert await limiter.retry_after("ip:1") == 240.0
    await limiter.succeed("ip:1")
    assert await limiter.retry_after("ip:1") == 0.0


async def test_strikes_older_than_an_hour_are_forgotten() -> None:
    clock = FakeClock()
    limiter = LocalLoginLimiter(limit=1, window_s=60.0, clock=clock)
    await limiter.fail("k")
    clock.now += 3601
    await limiter.fail("k")
    assert await limiter.retry_after("k") == 60.0  # counted as a first lockout again


@pytest.fixture
async def client() -> AsyncIterator[redis.Redis]:
    connection = redis.Redis.from_url(REDIS_URL)
    yield connection
    await connection.aclose()


async def test_the_back_off_is_shared_through_redis(client: redis.Redis) -> None:
    prefix = f"test-sign-in-{uuid.uuid4().hex}"
    node_a = RedisLoginLimiter(client, prefix, limit=2, window_s=1.0)
    node_b = RedisLoginLimiter(client, prefix, limit=2, window_s=1.0)
    await node_a.fail("email:lea")
    await node_b.fail("email:lea")
    first = await node_a.retry_after("email:lea")
    assert 0 < first <= 1.0
    await asyncio.sleep(first + 0.05)
    assert await node_b.retry_after("email:lea") == 0.0
    await node_b.fail("email:lea")
    await node_a.fail("email:lea")
    second = await node_b.retry_after("email:lea")
    assert 1.0 < second <= 2.0  # the second lockout lasts two windows
    await node_a.succeed("email:lea")
    assert await node_b.retry_after("email:lea") == 0.0
