"""The gateway's pure rules, each as a table: no server, no database, clocks injected.

conversation_rules (open/resolved and cases), ratelimit (token bucket, failure window),
validation (handles, emails, names, passwords), ids (ULIDs and wire times) and settings.
"""

from __future__ import annotations

import os
import random as randomness
import re
import threading
import time
import types
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from gateway import ids
from gateway.conversation_rules import (
    NEW_THREAD,
    SenderRole,
    Status,
    ThreadState,
    after_message,
    after_resolve,
    is_first_response,
)
from gateway.errors import ApiError
from gateway.ids import format_time, new_id, parse_time, utc_now
from gateway.ratelimit import FailureWindow, TokenBucket
from gateway.settings import Settings, SettingsError, load_settings, sqlite_path
from gateway.validation import (
    RESERVED_HANDLES,
    check_password,
    lookup_handle,
    normalize_display_name,
    normalize_email,
    normalize_handle,
)


class FakeClock:
    """A monotonic clock that only moves when told to."""

    def __init__(self, now: float = 500.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --- conversation_rules ----------------------------------------------------------------

OPEN_1 = ThreadState(Status.OPEN, 1)
OPEN_2 = ThreadState(Status.OPEN, 2)
OPEN_4 = ThreadState(Status.OPEN, 4)
RESOLVED_1 = ThreadState(Status.RESOLVED, 1)
RESOLVED_3 = ThreadState(Status.RESOLVED, 3)

# (state, sender) -> state after the message
AFTER_MESSAGE = [
    (OPEN_1, SenderRole.CONSUMER, OPEN_1),
    (OPEN_1, SenderRole.AGENT, OPEN_1),
    (OPEN_1, SenderRole.SYSTEM, OPEN_1),
    (OPEN_2, SenderRole.CONSUMER, OPEN_2),
    (RESOLVED_1, SenderRole.CONSUMER, OPEN_2),
    (RESOLVED_1, SenderRole.AGENT, RESOLVED_1),
    (RESOLVED_1, SenderRole.SYSTEM, RESOLVED_1),
    (RESOLVED_3, SenderRole.CONSUMER, OPEN_4),
    (RESOLVED_3, SenderRole.AGENT, RESOLVED_3),
    (RESOLVED_3, SenderRole.SYSTEM, RESOLVED_3),
]


@pytest.mark.parametrize(("state", "sender", "expected"), AFTER_MESSAGE)
def test_after_message(state: ThreadState, sender: SenderRole, expected: ThreadState) -> None:
    assert after_message(state, sender) == expected


@pytest.mark.parametrize(
    ("state", "expected"),
    [(OPEN_1, RESOLVED_1), (OPEN_4, ThreadState(Status.RESOLVED, 4)), (RESOLVED_3, RESOLVED_3)],
)
def test_after_resolve(state: ThreadState, expected: ThreadState) -> None:
    assert after_resolve(state) == expected


@pytest.mark.parametrize(
    ("sender", "expected"),
    [(SenderRole.CONSUMER, False), (SenderRole.AGENT, True), (SenderRole.SYSTEM, False)],
)
def test_is_first_response(sender: SenderRole, expected: bool) -> None:
    assert is_first_response(sender) is expected


def test_a_new_thread_is_open_on_case_1() -> None:
    assert NEW_THREAD == ThreadState(Status.OPEN, 1)


def test_a_thread_through_two_cases() -> None:
    state = NEW_THREAD
    steps: list[SenderRole | None] = [
        SenderRole.CONSUMER, SenderRole.AGENT, None, None, SenderRole.AGENT,
        SenderRole.SYSTEM, SenderRole.CONSUMER, SenderRole.CONSUMER, None,
    ]  # fmt: skip
    seen = []
    for sender in steps:
        state = after_resolve(state) if sender is None else after_message(state, sender)
        seen.append((state.status.value, state.case_number))
    assert seen == [
        ("open", 1), ("open", 1), ("resolved", 1), ("resolved", 1), ("resolved", 1),
        ("resolved", 1), ("open", 2), ("open", 2), ("resolved", 2),
    ]  # fmt: skip


def test_statuses_and_roles_are_the_wire_words() -> None:
    assert [s.value for s in Status] == ["open", "resolved"]
    assert [r.value for r in SenderRole] == ["consumer", "agent", "system"]


# --- ratelimit: TokenBucket -------------------------------------------------------------


def test_a_bucket_starts_full_and_grants_its_burst_at_once() -> None:
    bucket = TokenBucket(rate=2.0, burst=3, clock=FakeClock())
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() == 0.5


def test_a_refused_take_spends_nothing() -> None:
    bucket = TokenBucket(rate=2.0, burst=1, clock=FakeClock())
    assert bucket.take() == 0.0
    assert [bucket.take() for _ in range(5)] == [0.5] * 5


def test_the_wait_is_for_the_missing_part_of_one_token() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, burst=1, clock=clock)
    assert bucket.take() == 0.0
    clock.advance(0.25)  # half a token back
    assert bucket.take() == 0.25
    clock.advance(0.125)  # three quarters
    assert bucket.take() == 0.125
    clock.advance(0.125)
    assert bucket.take() == 0.0
    assert bucket.take() == 0.5


