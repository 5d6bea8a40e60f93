"""Opening hours: a weekly schedule in a brand's time zone, and when the desk next opens.

Pure functions, no I/O. Wall-clock times are the brand's local time: 09:00 in
Europe/Paris is 08:00 UTC in winter and 07:00 UTC in summer. A wall time that does not
exist (the hour skipped when clocks go forward) means the moment the clocks jump; one
that exists twice (the hour repeated when they go back) means its first occurrence.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$|^24:00$")
MAX_INTERVALS_PER_DAY = 8


class HoursError(ValueError):
    """The schedule is not valid; the message says what to fix."""


@dataclass(frozen=True)
class Schedule:
    time_zone: str
    # Per weekday (0 = Monday), sorted, non-overlapping (start, end) minutes of the day;
    # end may be 1440 (24:00).
    weekly: tuple[tuple[tuple[int, int], ...], ...]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def to_wire(self) -> dict[str, object]:
        return {
            "time_zone": self.time_zone,
            "weekly": {
                DAYS[day]: [[_hhmm(start), _hhmm(end)] for start, end in intervals]
                for day, intervals in enumerate(self.weekly)
            },
        }

    def to_json(self) -> str:
        return json.dumps(self.to_wire(), separators=(",", ":"))


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(text: str, where: str) -> int:
    if not isinstance(text, str) or not _HHMM.match(text):
        raise HoursError(f"{where}: {text!r} is not a time like 09:00 (00:00 to 24:00)")
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


@functools.cache
def iana_time_zones() -> frozenset[str]:
    return frozenset(available_timezones() - {"localtime", "posixrules", "Factory"})


def parse_schedule(time_zone: str, weekly: dict[str, list[list[str]]]) -> Schedule:
    """Check a schedule from the wire; raise HoursError naming the first problem."""
    # Only named zones: not a folder ("America"), not this server's own ("localtime").
    if time_zone not in iana_time_zones():
        raise HoursError(f"time_zone {time_zone!r} is not an IANA time zone like Europe/Paris")
    unknown = sorted(set(weekly) - set(DAYS))
    if unknown:
        raise HoursError(f"weekly has {unknown[0]!r}; days are {', '.join(DAYS)}")
    days: list[tuple[tuple[int, int], ...]] = []
    for day in DAYS:
        raw = weekly.get(day, [])
        if len(raw) > MAX_INTERVALS_PER_DAY:
            raise HoursError(f"weekly.{day}: at most {MAX_INTERVALS_PER_DAY} intervals a day")
        intervals = []
        for index, pair in enumerate(raw):
            where = f"weekly.{day}[{index}]"
            if len(pair) != 2:
                raise HoursError(f'{where}: an interval is [start, end], like ["09:00", "17:00"]')
            start, end = _minutes(pair[0], where), _minutes(pair[1], where)
            if start == 1440:
                raise HoursError(f"{where}: an interval cannot start at 24:00")
            if end <= start:
                raise HoursError(
                    f"{where}: the end {pair[1]} must be after the start {pair[0]} "
                    "(split a night shift over two days)"
                )
            intervals.append((start, end))
        intervals.sort()
        for (_, end), (start, _) in zip(intervals, intervals[1:], strict=False):
            if start < end:
                raise HoursError(f"weekly.{day}: intervals overlap")
        days.append(tuple(intervals))
    return Schedule(time_zone, tuple(days))


@functools.lru_cache(maxsize=4096)
def schedule_from_json(text: str | None) -> Schedule | None:
    """A stored schedule (cached: it is read for consumers' messages; a Schedule is frozen)."""
    if text is None:
        return None
    raw = json.loads(text)
    return parse_schedule(raw["time_zone"], raw["weekly"])


def wall_to_utc(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """The UTC moment a wall clock in ``zone`` shows ``minutes`` past midnight on ``day``."""
    naive = datetime.combine(day, time()) + timedelta(minutes=minutes)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first  # exists (for a repeated hour, fold=0 is its first occurrence)
    # Skipped by a jump forward: the wall time is reached the moment the clocks jump, which
    # lies between the two readings of the gap. Transitions fall on whole minutes.
    low = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = first
    while high - low > timedelta(minutes=1):
        middle = low + (high - low) / 2
        middle = middle.replace(second=0, microsecond=0)
        if middle.astimezone(zone).replace(tzinfo=None) < naive:
            low = middle
        else:
            high = middle
    return high


def _intervals_around(schedule: Schedule, now: datetime) -> list[tuple[datetime, datetime]]:
    """The schedule's open intervals in UTC, from the day before ``now`` to 8 days on."""
    zone = schedule.zone
    today = now.astimezone(zone).date()
    found = []
    for offset in range(-1, 9):
        day = today + timedelta(days=offset)
        for start, end in schedule.weekly[day.weekday()]:
            found.append((wall_to_utc(day, start, zone), wall_to_utc(day, end, zone)))
    found.sort()
    return found


def is_open(schedule: Schedule, now: datetime) -> bool:
    return any(start <= now < end for start, end in _intervals_around(schedule, now))


def next_opening(schedule: Schedule, now: datetime) -> datetime | None:
    """``now`` if the desk is open, else when it next opens (UTC); None if it never does."""
    for start, end in _intervals_around(schedule, now):
        if end <= now:
            continue
        if start <= now:
            return now
        return start
    return None


def describe_moment(moment: datetime, schedule: Schedule) -> str:
    """``Mon 30 Mar at 09:00 (Europe/Paris)``: a moment as the brand's customers read it."""
    local = moment.astimezone(schedule.zone)
    return f"{local:%a %d %b at %H:%M} ({schedule.time_zone})"


def describe_duration(seconds: float) -> str:
    """Roughly, in words: ``about 12 minutes``, ``about 3 hours``."""
    if seconds < 90:
        return "about a minute"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} minutes"
    if seconds < 36 * 3600:
        return f"about {round(seconds / 3600)} hours"
    return f"about {round(seconds / 86400)} days"


def answer_due(schedule: Schedule | None, now: datetime, *, anyone_online: bool) -> bool:
    """Whether a consumer writing now gets the automatic answer: nobody of the brand is
    online, or it keeps hours and the desk is closed."""
    return not anyone_online or (schedule is not None and next_opening(schedule, now) != now)


def auto_reply_text(
    *, handle: str, schedule: Schedule | None, now: datetime, anyone_online: bool,
    median_first_response_s: float | None,
) -> str | None:  # fmt: skip
    """The one system message of a case, or None when a human is there to answer."""
    if not answer_due(schedule, now, anyone_online=anyone_online):
        return None
    typical = (
        ""
        if median_first_response_s is None
        else f" Over the last 30 days, @{handle} first answered in "
        f"{describe_duration(median_first_response_s)} (median)."
    )
    if schedule is None:
        return (
            f"No one at @{handle} is online right now. A person will answer as soon as one "
            "is back." + typical
        )
    opening = next_opening(schedule, now)
    if opening is None:
        return (
            f"@{handle} has no opening hours set at the moment, so no one may answer soon."
            + typical
        )
    if opening > now:
        return (
            f"@{handle} is closed now. A person will answer after the desk opens on "
            f"{describe_moment(opening, schedule)}." + typical
        )
    return (
        f"@{handle} is open, but no one is online right now. A person will answer as soon as "
        "one is back." + typical
    )
