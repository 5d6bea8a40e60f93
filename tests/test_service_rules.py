"""The service-quality rules as pure functions: medians, means, the 5-case floor, the
window's edges, per-agent attribution, days and comments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway import service_rules as rules
from gateway.service_rules import CaseFacts, Figures

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
START = rules.window_start(NOW, 30)


def case(n: int, *, answered_s: float | None = None, at: datetime = NOW, agent: str = "a1",
         resolved: bool = True, estimate: int | None = None, score: int | None = None,
         comment: str | None = None) -> CaseFacts:  # fmt: skip
    opened = at - timedelta(hours=1)
    return CaseFacts(
        conversation_id=f"c{n}", number=1, opened_at=opened,
        first_response_at=None if answered_s is None else opened + timedelta(seconds=answered_s),
        first_response_s=answered_s, first_responder_id=None if answered_s is None else agent,
        resolved_at=at if resolved else None, resolver_id=agent if resolved else None,
        agent_estimate=estimate, score=score, comment=comment,
        rated_at=None if score is None else at + timedelta(minutes=n),
    )  # fmt: skip


def test_median_of_odd_and_even_counts_and_mean() -> None:
    assert rules.median([]) is None
    assert rules.median([7]) == 7
    assert rules.median([300, 60, 120]) == 120
    assert rules.median([60, 120, 180, 240]) == 150
    assert rules.median([1, 2]) == 1.5
    assert rules.mean([]) is None
    assert rules.mean([5, 4, 3, 5, 2]) == 3.8
    assert rules.mean([1, 2, 2]) == 1.667


def test_public_figures_are_null_below_five_cases() -> None:
    four = [case(n, answered_s=60 * n, score=5) for n in range(1, 5)]
    assert rules.public_figures(four, NOW) == Figures(None, None, None, None)
    five = [*four, case(5, answered_s=300, score=1)]
    assert rules.public_figures(five, NOW) == Figures(180, 4.2, 5, 5)
    # Five resolved, four rated: the ratings are too few to judge on.
    unrated = [*four, case(5, answered_s=300)]
    assert rules.public_figures(unrated, NOW) == Figures(180, None, None, 5)
    # Members see their own figures without the floor.
    assert rules.figures(four, START, NOW, floor=0) == Figures(150, 5.0, 4, 4)
    assert rules.figures([], START, NOW, floor=0) == Figures(None, None, 0, 0)


def test_the_window_includes_its_first_instant_and_not_before() -> None:
    # Opened 10 s before the window, answered at its first instant, resolved 1 h later.
    edge = START + timedelta(hours=1, seconds=-10)
    cases = [case(n, answered_s=10, at=edge) for n in range(5)]
    assert rules.public_figures(cases, NOW).median_first_response_s == 10
    later = NOW + timedelta(milliseconds=1)
    assert rules.public_figures(cases, later).median_first_response_s is None
    assert rules.public_figures(cases, later).resolved_cases == 5
    assert rules.public_figures(cases, NOW + timedelta(hours=1, milliseconds=1)) == Figures(
        None, None, None, None
    )
    future = [case(n, answered_s=10, at=NOW + timedelta(hours=2)) for n in range(5)]
    assert rules.public_figures(future, NOW) == Figures(None, None, None, None)


def test_unanswered_cases_do_not_count_in_the_median() -> None:
    cases = [case(n, answered_s=100) for n in range(5)] + [case(9, answered_s=None)]
    assert rules.public_figures(cases, NOW) == Figures(100, None, None, 6)


def test_estimate_accuracy() -> None:
    pairs = [(5, 5), (4, 4), (4, 3), (3, 5), (2, 2)]
    cases = [case(n, estimate=e, score=s) for n, (e, s) in enumerate(pairs)]
    cases += [case(8, estimate=3), case(9, score=1)]  # not comparable
    assert rules.estimate_accuracy(cases, START, NOW) == rules.EstimateAccuracy(5, 0.6, 0.6, -0.2)
    assert rules.estimate_accuracy([], START, NOW) == rules.EstimateAccuracy(0, None, None, None)


def test_first_response_counts_for_who_answered_and_the_rest_for_who_resolved() -> None:
    handed_over = CaseFacts(
        conversation_id="c1", number=1, opened_at=NOW - timedelta(hours=2),
        first_response_at=NOW - timedelta(hours=1), first_response_s=3600,
        first_responder_id="ana", resolved_at=NOW, resolver_id="ben", agent_estimate=4,
        score=4,
    )  # fmt: skip
    agents = rules.by_agent([handed_over])
    assert set(agents) == {"ana", "ben"}
    ana = rules.figures(rules.agent_view("ana", agents["ana"]), START, NOW, floor=0)
    ben = rules.figures(rules.agent_view("ben", agents["ben"]), START, NOW, floor=0)
    assert ana == Figures(3600, None, 0, 0)
    assert ben == Figures(None, 4.0, 1, 1)


def test_days_cover_the_window_in_utc_days() -> None:
    cases = [case(1, answered_s=60, at=NOW - timedelta(days=1), score=4),
             case(2, answered_s=120, at=NOW, score=2), case(3, answered_s=240, at=NOW)]  # fmt: skip
    days = rules.daily(cases, rules.window_start(NOW, 2), NOW)
    assert [d.date.isoformat() for d in days] == ["2026-03-29", "2026-03-30", "2026-03-31"]
    assert [d.figures for d in days] == [
        Figures(None, None, 0, 0), Figures(60, 4.0, 1, 1), Figures(180, 2.0, 1, 2),
    ]  # fmt: skip


def test_latest_comments_newest_first_in_the_window() -> None:
    old = START - timedelta(days=1)
    cases = [case(1, score=5, comment="great"), case(2, score=1, comment="bad"),
             case(3, score=3), case(4, score=2, comment="old", at=old)]  # fmt: skip
    latest = rules.latest_comments(cases, START, NOW, 10)
    assert [c.comment for c in latest] == ["bad", "great"]
    assert rules.latest_comments(cases, START, NOW, 1)[0].comment == "bad"


def test_figures_from_database_totals_match_the_figures_from_cases() -> None:
    """The brand object sums in SQL and reads only the middle values; same figures."""
    for count in range(0, 12):
        cases = [
            case(n, answered_s=(n * 37) % 11 * 60, score=None if n % 3 == 0 else 1 + n % 5)
            for n in range(count)
        ]
        answered = sorted(c.first_response_s for c in cases if c.first_response_s is not None)
        middle = answered[(len(answered) - 1) // 2 : len(answered) // 2 + 1] if answered else []
        scores = [c.score for c in cases if c.score is not None]
        totals = rules.public_from_totals(
            answered=len(answered), middle=middle, resolved=len(cases), rated=len(scores),
            score_sum=sum(scores),
        )  # fmt: skip
        assert totals == rules.public_figures(cases, NOW), count
