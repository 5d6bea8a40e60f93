"""Opening hours as pure functions: validation, open or closed, the next opening across
daylight-saving changes, and the one automatic message's text."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from gateway import hours
from gateway.hours import HoursError, Schedule, parse_schedule

WEEKDAYS_9_TO_17 = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def paris() -> Schedule:
    return parse_schedule("Europe/Paris", WEEKDAYS_9_TO_17)


def test_a_schedule_round_trips_through_json() -> None:
    schedule = parse_schedule("America/New_York", {"mon": [["13:00", "24:00"], ["08:00", "12:00"]]})
    assert schedule.weekly[0] == ((480, 720), (780, 1440))
    assert hours.schedule_from_json(schedule.to_json()) == schedule
    assert schedule.to_wire()["weekly"] == {
        "mon": [["08:00", "12:00"], ["13:00", "24:00"]],
        "tue": [], "wed": [], "thu": [], "fri": [], "sat": [], "sun": [],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("time_zone", "weekly", "message"),
    [
        ("Mars/Olympus", {}, "not an IANA time zone"),
        ("", {}, "not an IANA time zone"),
        ("../etc/passwd", {}, "not an IANA time zone"),
        ("/etc/localtime", {}, "not an IANA time zone"),
        ("America", {}, "not an IANA time zone"),  # a folder of zones: was a 500
        ("localtime", {}, "not an IANA time zone"),  # the server's own zone
        ("posixrules", {}, "not an IANA time zone"),
        ("Europe/Paris", {"monday": []}, "days are mon, tue"),
        ("Europe/Paris", {"mon": [["9:00", "17:00"]]}, "weekly.mon[0]: '9:00' is not a time"),
        ("Europe/Paris", {"mon": [["09:00", "24:01"]]}, "not a time"),
        ("Europe/Paris", {"mon": [["09:00"]]}, "an interval is [start, end]"),
        (
            "Europe/Paris",
            {"tue": [["17:00", "09:00"]]},
            "end 09:00 must be after the start 17:00",
        ),
        ("Europe/Paris", {"tue": [["09:00", "09:00"]]}, "must be after"),
        ("Europe/Paris", {"wed": [["24:00", "24:00"]]}, "cannot start at 24:00"),
        ("Europe/Paris", {"thu": [["09:00", "12:00"], ["11:00", "13:00"]]}, "overlap"),
        ("Europe/Paris", {"fri": [["00:00", "01:00"]] * 9}, "at most 8"),
    ],
)
def test_bad_schedules_are_refused_with_a_clear_message(
    time_zone: str, weekly: dict[str, list[list[str]]], message: str
) -> None:
    with pytest.raises(HoursError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_schedule(time_zone, weekly)


def test_open_and_closed_on_a_winter_week_in_paris() -> None:
    schedule = paris()  # UTC+1 in January
    assert not hours.is_open(schedule, utc("2026-01-05T07:59:59"))  # Monday 08:59:59
    assert hours.is_open(schedule, utc("2026-01-05T08:00:00"))  # 09:00 sharp: open
    assert hours.is_open(schedule, utc("2026-01-05T15:59:59"))
    assert not hours.is_open(schedule, utc("2026-01-05T16:00:00"))  # 17:00: closed
    assert hours.next_opening(schedule, utc("2026-01-05T10:00:00")) == utc("2026-01-05T10:00:00")
    assert hours.next_opening(schedule, utc("2026-01-05T16:00:00")) == utc("2026-01-06T08:00:00")
    # Friday evening: Monday morning.
    assert hours.next_opening(schedule, utc("2026-01-09T18:00:00")) == utc("2026-01-12T08:00:00")


def test_next_opening_across_the_march_change_in_paris() -> None:
    # Clocks go from 02:00 to 03:00 on Sunday 29 March 2026: Friday 09:00 is 08:00 UTC,
    # Monday 09:00 is 07:00 UTC.
    schedule = paris()
    friday_evening = utc("2026-03-27T17:00:00")
    assert hours.next_opening(schedule, friday_evening) == utc("2026-03-30T07:00:00")
    assert hours.describe_moment(utc("2026-03-30T07:00:00"), schedule) == (
        "Mon 30 Mar at 09:00 (Europe/Paris)"
    )
    assert not hours.is_open(schedule, utc("2026-03-30T06:59:00"))
    assert hours.is_open(schedule, utc("2026-03-30T07:00:00"))


def test_next_opening_across_the_october_change_in_paris() -> None:
    # Clocks go from 03:00 back to 02:00 on Sunday 25 October 2026.
    schedule = paris()
    assert hours.next_opening(schedule, utc("2026-10-23T16:00:00")) == utc("2026-10-26T08:00:00")


def test_next_opening_across_the_changes_in_new_york() -> None:
    schedule = parse_schedule("America/New_York", WEEKDAYS_9_TO_17)
    # 8 March 2026, 02:00 -> 03:00: 09:00 EST is 14:00 UTC, 09:00 EDT is 13:00 UTC.
    assert hours.next_opening(schedule, utc("2026-03-06T23:00:00")) == utc("2026-03-09T13:00:00")
    # 1 November 2026, 02:00 -> 01:00.
    assert hours.next_opening(schedule, utc("2026-10-30T22:00:00")) == utc("2026-11-02T14:00:00")


def test_skipped_and_repeated_wall_times() -> None:
    zone = paris().zone
    # 02:30 on 29 March does not exist: it is reached when the clocks jump (01:00 UTC).
    assert hours.wall_to_utc(date(2026, 3, 29), 150, zone) == utc("2026-03-29T01:00:00")
    # 02:30 on 25 October happens twice: its first occurrence (still summer time).
    assert hours.wall_to_utc(date(2026, 10, 25), 150, zone) == utc("2026-10-25T00:30:00")
    night = parse_schedule("Europe/Paris", {"sun": [["02:30", "04:00"]]})
    assert hours.next_opening(night, utc("2026-03-28T12:00:00")) == utc("2026-03-29T01:00:00")


def test_a_schedule_with_no_hours_never_opens() -> None:
    empty = parse_schedule("UTC", {})
    assert hours.next_opening(empty, utc("2026-01-01T00:00:00")) is None
    text = hours.auto_reply_text(
        handle="acme", schedule=empty, now=utc("2026-01-01T00:00:00"), anyone_online=True,
        median_first_response_s=None,
    )  # fmt: skip
    assert text is not None and "no opening hours" in text


def test_the_automatic_message_says_when_and_how_fast() -> None:
    schedule = paris()
    closed = hours.auto_reply_text(
        handle="acme", schedule=schedule, now=utc("2026-03-27T17:00:00"), anyone_online=True,
        median_first_response_s=720,
    )  # fmt: skip
    assert closed == (
        "@acme is closed now. A person will answer after the desk opens on "
        "Mon 30 Mar at 09:00 (Europe/Paris). Over the last 30 days, @acme first answered in "
        "about 12 minutes (median)."
    )
    open_now = utc("2026-03-30T08:00:00")
    assert (
        hours.auto_reply_text(
            handle="acme",
            schedule=schedule,
            now=open_now,
            anyone_online=True,
            median_first_response_s=720,
        )  # fmt: skip
        is None
    )
    nobody = hours.auto_reply_text(
        handle="acme", schedule=schedule, now=open_now, anyone_online=False,
        median_first_response_s=None,
    )  # fmt: skip
    assert nobody == (
        "@acme is open, but no one is online right now. A person will answer as soon as one "
        "is back."
    )


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(30, "about a minute"), (720, "about 12 minutes"), (3 * 3600, "about 3 hours"),
     (3 * 86400, "about 3 days")],
)  # fmt: skip
def test_durations_in_words(seconds: float, words: str) -> None:
    assert hours.describe_duration(seconds) == words
