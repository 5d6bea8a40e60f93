"""The cyclic garbage collector, set up for a server that holds many long-lived objects.

A gateway holds about a hundred objects per open socket (its protocol, transport, queues,
the coroutine of its loop). A full collection walks all of them: with 19,900 idle sockets
it stopped every socket for 0.7-1.2 s (bench/RESULTS.md, History). Here every full or
middle collection ends by freezing what survived it, so the next full one walks only what
came to live since; full collections come often and stay short. Freezing after the middle
collections too spares a new socket's objects a third walk: in a reconnect storm of 5,000
sockets the collector took about a quarter of the gateway's time, and the storm ended 7-16%
sooner without that walk (bench/RESULTS.md, History, twelfth pass). The price: a cycle
that dies after a middle collection froze it waits for a thaw, not for the next full one.

A frozen object that later becomes garbage in a reference cycle is found by no
collection. A closed socket leaves none (``gateway.ws_protocol`` breaks the two it did),
but other code may: so the frozen set is thawed, and the next full collection walks
everything once, when the set has grown by half since a collection last did, and at most
every ``min_thaw_interval_s``. A live set that only grows costs one long pause per such
growth, not one every few seconds.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from typing import Any

from gateway.metrics import GC_LONGEST_PAUSE, GC_PAUSE

# Python's default is (700, 10, 10). 10,000 new objects between young collections let the
# short-lived ones (a send's futures, rows, events) die young; a full collection after
# every third middle one (when Python's own rule, a quarter more survivors than the last
# full collection left, allows) is short, because it walks only what is not frozen.
THRESHOLDS = (10_000, 10, 2)
MIN_THAW_INTERVAL_S = 600.0
THAW_GROWTH = 1.5


@dataclass
class FrozenSet:
    """When to thaw: the frozen set's size just after a collection last walked everything,
    and when that was (``time.monotonic``)."""

    walked_all_size: int
    walked_all_at: float
    min_thaw_interval_s: float = MIN_THAW_INTERVAL_S
    growth: float = THAW_GROWTH

    def should_thaw(self, frozen: int, now: float) -> bool:
        return (
            frozen > self.walked_all_size * self.growth
            and now - self.walked_all_at >= self.min_thaw_interval_s
        )


@dataclass
class FreezeSurvivors:
    """A ``gc.callbacks`` entry: freezes what each full or middle collection leaves (once
    thawed, only after the full collection that walks everything), thaws when
    ``FrozenSet`` says, and times every collection (``gc_pause_seconds`` and
    ``gc_longest_pause_seconds`` on ``/metrics``)."""

    frozen: FrozenSet
    thawed: bool = False
    # The frozen set's size, counting the objects freed since they were frozen: counting
    # it exactly walks it (gc.get_freeze_count: about 40 ms for 4 million objects here).
    frozen_at_most: int = 0
    _started: float = field(default=0.0, repr=False)
    _longest: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0], repr=False)

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation = info["generation"]
        # A middle collection does not walk the oldest generation: after a thaw, freezing
        # its survivors would freeze the thawed set again unwalked.
        if generation == 2 or (generation == 1 and not self.thawed):
            # After a full or middle collection its survivors are all in the oldest one.
            self.after_collection(len(gc.get_objects(generation=2)), time.monotonic())
        pause = time.perf_counter() - self._started
        GC_PAUSE.labels(str(generation)).observe(pause)
        if pause > self._longest[generation]:
            self._longest[generation] = pause
            GC_LONGEST_PAUSE.labels(str(generation)).set(pause)

    def after_collection(self, survivors: int, now: float) -> None:
        gc.freeze()
        if self.thawed:  # this collection walked everything
            self.frozen_at_most = survivors
            self.frozen.walked_all_size, self.frozen.walked_all_at = survivors, now
            self.thawed = False
            return
        self.frozen_at_most += survivors
        if self.frozen.should_thaw(self.frozen_at_most, now):
            self.frozen_at_most = gc.get_freeze_count()  # the bound said so: now exactly
            if self.frozen.should_thaw(self.frozen_at_most, now):
                gc.unfreeze()
                self.thawed = True


def tune_for_serving(min_thaw_interval_s: float = MIN_THAW_INTERVAL_S) -> FreezeSurvivors:
    """Set up to serve: the callback, then one full collection, after which it freezes what
    start-up made (it lives as long as the process); then the thresholds."""
    for callback in [c for c in gc.callbacks if isinstance(c, FreezeSurvivors)]:
        gc.callbacks.remove(callback)
    survivors = FreezeSurvivors(FrozenSet(0, time.monotonic(), min_thaw_interval_s), thawed=True)
    gc.callbacks.append(survivors)
    gc.collect()
    gc.set_threshold(*THRESHOLDS)
    return survivors
