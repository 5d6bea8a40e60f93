"""Messages of one conversation, handed on in seq order, whatever order nodes sent them.

On one node the bus delivers in commit order. Across nodes it does not: node A's seq 5
and node B's seq 6 can reach node C in either order, and a bus can lose events outright.
The sequencer holds a message that arrives early, asks the database for what is missing,
and passes messages on strictly in order, each once. The database is the source of truth.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from gateway import metrics
from gateway.events import MessageCommitted

log = logging.getLogger(__name__)


class MessageSource(Protocol):
    async def last_seq_before(self, conversation_id: str, moment: datetime) -> int:
        """The highest seq of the conversation committed before ``moment`` (0: none)."""
        ...

    async def committed_after(
        self, conversation_id: str, after_seq: int, limit: int
    ) -> list[MessageCommitted]:
        """Messages with seq > ``after_seq``, oldest first, at most ``limit``."""
        ...


@dataclass
class _Track:
    next_seq: int | None = None  # None: where this node stands is not known yet
    early: dict[int, MessageCommitted] = field(default_factory=dict)
    filling: bool = False


class Sequencer:
    # Conversations followed at once; a forgotten one is looked up again when it next speaks.
    MAX_TRACKS = 50_000

    def __init__(
        self,
        source: MessageSource,
        dispatch: Callable[[MessageCommitted], None],
        *,
        grace_s: float = 0.2,
    ) -> None:
        self._source = source
        self._dispatch = dispatch
        self._grace_s = grace_s
        self._tracks: OrderedDict[str, _Track] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        # Messages committed before this moment are for clients to sync, not to push live.
        self.horizon: datetime | None = None

    def accept(self, event: MessageCommitted) -> None:
        conversation_id = event.message.conversation_id
        seq = event.message.seq
        track = self._track(conversation_id)
        if track.next_seq is None and seq == 1:
            track.next_seq = 1  # a new conversation: nothing before it to wait for
        if track.next_seq is not None and seq < track.next_seq:
            return  # delivered already
        track.early[seq] = event
        self._drain(track)
        if track.early and not track.filling:
            self._spawn(self._fill(conversation_id, track))

    def _track(self, conversation_id: str) -> _Track:
        track = self._tracks.get(conversation_id)
        if track is None:
            track = self._tracks[conversation_id] = _Track()
            while len(self._tracks) > self.MAX_TRACKS:
                oldest, old = next(iter(self._tracks.items()))
                if old.early or old.filling:
                    break
                del self._tracks[oldest]
        else:
            self._tracks.move_to_end(conversation_id)
        return track

    def _drain(self, track: _Track) -> None:
        while track.next_seq is not None and track.next_seq in track.early:
            self._dispatch(track.early.pop(track.next_seq))
            track.next_seq += 1

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fill(self, conversation_id: str, track: _Track) -> None:
        track.filling = True
        try:
            if track.next_seq is None:
                moment = self.horizon
                known = (
                    0
                    if moment is None
                    else await self._source.last_seq_before(conversation_id, moment)
                )
                # Anything that already arrived live is passed on, even if it predates the
                # horizon; what is older than both is for the client's sync.
                track.next_seq = min([known + 1, *track.early])
                self._drain(track)
            else:
                await asyncio.sleep(self._grace_s)  # the missing event is usually just late
            while track.early:
                assert track.next_seq is not None
                first_early = min(track.early)
                missing = await self._source.committed_after(
                    conversation_id, track.next_seq - 1, first_early - track.next_seq
                )
                metrics.BUS_GAPS_FILLED.inc(len(missing))
                for event in missing:
                    track.early.setdefault(event.message.seq, event)
                self._drain(track)
                if track.early and track.next_seq not in track.early:
                    log.error(
                        "conversation %s: seqs %d..%d are not in the database; skipping",
                        conversation_id, track.next_seq, first_early - 1,
                    )  # fmt: skip
                    track.next_seq = first_early
                    self._drain(track)
        except Exception:
            log.exception("conversation %s: could not fill a gap; will retry", conversation_id)
            await asyncio.sleep(1)
            self._spawn(self._fill(conversation_id, track))
        finally:
            track.filling = False

    async def catch_up(self, conversation_id: str, since: datetime) -> None:
        """After a bus outage: pass on whatever this conversation committed since ``since``."""
        track = self._track(conversation_id)
        if track.next_seq is None:
            track.next_seq = await self._source.last_seq_before(conversation_id, since) + 1
        after = track.next_seq - 1
        while True:
            missed = await self._source.committed_after(conversation_id, after, 500)
            for event in missed:
                self.accept(event)
            if len(missed) < 500:
                return
            after = missed[-1].message.seq

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
