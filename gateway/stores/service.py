"""Cases as the service figures read them, ratings, and the automatic reply's bookkeeping."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, literal_column, or_, update
from sqlmodel import Session, col, select

from gateway.ids import as_utc
from gateway.models import Account, Brand, Case, Conversation, Membership
from gateway.service_rules import CaseFacts
from gateway.stores import sends

SYSTEM_ACCOUNT_ID = "a_system"  # made by migration 0004; signs system messages
SYSTEM_NAME = "atdesk"


def _aware(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)


def _facts(case: Case) -> CaseFacts:
    opened_at = _aware(case.opened_at)
    assert opened_at is not None
    return CaseFacts(
        conversation_id=case.conversation_id, number=case.number, opened_at=opened_at,
        first_response_at=_aware(case.first_response_at),
        first_response_s=case.first_response_s, first_responder_id=case.first_responder_id,
        resolved_at=_aware(case.resolved_at), resolver_id=case.resolver_id,
        agent_estimate=case.agent_estimate, score=case.score, comment=case.comment,
        rated_at=_aware(case.rated_at),
    )  # fmt: skip


def cases_in_window(
    session: Session, *, brand_ids: Iterable[str], since: datetime, until: datetime
) -> dict[str, list[CaseFacts]]:
    """Brand id -> its cases answered or resolved within [since, until].

    Both conditions are served by an index on (brand_id, moment): the work grows with the
    cases of the window, never with the messages.
    """
    wanted = sorted(set(brand_ids))
    found: dict[str, list[CaseFacts]] = {brand_id: [] for brand_id in wanted}
    if not wanted:
        return found
    rows = session.exec(
        select(Case).where(
            col(Case.brand_id).in_(wanted),
            or_(
                and_(col(Case.first_response_at) >= since, col(Case.first_response_at) <= until),
                and_(col(Case.resolved_at) >= since, col(Case.resolved_at) <= until),
            ),
        )
    )
    for case in rows:
        found[case.brand_id].append(_facts(case))
    return found


def latest_resolved_case(session: Session, *, conversation_id: str) -> Case | None:
    return session.exec(
        select(Case)
        .where(col(Case.conversation_id) == conversation_id, col(Case.resolved_at).is_not(None))
        .order_by(col(Case.number).desc())
        .limit(1)
    ).first()


def rate(session: Session, *, case: Case, score: int, comment: str | None, now: datetime) -> bool:
    """Record the consumer's rating of ``case``; False if it was rated already."""
    result = session.exec(
        update(Case)
        .where(
            col(Case.conversation_id) == case.conversation_id,
            col(Case.number) == case.number,
            col(Case.score).is_(None),
        )
        .values(score=score, comment=comment, rated_at=now)
    )
    return bool(result.rowcount)


def auto_reply_pending(session: Session, *, conversation_id: str, number: int) -> bool:
    """Whether the case may still get its one automatic reply: it waits for its first
    human answer (after one, a member who is briefly away is no news) and had none."""
    case = sends.case_state(session, conversation_id, number)
    return case is not None and case.first_response_at is None and not case.auto_replied


def claim_auto_reply(session: Session, *, conversation_id: str, number: int) -> bool:
    """Mark the case's automatic reply as sent, if no human answered it and none was sent."""
    result = session.exec(
        update(Case)
        .where(
            col(Case.conversation_id) == conversation_id,
            col(Case.number) == number,
            col(Case.auto_replied).is_(False),
            col(Case.first_response_at).is_(None),
        )
        .values(auto_replied=True)
    )
    return bool(result.rowcount)


def names(session: Session, *, account_ids: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(account_ids))
    if not wanted:
        return {}
    rows = session.exec(select(Account.id, Account.display_name).where(col(Account.id).in_(wanted)))
    return dict(rows.all())


def open_cases_by_assignee(session: Session, *, brand_id: str) -> dict[str, int]:
    """Member id -> how many open conversations of the brand are assigned to them."""
    rows = session.exec(
        select(Conversation.assignee_id, func.count())
        .where(
            col(Conversation.brand_id) == brand_id,
            col(Conversation.status) == "open",
            col(Conversation.assignee_id).is_not(None),
        )
        .group_by(col(Conversation.assignee_id))
    )
    counts: defaultdict[str, int] = defaultdict(int)
    for assignee_id, count in rows:
        if assignee_id is not None:
            counts[assignee_id] = int(count)
    return dict(counts)


def member_roles(session: Session, *, brand_id: str) -> dict[str, str]:
    rows = session.exec(
        select(Membership.account_id, Membership.role).where(col(Membership.brand_id) == brand_id)
    )
    return dict(rows.all())


def oldest_queued(session: Session, *, brand_id: str) -> str | None:
    """The conversation that has waited longest in the brand's queue."""
    row = session.exec(
        _queued_in([brand_id]).order_by(col(Case.opened_at), col(Conversation.id)).limit(1)
    ).first()
    return None if row is None else str(row[0])