def test_a_bucket_refills_at_its_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=4.0, burst=8, clock=clock)
    for _ in range(8):
        bucket.take()
    clock.advance(0.5)  # 2 tokens
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.25]


def test_refill_never_exceeds_the_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10.0, burst=3, clock=clock)
    assert bucket.take() == 0.0
    clock.advance(3600)
    assert [bucket.take() for _ in range(4)] == [0.0, 0.0, 0.0, 0.1]


def test_a_slow_bucket_waits_long() -> None:
    bucket = TokenBucket(rate=0.125, burst=1, clock=FakeClock())
    assert bucket.take() == 0.0
    assert bucket.take() == 8.0


def test_a_bucket_grants_exactly_rate_per_second_in_steady_state() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=4.0, burst=1, clock=clock)
    granted = 0
    for _ in range(4 * 64):  # 16 s in steps of 1/16 s
        clock.advance(0.0625)
        granted += bucket.take() == 0.0
    assert granted == 4 * 16


# --- ratelimit: FailureWindow -----------------------------------------------------------


def test_a_key_without_failures_may_try_now() -> None:
    window = FailureWindow(limit=3, clock=FakeClock())
    assert window.retry_after("lea@example.com") == 0.0


def test_failures_below_the_limit_do_not_block() -> None:
    clock = FakeClock()
    window = FailureWindow(limit=3, clock=clock)
    window.fail("k")
    clock.advance(1)
    window.fail("k")
    assert window.retry_after("k") == 0.0


def test_at_the_limit_the_wait_is_until_the_oldest_failure_ages_out() -> None:
    clock = FakeClock(0.0)
    window = FailureWindow(limit=3, clock=clock)
    for _ in range(3):
        window.fail("k")
        clock.advance(10)
    # failures at 0, 10, 20; now 30
    assert window.retry_after("k") == 30.0
    clock.advance(29.5)
    assert window.retry_after("k") == 0.5
    clock.advance(0.5)  # t = 60: the failure at 0 is exactly a window old, so gone
    assert window.retry_after("k") == 0.0
    window.fail("k")  # failures at 10, 20, 60
    assert window.retry_after("k") == 10.0


def test_the_window_slides_failure_by_failure() -> None:
    clock = FakeClock(0.0)
    window = FailureWindow(limit=2, window_s=10.0, clock=clock)
    waits = []
    for step in range(6):
        window.fail("k")
        waits.append(window.retry_after("k"))
        clock.advance(4 if step % 2 == 0 else 7)
    # fails at 0, 4, 11, 15, 22, 26; after each, the wait is until the one before it is 10 s
    # old (at 0 there is none; at 11 the failure at 0 has aged out but 4 has not)
    assert waits == [0.0, 6.0, 3.0, 6.0, 3.0, 6.0]


