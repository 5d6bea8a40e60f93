"""What the messages of one transaction share: reads made once for a group commit's sends,
and the rows every message writes, written once for all of them.

A message writes three rows: its own, its conversation's new seq and state, and its
sender's read cursor. Flushed one message at a time through the ORM, that was most of a
send's cost. Here they wait in the session's ``SendBatch`` and go in one statement per
table (``executemany``; on PostgreSQL one JSON document of rows) just before the session's
next statement of any kind, or its commit: nothing in the transaction, ORM or Core, can
read the tables without them.

One batch per session, and a session here is one transaction (``Database.write``). A
statement that fails while writing them fails that transaction: whoever catches a
database error inside a transaction must not carry on and commit it.
"""

from __future__ import annotations

import functools
import operator
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, NamedTuple, Protocol

import msgspec
from sqlalchemy import (
    Connection,
    Dialect,
    Engine,
    and_,
    bindparam,
    event,
    insert,
    or_,
    text,
    update,
)
from sqlalchemy import select as select_columns
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from gateway.conversation_rules import SenderRole
from gateway.ids import as_utc, format_time, utc_now
from gateway.models import Brand, Case, Conversation, Message, ReadCursor
from gateway.remember import remember_last
from gateway.schemas import MessagePublic, Sender

_KEY = "atdesk.send_batch"


class BrandRules(NamedTuple):
    """What a send decides on its brand's row."""

    auto_assign: bool
    hours: str | None


@dataclass(slots=True)
class LockedConversation:
    """A conversation row as a batch of sends reads and moves it: its columns, not an ORM
    object (which cost 10-15 us a row to load, a quarter of the database thread's time at
    the maximum rate, and more again to track until the session closes). Its moves are
    written by ``_write``, as those of an ORM object are."""

    id: str
    brand_id: str
    consumer_id: str
    status: str
    case_number: int
    assignee_id: str | None
    last_seq: int
    last_message_at: datetime


# What a send moves: a row its batch read (above), or an ORM object (a conversation the
# send opened, or read outside a batch).
ConversationRow = Conversation | LockedConversation


class CaseState(NamedTuple):
    """What a send reads of its conversation's current case."""

    opened_at: datetime
    first_response_at: datetime | None
    auto_replied: bool


@dataclass
class SendBatch:
    # Reads (``prefetch``): (sender id, client id) -> its message, for every pair asked for
    # (None: none yet), and the batch's own; the conversations locked for the transaction.
    messages: dict[tuple[str, str], MessagePublic | None] = field(default_factory=dict)
    conversations: dict[str, LockedConversation] = field(default_factory=dict)
    # What the batch's units read of their brands and current cases, by brand id and by
    # (conversation id, number): read as columns with the conversations, not as ORM
    # objects (which cost three times as much to load). A case opened in the
    # transaction is its ORM object, not yet written.
    brands: dict[str, BrandRules] = field(default_factory=dict)
    cases: dict[tuple[str, int], CaseState | Case] = field(default_factory=dict)
    # Writes waiting for the session's next statement or its commit.
    new_messages: list[dict[str, Any]] = field(default_factory=list)
    moved: dict[str, ConversationRow] = field(default_factory=dict)
    cursors: dict[tuple[str, str], int] = field(default_factory=dict)  # the highest seq
    first_responses: list[dict[str, Any]] = field(default_factory=list)
    now: datetime | None = None  # ``moment``


