"""Batched trips (gateway.batches, gateway.database): many concurrent units, one trip to the
worker thread each batch; a failing unit fails alone. On a real SQLite file, no server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session

from gateway.batches import Batches, settle
from gateway.database import Database, GroupRead
from gateway.settings import Settings


class CountingDatabase(Database):
    trips = 0

    async def read(self, work: Callable[[Session], Any]) -> Any:
        self.trips += 1
        return await super().read(work)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[CountingDatabase]:
    database = CountingDatabase(Settings(database_url=f"sqlite:///{tmp_path / 'batches.db'}"))
    yield database
    await database.close()


def doubled(session: Session, n: int) -> int:
    if n == 3:
        raise ValueError("three is refused")
    return int(session.connection().execute(text("SELECT :n * 2"), {"n": n}).scalar_one())


async def settled(calls: list[Awaitable[int]]) -> list[int | BaseException]:
    return list(await asyncio.gather(*calls, return_exceptions=True))


async def test_concurrent_reads_share_one_trip_per_batch(db: CountingDatabase) -> None:
    reads = GroupRead(db, doubled, max_batch=100)
    outcomes = await settled([reads.submit(n) for n in range(250) if n != 3])
    assert outcomes == [n * 2 for n in range(250) if n != 3]
    assert db.trips == 3  # 100 + 100 + 49, not 249


async def test_a_failing_read_fails_alone(db: CountingDatabase) -> None:
    reads = GroupRead(db, doubled)
    outcomes = await settled([reads.submit(n) for n in range(6)])
    assert isinstance(outcomes[3], ValueError)
    assert [o for i, o in enumerate(outcomes) if i != 3] == [0, 2, 4, 8, 10]
    assert db.trips == 1


async def test_a_lone_read_goes_at_once(db: CountingDatabase) -> None:
    reads = GroupRead(db, doubled)
    assert await reads.submit(21) == 42
    assert await reads.submit(5) == 10
    assert db.trips == 2


class Unhandled(Batches[int, int]):
    """A handler with a bug: it raises without settling its batch."""

    async def _handle(self, batch: list[tuple[int, asyncio.Future[int]]]) -> None:
        if any(n == 3 for n, _ in batch):
            raise RuntimeError("a bug in the handler")
        settle(batch, [n * 2 for n, _ in batch])


async def test_a_batch_whose_handler_raises_fails_its_callers_and_not_the_next() -> None:
    batches = Unhandled(max_batch=2)
    async with asyncio.timeout(10):  # before: the batch's callers waited for ever
        outcomes = await settled([batches.submit(n) for n in range(6)])
    assert [type(o) for o in outcomes[2:4]] == [RuntimeError, RuntimeError]  # 2 and 3
    assert [o for i, o in enumerate(outcomes) if i not in (2, 3)] == [0, 2, 8, 10]
