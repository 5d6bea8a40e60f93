"""The engine, transactions run in a worker thread, group commit, and schema migration.

A transaction is a plain function given a session, run whole in one worker thread (the
way Synapse's ``runInteraction`` does). An async driver would instead cross threads or
the event loop for every statement, and a send is several statements: measured here, that
cost more than the work itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DataError
from sqlmodel import Session

from gateway.batches import Batches, settle
from gateway.errors import ApiError
from gateway.settings import Settings, sqlite_path

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
T = TypeVar("T")
ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


class Transaction:
    """A session inside one database transaction, plus what to do once it has committed."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.after_commit_actions: list[Callable[[], None]] = []
        self.before_commit_actions: dict[Hashable, Callable[[], None]] = {}

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` on the event loop only if and after this transaction commits."""
        self.after_commit_actions.append(action)

    def once_before_commit(self, key: Hashable, action: Callable[[], None]) -> None:
        """Run ``action`` in this transaction once its work is done, once per ``key``: what
        many units of a group commit would each do, done once for all of them."""
        self.before_commit_actions.setdefault(key, action)


class Database:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine: Engine = _create_engine(settings)
        # SQLite has one writer at a time anyway; queueing writers here instead of in SQLite's
        # busy loop keeps commits, and the events published right after them, in order.
        self._write_lock = asyncio.Lock() if settings.is_sqlite else None

    async def write(self, work: Callable[[Transaction], T]) -> T:
        """Run ``work`` in one transaction; after it commits, run its after-commit actions."""
        async with contextlib.AsyncExitStack() as stack:
            if self._write_lock is not None:
                await stack.enter_async_context(self._write_lock)
            try:
                tx, result = await asyncio.to_thread(self._write_in_thread, work)
            except DataError as error:
                raise _unstorable(error) from None
            for action in tx.after_commit_actions:
                action()
            return result

    def _write_in_thread(self, work: Callable[[Transaction], T]) -> tuple[Transaction, T]:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            tx = Transaction(session)
            result = work(tx)
            for action in tx.before_commit_actions.values():
                action()
        return tx, result

    async def read(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` with a session that sees what was committed when it started reading."""
        try:
            return await asyncio.to_thread(self._read_in_thread, work)
        except DataError as error:
            raise _unstorable(error) from None

    def _read_in_thread(self, work: Callable[[Session], T]) -> T:
        with Session(self.engine, expire_on_commit=False) as session:
            return work(session)

    async def ping(self) -> None:
        def select_one(session: Session) -> None:
            session.connection().execute(text("SELECT 1"))

        await self.read(select_one)

    async def close(self) -> None:
        await asyncio.to_thread(self.engine.dispose)


def _unstorable(error: DataError) -> ApiError:
    """A value the database cannot hold or compare (a number past its column, U+0000 in
    text on PostgreSQL) came from the caller: their fault, not ours."""
    log.info("refused a value the database cannot hold: %s", error.orig)
    return ApiError(422, "invalid_input", "a value is out of range or contains U+0000")


def _create_engine(settings: Settings) -> Engine:
    if not settings.is_sqlite:
        return create_engine(
            settings.database_url,
            pool_pre_ping=True,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_pool_size,
        )
    engine = create_engine(
        settings.database_url, connect_args={"timeout": 30, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets readers work while a send commits; FULL makes an acked message survive
        # power loss, not only a crash of this process.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


class GroupCommit(Batches[ItemT, ResultT]):
    """Runs concurrent units of work in shared transactions: one commit for up to ``max_batch``.

    Under load, sharing the commit (a disk flush) and the trip to the worker thread is what
    keeps throughput up. A unit that raises ApiError (refused before it wrote anything)
    fails alone. Any other error fails the batch, which is then retried unit by unit, so one
    bad unit costs the others nothing but a retry.
    """

    def __init__(
        self,
        db: Database,
        work: Callable[[Transaction, ItemT], ResultT],
        *,
        max_batch: int = 100,
        prepare: Callable[[Transaction, list[ItemT]], None] | None = None,
    ) -> None:
        super().__init__(max_batch=max_batch)
        self._db = db
        self._work = work
        # Run first in each batch's transaction: reads that serve all of its units at once.
        self._prepare = prepare

    async def _handle(self, batch: list[tuple[ItemT, asyncio.Future[ResultT]]]) -> None:
        if len(batch) == 1 or not await self._commit(batch, raise_errors=False):
            for unit in batch:
                await self._commit([unit], raise_errors=True)

    async def _commit(
        self, batch: list[tuple[ItemT, asyncio.Future[ResultT]]], *, raise_errors: bool
    ) -> bool:
        def work(tx: Transaction) -> list[ResultT | Exception]:
            if self._prepare is not None:
                self._prepare(tx, [item for item, _ in batch])
            outcomes: list[ResultT | Exception] = []
            for item, _ in batch:
                try:
                    outcomes.append(self._work(tx, item))
                except ApiError as refused:
                    outcomes.append(refused)
            return outcomes

        try:
            outcomes = await self._db.write(work)
        except Exception as error:
            if not raise_errors:
                return False
            outcomes = [error] * len(batch)
        settle(batch, outcomes)
        return True


class GroupRead(Batches[ItemT, ResultT]):
    """Concurrent reads of one kind in one session and one trip to a worker thread.

    A reconnect storm opens thousands of sockets at once, each reading its session: one
    trip each would cost more than the reads. A read that raises fails alone: the session
    rolls back (on PostgreSQL a failed statement would fail the rest of the transaction)
    and the next read starts afresh.
    """

    def __init__(
        self, db: Database, work: Callable[[Session, ItemT], ResultT], *, max_batch: int = 100
    ) -> None:
        super().__init__(max_batch=max_batch)
        self._db = db
        self._work = work

    async def _handle(self, batch: list[tuple[ItemT, asyncio.Future[ResultT]]]) -> None:
        def work(session: Session) -> list[ResultT | Exception]:
            outcomes: list[ResultT | Exception] = []
            for item, _ in batch:
                try:
                    outcomes.append(self._work(session, item))
                except DataError as error:
                    session.rollback()
                    outcomes.append(_unstorable(error))
                except Exception as error:  # handed to that reader's caller, who reports it
                    session.rollback()
                    outcomes.append(error)
            return outcomes

        try:
            outcomes = await self._db.read(work)
        except Exception as error:
            outcomes = [error] * len(batch)
        settle(batch, outcomes)


def migrate(database_url: str) -> None:
    """Upgrade the database to the newest Alembic revision (creating a SQLite file if needed)."""
    # Alembic's plugin set-up logs a dozen INFO lines on import; an operator needs none.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from alembic import command
    from alembic.config import Config

    path = sqlite_path(database_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    command.upgrade(config, "head")