def prefetch(
    session: Session, *, client_ids: Sequence[tuple[str, str]], conversation_ids: Sequence[str]
) -> None:
    """Read what a batch of sends needs in two queries instead of several per send: the
    messages already made with these (sender id, client id) pairs, and the conversations
    (locked, in id order) with what sends read of their brands and current cases."""
    batch = of(session)
    pairs = list(dict.fromkeys(client_ids))
    batch.messages.update(dict.fromkeys(pairs))
    if pairs:
        # Asked in a statement for a power of two of pairs, the last one repeated to fill
        # it: each count of pairs is a statement of its own, compiled the first time it is
        # seen (3 to 9 ms here for 16 to 128), and batches come in every size. A batch of
        # 100 (GroupCommit's max_batch) asks for 128: far below SQLite's depth limit for
        # an expression (1,000 ORs) and PostgreSQL's for parameters (65,535).
        slots = 1 << (len(pairs) - 1).bit_length()
        params = {}
        for n, (sender_id, client_id) in enumerate(pairs + pairs[-1:] * (slots - len(pairs))):
            params[f"sender_id_{n}"], params[f"client_id_{n}"] = sender_id, client_id
        # Almost always none: only ids are asked for (an ORM query costs twice a Core one
        # here), and the messages themselves only when one is a resend.
        connection, statement = session.connection(), _message_ids_by_client_id(slots)
        if connection.dialect.name == "sqlite":  # as the batch's writes, see _execute_many
            # exec_driver_sql skips the before_execute hook that writes what the batch
            # holds, so that is written first, as any other statement would have it.
            _write(connection, batch)
            sql, values = _compiled_for_sqlite(statement, connection.dialect)
            found = connection.exec_driver_sql(sql, values(params))
        else:
            found = connection.execute(statement, params)
        ids = found.scalars().all()
        if ids:
            for message in session.exec(select(Message).where(col(Message.id).in_(ids))):
                batch.messages[message.sender_id, message.client_id] = message_view(message)
    if conversation_ids:
        locked = {"ids": sorted(set(conversation_ids))}
        # Through Core, not the ORM's session.exec: the rows are columns either way, and
        # the ORM's handling of a statement cost more than SQLite's (one query a batch).
        rows = session.connection().execute(_CONVERSATIONS_LOCKED, locked)
        for row in rows:
            conversation = LockedConversation(*row[:_CONVERSATION_COLUMNS])
            auto_assign, hours, opened_at, first_response_at, auto_replied = row[
                _CONVERSATION_COLUMNS:
            ]
            batch.conversations[conversation.id] = conversation
            batch.brands[conversation.brand_id] = BrandRules(auto_assign, hours)
            if opened_at is not None:  # the case exists (opened_at is never NULL)
                key = (conversation.id, conversation.case_number)
                batch.cases[key] = CaseState(opened_at, first_response_at, auto_replied)


# Locked in id order, so that two batches (on two nodes) never wait for each other in a
# circle; on PostgreSQL the brands and cases are read, not locked. Built once.
_CONVERSATIONS_LOCKED = (
    select_columns(  # SQLAlchemy's: SQLModel's select is typed for up to four
        *[col(getattr(Conversation, field.name)) for field in fields(LockedConversation)],
        col(Brand.auto_assign),
        col(Brand.hours),
        col(Case.opened_at),
        col(Case.first_response_at),
        col(Case.auto_replied),
    )
    .join(Brand, col(Brand.id) == col(Conversation.brand_id))
    .outerjoin(
        Case,
        and_(
            col(Case.conversation_id) == col(Conversation.id),
            col(Case.number) == col(Conversation.case_number),
        ),
    )
    .where(col(Conversation.id).in_(bindparam("ids", expanding=True)))
    .order_by(col(Conversation.id))
    .with_for_update(of=Conversation)
)
_CONVERSATION_COLUMNS = len(fields(LockedConversation))


@functools.lru_cache(maxsize=16)  # powers of two: a few counts
def _message_ids_by_client_id(count: int) -> Any:
    """The ids of messages by ``count`` (sender id, client id) pairs, as (a AND b) OR ...:
    an index probe per pair. ``sender_id IN (...) AND client_id IN (...)`` probes every
    sender with every client id (10,000 probes for a batch of 100), and SQLite scans the
    whole table for a row-value ``IN (VALUES ...)``. Built once per count."""
    return select(col(Message.id)).where(
        or_(
            *[
                and_(
                    col(Message.sender_id) == bindparam(f"sender_id_{n}"),
                    col(Message.client_id) == bindparam(f"client_id_{n}"),
                )
                for n in range(count)
            ]
        )
    )


def brand_rules(session: Session, brand_id: str) -> BrandRules | None:
    batch = prefetched(session)
    rules = None if batch is None else batch.brands.get(brand_id)
    if rules is None:
        brand = session.get(Brand, brand_id)
        rules = None if brand is None else BrandRules(brand.auto_assign, brand.hours)
    return rules


def add_case(session: Session, case: Case) -> None:
    """A case a message opened: the batch's next messages find it (not yet flushed)."""
    session.add(case)
    of(session).cases[case.conversation_id, case.number] = case


def case_state(session: Session, conversation_id: str, number: int) -> CaseState | Case | None:
    batch = prefetched(session)
    case = None if batch is None else batch.cases.get((conversation_id, number))
    return case if case is not None else session.get(Case, (conversation_id, number))


