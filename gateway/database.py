"""The engine, transactions with after-commit hooks, and schema migration."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.settings import Settings, sqlite_path

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class Transaction:
    """A session inside one database transaction, plus what to do once it has committed."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._after_commit: list[Callable[[], None]] = []

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` only if and after this transaction commits (how events are published)."""
        self._after_commit.append(action)


class Database:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine: AsyncEngine = _create_engine(settings)
        # SQLite has one writer at a time anyway; queueing writers here instead of in SQLite's
        # busy loop keeps commits (and the events published right after them) in order.
        self._write_lock = asyncio.Lock() if settings.is_sqlite else None

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """A write transaction. After-commit actions run before the next writer starts."""
        async with contextlib.AsyncExitStack() as stack:
            if self._write_lock is not None:
                await stack.enter_async_context(self._write_lock)
            async with AsyncSession(self.engine, expire_on_commit=False) as session:
                tx = Transaction(session)
                async with session.begin():
                    yield tx
                for action in tx._after_commit:
                    action()

    @contextlib.asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncSession]:
        """A read-only session: no lock, sees what was committed when it starts reading."""
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()


def _create_engine(settings: Settings) -> AsyncEngine:
    if not settings.is_sqlite:
        return create_async_engine(settings.database_url, pool_pre_ping=True)
    engine = create_async_engine(settings.database_url, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets readers work while a send commits; FULL makes an acked message survive
        # power loss, not only a crash of this process.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def migrate(database_url: str) -> None:
    """Upgrade the database to the newest Alembic revision (creating a SQLite file if needed)."""
    from alembic import command
    from alembic.config import Config

    path = sqlite_path(database_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    command.upgrade(config, "head")
