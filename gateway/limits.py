"""How fast an account may send, and how often sign-ins may fail: kept in the process on
one node, shared through Redis on many."""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from typing import Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError

from gateway.ratelimit import FailureWindow, TokenBucket

log = logging.getLogger(__name__)


class SendLimiter(Protocol):
    async def take(self, account_id: str) -> float:
        """Spend one send of ``account_id``: 0.0 if allowed, else seconds to wait."""
        ...


class LocalSendLimiter:
    MAX_ACCOUNTS = 100_000

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = burst
        self._buckets: dict[str, TokenBucket] = {}

    async def take(self, account_id: str) -> float:
        bucket = self._buckets.get(account_id)
        if bucket is None:
            if len(self._buckets) >= self.MAX_ACCOUNTS:
                self._buckets.clear()  # a fresh bucket is full: forgetting only forgives
            bucket = self._buckets[account_id] = TokenBucket(self._rate, self._burst)
        return bucket.take()


# A token bucket kept in Redis, on Redis's clock, so every node spends from the same one.
_TAKE = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisSendLimiter:
    def __init__(self, client: redis.Redis, prefix: str, rate: float, burst: int) -> None:
        self._client = client
        self._prefix = prefix
        self._rate = rate
        self._burst = burst
        self._script = client.register_script(_TAKE)

    async def take(self, account_id: str) -> float:
        try:
            wait = await self._script(
                keys=[f"{self._prefix}:sends:{account_id}"], args=[self._rate, self._burst]
            )
        except (RedisError, OSError) as error:
            # Messaging must not stop with Redis: allow, and say so.
            log.warning("send limits unavailable (%s); allowing", error)
            return 0.0
        return float(wait)


class LoginLimiter(Protocol):
    """Failed sign-ins per key (an IP, an email) in a sliding minute."""

    async def retry_after(self, key: str) -> float: ...

    async def fail(self, key: str) -> None: ...

    async def succeed(self, key: str) -> None: ...


class LocalLoginLimiter:
    def __init__(self, limit: int) -> None:
        self._window = FailureWindow(limit)

    async def retry_after(self, key: str) -> float:
        return self._window.retry_after(key)

    async def fail(self, key: str) -> None:
        self._window.fail(key)

    async def succeed(self, key: str) -> None:
        self._window.succeed(key)


class RedisLoginLimiter:
    """The same sliding window, as a sorted set of failure times per key, shared by nodes."""

    WINDOW_S = 60.0

    def __init__(self, client: redis.Redis, prefix: str, limit: int) -> None:
        self._client = client
        self._prefix = prefix
        self._limit = limit

    def _key(self, key: str) -> str:
        return f"{self._prefix}:sign-in-failures:{key}"

    async def retry_after(self, key: str) -> float:
        now = time.time()
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.zremrangebyscore(self._key(key), 0, now - self.WINDOW_S)
                pipe.zcard(self._key(key))
                pipe.zrange(self._key(key), 0, 0, withscores=True)
                _, count, oldest = await pipe.execute()
        except (RedisError, OSError) as error:
            log.warning("sign-in limits unavailable (%s); allowing", error)
            return 0.0
        if count < self._limit or not oldest:
            return 0.0
        return max(0.0, float(oldest[0][1]) + self.WINDOW_S - now)

    async def fail(self, key: str) -> None:
        now = time.time()
        with contextlib.suppress(RedisError, OSError):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.zadd(self._key(key), {f"{now}:{secrets.token_hex(4)}": now})
                pipe.expire(self._key(key), int(self.WINDOW_S) + 1)
                await pipe.execute()

    async def succeed(self, key: str) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._client.delete(self._key(key))