def answer_case(
    session: Session, conversation_id: str, number: int, *, at: datetime, responder_id: str
) -> None:
    """The case's first human answer, unless it had one (the conversation row is locked;
    on PostgreSQL the statement that read the case may predate another node's answer,
    which the UPDATE's condition keeps)."""
    case = case_state(session, conversation_id, number)
    if case is None or case.first_response_at is not None:
        return
    after_s = (at - as_utc(case.opened_at)).total_seconds()
    if isinstance(case, Case):  # opened in this transaction, or read without a batch
        case.first_response_at, case.first_response_s = at, after_s
        case.first_responder_id = responder_id
        session.add(case)
        return
    batch = of(session)
    batch.first_responses.append(
        {
            "b_conversation_id": conversation_id,
            "b_number": number,
            "b_at": at,
            "b_after_s": after_s,
            "b_responder_id": responder_id,
        }
    )
    batch.cases[conversation_id, number] = case._replace(first_response_at=at)


def moment(session: Session) -> datetime:
    """Now, for every message of the transaction: they commit together. Read and
    formatted a message at a time, the clock, its text for the wire and its text for
    SQLite cost about 15 us a send on the slowest build (of about 420)."""
    batch = of(session)
    if batch.now is None:
        batch.now = utc_now()
    return batch.now


def prefetched(session: Session) -> SendBatch | None:
    """The session's batch, if anything was read or written through one."""
    batch: SendBatch | None = session.info.get(_KEY)
    return batch


def of(session: Session) -> SendBatch:
    """The session's batch, made on first use and written before its connection's next
    statement (``_write_before_statement``) or its commit (``_write_before_commit``)."""
    batch = prefetched(session)
    if batch is None:
        batch = session.info[_KEY] = SendBatch()
        _WAITING[session.connection()] = batch
    return batch


# Connection -> the batch waiting to be written on it. Weak: the entry goes with the
# connection (one per transaction), and neither it nor the batch holds the session, so a
# batch's hundred messages go when its transaction does, not with the cyclic garbage
# collector (pauses of 20-40 ms under load). The two hooks below are set once, for every
# engine and session: set on each transaction's connection and session, they were about
# 6% of a one-message transaction's instructions (callgrind), a fixed cost that the
# small batches of a moderate load pay most.
_WAITING: weakref.WeakKeyDictionary[Connection, SendBatch] = weakref.WeakKeyDictionary()


@event.listens_for(Engine, "before_execute")
def _write_before_statement(connection: Connection, *_: Any) -> None:
    batch = _WAITING.get(connection)
    if batch is not None:
        _write(connection, batch)


@event.listens_for(Session, "before_commit")
def _write_before_commit(committing: Session) -> None:
    batch = prefetched(committing)
    if batch is not None:
        _write(committing.connection(), batch)


def add_message(
    session: Session, *, message: MessagePublic, created_at: datetime,
    conversation: ConversationRow,
) -> None:  # fmt: skip
    """Queue the message's row, its conversation's new state (already set on the object,
    as committed: the ORM must not write it again) and its sender's read cursor."""
    batch = of(session)
    sender = message.sender
    batch.new_messages.append(
        {
            "id": message.id,
            "conversation_id": message.conversation_id,
            "seq": message.seq,
            "sender_id": sender.id,
            "sender_role": sender.role,
            "sender_name": sender.display_name,
            "client_id": message.client_id,
            "text": message.text,
            "created_at": created_at,
        }
    )
    batch.messages[sender.id, message.client_id] = message
    batch.moved[conversation.id] = conversation
    key = (conversation.id, sender.id)
    batch.cursors[key] = max(batch.cursors.get(key, 0), message.seq)


class StoredMessage(Protocol):
    """A message's columns: a ``Message``, or a row of them read through Core."""

    conversation_id: str
    seq: int
    id: str
    client_id: str
    sender_id: str
    sender_role: str
    sender_name: str
    text: str
    created_at: datetime


def message_view(message: StoredMessage) -> MessagePublic:
    """A stored message as the wire shows it."""
    return MessagePublic(
        conversation_id=message.conversation_id,
        seq=message.seq,
        id=message.id,
        client_id=message.client_id,
        sender=Sender(
            id=message.sender_id,
            role=SenderRole(message.sender_role).value,
            display_name=message.sender_name,
        ),
        text=message.text,
        created_at=format_time(message.created_at),
    )


def _write(connection: Connection, batch: SendBatch) -> None:
    if not batch.new_messages and not batch.first_responses:
        return
    # Taken first: the statements below call this again (before_execute), with nothing left.
    rows, batch.new_messages = batch.new_messages, []
    moved, batch.moved = batch.moved, {}
    cursors, batch.cursors = batch.cursors, {}
    answered, batch.first_responses = batch.first_responses, []
    postgresql = connection.dialect.name == "postgresql"
    _move_conversations(connection, list(moved.values()), postgresql=postgresql)
    _insert_messages(connection, rows, postgresql=postgresql)
    _move_read_cursors(connection, cursors, postgresql=postgresql)
    _execute_many(connection, _ANSWER_CASE, answered)


