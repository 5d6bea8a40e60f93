"""How fast an account may send, and how often sign-ins may fail: kept in the process on
one node, shared through Redis on many."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from typing import Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError

from gateway.batches import Batches, settle
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


# A token bucket per account kept in Redis, on Redis's clock, so every node spends from the
# same one. One call takes one send for each key (a key may come more than once).
_TAKE = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local lifetime_ms = math.ceil(burst / rate * 1000) + 1000
local waits = {}
for i, key in ipairs(KEYS) do
  local state = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(state[1]) or burst
  local at = tonumber(state[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
  local wait = 0
  if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
  redis.call('HSET', key, 'tokens', tostring(tokens), 'at', tostring(now))
  redis.call('PEXPIRE', key, lifetime_ms)
  waits[i] = tostring(wait)
end
return waits
"""


class RedisSendLimiter(Batches[str, float]):
    """Takes asked for while a call is under way go together in the next one, one script
    call for all their accounts: under load a send costs Redis a few commands, not a
    connection and a round trip of its own (as the group commit shares a transaction
    between sends). A call per send, even pipelined, cost a send about 10% of a
    PostgreSQL + Redis node's time, and Redis a script call each."""

    MAX_BATCH = 500

    def __init__(self, client: redis.Redis, prefix: str, rate: float, burst: int) -> None:
        super().__init__(max_batch=self.MAX_BATCH)
        self._prefix = prefix
        self._rate = rate
        self._burst = burst
        self._script = client.register_script(_TAKE)

    async def take(self, account_id: str) -> float:
        return await self.submit(account_id)

    async def _handle(self, batch: list[tuple[str, asyncio.Future[float]]]) -> None:
        keys = [f"{self._prefix}:sends:{account_id}" for account_id, _ in batch]
        waits: list[float | Exception]
        try:
            waits = [float(wait) for wait in await self._script(keys, [self._rate, self._burst])]
        except (RedisError, OSError) as error:
            # Messaging must not stop with Redis: allow, and say so.
            log.warning("send limits unavailable (%s); allowing %d sends", error, len(batch))
            waits = [0.0] * len(batch)
        settle(batch, waits)


class LoginLimiter(Protocol):
    """Failed sign-ins per key (an IP, an email): a sliding window of ``limit`` failures a
    minute, and a back-off that doubles for each lockout a key earns within an hour."""

    async def retry_after(self, key: str) -> float: ...

    async def fail(self, key: str) -> None: ...

    async def succeed(self, key: str) -> None: ...


STRIKE_MEMORY_S = 3600.0  # lockouts count towards the back-off for an hour
MAX_LOCKOUT_S = 3600.0


def lockout_s(strikes: int, window_s: float) -> float:
    """How long the ``strikes``-th lockout within an hour lasts beyond the sliding window:
    none for the first, then 2, 4, 8... windows, at most an hour."""
    if strikes < 2:
        return 0.0
    return float(min(MAX_LOCKOUT_S, window_s * 2.0 ** (strikes - 1)))


class LocalLoginLimiter:
    def __init__(
        self, limit: int, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._window = FailureWindow(limit, window_s, clock)
        self._window_s = window_s
        self._clock = clock
        self._strikes: dict[str, tuple[int, float]] = {}  # key -> (count, last lockout)
        self._locked_until: dict[str, float] = {}

    async def retry_after(self, key: str) -> float:
        locked = self._locked_until.get(key, 0.0) - self._clock()
        return max(self._window.retry_after(key), locked, 0.0)

    async def fail(self, key: str) -> None:
        self._window.fail(key)
        if self._window.retry_after(key) <= 0:
            return
        now = self._clock()
        count, last = self._strikes.get(key, (0, now))
        count = 1 if now - last > STRIKE_MEMORY_S else count + 1
        self._strikes[key] = (count, now)
        if (extra := lockout_s(count, self._window_s)) > 0:
            self._locked_until[key] = now + extra

    async def succeed(self, key: str) -> None:
        self._window.succeed(key)
        self._strikes.pop(key, None)
        self._locked_until.pop(key, None)


class RedisLoginLimiter:
    """The same rules, kept in Redis (a sorted set of failure times, a strike counter and a
    lockout key per key), so that they hold across nodes."""

    def __init__(
        self, client: redis.Redis, prefix: str, limit: int, window_s: float = 60.0
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._limit = limit
        self._window_s = window_s

    def _key(self, kind: str, key: str) -> str:
        return f"{self._prefix}:sign-in-{kind}:{key}"

    async def _sliding_wait(self, key: str, now: float) -> tuple[int, float]:
        failures = self._key("failures", key)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(failures, 0, now - self._window_s)
            pipe.zcard(failures)
            pipe.zrange(failures, 0, 0, withscores=True)
            pipe.pttl(self._key("lockout", key))
            _, count, oldest, lockout_ms = await pipe.execute()
        wait = 0.0
        if count >= self._limit and oldest:
            wait = max(0.0, float(oldest[0][1]) + self._window_s - now)
        return count, max(wait, lockout_ms / 1000 if lockout_ms > 0 else 0.0)

    async def retry_after(self, key: str) -> float:
        try:
            return (await self._sliding_wait(key, time.time()))[1]
        except (RedisError, OSError) as error:
            log.warning("sign-in limits unavailable (%s); allowing", error)
            return 0.0

    async def fail(self, key: str) -> None:
        now = time.time()
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.zadd(self._key("failures", key), {f"{now}:{secrets.token_hex(4)}": now})
                pipe.expire(self._key("failures", key), int(self._window_s) + 1)
                await pipe.execute()
            count, _ = await self._sliding_wait(key, now)
            if count < self._limit:
                return
            strikes_key = self._key("strikes", key)
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.incr(strikes_key)
                pipe.expire(strikes_key, int(STRIKE_MEMORY_S))
                strikes, _ = await pipe.execute()
            if (extra := lockout_s(int(strikes), self._window_s)) > 0:
                await self._client.set(self._key("lockout", key), "1", px=int(extra * 1000))
        except (RedisError, OSError) as error:
            log.warning("sign-in limits unavailable (%s); not counted", error)

    async def succeed(self, key: str) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._client.delete(
                self._key("failures", key), self._key("strikes", key), self._key("lockout", key)
            )
