"""How service quality is measured (PROTOCOL 6): pure functions over cases, no I/O.

A case's timings are kept at commit time (``gateway.stores.conversations``); these rules
turn the cases of a time window into the public figures and the members' statistics.

- First response: seconds from the case's opening (a consumer writing to a new or
  resolved thread) to the first message of a brand member. A case counts in a window by
  the moment of its first response.
- Resolved and rated cases, CSAT (the mean score) and the agents' estimates count in a
  window by the moment the case was resolved.
- Public figures are null below ``MIN_CASES`` cases in their sample, so a brand cannot
  be judged on one conversation. Members see their own figures without that floor.
- Per agent: first responses count for the member who answered first; resolutions,
  ratings and estimates for the member who resolved.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

MIN_CASES = 5
WINDOW_DAYS = 30


@dataclass(frozen=True)
class CaseFacts:
    """What the figures need of one case."""

    conversation_id: str
    number: int
    opened_at: datetime
    first_response_at: datetime | None = None
    first_response_s: float | None = None
    first_responder_id: str | None = None
    resolved_at: datetime | None = None
    resolver_id: str | None = None
    agent_estimate: int | None = None
    score: int | None = None
    comment: str | None = None
    rated_at: datetime | None = None


@dataclass(frozen=True)
class Figures:
    median_first_response_s: float | None
    csat: float | None
    rated_cases: int | None
    resolved_cases: int | None


@dataclass(frozen=True)
class EstimateAccuracy:
    """How close the resolving agents' estimates came to the customers' scores."""

    compared_cases: int  # resolved cases with both an estimate and a score
    mean_absolute_error: float | None  # mean |estimate - score|, 0 is perfect
    exact_share: float | None  # share of estimates equal to the score, 0..1
    bias: float | None  # mean (estimate - score): above 0, agents think customers happier


def window_start(now: datetime, days: int) -> datetime:
    """The window is [now - days, now]: a case exactly ``days`` old still counts."""
    return now - timedelta(days=days)


def in_window(moment: datetime | None, start: datetime, now: datetime) -> bool:
    return moment is not None and start <= moment <= now


def median(values: Sequence[float]) -> float | None:
    """The middle value; for an even count the mean of the two middle ones."""
    return None if not values else round(float(statistics.median(values)), 3)


def mean(values: Sequence[float]) -> float | None:
    return None if not values else round(sum(values) / len(values), 3)


def figures(cases: Iterable[CaseFacts], start: datetime, now: datetime, *, floor: int) -> Figures:
    """The four figures over the window; each null when its sample is below ``floor``."""
    answered: list[float] = []
    resolved = 0
    scores: list[float] = []
    for case in cases:
        if case.first_response_s is not None and in_window(case.first_response_at, start, now):
            answered.append(case.first_response_s)
        if in_window(case.resolved_at, start, now):
            resolved += 1
            if case.score is not None:
                scores.append(case.score)
    enough_ratings = len(scores) >= max(floor, 1)
    return Figures(
        median_first_response_s=median(answered) if len(answered) >= floor else None,
        csat=mean(scores) if enough_ratings else None,
        rated_cases=len(scores) if len(scores) >= floor else None,
        resolved_cases=resolved if resolved >= floor else None,
    )


def public_figures(cases: Iterable[CaseFacts], now: datetime) -> Figures:
    return figures(cases, window_start(now, WINDOW_DAYS), now, floor=MIN_CASES)


def public_from_totals(
    *, answered: int, middle: Sequence[float], resolved: int, rated: int, score_sum: int
) -> Figures:
    """``public_figures`` from totals the database summed and the middle first-response
    times (one for an odd count, two for an even one)."""
    return Figures(
        median_first_response_s=median(middle) if answered >= MIN_CASES else None,
        csat=round(score_sum / rated, 3) if rated >= MIN_CASES else None,
        rated_cases=rated if rated >= MIN_CASES else None,
        resolved_cases=resolved if resolved >= MIN_CASES else None,
    )


def estimate_accuracy(
    cases: Iterable[CaseFacts], start: datetime, now: datetime
) -> EstimateAccuracy:
    pairs = [
        (case.agent_estimate, case.score)
        for case in cases
        if in_window(case.resolved_at, start, now)
        and case.agent_estimate is not None
        and case.score is not None
    ]
    if not pairs:
        return EstimateAccuracy(0, None, None, None)
    return EstimateAccuracy(
        compared_cases=len(pairs),
        mean_absolute_error=mean([abs(e - s) for e, s in pairs]),
        exact_share=round(sum(1 for e, s in pairs if e == s) / len(pairs), 3),
        bias=mean([e - s for e, s in pairs]),
    )


def by_agent(cases: Sequence[CaseFacts]) -> dict[str, list[CaseFacts]]:
    """Agent id -> the cases that count for them: answered first or resolved by them.

    A case counts for its first responder's first-response figure and for its resolver's
    other figures; ``agent_view`` keeps each figure to the right cases.
    """
    mine: defaultdict[str, list[CaseFacts]] = defaultdict(list)
    for case in cases:
        for agent in {case.first_responder_id, case.resolver_id} - {None}:
            assert agent is not None
            mine[agent].append(case)
    return dict(mine)


def agent_view(agent_id: str, cases: Iterable[CaseFacts]) -> list[CaseFacts]:
    """The agent's cases with what is not theirs blanked out (see ``by_agent``)."""
    view = []
    for case in cases:
        answered = case.first_responder_id == agent_id
        resolved = case.resolver_id == agent_id
        view.append(
            CaseFacts(
                conversation_id=case.conversation_id,
                number=case.number,
                opened_at=case.opened_at,
                first_response_at=case.first_response_at if answered else None,
                first_response_s=case.first_response_s if answered else None,
                first_responder_id=case.first_responder_id,
                resolved_at=case.resolved_at if resolved else None,
                resolver_id=case.resolver_id,
                agent_estimate=case.agent_estimate,
                score=case.score,
                comment=case.comment,
                rated_at=case.rated_at,
            )  # fmt: skip
        )
    return view


