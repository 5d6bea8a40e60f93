"""What a pause costs the work after it, on this machine: ``python bench/pause_cost.py``.

The open loop pays several times the closed loop's CPU a message (RESULTS.md, "What limits
it now"). This measures the machine, not atdesk: the same small units of work, timed in
the thread's CPU, back to back and after a pause of 10 ms, slept or spun. Where the
second and third columns are far above the first, anything that runs at a moderate rate
(a send every few milliseconds) pays that premium on every unit, whatever its code.
Standard library only; pinned to one core where the platform allows it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PAUSE_S = 0.010
UNITS = 150
FRAME = {"type": "send", "ref": "r1", "conversation_id": "c" * 26, "text": "hello " * 10}


def slept() -> None:
    time.sleep(PAUSE_S)


def spun() -> None:
    # Busy: no sleep, no other process on the core, only time passing.
    end = time.perf_counter() + PAUSE_S
    while time.perf_counter() < end:
        pass


def median_cpu_us(unit: Callable[[], None], pause: Callable[[], None] | None) -> float:
    spent = []
    for _ in range(UNITS):
        if pause is not None:
            pause()
        started = time.thread_time_ns()
        unit()
        spent.append(time.thread_time_ns() - started)
    return statistics.median(spent) / 1000


def sqlite_commit(folder: Path, synchronous: str) -> Callable[[], None]:
    """One row inserted and committed, WAL, as the gateway's store runs SQLite."""
    connection = sqlite3.connect(folder / f"{synchronous}.db", isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA synchronous={synchronous}")
    connection.execute("CREATE TABLE message (id INTEGER PRIMARY KEY, text TEXT)")

    def commit() -> None:
        connection.execute("BEGIN")
        connection.execute("INSERT INTO message (text) VALUES (?)", ("hello",))
        connection.execute("COMMIT")

    return commit


def frames() -> None:
    for _ in range(20):
        json.loads(json.dumps(FRAME))


def show(line: str) -> None:
    sys.stdout.write(line + "\n")


def main() -> int:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    with tempfile.TemporaryDirectory(prefix="atdesk-pause-") as folder:
        units = {
            "SQLite commit, synchronous=OFF (no flush)": sqlite_commit(Path(folder), "OFF"),
            "SQLite commit, synchronous=FULL": sqlite_commit(Path(folder), "FULL"),
            "20 frames through json (small working set)": frames,
        }
        show(f"median thread CPU a unit, us ({UNITS} units; pauses of {PAUSE_S * 1000:.0f} ms)")
        show(f"{'unit':<44} {'back to back':>12} {'after sleep':>12} {'after spin':>12}")
        for name, unit in units.items():
            median_cpu_us(unit, None)  # warm up
            cells = [median_cpu_us(unit, pause) for pause in (None, slept, spun)]
            show(f"{name:<44} " + " ".join(f"{cell:>12.0f}" for cell in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
