"""Followers, notices and canned replies of a brand."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, union, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from gateway.models import Brand, CannedReply, Conversation, Follow, Notice


def follow(session: Session, *, brand_id: str, account_id: str, now: datetime) -> None:
    if session.get(Follow, (brand_id, account_id)) is None:
        session.add(Follow(brand_id=brand_id, account_id=account_id, created_at=now))
        session.flush()


def unfollow(session: Session, *, brand_id: str, account_id: str) -> None:
    session.exec(
        delete(Follow).where(col(Follow.brand_id) == brand_id, col(Follow.account_id) == account_id)
    )


def followed_handles(session: Session, *, account_id: str) -> list[str]:
    """The handles of the brands the account follows, a to z."""
    rows = session.exec(
        select(Brand.handle)
        .join(Follow, col(Follow.brand_id) == col(Brand.id))
        .where(col(Follow.account_id) == account_id)
        .order_by(col(Brand.handle))
    )
    return list(rows)


def insert_notice(
    session: Session, *, notice_id: str, brand_id: str, author_id: str, title: str, text: str,
    owner: str, now: datetime,
) -> Notice:  # fmt: skip
    """A new notice, its fan-out owned by ``owner`` (the posting node) from the start."""
    notice = Notice(
        id=notice_id, brand_id=brand_id, author_id=author_id, title=title, text=text,
        created_at=now, fanout_owner=owner, fanout_at=now,
    )  # fmt: skip
    session.add(notice)
    session.flush()
    return notice


def latest_notices(session: Session, *, brand_id: str, limit: int) -> Sequence[Notice]:
    return session.exec(
        select(Notice)
        .where(col(Notice.brand_id) == brand_id)
        .order_by(col(Notice.created_at).desc(), col(Notice.id).desc())
        .limit(limit)
    ).all()


def recipients_after(session: Session, *, brand_id: str, after: str, limit: int) -> list[str]:
    """The next ``limit`` accounts, by id after ``after``, that hear the brand's notices:
    its followers and the consumers of its open conversations (each once)."""
    followers: Any = select(col(Follow.account_id).label("account_id")).where(
        col(Follow.brand_id) == brand_id, col(Follow.account_id) > after
    )
    consumers: Any = select(col(Conversation.consumer_id).label("account_id")).where(
        col(Conversation.brand_id) == brand_id,
        col(Conversation.status) == "open",
        col(Conversation.consumer_id) > after,
    )
    both = union(followers, consumers).subquery()
    rows = session.connection().execute(
        sa_select(both.c.account_id).order_by(both.c.account_id).limit(limit)
    )
    return [str(row[0]) for row in rows]


def canned_replies(session: Session, *, brand_id: str) -> Sequence[CannedReply]:
    return session.exec(
        select(CannedReply)
        .where(col(CannedReply.brand_id) == brand_id)
        .order_by(col(CannedReply.title), col(CannedReply.id))
    ).all()


def insert_canned(
    session: Session, *, canned_id: str, brand_id: str, title: str, text: str, now: datetime
) -> CannedReply:
    reply = CannedReply(id=canned_id, brand_id=brand_id, title=title, text=text, created_at=now)
    session.add(reply)
    session.flush()
    return reply


def delete_canned(session: Session, *, brand_id: str, canned_id: str) -> bool:
    result = session.exec(
        delete(CannedReply).where(
            col(CannedReply.brand_id) == brand_id, col(CannedReply.id) == canned_id
        )
    )
    return bool(result.rowcount)


def record_fanout(
    session: Session, *, notice_id: str, owner: str, after: str | None, now: datetime,
    done: bool,
) -> bool:  # fmt: skip
    """Note how far ``owner`` got; False if the fan-out was taken over (then stop)."""
    values: dict[str, Any] = {"fanout_after": after, "fanout_at": now}
    if done:
        values["fanned_out_at"] = now
    result = session.exec(
        update(Notice)
        .where(col(Notice.id) == notice_id, col(Notice.fanout_owner) == owner)
        .values(**values)
    )
    return bool(result.rowcount)


def claim_stalled(
    session: Session, *, owner: str, stalled_before: datetime, now: datetime,
    running: Collection[str], limit: int = 10,
) -> list[tuple[Notice, str]]:  # fmt: skip
    """Take over unfinished fan-outs that have not moved since ``stalled_before`` (their node
    died), except those ``running`` here; each with its brand's handle. A compare-and-set,
    so one node wins each."""
    stalled = session.exec(
        select(Notice, Brand.handle)
        .join(Brand, col(Brand.id) == col(Notice.brand_id))
        .where(
            col(Notice.fanned_out_at).is_(None),
            col(Notice.fanout_at) < stalled_before,
            col(Notice.id).not_in(list(running)),
        )
        .order_by(col(Notice.created_at))
        .limit(limit)
    ).all()
    claimed = []
    for notice, handle in stalled:
        result = session.exec(
            update(Notice)
            .where(col(Notice.id) == notice.id, col(Notice.fanout_at) == notice.fanout_at)
            .values(fanout_owner=owner, fanout_at=now)
        )
        if result.rowcount:
            claimed.append((notice, handle))
    return claimed
