"""Conversations, their messages, cases and read cursors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, func, or_, update
from sqlalchemy import case as when_then
from sqlalchemy import select as select_columns
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import instance_state
from sqlmodel import Session, col, select

from gateway import conversation_rules as rules
from gateway.ids import format_time
from gateway.models import Account, Brand, Case, Conversation, Message, ReadCursor
from gateway.schemas import (
    AccountRef,
    BrandRef,
    CaseRating,
    ConversationPublic,
    MessagePublic,
    Sender,
)
from gateway.stores import sends
from gateway.stores import service as service_store
from gateway.stores.sends import ConversationRow
from gateway.stores.sends import message_view as message_view


def conversation_by_id(
    session: Session, *, conversation_id: str, lock: bool = False
) -> Conversation | None:
    query = _CONVERSATION_LOCKED if lock else _CONVERSATION
    return session.exec(query, params={"id": conversation_id}).first()


def conversation_to_send_in(session: Session, *, conversation_id: str) -> ConversationRow | None:
    """The conversation, locked: as its send batch read it (``sends.prefetch``), if it did."""
    batch = sends.prefetched(session)
    if batch is not None and conversation_id in batch.conversations:
        return batch.conversations[conversation_id]
    return conversation_by_id(session, conversation_id=conversation_id, lock=True)


# A reconnecting socket's sync runs these for each of its conversations: built once, as
# building a statement cost about as much as running it.
_CONVERSATION = select(Conversation).where(col(Conversation.id) == bindparam("id"))
_CONVERSATION_LOCKED = _CONVERSATION.with_for_update()


def conversation_for_pair(
    session: Session, *, consumer_id: str, brand_id: str, lock: bool = False
) -> ConversationRow | None:
    batch = sends.prefetched(session)
    if lock and batch is not None:
        # Not read again if the batch holds it: two copies of one row, moved apart,
        # would give two messages the same seq.
        for held in batch.conversations.values():
            if held.consumer_id == consumer_id and held.brand_id == brand_id:
                return held
    query = select(Conversation).where(
        Conversation.consumer_id == consumer_id, Conversation.brand_id == brand_id
    )
    if lock:
        query = query.with_for_update()
    return (session.exec(query)).first()


def insert_conversation(
    session: Session, *, conversation_id: str, brand_id: str, consumer_id: str,
    now: datetime,
) -> Conversation:  # fmt: skip
    state = rules.NEW_THREAD
    conversation = Conversation(
        id=conversation_id, brand_id=brand_id, consumer_id=consumer_id,
        status=state.status, case_number=state.case_number, last_seq=0,
        created_at=now, last_message_at=now,
    )  # fmt: skip
    session.add(conversation)
    session.flush()
    case = Case(
        conversation_id=conversation_id, number=state.case_number, brand_id=brand_id,
        opened_at=now,
    )  # fmt: skip
    session.add(case)
    return conversation


def message_by_client_id(
    session: Session, *, sender_id: str, client_id: str
) -> MessagePublic | None:
    batch = sends.prefetched(session)
    if batch is not None and (sender_id, client_id) in batch.messages:
        return batch.messages[sender_id, client_id]
    found = session.exec(
        select(Message).where(Message.sender_id == sender_id, Message.client_id == client_id)
    ).first()
    return None if found is None else message_view(found)


_MOVED_COLUMNS = ("last_seq", "last_message_at", "status", "case_number")


@dataclass(frozen=True)
class Appended:
    message: MessagePublic
    conversation_changed: bool  # status or case moved


def append_message(
    session: Session, *, conversation: ConversationRow, message_id: str, sender_id: str,
    sender_role: rules.SenderRole, sender_name: str, client_id: str, text: str, now: datetime,
) -> Appended:  # fmt: skip
    """Give the message the next seq and apply the conversation rules to the (locked) row.

    The sender has read everything up to their own message, so their read cursor moves too.
    """
    before = rules.ThreadState(rules.Status(conversation.status), conversation.case_number)
    after = rules.after_message(before, sender_role)
    seq = conversation.last_seq + 1
    conversation_id = conversation.id
    status, case_number = after.status.value, after.case_number
    if isinstance(conversation, Conversation):
        # Set as committed (sends.add_message writes them with the batch's other
        # messages), in one step: four set_committed_value calls cost about 8 us a send
        # on the slow build, this 1.5. The values were just read through the ORM, so none
        # of them is expired.
        state = instance_state(conversation)
        state.dict.update(last_seq=seq, last_message_at=now, status=status, case_number=case_number)
        state._commit(state.dict, _MOVED_COLUMNS)  # what set_committed_value does, per key
    else:
        conversation.last_seq, conversation.last_message_at = seq, now
        conversation.status, conversation.case_number = status, case_number
    # What the wire shows, built once: sends.add_message writes the row from it, with no
    # ORM object (a SQLModel instance and its instrumented attributes cost more than the
    # rest of a message's bookkeeping).
    message = MessagePublic(
        conversation_id=conversation_id, seq=seq, id=message_id, client_id=client_id,
        sender=Sender(id=sender_id, role=sender_role.value, display_name=sender_name),
        text=text, created_at=format_time(now),
    )  # fmt: skip
    sends.add_message(session, message=message, created_at=now, conversation=conversation)
    if after.case_number != before.case_number:
        case = Case(
            conversation_id=conversation_id, number=after.case_number,
            brand_id=conversation.brand_id, opened_at=now,
        )  # fmt: skip
        sends.add_case(session, case)
    elif rules.is_first_response(sender_role):
        sends.answer_case(
            session, conversation_id, after.case_number, at=now, responder_id=sender_id
        )
    return Appended(message=message, conversation_changed=after != before)


# seq columns are 32-bit on PostgreSQL; a client may ask for anything after a larger seq,
# and there is nothing after the largest one a column can hold.
MAX_SEQ = 2**31 - 1


class ThreadPage(NamedTuple):
    brand_id: str
    consumer_id: str
    last_seq: int
    messages: list[MessagePublic]  # after the seq asked for, oldest first


def thread_page(
    session: Session, *, conversation_id: str, after_seq: int, limit: int
) -> ThreadPage | None:
    """Who takes part in a conversation, its last seq and a page of its messages, in one
    statement (None: no such conversation; ``limit`` is at least 1, as a page of none
    could not tell)."""
    params = {"id": conversation_id, "after_seq": min(after_seq, MAX_SEQ), "limit": limit}
    rows = session.connection().execute(_THREAD_PAGE, params).all()
    if not rows:
        return None
    brand_id, consumer_id, last_seq = rows[0][:3]
    # A conversation with nothing after after_seq is one row, its message columns NULL.
    messages = [message_view(row) for row in rows if row.seq is not None]
    return ThreadPage(brand_id, consumer_id, last_seq, messages)


# Every reconnecting socket's sync runs this for each of its conversations: columns
# through Core, where the Conversation and Message objects the ORM loaded, in two
# statements, cost several times as much (bench/RESULTS.md, History, eighth pass). Built
# once, as building a statement cost about as much as running it.
_THREAD_PAGE = (
    select_columns(
        col(Conversation.brand_id),
        col(Conversation.consumer_id),
        col(Conversation.last_seq),
        *Message.__table__.columns,  # type: ignore[attr-defined]
    )
    .select_from(Conversation)
    .outerjoin(
        Message,
        and_(
            col(Message.conversation_id) == col(Conversation.id),
            col(Message.seq) > bindparam("after_seq"),
        ),
    )
    .where(col(Conversation.id) == bindparam("id"))
    .order_by(col(Message.seq))
    .limit(bindparam("limit"))
)


def last_seq_before(session: Session, *, conversation_id: str, moment: datetime) -> int:
    result = session.exec(
        select(func.max(Message.seq)).where(
            Message.conversation_id == conversation_id, col(Message.created_at) < moment
        )
    ).one()
    return int(result or 0)


def active_since(session: Session, *, moment: datetime) -> Sequence[Conversation]:
    return session.exec(
        select(Conversation).where(col(Conversation.last_message_at) >= moment)
    ).all()


def move_read_cursor(session: Session, *, conversation_id: str, account_id: str, seq: int) -> bool:
    """Move the cursor forward to ``seq``; never backwards. Returns whether it moved."""
    result = session.connection().execute(
        sends.read_cursor_upsert(session.get_bind().dialect.name, returning=True),
        {"conversation_id": conversation_id, "account_id": account_id, "seq": seq},
    )
    return result.first() is not None


def read_cursors(session: Session, *, conversation_id: str) -> dict[str, int]:
    rows = session.exec(
        select(ReadCursor.account_id, ReadCursor.seq).where(
            ReadCursor.conversation_id == conversation_id
        )
    )
    return dict(rows.all())


def resolve(
    session: Session, *, conversation: Conversation, agent_estimate: int | None,
    resolver_id: str, now: datetime,
) -> bool:  # fmt: skip
    """Resolve the current case; returns whether anything changed."""
    before = rules.ThreadState(rules.Status(conversation.status), conversation.case_number)
    after = rules.after_resolve(before)
    if after == before:
        return False
    conversation.status = after.status
    session.add(conversation)
    session.exec(
        update(Case)
        .where(
            col(Case.conversation_id) == conversation.id,
            col(Case.number) == conversation.case_number,
        )
        .values(resolved_at=now, agent_estimate=agent_estimate, resolver_id=resolver_id)
    )
    session.flush()
    return True


def set_assignee(
    session: Session, *, conversation: ConversationRow, assignee_id: str | None
) -> bool:
    if conversation.assignee_id == assignee_id:
        return False
    conversation.assignee_id = assignee_id
    if isinstance(conversation, Conversation):
        session.add(conversation)
        session.flush()
    else:
        session.exec(
            update(Conversation)
            .where(col(Conversation.id) == conversation.id)
            .values(assignee_id=assignee_id)
        )
    return True


# --- views: rows shaped as the wire objects ------------------------------------------

_Assignee = aliased(Account)
_Consumer = aliased(Account)
_Rated = aliased(Case)  # the conversation's latest resolved case, if any


def _view_query(viewer_id: str | None) -> Any:
    """Conversations with what their wire view needs. ``viewer_id`` is whose read cursor
    gives ``unread``; None: each conversation's consumer's."""
    reader: Any = col(Conversation.consumer_id) if viewer_id is None else viewer_id
    # Cases close in order: every case before the current one is resolved.
    latest_resolved = when_then(
        (col(Conversation.status) == rules.Status.RESOLVED.value, col(Conversation.case_number)),
        else_=col(Conversation.case_number) - 1,
    )
    return (
        select(Conversation, Brand, _Consumer, _Assignee)
        .add_columns(_Rated, col(ReadCursor.seq))
        .join(Brand, col(Brand.id) == col(Conversation.brand_id))
        .join(_Consumer, col(_Consumer.id) == col(Conversation.consumer_id))
        .outerjoin(_Assignee, col(_Assignee.id) == col(Conversation.assignee_id))
        .outerjoin(
            _Rated,
            and_(
                col(_Rated.conversation_id) == col(Conversation.id),
                col(_Rated.number) == latest_resolved,
            ),
        )
        .outerjoin(
            ReadCursor,
            and_(
                col(ReadCursor.conversation_id) == col(Conversation.id),
                col(ReadCursor.account_id) == reader,
            ),
        )
    )


def conversation_view(
    conversation: Conversation, brand: Brand, consumer: Account, assignee: Account | None,
    rated: Case | None, read_seq: int | None, queue_position: int | None = None,
) -> ConversationPublic:  # fmt: skip
    return ConversationPublic(
        id=conversation.id,
        brand=BrandRef(handle=brand.handle, name=brand.name, verified=brand.verified),
        consumer=AccountRef(id=consumer.id, display_name=consumer.display_name),
        status=rules.Status(conversation.status).value,
        case=conversation.case_number,
        assignee=None
        if assignee is None
        else AccountRef(id=assignee.id, display_name=assignee.display_name),
        last_seq=conversation.last_seq,
        last_message_at=format_time(conversation.last_message_at),
        unread=max(0, conversation.last_seq - (read_seq or 0)),
        queue_position=queue_position,
        rating=None if rated is None else CaseRating(case=rated.number, score=rated.score),
    )


def _views(session: Session, rows: Sequence[Any]) -> list[ConversationPublic]:
    """Rows of ``_view_query`` as wire views, with the queue positions of those that may be
    queued looked up in one query for all their brands."""
    waiting = [
        row[0] for row in rows
        if row[0].status == rules.Status.OPEN.value and row[0].assignee_id is None
        and row[1].auto_assign
    ]  # fmt: skip
    positions = service_store.queue_positions(
        session,
        brand_ids={conversation.brand_id for conversation in waiting},
        conversation_ids=[conversation.id for conversation in waiting],
    )
    return [
        conversation_view(
            conversation,
            brand,
            consumer,
            assignee,
            rated,
            read_seq,
            queue_position=positions.get(conversation.id),
        )  # fmt: skip
        for conversation, brand, consumer, assignee, rated, read_seq in rows
    ]


def view_one(
    session: Session, *, conversation_id: str, viewer_id: str
) -> ConversationPublic | None:
    views = view_many(session, conversation_ids=[conversation_id], viewer_id=viewer_id)
    return views[0] if views else None


def view_many(
    session: Session, *, conversation_ids: Sequence[str], viewer_id: str | None
) -> list[ConversationPublic]:
    """The conversations' views (``viewer_id`` None: as their consumers see them), in no
    particular order."""
    if not conversation_ids:
        return []
    query = _view_query(viewer_id).where(col(Conversation.id).in_(sorted(set(conversation_ids))))
    return _views(session, session.exec(query).all())


def read_cursors_of(
    session: Session, *, conversation_ids: Sequence[str]
) -> dict[str, dict[str, int]]:
    """Conversation id -> account id -> read seq, for several conversations at once."""
    found: dict[str, dict[str, int]] = {conversation_id: {} for conversation_id in conversation_ids}
    if not conversation_ids:
        return found
    rows = session.exec(
        select(ReadCursor.conversation_id, ReadCursor.account_id, ReadCursor.seq).where(
            col(ReadCursor.conversation_id).in_(sorted(set(conversation_ids)))
        )
    )
    for conversation_id, account_id, seq in rows:
        found.setdefault(conversation_id, {})[account_id] = seq
    return found


def view_list(
    session: Session, *, viewer_id: str, brand_ids: Sequence[str], status: str | None,
    before: tuple[datetime, str] | None, limit: int,
) -> list[ConversationPublic]:  # fmt: skip
    """The viewer's own threads and their brands' threads, newest activity first."""
    visible = col(Conversation.consumer_id) == viewer_id
    if brand_ids:
        visible = or_(visible, col(Conversation.brand_id).in_(brand_ids))
    query = _view_query(viewer_id).where(visible)
    if status is not None:
        query = query.where(col(Conversation.status) == status)
    if before is not None:
        moment, conversation_id = before
        query = query.where(
            or_(
                col(Conversation.last_message_at) < moment,
                and_(
                    col(Conversation.last_message_at) == moment,
                    col(Conversation.id) < conversation_id,
                ),
            )
        )
    query = query.order_by(col(Conversation.last_message_at).desc(), col(Conversation.id).desc())
    return _views(session, session.exec(query.limit(limit)).all())
