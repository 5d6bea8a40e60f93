"""``AtdeskClient``: a socket that survives restarts without losing or repeating a message,
plus the HTTP calls of ``HttpCalls``."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import uuid
from collections.abc import AsyncIterator
from types import TracebackType

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from atdesk_sdk.api import USER_AGENT, HttpApi
from atdesk_sdk.backoff import Backoff
from atdesk_sdk.errors import ApiError, AtdeskError, AuthError, ClientClosed, SendRejected
from atdesk_sdk.events import (
    Connected,
    ConversationEvent,
    Disconnected,
    Event,
    MessageEvent,
    OtherEvent,
    ReadEvent,
    SendFailed,
    TypingEvent,
)
from atdesk_sdk.http_calls import HttpCalls
from atdesk_sdk.link import Link, LinkLost
from atdesk_sdk.models import Ack, Conversation
from atdesk_sdk.outbox import Outbox, OutboxEntry, normalize_handle
from atdesk_sdk.protocol import (
    FATAL_CLOSE_CODES,
    RETRYABLE_ERRORS,
    AckReply,
    ErrorReply,
    ServerFrame,
    SyncedReply,
    Welcome,
    hello_frame,
    parse_server_frame,
    read_frame,
    text_problem,
    typing_frame,
    ws_url,
)
from atdesk_sdk.sequencer import Sequencer
from atdesk_sdk.state import SavedState, StateFile

log = logging.getLogger("atdesk_sdk")

HELLO_TIMEOUT_S = 10.0


class ConnectionState(enum.Enum):
    IDLE = "idle"  # connect() not called yet
    CONNECTING = "connecting"  # between sockets: connecting, or waiting to retry
    CONNECTED = "connected"
    FAILED = "failed"  # the token is dead: stopped for good, see AtdeskClient.failure
    CLOSED = "closed"


class AtdeskClient(HttpCalls):
    """A client of one atdesk gateway, for a consumer or a brand's agent.

    Sending goes through an outbox: a message is retried with the same ``client_id`` over
    every reconnect until the gateway acks it, and the gateway never commits one
    ``client_id`` twice. Receiving is exactly once and in order per conversation: after
    each reconnect the client lists conversations and syncs those it missed messages in,
    and drops any ``(conversation_id, seq)`` it already handed on.

    Args:
        url: the gateway, e.g. ``http://127.0.0.1:8000``.
        token: a bearer token from an earlier ``sign_in``, if any.
        state_path: a file for the outbox and read positions; with it, a process that
            crashed resends its unacked messages and catches up when it starts again. One
            process at a time per file.
        fsync: force queued messages to disk before they are sent (with ``state_path``).
        backoff: reconnection waits; the default grows from 0.5 s to 30 s with jitter.
        client_name: sent in ``hello`` so the gateway's logs can tell clients apart.
        max_in_flight: at most this many messages awaiting their ack at once.
        ack_timeout_s: a message with no answer after this long is sent again.
        http: an httpx client to make requests with (its base URL is ignored).
    """

    def __init__(
        self,
        url: str = "http://127.0.0.1:8000",
        *,
        token: str | None = None,
        state_path: str | os.PathLike[str] | None = None,
        fsync: bool = True,
        backoff: Backoff | None = None,
        client_name: str = USER_AGENT,
        max_in_flight: int = 32,
        ack_timeout_s: float = 30.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.api = HttpApi(url, token=token, http=http)
        self._ws_url = ws_url(url)
        self._state_file = None if state_path is None else StateFile(state_path, fsync=fsync)
        saved = SavedState() if self._state_file is None else self._state_file.open()
        self._outbox = Outbox(saved.outbox.values(), self._state_file)
        self._sequencer = Sequencer(saved.cursors)
        self._baselined = saved.baselined
        self._backoff = backoff or Backoff()
        self._client_name = client_name
        self._max_in_flight = max_in_flight
        self._ack_timeout_s = ack_timeout_s
        # None in the queue: no event will follow.
        self._events: asyncio.Queue[Event | None] = asyncio.Queue()
        self._waiters: dict[str, asyncio.Future[Ack]] = {}
        self._unconfirmed_reads: dict[str, int] = {}
        self._conversation_for_handle: dict[str, str] = {}
        self._changed = asyncio.Event()
        self._link: Link | None = None
        self._runner: asyncio.Task[None] | None = None
        self.account_id: str | None = None
        self.state = ConnectionState.IDLE
        self.failure: AtdeskError | None = None

    async def __aenter__(self) -> AtdeskClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def token(self) -> str | None:
        return self.api.token

    # --- the socket --------------------------------------------------------------------

    async def connect(self, *, wait: bool = True) -> None:
        """Start the socket; it reconnects by itself until ``close()`` or a dead token.

        Args:
            wait: return once signed in on the socket, however many attempts that takes
                (bound it with ``asyncio.timeout``), or at once if False: sends wait in
                the outbox meanwhile.

        Raises:
            AuthError: no token, or the gateway refused it (the client is then ``FAILED``).
        """
        self._check_usable()
        if self.api.token is None:
            raise AuthError("unauthenticated", "sign in first")
        if self._runner is None:
            self.state = ConnectionState.CONNECTING
            self._runner = asyncio.create_task(self._run(), name="atdesk-sdk")
        if wait:
            await self._live_link()

    async def close(self) -> None:
        """Close the socket and release everything. Unacked messages stay in the state file.

        Calls waiting on ``send`` raise ClientClosed; ``events()`` ends.
        """
        if self.state is ConnectionState.CLOSED:
            return
        if self.state is not ConnectionState.FAILED:
            self.state = ConnectionState.CLOSED
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        self.state = ConnectionState.CLOSED
        self._finish(ClientClosed())
        await self.api.aclose()
        if self._state_file is not None:
            self._state_file.close()

    async def send(
        self,
        *,
        text: str,
        to: str | None = None,
        conversation_id: str | None = None,
        client_id: str | None = None,
    ) -> Ack:
        """Send a message and wait for the gateway's ack (it is committed then).

        The message goes to the outbox first (to disk, with ``state_path``) and is retried
        with the same ``client_id`` across reconnects until acked. If this call is
        cancelled the message is still sent.

        Args:
            text: 1 to 4000 characters after trimming.
            to: a brand handle, ``"@acme"``: opens (or finds) your thread with it.
            conversation_id: an existing thread. Exactly one of ``to`` and this.
            client_id: your id for the message (1 to 64 characters, unique per sender);
                a random one by default.

        Returns:
            The ack: the conversation, ``seq`` and id the gateway gave the message.

        Raises:
            ValueError: the text is empty or too long, or not exactly one destination.
            SendRejected: the gateway refused it for good (``unknown_brand``, ...).
            AuthError: the token died before the ack came (the message stays queued).
            ClientClosed: the client was closed before the ack came.
        """
        problem = text_problem(text)
        if problem is not None:
            raise ValueError(problem)
        self._check_usable()
        entry = OutboxEntry(client_id or uuid.uuid4().hex, text, to, conversation_id)
        future: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        self._outbox.add(entry)
        self._waiters[entry.client_id] = future
        if self._link is not None:
            self._link.wake()
        return await future

    def pending(self) -> list[OutboxEntry]:
        """Messages not acked yet, oldest first (those restored from the state file too)."""
        return list(self._outbox)

    async def flush(self) -> None:
        """Wait until every message in the outbox is acked (or refused).

        Raises:
            AuthError: the token died first.
            ClientClosed: the client was closed first.
        """
        while len(self._outbox):
            changed = self._changed
            self._check_usable()
            await changed.wait()

    async def mark_read(self, conversation_id: str, seq: int) -> None:
        """Move your read cursor; the other side sees a ``ReadEvent``.

        If the socket is down, the receipt is sent once it is back.
        """
        self._check_usable()
        if seq > self._unconfirmed_reads.get(conversation_id, 0):
            self._unconfirmed_reads[conversation_id] = seq
        if self._link is not None:
            self._link.write(read_frame(conversation_id, seq, ref="r:" + conversation_id))

    async def typing(self, conversation_id: str) -> None:
        """Tell the other side you are typing. Dropped when the socket is down: it is stale
        by the time the socket is back."""
        self._check_usable()
        if self._link is not None:
            self._link.write(typing_frame(conversation_id))

    async def sync(self) -> None:
        """Catch up now: list conversations, then sync every one, and return when each
        has answered. Every message committed before the call has been yielded by (or is
        queued for) ``events()`` when this returns.

        Raises:
            AuthError: the token died first.
            ClientClosed: the client was closed first.
        """
        while True:
            link = await self._live_link()
            try:
                await self._catch_up(link, every_conversation=True)
                return
            except (LinkLost, httpx.TransportError, ConnectionClosed):
                continue  # that socket died: catch up on the next one

    async def events(self) -> AsyncIterator[Event]:
        """Everything that happens, in order; one consumer at a time.

        Messages come once per ``(conversation_id, seq)`` and in seq order per
        conversation. With ``state_path``, a message counts as handled when you ask for
        the next event: after a crash, the one you were handling comes again. Events
        wait in memory until asked for, so a program that never reads them should not
        keep a client connected for long.

        Raises:
            AuthError: the token died; the client has stopped.
        """
        while True:
            item = await self._events.get()
            if item is None:
                self._events.put_nowait(None)  # for any other iterator
                if self.failure is not None:
                    raise self.failure
                return
            yield item
            if isinstance(item, MessageEvent) and self._state_file is not None:
                message = item.message
                self._state_file.record_cursor(message.conversation_id, message.seq)

    # --- the connection loop -----------------------------------------------------------

    async def _run(self) -> None:
        while self.failure is None:
            code: int | None = None
            reason = ""
            try:
                if not self._baselined:
                    await self._baseline()
                code, reason = await self._connect_once()
            except AuthError as error:
                self._fail(error)
                return
            except (OSError, TimeoutError, InvalidHandshake, httpx.TransportError) as error:
                reason = f"{type(error).__name__}: {error}"
            except ApiError as error:  # a 5xx or 429 while listing: try again later
                reason = str(error)
            except Exception as error:  # a gateway answering outside the contract, say
                log.exception("connection attempt failed")
                reason = f"{type(error).__name__}: {error}"
            if code in FATAL_CLOSE_CODES:
                self._fail(AuthError("unauthenticated", reason or "the gateway refused the token"))
            if self.failure is not None:
                return  # a dead token: reconnecting would only be refused again
            self.state = ConnectionState.CONNECTING
            delay = self._backoff.next_delay()
            log.info("socket down (%s %s); retrying in %.2f s", code, reason, delay)
            self._emit(Disconnected(code, reason, delay))
            await asyncio.sleep(delay)

    async def _baseline(self) -> None:
        """A client with no saved state starts from now: what is already in a thread it
        can read with ``history``; ``events()`` brings what comes after."""
        for conversation in await self.api.all_conversations():
            if self._sequencer.track(conversation.id, after_seq=conversation.last_seq):
                if self._state_file is not None:
                    self._state_file.record_cursor(conversation.id, conversation.last_seq)
        self._baselined = True
        if self._state_file is not None:
            self._state_file.record_baselined()

    async def _connect_once(self) -> tuple[int | None, str]:
        """One socket, from connecting to its close; the close code and reason."""
        token = self.api.token
        if token is None:
            raise AuthError("unauthenticated", "signed out")
        try:
            async with connect(
                self._ws_url, open_timeout=HELLO_TIMEOUT_S, close_timeout=5,
                user_agent_header=USER_AGENT, max_queue=64,
            ) as connection:  # fmt: skip
                await connection.send(hello_frame(token, self._client_name))
                first = await asyncio.wait_for(connection.recv(), HELLO_TIMEOUT_S)
                welcome = parse_server_frame(first)
                if not isinstance(welcome, Welcome):
                    return None, f"expected welcome, got {type(welcome).__name__}"
                await self._serve(connection, welcome)
            return connection.close_code, connection.close_reason or ""
        except ConnectionClosed as closed:
            if closed.rcvd is None:
                return None, "connection lost"
            return closed.rcvd.code, closed.rcvd.reason

    async def _serve(self, connection: ClientConnection, welcome: Welcome) -> None:
        link = Link(
            connection,
            account_id=welcome.account_id,
            sink=self,
            outbox=self._outbox,
            destination=lambda entry: entry.destination(self._conversation_for_handle),
            cursor=self._sequencer.cursor,
            max_in_flight=self._max_in_flight,
            ack_timeout_s=self._ack_timeout_s,
        )
        self.account_id = welcome.account_id
        self._backoff.reset()
        self._link = link
        self.state = ConnectionState.CONNECTED
        self._emit(Connected(welcome.account_id))
        self._notify()
        for conversation_id, seq in self._unconfirmed_reads.items():
            link.write(read_frame(conversation_id, seq, ref="r:" + conversation_id))
        catching_up = asyncio.create_task(self._catch_up_or_close(link))
        try:
            await link.run()
        finally:
            self._link = None
            catching_up.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await catching_up
            self._notify()

    async def _catch_up_or_close(self, link: Link) -> None:
        try:
            await self._catch_up(link, every_conversation=False)
        except LinkLost:
            pass
        except Exception as error:
            # The socket is up but the listing failed: start over on a fresh connection.
            log.warning("catching up failed (%s); reconnecting", error)
            if isinstance(error, AuthError):
                self._fail(error)
            await link.connection.close()

    async def _catch_up(self, link: Link, *, every_conversation: bool) -> None:
        """List conversations (finding those started while away), sync the ones behind."""
        listed = {c.id: c for c in await self.api.all_conversations()}
        for conversation in listed.values():
            self._sequencer.track(conversation.id)  # new since the baseline: all of it is news
            self._learn(conversation)
        waiting: list[asyncio.Future[None]] = []
        for conversation_id, cursor in self._sequencer.cursors().items():
            known = listed.get(conversation_id)
            behind = known is None or known.last_seq > cursor
            if every_conversation or behind or self._sequencer.has_gap(conversation_id):
                waiting.append(link.sync(conversation_id))
        await asyncio.gather(*waiting)

    async def _live_link(self) -> Link:
        while True:
            changed = self._changed
            self._check_usable()
            if self._runner is None:
                raise AtdeskError("not_connected", "call connect() first")
            if self._link is not None and not self._link.closed:
                return self._link
            await changed.wait()

    # --- frames from the link ----------------------------------------------------------

    def on_frame(self, link: Link, frame: ServerFrame) -> None:
        match frame:
            case MessageEvent(message=message):
                for ready in self._sequencer.receive(message):
                    self._emit(MessageEvent(ready))
                cid = message.conversation_id
                if self._sequencer.has_gap(cid) and not link.is_syncing(cid):
                    link.sync(cid)
            case AckReply(ack=ack):
                self._on_ack(link, ack)
            case SyncedReply(ref=ref):
                conversation_id = None if ref is None else link.finish_sync(ref)
                if conversation_id is not None and self._sequencer.has_gap(conversation_id):
                    link.sync(conversation_id)
            case ErrorReply():
                self._on_error(link, frame)
            case ConversationEvent(conversation=conversation):
                self._sequencer.track(conversation.id)
                self._learn(conversation)
                self._emit(frame)
            case ReadEvent(conversation_id=cid, account_id=account_id, seq=seq):
                if account_id == link.account_id and self._unconfirmed_reads.get(cid, 0) <= seq:
                    self._unconfirmed_reads.pop(cid, None)
                self._emit(frame)
            case TypingEvent() | OtherEvent():
                self._emit(frame)
            case _:
                pass  # pong, a second welcome: nothing to do

    def _on_ack(self, link: Link, ack: Ack) -> None:
        link.in_flight.pop(ack.client_id, None)
        entry = self._outbox.remove(ack.client_id)
        if entry is not None and entry.to is not None:
            self._conversation_for_handle[normalize_handle(entry.to)] = ack.conversation_id
        waiter = self._waiters.pop(ack.client_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(ack)
        link.wake()
        self._notify()

    def _on_error(self, link: Link, error: ErrorReply) -> None:
        ref = error.ref or ""
        if ref.startswith("s:"):
            client_id = ref[2:]
            link.in_flight.pop(client_id, None)
            if error.code in RETRYABLE_ERRORS:
                pause = error.retry_after_s or 1.0
                log.info(
                    "send %s refused (%s); sending again in %.3f s", client_id, error.code, pause
                )
                link.pause_sends(pause)
                return
            if self._outbox.remove(client_id) is None:
                return  # answered already (a resend of an acked message)
            rejected = SendRejected(client_id, error.code, error.message)
            waiter = self._waiters.pop(client_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_exception(rejected)
            self._emit(SendFailed(client_id, error.code, error.message))
            link.wake()
            self._notify()
        elif ref.startswith("r:"):
            if error.code not in RETRYABLE_ERRORS:  # refused for good: do not resend it
                self._unconfirmed_reads.pop(ref[2:], None)
        elif ref.startswith("y:"):
            if error.code in RETRYABLE_ERRORS:
                delay = error.retry_after_s or 1.0
                asyncio.get_running_loop().call_later(delay, link.resync, ref)
                return
            conversation_id = link.finish_sync(ref)
            if conversation_id is not None and error.code in ("not_found", "forbidden"):
                self._sequencer.forget(conversation_id)  # access lost: nothing more to sync
        else:
            log.warning("gateway error %s: %s", error.code, error.message)

    def _learn(self, conversation: Conversation) -> None:
        if conversation.consumer.id == self.account_id:
            handle = normalize_handle(conversation.brand.handle)
            self._conversation_for_handle[handle] = conversation.id

    # --- bookkeeping -------------------------------------------------------------------

    def _emit(self, event: Event) -> None:
        self._events.put_nowait(event)

    def _notify(self) -> None:
        """Wake everything waiting for a change of link, outbox or state."""
        self._changed.set()
        self._changed = asyncio.Event()

    def _check_usable(self) -> None:
        if self.failure is not None:
            raise self.failure
        if self.state is ConnectionState.CLOSED:
            raise ClientClosed()

    def _fail(self, error: AtdeskError) -> None:
        log.warning("stopping: %s", error)
        self.failure = error
        self.state = ConnectionState.FAILED
        self._finish(error)

    def _finish(self, error: AtdeskError) -> None:
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_exception(error)
        self._waiters.clear()
        self._events.put_nowait(None)
        self._notify()