# On PostgreSQL each of the three goes as one statement of a fixed text, its rows one JSON
# document (json_to_recordset), encoded in C: psycopg's executemany handles each row in
# Python and PostgreSQL plans each, SQLAlchemy's multi-row INSERT binds every value in
# Python, its text too long for psycopg's cache (the three were about 20% of a PostgreSQL
# node's samples at its maximum), and arrays (unnest) psycopg dumps in Python, value by
# value (about 10% of a node's samples in the two nodes' spread).


def _move_conversations(
    connection: Connection,
    moved: Sequence[Conversation | LockedConversation],
    *,
    postgresql: bool,
) -> None:
    if not moved:
        return
    if postgresql:
        rows = [
            {
                "id": conversation.id,
                "last_seq": conversation.last_seq,
                "last_message_at": conversation.last_message_at,
                "status": conversation.status,
                "case_number": conversation.case_number,
            }
            for conversation in moved
        ]
        connection.execute(_MOVE_CONVERSATIONS_POSTGRESQL, {"rows": _as_json(rows)})
        return
    _execute_many(
        connection,
        _MOVE_CONVERSATION,
        [
            {
                "b_id": conversation.id,
                "b_last_seq": conversation.last_seq,
                "b_last_message_at": conversation.last_message_at,
                "b_status": conversation.status,
                "b_case_number": conversation.case_number,
            }
            for conversation in moved
        ],
    )


def _insert_messages(
    connection: Connection, rows: list[dict[str, Any]], *, postgresql: bool
) -> None:
    if rows and postgresql:
        connection.execute(_INSERT_MESSAGES_POSTGRESQL, {"rows": _as_json(rows)})
        return
    _execute_many(connection, _INSERT_MESSAGE, rows)


def _move_read_cursors(
    connection: Connection, cursors: dict[tuple[str, str], int], *, postgresql: bool
) -> None:
    rows = [
        {"conversation_id": conversation_id, "account_id": account_id, "seq": seq}
        for (conversation_id, account_id), seq in cursors.items()
    ]
    if rows and postgresql:
        connection.execute(_MOVE_READ_CURSORS_POSTGRESQL, {"rows": _as_json(rows)})
        return
    _execute_many(connection, read_cursor_upsert(connection.dialect.name, returning=False), rows)


def _as_json(rows: list[dict[str, Any]]) -> str:
    return _JSON.encode(rows).decode()


_JSON = msgspec.json.Encoder()


def _execute_many(connection: Connection, statement: Any, rows: list[dict[str, Any]]) -> None:
    """``statement`` once per row (no rows: not at all). On SQLite the rows go to the
    driver as tuples, for a statement compiled once: SQLAlchemy's handling of each row's
    parameters, and of each statement, cost more than SQLite's own work (about 4 us a row
    and 40 us a statement on the benchmark machine: a fifth of what a batch's writes
    cost). Elsewhere SQLAlchemy's own executemany: on PostgreSQL only the batch's first
    answers, its other statements going as arrays."""
    if not rows:
        return
    if connection.dialect.name != "sqlite":
        connection.execute(statement, rows)
        return
    sql, row_values = _compiled_for_sqlite(statement, connection.dialect)
    connection.exec_driver_sql(sql, [row_values(row) for row in rows])


