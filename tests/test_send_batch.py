"""The rows a transaction's messages write wait in its SendBatch (gateway.stores.sends) and
go in one statement per table; nothing in the transaction may read around them. On a real
SQLite file, no server."""

from __future__ import annotations

import asyncio
import functools
import gc
import time
import weakref
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import DateTime, Float, event, inspect, text
from sqlalchemy.dialects import sqlite
from sqlmodel import Session, col, select

from gateway.conversation_rules import SenderRole
from gateway.database import Database, Transaction, migrate
from gateway.ids import as_utc, new_id, utc_now
from gateway.models import Case, Message, ReadCursor
from gateway.schemas import MessagePublic
from gateway.settings import Settings
from gateway.stores import accounts as account_store
from gateway.stores import brands as brand_store
from gateway.stores import conversations as store
from gateway.stores import sends
from gateway.stores import service as service_store
from tests.gateway_process import throwaway_postgres_database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite:///{tmp_path / 'sends.db'}"
    migrate(url)
    database = Database(Settings(database_url=url))
    yield database
    await database.close()


async def a_conversation(db: Database) -> str:
    def make(tx: Transaction) -> str:
        now = utc_now()
        for account_id in ("a_lea", "a_agent", "a_other"):
            account_store.insert_account(
                tx.session, account_id=account_id, email=f"{account_id}@example.com",
                display_name=account_id, password_hash="!", now=now,
            )  # fmt: skip
        brand_store.insert_brand(
            tx.session, brand_id="b_acme", handle="acme", name="ACME", description="",
            owner_id="a_agent", now=now,
        )  # fmt: skip
        conversation = store.insert_conversation(
            tx.session, conversation_id="c_1", brand_id="b_acme", consumer_id="a_lea", now=now
        )
        return conversation.id

    return await db.write(make)


def append(session: Session, conversation_id: str, sender_id: str, client_id: str) -> MessagePublic:
    conversation = store.conversation_to_send_in(session, conversation_id=conversation_id)
    assert conversation is not None
    role = SenderRole.CONSUMER if sender_id == conversation.consumer_id else SenderRole.AGENT
    return store.append_message(
        session, conversation=conversation, message_id=new_id("m"), sender_id=sender_id,
        sender_role=role, sender_name=sender_id, client_id=client_id, text=client_id,
        now=utc_now(),
    ).message  # fmt: skip


async def test_reads_in_the_transaction_see_the_waiting_rows(db: Database) -> None:
    conversation_id = await a_conversation(db)

    def send_then_read(tx: Transaction) -> tuple[list[int], list[tuple[str, int]]]:
        for sender_id, client_id in (("a_lea", "k1"), ("a_lea", "k2"), ("a_agent", "k3")):
            append(tx.session, conversation_id, sender_id, client_id)
        seqs = list(
            tx.session.exec(
                select(Message.seq)
                .where(Message.conversation_id == conversation_id)
                .order_by(col(Message.seq))
            )
        )  # through the ORM
        cursors = tx.session.connection().execute(  # and straight on the connection
            text("SELECT account_id, seq FROM read_cursors ORDER BY account_id")
        )
        return seqs, [(row[0], row[1]) for row in cursors]

    seqs, cursors = await db.write(send_then_read)
    assert seqs == [1, 2, 3]
    assert cursors == [("a_agent", 3), ("a_lea", 2)]

    def read(session: Session) -> tuple[int, str, dict[str, int]]:
        conversation = store.conversation_by_id(session, conversation_id=conversation_id)
        assert conversation is not None
        cursors = store.read_cursors(session, conversation_id=conversation_id)
        return conversation.last_seq, conversation.status, cursors

    assert await db.read(read) == (3, "open", {"a_agent": 3, "a_lea": 2})


async def test_a_transaction_that_fails_writes_none_of_them(db: Database) -> None:
    conversation_id = await a_conversation(db)

    def send_then_fail(tx: Transaction) -> None:
        append(tx.session, conversation_id, "a_lea", "k1")
        raise RuntimeError("after the append, before the commit")

    with pytest.raises(RuntimeError):
        await db.write(send_then_fail)

    def read(session: Session) -> tuple[int, list[MessagePublic]]:
        page = store.thread_page(session, conversation_id=conversation_id, after_seq=0, limit=10)
        assert page is not None
        return page.last_seq, page.messages

    assert await db.read(read) == (0, [])


