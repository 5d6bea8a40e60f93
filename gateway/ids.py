"""Identifiers and timestamps as they appear on the wire."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from gateway.remember import remember_last

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CROCKFORD_PAIRS = [first + second for first in _CROCKFORD for second in _CROCKFORD]
_SHIFTS = tuple(range(120, -10, -10))  # a pair of characters is 10 bits
_RANDOM_POOL_BYTES = 4000
_random_pool = threading.local()


def _forget_random_pool() -> None:
    # A forked child must not make the ids its parent makes from the same bytes.
    global _random_pool
    _random_pool = threading.local()


os.register_at_fork(after_in_child=_forget_random_pool)


def new_id(prefix: str) -> str:
    """A ULID with a type prefix (``c_01J...``): sortable by creation time, 128 bits."""
    value = (int(time.time() * 1000) << 80) | _random_80_bits()
    # 26 characters of 5 bits (the first holds 3), two at a time: every message has one.
    return prefix + "_" + "".join([_CROCKFORD_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])


def _random_80_bits() -> int:
    # os.urandom lets go of the GIL (a system call): called once per id, a database thread
    # making a batch's message ids waited each time for the event loop to hand the GIL
    # back (6% of the gateway's wall time at full load). One call now serves 400 ids.
    pool: bytes = getattr(_random_pool, "bytes", b"")
    offset: int = getattr(_random_pool, "offset", 0)
    if offset + 10 > len(pool):
        pool, offset = os.urandom(_RANDOM_POOL_BYTES), 0
        _random_pool.bytes = pool
    _random_pool.offset = offset + 10
    return int.from_bytes(pool[offset : offset + 10], "big")


# Tests only (ATDESK_TEST_CLOCK_FILE, refused without ATDESK_TESTING=1): a file holding an
# RFC 3339 time that is "now" for every timestamp the gateway stores, so a test can build
# a history of weeks in seconds, through the real code paths, and check exact figures.
_test_clock_file: Path | None = None


def use_test_clock(path: Path | None) -> None:
    global _test_clock_file
    _test_clock_file = path


def utc_now() -> datetime:
    """Now, to the millisecond: what is stored compares equal to what the wire shows."""
    if _test_clock_file is not None:
        with contextlib.suppress(OSError, ValueError):
            return parse_time(_test_clock_file.read_text().strip())
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands datetimes back naive; everything we store is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@remember_last  # the messages of a send batch share one moment
def format_time(moment: datetime) -> str:
    """RFC 3339, UTC, millisecond precision, ``Z`` suffix."""
    if moment.tzinfo is None:
        # SQLite hands datetimes back naive; everything we store is UTC.
        moment = moment.replace(tzinfo=UTC)
    # isoformat ends in "+00:00" in UTC; it costs half of strftime (twice per message).
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # as format_time: naive means UTC
    return moment.astimezone(UTC)