def test_old_failures_all_age_out() -> None:
    clock = FakeClock()
    window = FailureWindow(limit=1, window_s=60.0, clock=clock)
    window.fail("k")
    assert window.retry_after("k") == 60.0
    clock.advance(60)
    assert window.retry_after("k") == 0.0
    window.fail("k")
    assert window.retry_after("k") == 60.0


def test_keys_are_counted_apart() -> None:
    window = FailureWindow(limit=2, clock=FakeClock())
    window.fail("a")
    window.fail("a")
    window.fail("b")
    assert (window.retry_after("a"), window.retry_after("b")) == (60.0, 0.0)


def test_a_success_forgets_the_failures() -> None:
    clock = FakeClock()
    window = FailureWindow(limit=2, clock=clock)
    window.fail("k")
    window.fail("k")
    window.fail("other")
    window.fail("other")
    assert window.retry_after("k") == 60.0
    window.succeed("k")
    assert window.retry_after("k") == 0.0
    window.fail("k")  # counting starts over: one failure is below the limit
    assert window.retry_after("k") == 0.0
    assert window.retry_after("other") == 60.0


def test_succeed_on_an_unknown_key_is_harmless() -> None:
    window = FailureWindow(limit=1, clock=FakeClock())
    window.succeed("nobody")
    assert window.retry_after("nobody") == 0.0


# --- validation: handles ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "handle"),
    [
        ("acme", "acme"),
        ("ACME", "acme"),
        ("AcMe_2", "acme_2"),
        ("@acme", "acme"),
        ("@ACME", "acme"),
        ("  @Acme\n", "acme"),
        ("ab", "ab"),
        ("a" * 30, "a" * 30),
        ("@" + "B" * 30, "b" * 30),
        ("__", "__"),
        ("0123456789", "0123456789"),
        ("a_b_c", "a_b_c"),
    ],
)
def test_normalize_handle_accepts(raw: str, handle: str) -> None:
    assert normalize_handle(raw) == handle


@pytest.mark.parametrize(
    "raw",
    [
        "", "@", "a", "@a", "A", "a" * 31, "@" + "a" * 31, "@@acme", "ac me", "ac-me", "ac.me",
        "acme!", "acmé", "ácme", "ａｃｍｅ", "acme\x00", "ac\tme", "a@cme", "acme@", "#acme",
    ],
)  # fmt: skip
def test_normalize_handle_refuses_the_malformed(raw: str) -> None:
    with pytest.raises(ApiError) as caught:
        normalize_handle(raw)
    assert (caught.value.status, caught.value.code, caught.value.message) == (
        422,
        "invalid_handle",
        "a handle is 2 to 30 characters of a-z, 0-9 and _",
    )


# Written out, not read from the module: a word dropped from the list must fail a test.
RESERVED = [
    "abuse", "admin", "administrator", "api", "app", "atdesk", "billing", "console", "help",
    "helpdesk", "info", "me", "mod", "moderator", "null", "official", "postmaster", "root",
    "security", "staff", "support", "system", "undefined", "webmaster", "www",
]  # fmt: skip


@pytest.mark.parametrize("word", RESERVED)
@pytest.mark.parametrize("spelling", ["{}", "@{}", "{UPPER}", " @{UPPER} "])
def test_every_reserved_handle_is_refused_however_written(word: str, spelling: str) -> None:
    raw = spelling.replace("{UPPER}", word.upper()).replace("{}", word)
    with pytest.raises(ApiError) as caught:
        normalize_handle(raw)
    assert (caught.value.status, caught.value.code, caught.value.message) == (
        422,
        "invalid_handle",
        f"the handle @{word} is reserved",
    )


def test_the_reserved_handles_include_those_the_protocol_names() -> None:
    assert {"admin", "support", "atdesk", "help", "root"} <= RESERVED_HANDLES
    assert set(RESERVED) <= RESERVED_HANDLES
    assert all(re.fullmatch(r"[a-z0-9_]{2,30}", word) for word in RESERVED_HANDLES)


