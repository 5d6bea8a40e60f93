"""Identifiers and timestamps as they appear on the wire."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from gateway.remember import remember_last

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# A random byte to a character: its low 5 bits (256 values, each of 32 characters 8 times).
_BYTE_TO_CROCKFORD = "".join(_CROCKFORD[byte & 31] for byte in range(256)).encode()
_RANDOM_POOL_BYTES = 6400  # 400 ids of 16 characters, 5 random bits each
_random_pool = threading.local()
# The last millisecond an id was made in and its 10 characters: ids come in runs (a send
# batch's messages), most within one millisecond. Replaced in one assignment: thread-safe.
_last_millisecond: tuple[int, str] = (-1, "")


def _forget_random_pool() -> None:
    # A forked child must not make the ids its parent makes from the same bytes.
    global _random_pool
    _random_pool = threading.local()


os.register_at_fork(after_in_child=_forget_random_pool)


def new_id(prefix: str) -> str:
    """A ULID with a type prefix (``c_01J...``): sortable by creation time, 128 bits."""
    global _last_millisecond
    millisecond = int(time.time() * 1000)
    last = _last_millisecond
    if last[0] != millisecond:
        # 48 bits in 10 characters of 5 bits (the first holds 3).
        text = "".join([_CROCKFORD[(millisecond >> shift) & 31] for shift in range(45, -5, -5)])
        last = _last_millisecond = (millisecond, text)
    return prefix + "_" + last[1] + _random_characters()


def _random_characters() -> str:
    """80 random bits in 16 characters: every message has an id, so the characters are
    made for 400 ids at once by one system call and one translation (the bits of each id
    through a table of pairs of characters, about 2 us an id, were 1-3% of a busy gateway)."""
    # os.urandom lets go of the GIL (a system call): called once per id, a database thread
    # making a batch's message ids waited each time for the event loop to hand the GIL
    # back (6% of the gateway's wall time at full load).
    try:
        characters: Iterator[str] = _random_pool.characters
        return next(characters)
    except (AttributeError, StopIteration):  # this thread's first id, or its pool is used up
        text = os.urandom(_RANDOM_POOL_BYTES).translate(_BYTE_TO_CROCKFORD).decode()
        characters = iter([text[start : start + 16] for start in range(0, len(text), 16)])
        _random_pool.characters = characters
        return next(characters)


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
