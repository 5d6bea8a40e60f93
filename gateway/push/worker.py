"""The push queue and its one worker: the message path only appends to a bounded queue.

The committing node enqueues (so exactly one node pushes each event). The worker takes
what is queued in batches, finds who is offline and their devices (reads the message
path never waits for), sends through FCM, and retries, prunes or counts each push.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import random
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlmodel import Session

from gateway import metrics
from gateway.database import Database, Transaction
from gateway.models import Device
from gateway.presence import Presence
from gateway.push import policy
from gateway.push.payload import Notification, PushJob, notification_for
from gateway.push.policy import Failure, Verdict
from gateway.push.settings import PushSettings
from gateway.stores import brands as brand_store
from gateway.stores import devices as device_store

log = logging.getLogger(__name__)

MAX_BATCH = 500  # messages per FCM call, firebase-admin's limit
MAX_JOBS_PER_BATCH = 500  # jobs resolved together: two reads for all of them


class Sender(Protocol):
    async def send(self, batch: Sequence[tuple[str, Notification]]) -> list[Failure | None]: ...


@dataclass(frozen=True)
class Delivery:
    """One push to one device, and how many times it has been tried."""

    account_id: str
    push_token: str
    notification: Notification
    attempt: int = 1


class PushService:
    """Accepts push jobs without waiting; one task sends them. Disabled without a sender."""

    def __init__(
        self, settings: PushSettings, db: Database, presence: Presence, sender: Sender | None
    ) -> None:
        self._settings = settings
        self._db = db
        self._presence = presence
        self._sender = sender
        self._jobs: deque[PushJob] = deque()
        self._retries: list[tuple[float, int, Delivery]] = []  # a heap by due time
        self._retry_order = itertools.count()
        self._in_hand = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._dropped = 0

    @property
    def enabled(self) -> bool:
        return self._sender is not None

    def enqueue(self, job: PushJob) -> None:
        """Queue ``job``; never blocks. Called after the commit it reports, on the loop."""
        if self._sender is None:
            return
        if len(self._jobs) >= self._settings.queue_size:
            # Dropping beats holding the message path or growing without bound: the
            # recipient still finds the message when the app next syncs.
            metrics.PUSH_DROPPED.inc()
            self._dropped += 1
            if self._dropped == 1 or self._dropped % 1000 == 0:
                log.warning(
                    "push queue full (%d): %d pushes dropped so far",
                    self._settings.queue_size,
                    self._dropped,
                )
            return
        self._jobs.append(job)
        self._wake.set()

    def backlog(self) -> int:
        """Jobs queued or being handled, and pushes waiting to be retried."""
        return len(self._jobs) + self._in_hand + len(self._retries)

    def start(self) -> None:
        """Start the worker, saying in one line whether pushes will go out."""
        if self._sender is None:
            log.warning(
                "push disabled: no FCM credentials (set ATDESK_FCM_CREDENTIALS or "
                "GOOGLE_APPLICATION_CREDENTIALS to a service-account JSON file)"
            )
            return
        if self._task is None:
            log.info("push enabled: FCM project %s", self._settings.project_id)
            metrics.PUSH_BACKLOG.set_function(self.backlog)
            self._task = asyncio.create_task(self._run(), name="push worker")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if self.backlog():
            log.warning("push: stopped with %d pushes not sent", self.backlog())

    # --- the worker ----------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await self._wait_for_work()
            jobs = [self._jobs.popleft() for _ in range(min(len(self._jobs), MAX_JOBS_PER_BATCH))]
            retries = self._due_retries()
            self._in_hand = len(jobs) + len(retries)
            try:
                deliveries = retries + await self._deliveries(jobs)
                for start in range(0, len(deliveries), MAX_BATCH):
                    await self._send(deliveries[start : start + MAX_BATCH])
            except Exception:  # the worker must outlive any one batch
                log.exception("push: a batch of %d jobs failed", len(jobs))
                metrics.PUSH_FAILED.inc(len(jobs) + len(retries))
            finally:
                self._in_hand = 0

    async def _wait_for_work(self) -> None:
        while not self._jobs:
            timeout = None
            if self._retries:
                timeout = self._retries[0][0] - asyncio.get_running_loop().time()
                if timeout <= 0:
                    return
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    def _due_retries(self) -> list[Delivery]:
        now = asyncio.get_running_loop().time()
        due: list[Delivery] = []
        while self._retries and self._retries[0][0] <= now and len(due) < MAX_BATCH:
            due.append(heapq.heappop(self._retries)[2])
        return due

    async def _deliveries(self, jobs: list[PushJob]) -> list[Delivery]:
        """Each offline recipient's devices, with the notification each is to be shown."""
        if not jobs:
            return []
        brand_ids = {job.brand_id for job in jobs}

        def load_audience(session: Session) -> tuple[dict[str, list[str]], dict[str, str]]:
            return (
                brand_store.member_ids(session, brand_ids=brand_ids),
                brand_store.handles(session, brand_ids=brand_ids),
            )

        members, handles = await self._db.read(load_audience)
        audiences: list[tuple[PushJob, set[str]]] = []
        for job in jobs:
            if job.recipients is not None:
                recipients = set(job.recipients)
            else:
                recipients = {job.consumer_id, *members[job.brand_id]}
            recipients.discard(job.sender_id or "")
            audiences.append((job, recipients))
        offline = await self._presence.offline(set().union(*(r for _, r in audiences)))

        def load_devices(session: Session) -> tuple[list[Device], set[str]]:
            return (
                device_store.devices_for(session, account_ids=offline),
                device_store.accounts_with_previews(session, account_ids=offline),
            )

        devices, previews = await self._db.read(load_devices)
        by_account: defaultdict[str, list[Device]] = defaultdict(list)
        for device in devices:
            by_account[device.account_id].append(device)
        deliveries: list[Delivery] = []
        for job, recipients in audiences:
            handle = handles.get(job.brand_id)
            if handle is None:
                continue  # the brand is gone; nothing sensible to show
            for account_id in sorted(recipients & offline):
                notification = notification_for(
                    job, brand_handle=handle, previews=account_id in previews
                )
                deliveries += [
                    Delivery(account_id, device.push_token, notification)
                    for device in by_account[account_id]
                ]
        return deliveries

    async def _send(self, deliveries: list[Delivery]) -> None:
        assert self._sender is not None
        batch = [(d.push_token, d.notification) for d in deliveries]
        try:
            failures = await self._sender.send(batch)
        except Exception as error:  # nothing went out (no access token, say): all may retry
            log.warning("push: FCM unreachable for a batch of %d: %r", len(batch), error)
            failures = [Failure(status=None, code="UNAVAILABLE", message=repr(error))] * len(batch)
        counts = {verdict: 0 for verdict in Verdict}
        dead_tokens: list[str] = []
        for delivery, failure in zip(deliveries, failures, strict=True):
            verdict = policy.verdict(failure)
            if verdict is Verdict.RETRY and not self._retry(delivery, failure):
                verdict = Verdict.FAIL
            if verdict is Verdict.PRUNE:
                dead_tokens.append(delivery.push_token)
            if verdict is Verdict.FAIL and failure is not None:
                log.warning(
                    "push to account %s failed after %d tries: %s %s %s",
                    delivery.account_id,
                    delivery.attempt,
                    failure.status,
                    failure.fcm_code or failure.code,
                    failure.message[:200],
                )
            counts[verdict] += 1
        if dead_tokens:
            await self._prune(dead_tokens)
        metrics.PUSH_SENT.inc(counts[Verdict.SENT])
        metrics.PUSH_FAILED.inc(counts[Verdict.FAIL])
        metrics.PUSH_PRUNED.inc(counts[Verdict.PRUNE])
        log.info(
            "push: %d sent, %d failed, %d pruned, %d to retry",
            counts[Verdict.SENT],
            counts[Verdict.FAIL],
            counts[Verdict.PRUNE],
            counts[Verdict.RETRY],
        )

    def _retry(self, delivery: Delivery, failure: Failure | None) -> bool:
        """Schedule another try, unless tries or room ran out."""
        if (
            not policy.should_retry(
                Verdict.RETRY, attempt=delivery.attempt, max_attempts=self._settings.max_attempts
            )
            or len(self._retries) >= self._settings.queue_size
        ):
            return False
        delay = policy.retry_delay_s(
            delivery.attempt, base_s=self._settings.retry_base_s, jitter=random.random(),
            retry_after_s=None if failure is None else failure.retry_after_s,
        )  # fmt: skip
        due = asyncio.get_running_loop().time() + delay
        retry = Delivery(
            delivery.account_id, delivery.push_token, delivery.notification, delivery.attempt + 1
        )
        heapq.heappush(self._retries, (due, next(self._retry_order), retry))
        return True

    async def _prune(self, tokens: list[str]) -> None:
        def delete(tx: Transaction) -> int:
            return device_store.delete_tokens(tx.session, push_tokens=tokens)

        deleted = await self._db.write(delete)
        log.info("push: deleted %d dead tokens", deleted)