def test_near_reserved_handles_are_free() -> None:
    assert [normalize_handle(h) for h in ["admins", "support_acme", "my_help", "rooty"]] == [
        "admins",
        "support_acme",
        "my_help",
        "rooty",
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("@Acme", "acme"),
        ("acme", "acme"),
        (" @ACME_2 ", "acme_2"),
        ("@admin", "admin"),  # a lookup, not a registration: it simply finds no brand
        ("@a", None),
        ("@" + "a" * 31, None),
        ("@ac-me", None),
        ("", None),
        ("@@acme", None),
        ("acmé", None),
    ],
)
def test_lookup_handle(raw: str, expected: str | None) -> None:
    assert lookup_handle(raw) == expected


# --- validation: emails, names, passwords -------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "email"),
    [
        ("lea@example.com", "lea@example.com"),
        ("  Lea.Martin+desk@Example.COM \n", "lea.martin+desk@example.com"),
        ("a@b.c", "a@b.c"),
        ("x" * 64 + "@example.com", "x" * 64 + "@example.com"),
        ("a@" + "b" * 249 + ".cd", "a@" + "b" * 249 + ".cd"),  # 254 characters
        ("lea@mail.example.co.uk", "lea@mail.example.co.uk"),
    ],
)
def test_normalize_email_accepts(raw: str, email: str) -> None:
    assert normalize_email(raw) == email


@pytest.mark.parametrize(
    "raw",
    [
        "", "lea", "lea@", "@example.com", "lea@example", "lea@@example.com", "le a@example.com",
        "lea@exa mple.com", "lea@example.com@x.y", "x" * 65 + "@example.com",
        "a@" + "b" * 250 + ".cd",  # 255 characters
        "lea@.", "lea@example.", "lea@.com",
    ],
)  # fmt: skip
def test_normalize_email_refuses(raw: str) -> None:
    with pytest.raises(ApiError) as caught:
        normalize_email(raw)
    assert (caught.value.status, caught.value.code, caught.value.message) == (
        422,
        "invalid_input",
        "email must look like name@example.com",
    )


@pytest.mark.parametrize(
    ("raw", "name"),
    [("Lea", "Lea"), ("  Lea Martin \t", "Lea Martin"), ("L", "L"), ("n" * 64, "n" * 64)],
)
def test_normalize_display_name_trims(raw: str, name: str) -> None:
    assert normalize_display_name(raw) == name


@pytest.mark.parametrize("raw", ["", "   ", "\n\t", "n" * 65, " " + "n" * 65 + " "])
def test_normalize_display_name_refuses(raw: str) -> None:
    with pytest.raises(ApiError) as caught:
        normalize_display_name(raw)
    assert (caught.value.status, caught.value.code, caught.value.message) == (
        422,
        "invalid_input",
        "display_name must be 1 to 64 characters after trimming",
    )


@pytest.mark.parametrize("password", ["p" * 8, "p" * 256, " " * 8, "pässwörd", "🙂" * 8])
def test_check_password_accepts_8_to_256_characters(password: str) -> None:
    check_password(password)  # raises ApiError when refused


@pytest.mark.parametrize("password", ["", "p" * 7, "p" * 257, "🙂" * 7])
def test_check_password_refuses_other_lengths(password: str) -> None:
    with pytest.raises(ApiError) as caught:
        check_password(password)
    assert (caught.value.status, caught.value.code, caught.value.message) == (
        422,
        "invalid_input",
        "password must be 8 to 256 characters",
    )


# --- ids ----------------------------------------------------------------------------------

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def crockford_value(body: str) -> int:
    value = 0
    for char in body:
        value = value * 32 + CROCKFORD.index(char)
    return value


def crockford_text(value: int, length: int) -> str:
    return "".join(CROCKFORD[(value >> (5 * place)) & 31] for place in reversed(range(length)))


def fixed_ids(monkeypatch: pytest.MonkeyPatch, seconds: float, random: bytes) -> None:
    """Inject the clock and the randomness new_id reads."""
    monkeypatch.setattr(ids, "time", types.SimpleNamespace(time=lambda: seconds))
    text = crockford_text(int.from_bytes(random, "big"), 16)
    monkeypatch.setattr(ids, "_random_characters", lambda: text)