@functools.lru_cache(maxsize=32)  # bounded: a test suite makes an engine per database
def _compiled_for_sqlite(
    statement: Any, dialect: Dialect
) -> tuple[str, Callable[[dict[str, Any]], tuple[Any, ...]]]:
    """The SQL of ``statement`` and a function giving a row's values in the order of its
    ``?``, each as SQLAlchemy would hand it to SQLite (which keeps datetimes as text, in
    SQLAlchemy's format). The values are picked in C (``itemgetter``); only those that
    need converting are touched in Python (a row at a time in a generator cost about 5 us
    a send on the slow build)."""
    compiled = statement.compile(dialect=dialect)
    names = list(compiled.positiontup)
    pick = operator.itemgetter(*names)
    converters = [
        (index, _faster_equivalent(converter))
        for index, name in enumerate(names)
        if (converter := compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
    ]
    assert len(names) > 1, "itemgetter of one name gives a value, not a tuple"
    if not converters:
        return compiled.string, pick

    def row_values(row: dict[str, Any]) -> tuple[Any, ...]:
        values = list(pick(row))
        for index, converter in converters:
            values[index] = converter(values[index])
        return tuple(values)  # what SQLAlchemy takes for positional parameters

    return compiled.string, row_values


@remember_last  # a batch's rows share one moment (``moment``)
def _datetime_text(moment: datetime | None) -> str | None:
    # SQLAlchemy's text for a datetime on SQLite ("2026-12-01 09:30:00.250000", the wall
    # time whatever the zone) through isoformat, in C: its own formats a dict of seven
    # fields (about 3 us; a send stores two datetimes).
    return None if moment is None else moment.isoformat(" ", "microseconds")[:26]


_DATETIME_PROBES = (
    datetime(2026, 12, 1, 9, 30),
    datetime(999, 1, 2, 3, 4, 5, 6),
    datetime(2026, 12, 1, 9, 30, 0, 250_000, tzinfo=UTC),
    datetime(2026, 3, 29, 2, 30, 59, 999_999, tzinfo=timezone(timedelta(hours=-7))),
)


def _faster_equivalent(converter: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``_datetime_text`` where it gives what ``converter`` gives for datetimes, else
    ``converter``: checked on probes, not assumed from the type."""
    try:
        same = all(converter(probe) == _datetime_text(probe) for probe in _DATETIME_PROBES)
    except (TypeError, ValueError, AttributeError):
        same = False  # not a datetime's converter
    return _datetime_text if same else converter


_MOVE_CONVERSATION = (
    update(Conversation)
    .where(col(Conversation.id) == bindparam("b_id"))
    .values(
        last_seq=bindparam("b_last_seq"),
        last_message_at=bindparam("b_last_message_at"),
        status=bindparam("b_status"),
        case_number=bindparam("b_case_number"),
    )
)
_MOVE_CONVERSATIONS_POSTGRESQL = text(
    """
    UPDATE conversations
    SET last_seq = moved.last_seq, last_message_at = moved.last_message_at,
        status = moved.status, case_number = moved.case_number
    FROM json_to_recordset(CAST(:rows AS json)) AS moved(
        id varchar, last_seq integer, last_message_at timestamptz, status varchar,
        case_number integer
    )
    WHERE conversations.id = moved.id
    """
)
_INSERT_MESSAGE = insert(Message)
_INSERT_MESSAGES_POSTGRESQL = text(
    """
    INSERT INTO messages (
        id, conversation_id, seq, sender_id, sender_role, sender_name, client_id, text,
        created_at
    )
    SELECT * FROM json_to_recordset(CAST(:rows AS json)) AS added(
        id varchar, conversation_id varchar, seq integer, sender_id varchar,
        sender_role varchar, sender_name varchar, client_id varchar, text varchar,
        created_at timestamptz
    )
    """
)
# The batch's cursors are distinct (conversation, account) pairs: ON CONFLICT may not meet
# one row twice in a statement.
_MOVE_READ_CURSORS_POSTGRESQL = text(
    """
    INSERT INTO read_cursors (conversation_id, account_id, seq)
    SELECT * FROM json_to_recordset(CAST(:rows AS json)) AS moved(
        conversation_id varchar, account_id varchar, seq integer
    )
    ON CONFLICT (conversation_id, account_id) DO UPDATE SET seq = excluded.seq
    WHERE read_cursors.seq < excluded.seq
    """
)
_ANSWER_CASE = (
    update(Case)
    .where(
        col(Case.conversation_id) == bindparam("b_conversation_id"),
        col(Case.number) == bindparam("b_number"),
        # The first writer wins: on PostgreSQL a batch that waited for another node's lock
        # on the conversation reads the case as it was when its statement began.
        col(Case.first_response_at).is_(None),
    )
    .values(
        first_response_at=bindparam("b_at"),
        first_response_s=bindparam("b_after_s"),
        first_responder_id=bindparam("b_responder_id"),
    )
)


@functools.cache
def read_cursor_upsert(dialect: str, *, returning: bool) -> Any:
    """Move a read cursor forward, never back (RETURNING: a row only if it moved).

    Built once: constructing an ON CONFLICT statement costs more than running it."""
    insert_into: Any = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert_into(ReadCursor).values(
        conversation_id=bindparam("conversation_id"),
        account_id=bindparam("account_id"),
        seq=bindparam("seq"),
    )
    statement = statement.on_conflict_do_update(
        index_elements=["conversation_id", "account_id"],
        set_={"seq": statement.excluded.seq},
        where=col(ReadCursor.seq) < statement.excluded.seq,
    )
    # RETURNING yields a row only if the cursor was written: rowcount is not reliable here.
    return statement.returning(col(ReadCursor.seq)) if returning else statement
