"""Notices (PROTOCOL 7): following brands, posting notices and fanning them out; and
canned replies, the brand's prepared answers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import timedelta
from functools import partial

from sqlmodel import Session

from gateway import authz, metrics
from gateway.authz import Viewer
from gateway.bus import Bus
from gateway.database import Database, Transaction
from gateway.errors import ApiError, invalid_input
from gateway.events import NoticeDelivered
from gateway.handlers.brands import find_brand
from gateway.ids import format_time, new_id, utc_now
from gateway.models import CannedReply, Notice
from gateway.presence import Presence
from gateway.push.payload import PushJob, PushKind
from gateway.schemas import (
    CannedCreate,
    CannedList,
    CannedPublic,
    NoticeCreate,
    NoticeList,
    NoticePublic,
)
from gateway.stores import notices as store
from gateway.validation import message_text_problem

log = logging.getLogger(__name__)

# Recipients per step of a fan-out: one read, one bus event, one push job. Between steps
# the loop yields, so sends and their acks go on while 100,000 followers are told.
FANOUT_BATCH = 1000


class NoticeHandler:
    def __init__(
        self, db: Database, bus: Bus, presence: Presence,
        push: Callable[[PushJob], None] | None = None, *, lease_s: float = 60.0,
    ) -> None:  # fmt: skip
        self._db = db
        self._bus = bus
        self._presence = presence
        self._push = push
        self._lease_s = lease_s
        self._owner = new_id("f")  # this process, as the owner of the fan-outs it runs
        self._tasks: set[asyncio.Task[None]] = set()
        self._running: dict[str, asyncio.Task[None]] = {}  # notice id -> its fan-out here
        self._sweeper: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Finish, from now on, the fan-outs that a node which died left unfinished."""
        self._sweeper = asyncio.create_task(self._sweep(), name="notice sweeper")

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.drain()

    async def _sweep(self) -> None:
        while True:
            try:
                for notice, handle in await self._db.write(self._claim_stalled):
                    log.warning("notice %s: taking over its unfinished fan-out", notice.id)
                    self._start_fan_out(
                        notice.brand_id, notice_view(notice, handle), notice.fanout_after or ""
                    )
            except Exception:
                log.exception("notice sweeper failed; trying again")
            await asyncio.sleep(self._lease_s / 2)

    def _claim_stalled(self, tx: Transaction) -> list[tuple[Notice, str]]:
        now = utc_now()
        return store.claim_stalled(
            tx.session, owner=self._owner, now=now,
            stalled_before=now - timedelta(seconds=self._lease_s), running=set(self._running),
        )  # fmt: skip

    # --- following ---------------------------------------------------------------------

    async def follow(self, viewer: Viewer, raw_handle: str, following: bool) -> None:
        def change(tx: Transaction) -> None:
            brand = find_brand(tx.session, raw_handle)
            if following:
                store.follow(
                    tx.session, brand_id=brand.id, account_id=viewer.account_id, now=utc_now()
                )
            else:
                store.unfollow(tx.session, brand_id=brand.id, account_id=viewer.account_id)

        await self._db.write(change)

    # --- notices -----------------------------------------------------------------------

    async def post(self, viewer: Viewer, raw_handle: str, body: NoticeCreate) -> NoticePublic:
        title, text = body.title.strip(), body.text.strip()
        for name, value in (("title", title), ("text", text)):
            problem = message_text_problem(value)
            if problem is not None or not value:
                raise invalid_input(f"{name} must hold visible text")

        def post(tx: Transaction) -> NoticePublic:
            brand = find_brand(tx.session, raw_handle)
            authz.require_brand_admin(viewer, brand_id=brand.id)
            notice = store.insert_notice(
                tx.session, notice_id=new_id("n"), brand_id=brand.id,
                author_id=viewer.account_id, title=title, text=text, owner=self._owner,
                now=utc_now(),
            )  # fmt: skip
            view = notice_view(notice, brand.handle)
            tx.after_commit(lambda: self._start_fan_out(brand.id, view, ""))
            return view

        return await self._db.write(post)

    async def list_notices(self, raw_handle: str, limit: int) -> NoticeList:
        def load(session: Session) -> NoticeList:
            brand = find_brand(session, raw_handle)
            found = store.latest_notices(session, brand_id=brand.id, limit=limit)
            return NoticeList(notices=[notice_view(notice, brand.handle) for notice in found])

        return await self._db.read(load)

    def _start_fan_out(self, brand_id: str, notice: NoticePublic, after: str) -> None:
        task = asyncio.create_task(
            self._fan_out(brand_id, notice, after), name=f"notice {notice.id}"
        )
        self._running[notice.id] = task
        task.add_done_callback(lambda _: self._running.pop(notice.id, None))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    async def _fan_out(self, brand_id: str, notice: NoticePublic, after: str) -> None:
        """Tell every recipient after ``after``, a batch at a time, by id order: live sockets
        through the bus (each node delivers to its own), offline accounts by push.

        Progress is recorded after each batch, so a node that takes over a dead node's
        fan-out repeats at most the batch that was in flight (delivery is at least once).
        """
        total = 0
        try:
            while True:
                batch = await self._db.read(partial(_next_batch, brand_id=brand_id, after=after))
                if not batch:
                    await self._record(notice.id, after or None, done=True)
                    break
                self._bus.publish(NoticeDelivered(account_ids=batch, notice=notice))
                if self._push is not None:
                    offline = await self._presence.offline(batch)
                    if offline:
                        job = PushJob(
                            kind=PushKind.NOTICE, brand_id=brand_id, consumer_id="",
                            conversation_id=None, seq=None, text=notice.title,
                            recipients=tuple(sorted(offline)),
                        )  # fmt: skip
                        self._push(job)
                metrics.NOTICE_RECIPIENTS.inc(len(batch))
                total += len(batch)
                after = batch[-1]
                if not await self._record(notice.id, after, done=False):
                    log.warning("notice %s: another node took over the fan-out", notice.id)
                    return
        except Exception:
            # The sweeper of some node takes it over once the lease runs out.
            log.exception("notice %s: fan-out stopped after %d recipients", notice.id, total)
            return
        metrics.NOTICES_FANNED_OUT.inc()
        log.info("notice %s fanned out to %d accounts", notice.id, total)

    async def _record(self, notice_id: str, after: str | None, *, done: bool) -> bool:
        # A write per batch also lets the sends queued meanwhile through (SQLite's writers
        # take turns), so conversations never wait for the whole fan-out.
        return await self._db.write(
            lambda tx: store.record_fanout(
                tx.session,
                notice_id=notice_id,
                owner=self._owner,
                after=after,
                now=utc_now(),
                done=done,
            )  # fmt: skip
        )

    # --- canned replies ----------------------------------------------------------------

    async def list_canned(self, viewer: Viewer, raw_handle: str) -> CannedList:
        def load(session: Session) -> CannedList:
            brand = find_brand(session, raw_handle)
            authz.require_brand_member(viewer, brand_id=brand.id)
            return CannedList(
                canned=[canned_view(c) for c in store.canned_replies(session, brand_id=brand.id)]
            )

        return await self._db.read(load)

    async def add_canned(self, viewer: Viewer, raw_handle: str, body: CannedCreate) -> CannedPublic:
        title, text = body.title.strip(), body.text.strip()
        if not title or not text:
            raise invalid_input("title and text must hold visible text")

        def add(tx: Transaction) -> CannedPublic:
            brand = find_brand(tx.session, raw_handle)
            authz.require_brand_admin(viewer, brand_id=brand.id)
            reply = store.insert_canned(
                tx.session, canned_id=new_id("r"), brand_id=brand.id, title=title, text=text,
                now=utc_now(),
            )  # fmt: skip
            return canned_view(reply)

        return await self._db.write(add)

    async def delete_canned(self, viewer: Viewer, raw_handle: str, canned_id: str) -> None:
        def remove(tx: Transaction) -> None:
            brand = find_brand(tx.session, raw_handle)
            authz.require_brand_admin(viewer, brand_id=brand.id)
            if not store.delete_canned(tx.session, brand_id=brand.id, canned_id=canned_id):
                raise ApiError(404, "not_found", "no such canned reply")

        await self._db.write(remove)


def _next_batch(session: Session, *, brand_id: str, after: str) -> list[str]:
    return store.recipients_after(session, brand_id=brand_id, after=after, limit=FANOUT_BATCH)


def notice_view(notice: Notice, handle: str) -> NoticePublic:
    return NoticePublic(
        id=notice.id, brand=handle, title=notice.title, text=notice.text,
        created_at=format_time(notice.created_at),
    )  # fmt: skip


def canned_view(reply: CannedReply) -> CannedPublic:
    return CannedPublic(
        id=reply.id, title=reply.title, text=reply.text, created_at=format_time(reply.created_at)
    )