@dataclass(frozen=True)
class Day:
    date: date
    figures: Figures


def daily(cases: Sequence[CaseFacts], start: datetime, now: datetime) -> list[Day]:
    """One entry per UTC calendar day of the window, oldest first (empty days included)."""
    # Each day's figures read only the cases answered or resolved that day: one pass over
    # the cases, not one per day (a year's window would be 366 passes).
    by_day: defaultdict[date, list[CaseFacts]] = defaultdict(list)
    for case in cases:
        moments = {m.astimezone(start.tzinfo).date() for m in (case.first_response_at,
                                                                case.resolved_at) if m}  # fmt: skip
        for day_of_case in moments:
            by_day[day_of_case].append(case)
    days: list[Day] = []
    day = start.date()
    while day <= now.date():
        day_start = max(start, datetime.combine(day, datetime.min.time(), tzinfo=start.tzinfo))
        day_end = min(now, day_start.replace(hour=0, minute=0, second=0, microsecond=0)
                      + timedelta(days=1) - timedelta(microseconds=1))  # fmt: skip
        days.append(Day(day, figures(by_day.get(day, []), day_start, day_end, floor=0)))
        day += timedelta(days=1)
    return days


def latest_comments(
    cases: Iterable[CaseFacts], start: datetime, now: datetime, limit: int
) -> list[CaseFacts]:
    """Rated cases with a comment, resolved in the window, the latest rating first."""
    commented = [
        case
        for case in cases
        if case.comment and case.rated_at is not None and in_window(case.resolved_at, start, now)
    ]
    commented.sort(key=lambda case: (case.rated_at, case.conversation_id), reverse=True)
    return commented[:limit]