@pytest.mark.parametrize("prefix", ["c", "m", "a", "session"])
def test_new_id_is_prefix_underscore_and_26_crockford_characters(prefix: str) -> None:
    value = new_id(prefix)
    head, body = value.split("_", 1)
    assert head == prefix
    assert re.fullmatch(r"[0-7][0-9A-HJKMNP-TV-Z]{25}", body), body


def test_new_id_holds_the_millisecond_and_80_random_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    random = bytes(range(1, 11))
    fixed_ids(monkeypatch, 1_763_800_000.5, random)
    value = crockford_value(new_id("m").removeprefix("m_"))
    assert value >> 80 == 1_763_800_000_500
    assert value & (2**80 - 1) == int.from_bytes(random, "big")


def test_new_ids_are_random_within_a_millisecond(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ids, "time", types.SimpleNamespace(time=lambda: 1_763_800_000.5))
    made = {new_id("c") for _ in range(100)}
    assert len(made) == 100
    assert {value[2:12] for value in made} == {new_id("c")[2:12]}


def test_new_ids_take_their_random_bits_from_the_system_400_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = []

    def urandom(n: int) -> bytes:
        calls.append(n)
        return randomness.Random(len(calls)).randbytes(n)

    def characters(random: bytes) -> str:  # each a random byte's low 5 bits
        return "".join(CROCKFORD[byte & 31] for byte in random)

    monkeypatch.setattr(ids, "os", types.SimpleNamespace(urandom=urandom))
    monkeypatch.setattr(ids, "_random_pool", threading.local())
    made = [new_id("m")[12:] for _ in range(401)]
    assert calls == [6400, 6400]
    first, second = randomness.Random(1).randbytes(6400), randomness.Random(2).randbytes(6400)
    assert made[:2] == [characters(first[:16]), characters(first[16:32])]
    assert made[399] == characters(first[-16:])
    assert made[400] == characters(second[:16])
    assert len(set(made)) == 401


def test_new_ids_sort_by_creation_time_across_milliseconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = []
    # Worst case for sorting: the earlier id has the largest random part, the later the least.
    for millisecond in range(1_763_800_000_000, 1_763_800_000_006):
        for random in (b"\xff" * 10, b"\x00" * 10):
            fixed_ids(monkeypatch, (millisecond + 0.5) / 1000, random)
            made.append((millisecond, new_id("m")))
    by_time = [value for _, value in made]
    assert sorted(by_time) == sorted(by_time, key=lambda v: crockford_value(v[2:]))
    for (earlier_ms, earlier), (later_ms, later) in zip(made, made[1:], strict=False):
        if later_ms > earlier_ms:
            assert earlier < later


def test_new_ids_sort_across_years(monkeypatch: pytest.MonkeyPatch) -> None:
    made = []
    for seconds in (0.0, 1.0, 1_000_000_000.0, 1_763_800_000.0, 4_102_444_800.0):
        fixed_ids(monkeypatch, seconds, b"\xff" * 10)
        made.append(new_id("c"))
    assert made == sorted(made)
    assert made[0] == "c_0000000000" + "ZZZZZZZZZZZZZZZZ"


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 11, 22, 10, 0, tzinfo=UTC), "2026-11-22T10:00:00.000Z"),
        (datetime(2026, 11, 22, 10, 0, 5, 123456, tzinfo=UTC), "2026-11-22T10:00:05.123Z"),
        (datetime(2026, 11, 22, 10, 0, 5, 999999, tzinfo=UTC), "2026-11-22T10:00:05.999Z"),
        (datetime(2026, 11, 22, 10, 0, 5, 999, tzinfo=UTC), "2026-11-22T10:00:05.000Z"),
        (datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC), "2026-01-02T03:04:05.006Z"),
        (datetime(2026, 11, 22, 10, 0), "2026-11-22T10:00:00.000Z"),  # naive: UTC
        (datetime(2026, 11, 22, 10, 0, 0, 42000), "2026-11-22T10:00:00.042Z"),
        (
            datetime(2026, 11, 22, 15, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            "2026-11-22T10:00:00.000Z",
        ),
        (
            datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),
            "2025-12-31T23:30:00.000Z",
        ),
        (
            datetime(2026, 2, 28, 20, 0, 0, 1000, tzinfo=timezone(timedelta(hours=-5))),
            "2026-03-01T01:00:00.001Z",
        ),
    ],
)
def test_format_time(moment: datetime, text: str) -> None:
    assert format_time(moment) == text


