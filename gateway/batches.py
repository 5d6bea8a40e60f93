"""Units asked for while one batch is under way go together in the next: the group commit
and group read (``gateway.database``), the send limits' Redis pipeline
(``gateway.limits``)."""

from __future__ import annotations

import asyncio
import logging
from typing import Generic, TypeVar

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")

log = logging.getLogger(__name__)


class Batches(Generic[ItemT, ResultT]):
    """Units submitted while a batch is being handled wait and go together in the next one
    (up to ``max_batch``): under load, one trip (to a worker thread, to Redis) serves many
    units; alone, a unit goes at once. Subclasses handle a batch and ``settle`` it."""

    def __init__(self, *, max_batch: int) -> None:
        self._max_batch = max_batch
        self._pending: list[tuple[ItemT, asyncio.Future[ResultT]]] = []
        self._runner: asyncio.Task[None] | None = None

    async def submit(self, item: ItemT) -> ResultT:
        future: asyncio.Future[ResultT] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run())
        return await future

    async def drain(self) -> None:
        """Wait until every unit submitted so far is handled."""
        while self._runner is not None and not self._runner.done():
            await asyncio.shield(self._runner)

    async def _run(self) -> None:
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            try:
                await self._handle(batch)
            except Exception as error:
                # A handler that failed without settling its batch must not leave its
                # callers waiting for ever, nor stop the batches queued behind it.
                log.exception("a batch of %d units failed", len(batch))
                failed: list[ResultT | Exception] = [error] * len(batch)
                settle(batch, failed)

    async def _handle(self, batch: list[tuple[ItemT, asyncio.Future[ResultT]]]) -> None:
        raise NotImplementedError


def settle(
    batch: list[tuple[ItemT, asyncio.Future[ResultT]]], outcomes: list[ResultT | Exception]
) -> None:
    """Hand each unit its outcome: a result, or an exception its caller gets raised."""
    for (_, future), outcome in zip(batch, outcomes, strict=True):
        if future.done():
            continue  # the caller went away (a socket closed); what was done for it stands
        if isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
