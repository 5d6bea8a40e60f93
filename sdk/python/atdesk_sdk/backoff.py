"""How long to wait before the next reconnection attempt. No I/O."""

from __future__ import annotations

import random


class Backoff:
    """Exponential back-off with jitter, so a fleet of clients does not reconnect in step.

    The n-th consecutive failure waits a random time in ``[ceiling / 2, ceiling]``, where
    ``ceiling = min(maximum_s, initial_s * multiplier ** n)``: it grows, never exceeds
    ``maximum_s``, and two clients that failed together spread out. ``reset()`` after a
    connection that worked starts again from ``initial_s``.

    Args:
        initial_s: the ceiling of the first wait.
        maximum_s: no wait is longer than this.
        multiplier: how fast the ceiling grows per failure.
        rng: the source of jitter (a seeded ``random.Random`` makes waits repeatable).
    """

    def __init__(
        self,
        initial_s: float = 0.5,
        maximum_s: float = 30.0,
        multiplier: float = 2.0,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 < initial_s <= maximum_s:
            raise ValueError("need 0 < initial_s <= maximum_s")
        if multiplier < 1:
            raise ValueError("multiplier must be at least 1")
        self.initial_s = initial_s
        self.maximum_s = maximum_s
        self.multiplier = multiplier
        self._rng = rng or random.Random()
        self.failures = 0

    def ceiling(self) -> float:
        """The longest the next wait can be."""
        # Capping the exponent keeps the float finite after days of failures.
        exponent = min(self.failures, 64)
        return min(self.maximum_s, self.initial_s * self.multiplier**exponent)

    def next_delay(self) -> float:
        """The wait before the next attempt; counts one more failure."""
        ceiling = self.ceiling()
        self.failures += 1
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self.failures = 0