async def test_a_batch_finds_client_ids_made_before_it_and_within_it(db: Database) -> None:
    conversation_id = await a_conversation(db)
    first = await db.write(lambda tx: append(tx.session, conversation_id, "a_lea", "k1"))

    def batch(tx: Transaction) -> list[str | None]:
        sends.prefetch(
            tx.session,
            client_ids=[("a_lea", "k1"), ("a_lea", "k2"), ("a_agent", "k1")],
            conversation_ids=[conversation_id, "c_unknown"],
        )
        found = [
            store.message_by_client_id(tx.session, sender_id=sender_id, client_id=client_id)
            for sender_id, client_id in (("a_lea", "k1"), ("a_lea", "k2"), ("a_agent", "k1"))
        ]
        second = append(tx.session, conversation_id, "a_lea", "k2")
        again = store.message_by_client_id(tx.session, sender_id="a_lea", client_id="k2")
        assert again is second
        return [None if m is None else m.id for m in found]

    assert await db.write(batch) == [first.id, None, None]


async def test_batches_of_every_size_ask_for_client_ids_through_a_few_statements(
    db: Database,
) -> None:
    # A statement is compiled the first time it is seen (milliseconds): batch sizes vary
    # with the load, the statements they run must not.
    conversation_id = await a_conversation(db)
    made = await db.write(lambda tx: append(tx.session, conversation_id, "a_lea", "k0"))
    seen: set[str] = set()

    def prefetch(size: int, session: Session) -> str | None:
        event.listen(
            session.connection(), "before_cursor_execute", lambda _, __, sql, *___: seen.add(sql)
        )
        pairs = [("a_lea", f"new{n}") for n in range(size)]
        # The one that exists: in the middle, or last (then it also fills the padding).
        pairs.insert(size // 2 if size % 2 else size, ("a_lea", "k0"))
        sends.prefetch(session, client_ids=pairs, conversation_ids=[])
        found = store.message_by_client_id(session, sender_id="a_lea", client_id="k0")
        return None if found is None else found.id

    for size in range(100):
        assert await db.read(functools.partial(prefetch, size)) == made.id
    # 1 to 100 pairs in 8 statements (1, 2, 4 ... 128 pairs), and the one that reads the
    # message found.
    assert len(seen) == 9


async def test_a_batch_reads_brands_and_current_cases_once_for_all_its_sends(
    db: Database,
) -> None:
    conversation_id = await a_conversation(db)

    def batch(tx: Transaction) -> int:
        sends.prefetch(tx.session, client_ids=[], conversation_ids=[conversation_id])
        statements: list[object] = []
        event.listen(tx.session.connection(), "before_execute", lambda *a: statements.append(a))
        assert sends.brand_rules(tx.session, "b_acme") is not None
        case = sends.case_state(tx.session, conversation_id, 1)
        assert case is not None and case.first_response_at is None
        append(tx.session, conversation_id, "a_lea", "k1")
        append(tx.session, conversation_id, "a_agent", "k2")  # the first response
        return len(statements)  # before the commit writes the batch

    assert await db.write(batch) == 0  # brand, case, conversation: all from the one read
    assert await first_response(db, conversation_id, 1) == "a_agent"


async def test_sends_by_id_and_by_brand_in_one_batch_move_one_row(db: Database) -> None:
    # The batch reads its conversations as plain rows; a send addressed to the brand
    # (``to``) must find the same row, not load a second copy whose seq would then lag.
    conversation_id = await a_conversation(db)
    sent_at = utc_now().replace(microsecond=250000)

    def batch(tx: Transaction) -> list[int]:
        session = tx.session
        sends.prefetch(session, client_ids=[], conversation_ids=[conversation_id])
        seqs = []
        for client_id, by_pair in (("k1", False), ("k2", True), ("k3", False)):
            conversation = (
                store.conversation_for_pair(
                    session, consumer_id="a_lea", brand_id="b_acme", lock=True
                )
                if by_pair
                else store.conversation_to_send_in(session, conversation_id=conversation_id)
            )
            assert isinstance(conversation, sends.LockedConversation)
            appended = store.append_message(
                session, conversation=conversation, message_id=new_id("m"), sender_id="a_lea",
                sender_role=SenderRole.CONSUMER, sender_name="Lea", client_id=client_id,
                text=client_id, now=sent_at,
            )  # fmt: skip
            seqs.append(appended.message.seq)
        return seqs

    assert await db.write(batch) == [1, 2, 3]

    def read(session: Session) -> tuple[int, datetime]:
        conversation = store.conversation_by_id(session, conversation_id=conversation_id)
        assert conversation is not None
        return conversation.last_seq, as_utc(conversation.last_message_at)

    assert await db.read(read) == (3, sent_at)


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_on(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """``db`` on either database: the batch writes its conversations per dialect."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'sends.db'}"
        migrate(url)
        database = Database(Settings(database_url=url))
        yield database
        await database.close()
        return
    with throwaway_postgres_database("atdesk_sends") as url:
        migrate(url)
        database = Database(Settings(database_url=url))
        yield database
        await database.close()


async def test_a_batch_writes_its_messages_and_moves_each_conversation(db_on: Database) -> None:
    # Every column the batch writes, on two conversations at once: one open, one resolved
    # that the consumer's message opens again as case 2.
    first = await a_conversation(db_on)

    def second_resolved(tx: Transaction) -> str:
        conversation = store.insert_conversation(
            tx.session, conversation_id="c_2", brand_id="b_acme", consumer_id="a_other",
            now=utc_now() - timedelta(hours=1),
        )  # fmt: skip
        conversation.status = "resolved"
        # Ahead of what the batch writes for this reader: a cursor never moves back.
        tx.session.add(ReadCursor(conversation_id=first, account_id="a_lea", seq=5))
        return conversation.id

    second = await db_on.write(second_resolved)
    sent_at = utc_now().replace(microsecond=250000)

    def batch(tx: Transaction) -> list[MessagePublic]:
        appended = []
        sends.prefetch(tx.session, client_ids=[], conversation_ids=[first, second])
        for conversation_id, sender_id, client_id in (
            (first, "a_lea", "k1"), (second, "a_other", "k2"), (first, "a_agent", "k3"),
        ):  # fmt: skip
            conversation = store.conversation_to_send_in(
                tx.session, conversation_id=conversation_id
            )
            assert isinstance(conversation, sends.LockedConversation)
            role = (
                SenderRole.CONSUMER if sender_id == conversation.consumer_id else SenderRole.AGENT
            )
            appended.append(store.append_message(
                tx.session, conversation=conversation, message_id=new_id("m"),
                sender_id=sender_id, sender_role=role, sender_name=f"name of {sender_id}",
                client_id=client_id, text=f'"{client_id}" \\ {{é}}\n✓', now=sent_at,
            ).message)  # fmt: skip
        return appended

    appended = await db_on.write(batch)

    def read(session: Session) -> list[tuple[int, datetime, str, int]]:
        rows = []
        for conversation_id in (first, second):
            conversation = store.conversation_by_id(session, conversation_id=conversation_id)
            assert conversation is not None
            rows.append((
                conversation.last_seq, as_utc(conversation.last_message_at),
                conversation.status, conversation.case_number,
            ))  # fmt: skip
        return rows

    assert await db_on.read(read) == [(2, sent_at, "open", 1), (1, sent_at, "open", 2)]

    def stored(session: Session) -> list[MessagePublic | None]:
        return [
            store.message_by_client_id(session, sender_id=sender_id, client_id=client_id)
            for sender_id, client_id in (("a_lea", "k1"), ("a_other", "k2"), ("a_agent", "k3"))
        ]

    assert await db_on.read(stored) == appended
    assert [message.seq for message in appended] == [1, 1, 2]

    def cursors(session: Session) -> list[int | None]:
        return [
            getattr(session.get(ReadCursor, key), "seq", None)
            for key in ((first, "a_lea"), (second, "a_other"), (first, "a_agent"))
        ]

    assert await db_on.read(cursors) == [5, 1, 2]


async def first_response(db: Database, conversation_id: str, number: int) -> str | None:
    def read(session: Session) -> str | None:
        case = session.get(Case, (conversation_id, number))
        assert case is not None
        # Recorded whole: when, how long after the case opened, and by whom.
        assert (case.first_response_at is None) == (case.first_response_s is None)
        assert case.first_response_s is None or case.first_response_s >= 0
        return case.first_responder_id

    return await db.read(read)


@pytest.mark.parametrize("prefetched", [True, False], ids=["batch", "alone"])
async def test_a_case_is_answered_first_once_and_its_later_sends_know_it(
    db: Database, prefetched: bool
) -> None:
    conversation_id = await a_conversation(db)
    await db.write(lambda tx: append(tx.session, conversation_id, "a_lea", "k0"))

    def answers(tx: Transaction) -> tuple[bool, bool, str]:
        if prefetched:
            sends.prefetch(tx.session, client_ids=[], conversation_ids=[conversation_id])
        pending_before = service_store.auto_reply_pending(
            tx.session, conversation_id=conversation_id, number=1
        )
        append(tx.session, conversation_id, "a_agent", "k1")  # the first response
        append(tx.session, conversation_id, "a_other", "k2")  # not the first any more
        pending_after = service_store.auto_reply_pending(
            tx.session, conversation_id=conversation_id, number=1
        )
        # A statement in the transaction sees the answer (written just before it).
        answered_by = tx.session.connection().execute(
            text("SELECT first_responder_id FROM cases WHERE conversation_id = :id"),
            {"id": conversation_id},
        )
        return pending_before, pending_after, answered_by.scalar_one()

    assert await db.write(answers) == (True, False, "a_agent")
    assert await first_response(db, conversation_id, 1) == "a_agent"


async def test_a_case_opened_and_answered_in_one_batch_keeps_its_first_response(
    db: Database,
) -> None:
    conversation_id = await a_conversation(db)

    def resolve(tx: Transaction) -> None:
        tx.session.connection().execute(text("UPDATE conversations SET status = 'resolved'"))

    await db.write(resolve)

    def reopen_and_answer(tx: Transaction) -> int:
        sends.prefetch(tx.session, client_ids=[], conversation_ids=[conversation_id])
        reopened = append(tx.session, conversation_id, "a_lea", "k1")  # opens case 2
        append(tx.session, conversation_id, "a_agent", "k2")  # answers it, not yet written
        conversation = store.conversation_by_id(tx.session, conversation_id=conversation_id)
        assert conversation is not None
        return conversation.case_number if reopened.seq else 0

    assert await db.write(reopen_and_answer) == 2
    assert await first_response(db, conversation_id, 2) == "a_agent"


async def test_a_batch_and_its_messages_go_with_their_transaction_not_with_the_gc(
    db: Database,
) -> None:
    conversation_id = await a_conversation(db)
    left: list[weakref.ref[object]] = []

    def batch(tx: Transaction) -> None:
        sends.prefetch(tx.session, client_ids=[("a_lea", "k1")], conversation_ids=[conversation_id])
        append(tx.session, conversation_id, "a_lea", "k1")
        batch = sends.prefetched(tx.session)
        assert batch is not None
        # The batch holds the transaction's messages (plain values), its rows and objects.
        left.append(weakref.ref(batch))

    gc.disable()  # a reference cycle would keep them until the next collection
    try:
        await db.write(batch)
        # The worker thread lets go of its work item (and the transaction in its result)
        # just after it woke this task: on a busy machine this task can run first. With
        # the collector off, only a reference cycle keeps them past the deadline.
        deadline = time.monotonic() + 5
        while any(ref() is not None for ref in left) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert [ref() for ref in left] == [None]
    finally:
        gc.enable()


async def test_what_many_units_would_each_do_runs_once_per_key_inside_the_transaction(
    db: Database,
) -> None:
    ran: list[tuple[str, int, bool]] = []

    def work(tx: Transaction) -> None:
        for unit in range(3):
            tx.once_before_commit(
                "queue", lambda unit=unit: ran.append(("queue", unit, tx.session.in_transaction()))
            )
        tx.once_before_commit(
            "other", lambda: ran.append(("other", 0, tx.session.in_transaction()))
        )
        assert ran == []  # not before the work is done

    await db.write(work)
    assert ran == [("queue", 0, True), ("other", 0, True)]


async def test_the_batch_stores_times_as_the_orm_does(db: Database) -> None:
    # On SQLite the batch hands its rows to the driver itself; a time stored in another
    # text form would sort and compare wrongly against those the ORM writes.
    conversation_id = await a_conversation(db)
    sent_at = utc_now().replace(microsecond=123000)

    def send(tx: Transaction) -> None:
        conversation = store.conversation_by_id(
            tx.session, conversation_id=conversation_id, lock=True
        )
        assert conversation is not None
        store.append_message(
            tx.session, conversation=conversation, message_id="m_1", sender_id="a_lea",
            sender_role=SenderRole.CONSUMER, sender_name="Lea", client_id="k1", text="hi",
            now=sent_at,
        )  # fmt: skip

    await db.write(send)

    def stored(tx: Transaction) -> tuple[str, str, str]:
        connection = tx.session.connection()
        message = connection.execute(text("SELECT created_at FROM messages")).scalar_one()
        moved = connection.execute(text("SELECT last_message_at FROM conversations")).scalar_one()
        # The same moment written by the ORM (an account's creation time).
        account_store.insert_account(
            tx.session, account_id="a_orm", email="orm@example.com", display_name="orm",
            password_hash="!", now=sent_at,
        )  # fmt: skip
        tx.session.flush()
        by_orm = connection.execute(
            text("SELECT created_at FROM accounts WHERE id = 'a_orm'")
        ).scalar_one()
        return message, moved, by_orm

    message, moved, by_orm = await db.write(stored)
    assert message == moved == by_orm
    assert by_orm == sent_at.strftime("%Y-%m-%d %H:%M:%S.%f")


async def test_a_sent_message_moves_its_conversation_as_committed(db: Database) -> None:
    # append_message sets the conversation's new seq, time, status and case as committed
    # values in one step: the object shows them, and the ORM has nothing of its own to
    # write (the batch writes the row).
    conversation_id = await a_conversation(db)

    def send(tx: Transaction) -> tuple[int, str, int, bool, bool]:
        append(tx.session, conversation_id, "a_lea", "k1")
        conversation = store.conversation_by_id(tx.session, conversation_id=conversation_id)
        assert conversation is not None
        changes = inspect(conversation).attrs
        pending = any(changes[name].history.has_changes() for name in store._MOVED_COLUMNS)
        return (
            conversation.last_seq, conversation.status, conversation.case_number,
            tx.session.is_modified(conversation), pending,
        )  # fmt: skip

    assert await db.write(send) == (1, "open", 1, False, False)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 12, 1, 9, 30),
        datetime(2026, 12, 1, 9, 30, 0, 1, tzinfo=UTC),
        datetime(1, 1, 1),
        datetime(9999, 12, 31, 23, 59, 59, 999_999),
        datetime(2026, 10, 25, 2, 30, tzinfo=timezone(timedelta(hours=2))),
    ],
)
def test_datetimes_go_to_sqlite_as_sqlalchemy_writes_them(moment: datetime) -> None:
    dialect = sqlite.dialect()
    by_sqlalchemy = DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert by_sqlalchemy is not None
    assert sends._faster_equivalent(by_sqlalchemy) is sends._datetime_text
    assert sends._datetime_text(moment) == by_sqlalchemy(moment)


def test_converters_of_other_types_are_kept() -> None:
    dialect = sqlite.dialect()
    of_float = Float().dialect_impl(dialect).bind_processor(dialect)
    if of_float is not None:  # none for some drivers' floats
        assert sends._faster_equivalent(of_float) is of_float
    assert sends._faster_equivalent(str) is str