@pytest.fixture
def local_time_is_not_utc() -> Iterator[None]:
    """Run with the process's local zone far from UTC, so "naive" cannot pass by luck."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "Pacific/Kiritimati"  # UTC+14
    time.tzset()
    try:
        assert datetime(2026, 1, 1).astimezone().utcoffset() == timedelta(hours=14)
        yield
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()


@pytest.mark.usefixtures("local_time_is_not_utc")
def test_format_time_treats_naive_datetimes_as_utc_whatever_the_local_zone() -> None:
    assert format_time(datetime(2026, 11, 22, 10, 0, 0, 42000)) == "2026-11-22T10:00:00.042Z"
    aware = datetime(2026, 11, 22, 10, 0, tzinfo=timezone(timedelta(hours=-3)))
    assert format_time(aware) == "2026-11-22T13:00:00.000Z"


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-11-22T10:00:00.000Z", datetime(2026, 11, 22, 10, 0, tzinfo=UTC)),
        ("2026-11-22T10:00:05.123Z", datetime(2026, 11, 22, 10, 0, 5, 123000, tzinfo=UTC)),
        ("2026-11-22T10:00:00Z", datetime(2026, 11, 22, 10, 0, tzinfo=UTC)),
        ("2026-11-22T11:00:00.500+01:00", datetime(2026, 11, 22, 10, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_parse_time(text: str, moment: datetime) -> None:
    parsed = parse_time(text)
    assert parsed == moment
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "text",
    ["2026-11-22T10:00:00.000Z", "1999-12-31T23:59:59.999Z", "2028-02-29T12:34:56.789Z"],
)
def test_format_time_and_parse_time_round_trip(text: str) -> None:
    assert format_time(parse_time(text)) == text


def test_a_millisecond_moment_survives_format_and_parse() -> None:
    moment = datetime(2026, 11, 22, 10, 0, 5, 678000, tzinfo=UTC)
    assert parse_time(format_time(moment)) == moment


def test_utc_now_is_aware_utc_to_the_millisecond() -> None:
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    now = utc_now()
    after = datetime.now(UTC)
    assert now.tzinfo is UTC
    assert now.microsecond % 1000 == 0
    assert before <= now <= after
    assert parse_time(format_time(now)) == now


# --- settings -----------------------------------------------------------------------------


def test_an_empty_environment_gives_the_defaults() -> None:
    settings = load_settings({})
    assert settings == Settings()
    assert settings == Settings(
        database_url="sqlite:///var/atdesk.sqlite3",
        redis_url=None,
        allowed_origins=(),
        hello_timeout_s=10.0,
        heartbeat_s=25,
        session_days=30,
        send_rate_per_s=10.0,
        send_burst=50,
        frame_rate_per_s=50.0,
        frame_burst=200,
        login_attempts_per_minute=10,
        password_time_cost=3,
        password_memory_kib=65536,
    )
    assert settings.is_sqlite


def test_empty_values_mean_the_defaults() -> None:
    env = {
        name: ""
        for name in [
            "ATDESK_DATABASE_URL", "ATDESK_REDIS_URL", "ATDESK_ALLOWED_ORIGINS",
            "ATDESK_SEND_RATE", "ATDESK_SEND_BURST", "ATDESK_FRAME_RATE", "ATDESK_FRAME_BURST",
            "ATDESK_LOGIN_ATTEMPTS_PER_MINUTE", "ATDESK_PASSWORD_TIME_COST",
            "ATDESK_PASSWORD_MEMORY_KIB", "ATDESK_HELLO_TIMEOUT_S",
        ]
    }  # fmt: skip
    assert load_settings(env) == Settings()


def test_every_variable_is_read() -> None:
    settings = load_settings(
        {
            "ATDESK_DATABASE_URL": "postgresql://desk:pw@db.internal:5432/atdesk",
            "ATDESK_REDIS_URL": "redis://cache:6379/0",
            "ATDESK_ALLOWED_ORIGINS": "https://desk.example.com/, http://localhost:5173 ,,",
            "ATDESK_SEND_RATE": "2.5",
            "ATDESK_SEND_BURST": "7",
            "ATDESK_FRAME_RATE": " 20 ",
            "ATDESK_FRAME_BURST": "1e3",
            "ATDESK_LOGIN_ATTEMPTS_PER_MINUTE": "5",
            "ATDESK_PASSWORD_TIME_COST": "1",
            "ATDESK_PASSWORD_MEMORY_KIB": "8",
            "ATDESK_HELLO_TIMEOUT_S": "0.5",
            "ATDESK_UNRELATED": "ignored",
        }
    )
    assert settings == Settings(
        database_url="postgresql+psycopg://desk:pw@db.internal:5432/atdesk",
        redis_url="redis://cache:6379/0",
        allowed_origins=("https://desk.example.com", "http://localhost:5173"),
        send_rate_per_s=2.5,
        send_burst=7,
        frame_rate_per_s=20.0,
        frame_burst=1000,
        login_attempts_per_minute=5,
        password_time_cost=1,
        password_memory_kib=8,
        hello_timeout_s=0.5,
    )
    assert not settings.is_sqlite


NUMBERS = {
    "ATDESK_SEND_RATE": 0.1,
    "ATDESK_FRAME_RATE": 0.1,
    "ATDESK_HELLO_TIMEOUT_S": 0.1,
    "ATDESK_SEND_BURST": 1,
    "ATDESK_FRAME_BURST": 1,
    "ATDESK_LOGIN_ATTEMPTS_PER_MINUTE": 1,
    "ATDESK_PASSWORD_TIME_COST": 1,
    "ATDESK_PASSWORD_MEMORY_KIB": 8,
}


@pytest.mark.parametrize("name", sorted(NUMBERS))
@pytest.mark.parametrize("raw", ["abc", "1,5", "ten", "0x10"])
def test_a_number_that_is_not_one_names_its_variable(name: str, raw: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({name: raw})
    assert str(caught.value) == f"{name}={raw!r} is not a number"


@pytest.mark.parametrize("name", sorted(NUMBERS))
@pytest.mark.parametrize("raw", ["nan", "inf", "-inf", "1e400"])
def test_a_number_that_is_not_finite_names_its_variable(name: str, raw: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({name: raw})
    assert str(caught.value) == f"{name}={raw!r} must be a finite number"


@pytest.mark.parametrize(("name", "low"), sorted(NUMBERS.items()))
def test_a_number_below_its_floor_names_its_variable(name: str, low: float) -> None:
    for raw in ["0", "-1", str(low / 2)]:
        with pytest.raises(SettingsError) as caught:
            load_settings({name: raw})
        assert str(caught.value) == f"{name}={raw!r} must be at least {low:g}"


@pytest.mark.parametrize(("name", "low"), sorted(NUMBERS.items()))
def test_a_number_at_its_floor_is_accepted(name: str, low: float) -> None:
    load_settings({name: f"{low:g}"})


@pytest.mark.parametrize(
    ("raw", "url"),
    [
        ("postgresql://u:p@h:5432/db", "postgresql+psycopg://u:p@h:5432/db"),
        ("postgresql://h/db?sslmode=require", "postgresql+psycopg://h/db?sslmode=require"),
        ("postgresql://u:p%40ss@h/db", "postgresql+psycopg://u:p%40ss@h/db"),
        ("postgresql+psycopg://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        ("sqlite:///var/other.sqlite3", "sqlite:///var/other.sqlite3"),
        ("sqlite+pysqlite:///x.db", "sqlite:///x.db"),
        ("sqlite:////abs/x.db", "sqlite:////abs/x.db"),
        ("sqlite://", "sqlite://"),
    ],
)
def test_database_urls_are_mapped_to_the_drivers_we_ship(raw: str, url: str) -> None:
    assert load_settings({"ATDESK_DATABASE_URL": raw}).database_url == url


@pytest.mark.parametrize(
    ("raw", "driver"),
    [
        ("mysql://u@h/db", "mysql"),
        ("postgres://u@h/db", "postgres"),
        ("postgresql+asyncpg://h/db", "postgresql+asyncpg"),
        ("redis://h/0", "redis"),
    ],
)
def test_an_unsupported_database_names_the_variable_and_driver(raw: str, driver: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"ATDESK_DATABASE_URL": raw})
    assert str(caught.value) == (
        f"ATDESK_DATABASE_URL uses {driver!r}; use sqlite:///path or postgresql://..."
    )


@pytest.mark.parametrize("raw", ["not a url", "var/atdesk.sqlite3", "://"])
def test_a_database_url_that_is_not_one_names_the_variable(raw: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"ATDESK_DATABASE_URL": raw})
    assert str(caught.value) == (
        f"ATDESK_DATABASE_URL={raw!r} is not a database URL "
        "(try sqlite:///var/atdesk.sqlite3 or postgresql://host/db)"
    )


@pytest.mark.parametrize("origin", ["desk.example.com", "ftp://desk.example.com", "//x.com"])
def test_an_origin_without_http_names_the_variable(origin: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"ATDESK_ALLOWED_ORIGINS": f"https://ok.example.com,{origin}"})
    assert str(caught.value) == (
        f"ATDESK_ALLOWED_ORIGINS has {origin!r}; write origins like https://desk.example.com"
    )


@pytest.mark.parametrize(
    ("raw", "origins"),
    [
        ("https://a.example.com", ("https://a.example.com",)),
        ("https://a.example.com/", ("https://a.example.com",)),
        (" http://localhost:3000 , https://b.example.com// ", ("http://localhost:3000", "https://b.example.com")),
        (",,", ()),
    ],
)  # fmt: skip
def test_allowed_origins_are_trimmed_of_spaces_and_slashes(
    raw: str, origins: tuple[str, ...]
) -> None:
    assert load_settings({"ATDESK_ALLOWED_ORIGINS": raw}).allowed_origins == origins


@pytest.mark.parametrize("raw", ["redis://cache:6379/0", "rediss://user:pw@cache:6380"])
def test_redis_urls_are_kept(raw: str) -> None:
    assert load_settings({"ATDESK_REDIS_URL": raw}).redis_url == raw


@pytest.mark.parametrize("raw", ["http://cache:6379", "cache:6379", "valkey://cache"])
def test_a_redis_url_of_another_scheme_names_the_variable(raw: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"ATDESK_REDIS_URL": raw})
    assert str(caught.value) == f"ATDESK_REDIS_URL={raw!r} must start with redis:// or rediss://"


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///var/atdesk.sqlite3", Path("var/atdesk.sqlite3")),
        ("sqlite:////srv/atdesk/db.sqlite3", Path("/srv/atdesk/db.sqlite3")),
        ("sqlite+pysqlite:///x.db", Path("x.db")),
        ("sqlite:///var/my db.sqlite3", Path("var/my db.sqlite3")),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("postgresql+psycopg://u:p@h/db", None),
    ],
)
def test_sqlite_path(url: str, path: Path | None) -> None:
    assert sqlite_path(url) == path


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ("sqlite:///:memory:", None),
        ("sqlite:///var/x#1.db", Path("var/x#1.db")),
        ("sqlite:///var/a%20b.db", Path("var/a b.db")),
    ],
)
def test_sqlite_path_of_a_loaded_url_is_the_file_meant(raw: str, path: Path | None) -> None:
    assert sqlite_path(load_settings({"ATDESK_DATABASE_URL": raw}).database_url) == path
