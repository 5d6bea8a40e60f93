"""One signed-in socket: reads frames in order, writes from one queue, pumps the outbox.

A ``Link`` lives from ``welcome`` to close; the client makes a new one per connection.
What must survive a reconnect (outbox, cursors, waiters) belongs to the client; what a
``Link`` holds (sends and syncs awaiting an answer) is void once its socket is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from atdesk_sdk.outbox import Outbox, OutboxEntry
from atdesk_sdk.protocol import (
    FrameError,
    ServerFrame,
    parse_server_frame,
    send_frame,
    sync_frame,
)

log = logging.getLogger("atdesk_sdk")


class LinkLost(Exception):
    """The socket closed before the answer came; the client retries on the next one."""


class FrameSink(Protocol):
    """What a link hands each server frame to (the client)."""

    def on_frame(self, link: Link, frame: ServerFrame) -> None: ...


def _observe(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


@dataclass
class _PendingSync:
    conversation_id: str
    future: asyncio.Future[None]


class Link:
    """The client's side of one live socket.

    Args:
        connection: the open socket, past ``welcome``.
        account_id: whom the gateway signed in.
        sink: receives every server frame, in order.
        outbox: the client's outbox, pumped while this link lives.
        destination: the conversation an outbox entry goes to, for per-thread ordering.
        cursor: the highest seq the client holds for a conversation (where a sync starts).
        max_in_flight: at most this many sends awaiting their ack.
        ack_timeout_s: a send with no answer after this long is sent again (same client_id).
    """

    def __init__(
        self,
        connection: ClientConnection,
        *,
        account_id: str,
        sink: FrameSink,
        outbox: Outbox,
        destination: Callable[[OutboxEntry], str],
        cursor: Callable[[str], int],
        max_in_flight: int,
        ack_timeout_s: float,
    ) -> None:
        self.connection = connection
        self.account_id = account_id
        self._sink = sink
        self._outbox = outbox
        self._destination = destination
        self._cursor = cursor
        self._max_in_flight = max_in_flight
        self._ack_timeout_s = ack_timeout_s
        self._outgoing: asyncio.Queue[str] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._refs = itertools.count(1)
        self.in_flight: dict[str, float] = {}  # client_id -> when it was sent
        self.paused_until = 0.0
        self.syncs: dict[str, _PendingSync] = {}  # ref -> the sync it answers
        self.closed = False

    # --- used by the client (no awaiting: safe from frame handlers) ---------------------

    def write(self, text: str) -> None:
        if not self.closed:
            self._outgoing.put_nowait(text)

    def wake(self) -> None:
        """Something changed for the pump: an entry was queued, answered or may resume."""
        self._wake.set()

    def pause_sends(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        self.paused_until = max(self.paused_until, loop.time() + seconds)
        self.wake()

    def sync(self, conversation_id: str) -> asyncio.Future[None]:
        """Ask for what was missed in one conversation; resolves at its ``synced``."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # A sync started to fill a gap has no one awaiting it; its LinkLost is not news.
        future.add_done_callback(_observe)
        if self.closed:
            future.set_exception(LinkLost())
            return future
        ref = f"y:{next(self._refs)}"
        self.syncs[ref] = _PendingSync(conversation_id, future)
        self.write(sync_frame(conversation_id, self._cursor(conversation_id), ref))
        return future

    def resync(self, ref: str) -> None:
        """Send a sync again (the gateway asked to slow down), from the cursor as it is now."""
        pending = self.syncs.get(ref)
        if pending is not None:
            self.write(
                sync_frame(pending.conversation_id, self._cursor(pending.conversation_id), ref)
            )

    def finish_sync(self, ref: str) -> str | None:
        """The conversation a sync reply is for, now answered; None if it is not ours."""
        pending = self.syncs.pop(ref, None)
        if pending is None:
            return None
        if not pending.future.done():
            pending.future.set_result(None)
        return pending.conversation_id

    def is_syncing(self, conversation_id: str) -> bool:
        return any(p.conversation_id == conversation_id for p in self.syncs.values())

    # --- the loops -----------------------------------------------------------------------

    async def run(self) -> None:
        """Move frames until the socket closes; then every unanswered sync fails."""
        writer = asyncio.create_task(self._write_loop())
        pump = asyncio.create_task(self._pump_loop())
        try:
            await self._read_loop()
        finally:
            self.closed = True
            for task in (writer, pump):
                task.cancel()
            for task in (writer, pump):
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                    await task
            for pending in self.syncs.values():
                if not pending.future.done():
                    pending.future.set_exception(LinkLost())
            self.syncs.clear()

    async def _read_loop(self) -> None:
        try:
            while True:
                raw = await self.connection.recv()
                try:
                    frame = parse_server_frame(raw)
                except FrameError as error:
                    log.warning("ignoring a frame the SDK cannot read: %s", error)
                    continue
                self._sink.on_frame(self, frame)
        except ConnectionClosed:
            return

    async def _write_loop(self) -> None:
        while True:
            text = await self._outgoing.get()
            try:
                await self.connection.send(text)
            except ConnectionClosed:
                return  # the read loop sees the close and ends the link

    async def _pump_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            now = loop.time()
            if self.paused_until > now:
                await asyncio.sleep(self.paused_until - now)
                continue
            for client_id, sent_at in list(self.in_flight.items()):
                if client_id not in self._outbox or now - sent_at >= self._ack_timeout_s:
                    del self.in_flight[client_id]  # answered elsewhere, or due for a resend
            ready = self._outbox.dispatchable(
                self.in_flight.keys(), self._destination, self._max_in_flight
            )
            for entry in ready:
                self.in_flight[entry.client_id] = now
                self.write(
                    send_frame(
                        client_id=entry.client_id,
                        text=entry.text,
                        to=entry.to,
                        conversation_id=entry.conversation_id,
                        ref="s:" + entry.client_id,
                    )  # fmt: skip
                )
            timeout = None
            if self.in_flight:
                oldest = min(self.in_flight.values())
                timeout = max(0.0, oldest + self._ack_timeout_s - loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
