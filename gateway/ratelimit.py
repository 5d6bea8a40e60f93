"""Rate limits: token buckets for frames and sends, a failure window for logins."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

Clock = Callable[[], float]


class TokenBucket:
    """``rate`` tokens a second, holding at most ``burst``."""

    def __init__(self, rate: float, burst: int, clock: Clock = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()

    def take(self) -> float:
        """Take a token: 0.0 if granted, else the seconds until one will be there."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate


class FailureWindow:
    """At most ``limit`` failures per key in a sliding minute; then wait for the oldest to age."""

    def __init__(self, limit: int, window_s: float = 60.0, clock: Clock = time.monotonic) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> float:
        """Seconds before ``key`` may try again (0.0: now)."""
        failures = self._failures.get(key)
        if not failures:
            return 0.0
        now = self._clock()
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return 0.0
        if len(failures) < self.limit:
            return 0.0
        return failures[0] + self.window_s - now

    def fail(self, key: str) -> None:
        self._failures.setdefault(key, deque()).append(self._clock())

    def succeed(self, key: str) -> None:
        self._failures.pop(key, None)