def _ranked(brand_ids: Collection[str], *, routed_only: bool) -> Any:
    """The brands' open, unassigned conversations numbered in queue order (1: next), per
    brand: the oldest case first. ``routed_only``: only brands that route automatically
    (without routing there is no queue)."""
    query = _queued_in(brand_ids).add_columns(
        col(Conversation.brand_id),
        func.row_number()
        .over(
            partition_by=col(Conversation.brand_id),
            order_by=(col(Case.opened_at), col(Conversation.id)),
        )
        .label("position"),
    )
    if routed_only:
        query = query.join(Brand, col(Brand.id) == col(Conversation.brand_id)).where(
            col(Brand.auto_assign).is_(True)
        )
    return query.subquery()


def _queued_in(brand_ids: Collection[str]) -> Any:
    return (
        select(Conversation.id, Case.opened_at)
        .join(
            Case,
            and_(
                col(Case.conversation_id) == col(Conversation.id),
                col(Case.number) == col(Conversation.case_number),
            ),
        )
        .where(
            col(Conversation.brand_id).in_(sorted(brand_ids)),
            # A literal, not a bound value: only then may SQLite use the partial index
            # ix_conversations_queue, whose condition this must repeat.
            col(Conversation.status) == literal_column("'open'"),
            col(Conversation.assignee_id).is_(None),
        )
    )


def queue_positions(
    session: Session, *, brand_ids: Collection[str], conversation_ids: Collection[str]
) -> dict[str, int]:
    """Conversation id -> its place in its brand's queue (1: next), for those of
    ``conversation_ids`` that are queued: one query, whatever the number of brands.

    A case is queued while it is open, nobody is assigned and its brand routes cases
    automatically (``auto_assign``); the longest waiting case is first.
    """
    if not brand_ids or not conversation_ids:
        return {}
    ranked = _ranked(brand_ids, routed_only=True)
    rows = session.exec(
        select(ranked.c.id, ranked.c.position).where(ranked.c.id.in_(sorted(conversation_ids)))
    )
    return {str(conversation_id): int(position) for conversation_id, position in rows}


def queued_behind(
    session: Session, *, brand_id: str, after: tuple[datetime, str] | None, within: int
) -> list[str]:
    """The brand's open, unassigned conversations that wait behind the case keyed ``after``
    (its opening, its conversation id; None: from the front), among the first ``within`` of
    the queue, in queue order."""
    ranked = _ranked([brand_id], routed_only=False)
    query = select(ranked.c.id).where(ranked.c.position <= within)
    if after is not None:
        opened_at, conversation_id = after
        query = query.where(
            or_(
                ranked.c.opened_at > opened_at,
                and_(ranked.c.opened_at == opened_at, ranked.c.id > conversation_id),
            )
        )
    return [str(row) for row in session.exec(query.order_by(ranked.c.position))]


def queue_key(session: Session, *, conversation: Conversation) -> tuple[datetime, str] | None:
    """Where the conversation's current case stands in queue order: (opened, id)."""
    case = session.get(Case, (conversation.id, conversation.case_number))
    return None if case is None else (case.opened_at, conversation.id)


@dataclass(frozen=True)
class WindowTotals:
    """What the public figures need of a brand's window, summed by the database."""

    answered: int = 0  # cases first answered in the window
    resolved: int = 0  # cases resolved in the window
    rated: int = 0  # of those, the rated ones
    score_sum: int = 0


def window_totals(
    session: Session, *, brand_ids: Iterable[str], since: datetime, until: datetime
) -> dict[str, WindowTotals]:
    """Brand id -> its totals over [since, until]: two grouped queries, served by the
    (brand_id, moment) indexes, whatever the number of brands or cases."""
    wanted = sorted(set(brand_ids))
    answered: dict[str, int] = {}
    resolved: dict[str, tuple[int, int, int]] = {}
    if wanted:
        rows = session.exec(
            select(Case.brand_id, func.count())
            .where(
                col(Case.brand_id).in_(wanted),
                col(Case.first_response_at) >= since,
                col(Case.first_response_at) <= until,
                # The median's offset counts exactly the rows the middle query can read.
                col(Case.first_response_s).is_not(None),
            )
            .group_by(col(Case.brand_id))
        )
        answered = {brand_id: int(count) for brand_id, count in rows}
        rated_rows = session.exec(
            select(Case.brand_id, func.count(), func.count(col(Case.score)), func.sum(Case.score))
            .where(
                col(Case.brand_id).in_(wanted),
                col(Case.resolved_at) >= since,
                col(Case.resolved_at) <= until,
            )
            .group_by(col(Case.brand_id))
        )
        resolved = {
            brand_id: (int(count), int(rated), int(total or 0))
            for brand_id, count, rated, total in rated_rows
        }
    return {
        brand_id: WindowTotals(answered.get(brand_id, 0), *resolved.get(brand_id, (0, 0, 0)))
        for brand_id in wanted
    }


def middle_first_responses(
    session: Session, *, brand_id: str, since: datetime, until: datetime, answered: int
) -> list[float]:
    """The middle one (odd ``answered``) or two (even) first-response times of the window:
    the median without reading every case into the gateway."""
    if answered <= 0:
        return []
    rows = session.exec(
        select(Case.first_response_s)
        .where(
            col(Case.brand_id) == brand_id,
            col(Case.first_response_at) >= since,
            col(Case.first_response_at) <= until,
            col(Case.first_response_s).is_not(None),
        )
        .order_by(col(Case.first_response_s))
        .offset((answered - 1) // 2)
        .limit(2 - answered % 2)
    )
    return [float(value) for value in rows if value is not None]
