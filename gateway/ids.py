"""Identifiers and timestamps as they appear on the wire."""

from __future__ import annotations

import contextlib
import os
import time
from datetime import UTC, datetime
from pathlib import Path

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(prefix: str) -> str:
    """A ULID with a type prefix (``c_01J...``): sortable by creation time, 128 bits."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return prefix + "_" + "".join(reversed(chars))


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


def format_time(moment: datetime) -> str:
    """RFC 3339, UTC, millisecond precision, ``Z`` suffix."""
    if moment.tzinfo is None:
        # SQLite hands datetimes back naive; everything we store is UTC.
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # as format_time: naive means UTC
    return moment.astimezone(UTC)
