"""The socket loop: moves frames between a WebSocket and the protocol and handlers."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from starlette import types as asgi
from starlette._utils import get_route_path  # how Starlette's router reads the path
from starlette.websockets import WebSocket

from gateway import logs, metrics
from gateway.authz import Role, Viewer
from gateway.errors import ApiError
from gateway.ids import new_id
from gateway.protocol import (
    Ack,
    Close,
    CloseCode,
    ErrorFrame,
    FrameProtocol,
    Handle,
    Hello,
    MessageFrame,
    Ping,
    Pong,
    Read,
    Reply,
    Send,
    ServerFrame,
    Sync,
    Synced,
    Typing,
    Welcome,
    encode,
)
from gateway.ratelimit import TokenBucket
from gateway.web_session import SESSION_COOKIE, origin_allowed
from gateway.ws_protocol import SEND_TEXT_NOW

if TYPE_CHECKING:
    from gateway.app import Gateway

log = logging.getLogger(__name__)

# A socket this far behind is closed (4408) rather than allowed to hold memory without bound;
# its client reconnects and syncs from the database.
MAX_OUTBOX_FRAMES = 10_000
SYNC_PAGE = 500
MAX_SENDS_IN_FLIGHT = 100


SOCKET_PATH = "/v1/ws"


class SocketMiddleware:
    """Serves ``/v1/ws`` in front of Starlette's exception handling and router.

    Those wrap every frame a socket sends in two more calls that only serve HTTP (an
    exception after a response started), and a socket turns its own failures into a close
    code (``LiveConnection.run``); everything else goes on to ``app``.
    """

    def __init__(self, app: asgi.ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: asgi.Scope, receive: asgi.Receive, send: asgi.Send) -> None:
        if scope["type"] == "websocket" and get_route_path(scope) == SOCKET_PATH:
            await websocket_endpoint(WebSocket(scope, receive, send), receive, send)
        else:
            await self.app(scope, receive, send)


async def websocket_endpoint(websocket: WebSocket, receive: asgi.Receive, send: asgi.Send) -> None:
    gateway: Gateway = websocket.app.state.gateway
    origin = websocket.headers.get("origin")
    if not origin_allowed(origin, websocket.headers.get("host"), gateway.settings.allowed_origins):
        log.warning("socket refused: origin %s is not allowed", origin)
        await websocket.close(code=CloseCode.FORBIDDEN_ORIGIN)
        return
    await websocket.accept()
    await LiveConnection(websocket, gateway, receive, send).run()


class LiveConnection:
    """One signed-in socket: reads frames in order, writes them in order (at once when the
    socket can take them, else through one queue and a writer task)."""

    def __init__(
        self, websocket: WebSocket, gateway: Gateway, receive: asgi.Receive, send: asgi.Send
    ) -> None:
        self._websocket = websocket  # the handshake, cookies and close
        # Frames go straight through the server's ASGI calls (about 2% of a busy
        # gateway's time went to Starlette's per-frame checks around them).
        self._asgi_receive = receive
        self._asgi_send = send
        # Writes a frame at once when the socket can take it (gateway.ws_protocol); None
        # under another server, where every frame goes through the writer task.
        extensions = websocket.scope.get("extensions") or {}
        self._send_text_now: Callable[[str], bool] | None = extensions.get(SEND_TEXT_NOW)
        self._gateway = gateway
        settings = gateway.settings
        self._protocol = FrameProtocol(TokenBucket(settings.frame_rate_per_s, settings.frame_burst))
        # Frames waiting for the writer, which waits on ``_outbox_filled`` when there are none.
        self._outbox: collections.deque[str | Close] = collections.deque()
        self._outbox_filled: asyncio.Future[None] | None = None
        self._closing = False
        self._viewer: Viewer | None = None
        self.socket_id = new_id("w")
        # Highest seq handed to this socket per conversation: drops repeats.
        self._delivered: dict[str, int] = {}
        # Conversations being synced: live messages wait here so order holds.
        self._syncing: dict[str, list[tuple[int, str]]] = {}
        self._sends_in_flight: set[asyncio.Task[None]] = set()

    # --- Subscriber (called by the hub; never blocks) ----------------------------------

    @property
    def account_id(self) -> str:
        return self.viewer.account_id

    @property
    def session_id(self) -> str:
        return self.viewer.session_id

    @property
    def viewer(self) -> Viewer:
        assert self._viewer is not None, "not signed in yet"
        return self._viewer

    def brand_ids(self) -> Iterable[str]:
        return list(self.viewer.roles)

    def set_role(self, brand_id: str, role: str | None) -> None:
        roles = dict(self.viewer.roles)
        if role is None:
            roles.pop(brand_id, None)
        else:
            roles[brand_id] = Role(role)
        self._viewer = dataclasses.replace(self.viewer, roles=roles)

    def deliver_message(self, conversation_id: str, seq: int, text: str) -> bool:
        """Hand the message's frame on unless this socket has it (or is syncing, which
        delivers it after); whether it did, for ``metrics.MESSAGES_DELIVERED``."""
        waiting = self._syncing.get(conversation_id)
        if waiting is not None:
            waiting.append((seq, text))
            return False
        if seq <= self._delivered.get(conversation_id, 0):
            return False
        self._delivered[conversation_id] = seq
        self.push(text)
        return True

    def push(self, text: str) -> None:
        if self._closing:
            return
        if len(self._outbox) >= MAX_OUTBOX_FRAMES:
            log.warning("socket %s is too slow; closing it", self.socket_id)
            self.close_soon(CloseCode.SLOW_CONSUMER, "too far behind: reconnect and sync")
            return
        # Straight out when the writer waits for frames (nothing of this socket's is on its
        # way): in order, and one task step less for the frame.
        writer_idle = self._outbox_filled is not None and not self._outbox_filled.done()
        if writer_idle and self._send_text_now is not None and self._send_text_now(text):
            return
        self._to_writer(text)

    def _to_writer(self, item: str | Close) -> None:
        self._outbox.append(item)
        if self._outbox_filled is not None and not self._outbox_filled.done():
            self._outbox_filled.set_result(None)

    def close_soon(self, code: CloseCode, reason: str) -> None:
        if self._closing:
            return
        self._closing = True
        if code in (CloseCode.UNAUTHENTICATED, CloseCode.SLOW_CONSUMER):
            # Nothing more for this socket: a revoked session must not get one more frame.
            self._outbox.clear()
        self._to_writer(Close(code, reason))

    # --- the loop ----------------------------------------------------------------------

    async def run(self) -> None:
        logs.context_id.set(self.socket_id)
        writer = asyncio.create_task(self._write_loop())
        try:
            await self._read_loop()
        except Exception:
            log.exception("socket %s failed", self.socket_id)
            self.close_soon(CloseCode.INTERNAL, "internal error")
        finally:
            if self._viewer is not None:
                self._gateway.hub.remove(self)
            self._closing = True
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(writer, timeout=5)
            writer.cancel()

    async def _read_loop(self) -> None:
        timeout = self._gateway.settings.hello_timeout_s
        while not self._closing:
            try:
                received = self._asgi_receive()
                if self._viewer is None:
                    received = asyncio.wait_for(received, timeout)
                message = await received
            except TimeoutError:
                self.close_soon(CloseCode.UNAUTHENTICATED, "no hello within the time allowed")
                return
            if message["type"] == "websocket.disconnect":
                self._closing = True
                self._to_writer(Close(CloseCode.GOING_AWAY, ""))
                return
            raw = message.get("text")
            if raw is None:
                raw = message.get("bytes") or b""
            await self._on_frame(raw)

    async def _on_frame(self, raw: str | bytes) -> None:
        decision = self._protocol.receive(raw)
        if isinstance(decision, Handle) and isinstance(decision.frame, Send):
            wait = await self._gateway.send_limiter.take(self.viewer.account_id)
            if wait > 0:
                metrics.RATE_LIMITED.labels("send").inc()
                decision = self._protocol.refuse_for_rate(wait, decision.frame.ref)
        if isinstance(decision, Close):
            self.close_soon(decision.code, decision.reason)
        elif isinstance(decision, Reply):
            self.push(encode(decision.frame))
        elif isinstance(decision.frame, Send):
            # Sends run concurrently so that a client's pipelined sends share commits; they
            # are submitted in frame order, so they are committed in that order too.
            task = asyncio.create_task(self._handle_guarded(decision.frame))
            self._sends_in_flight.add(task)
            task.add_done_callback(self._sends_in_flight.discard)
            if len(self._sends_in_flight) >= MAX_SENDS_IN_FLIGHT:
                await asyncio.wait(self._sends_in_flight, return_when=asyncio.FIRST_COMPLETED)
        else:
            await self._handle_guarded(decision.frame)

    async def _handle_guarded(self, frame: Hello | Send | Sync | Read | Typing | Ping) -> None:
        try:
            await self._handle(frame)
        except ApiError as error:
            self._reply_error(frame.ref, error.code, error.message)
        except Exception:
            log.exception("socket %s: %s frame failed", self.socket_id, type(frame).__name__)
            self._reply_error(frame.ref, "internal", "the gateway failed; it has been logged")

    async def _handle(self, frame: Hello | Send | Sync | Read | Typing | Ping) -> None:
        handler = self._gateway.conversations
        match frame:
            case Hello():
                await self._hello(frame)
            case Send():
                await self._send(frame)
            case Sync():
                await self._sync(frame)
            case Read():
                await handler.mark_read(self.viewer, frame.conversation_id, frame.seq)
            case Typing():
                await handler.typing(self.viewer, frame.conversation_id)
            case Ping():
                self._reply(Pong(ref=frame.ref))

    async def _hello(self, frame: Hello) -> None:
        token = frame.token or self._websocket.cookies.get(SESSION_COOKIE, "")
        hub = self._gateway.hub
        changes_before = hub.access_changes
        viewer = await self._gateway.accounts.authenticate(token)
        if viewer is None:
            self.close_soon(CloseCode.UNAUTHENTICATED, "bad or expired token")
            return
        self._protocol.hello_accepted()
        self._viewer = viewer
        hub.add(self)
        if hub.access_changes != changes_before:
            # A membership change or revocation was handed on between reading the roles and
            # joining the hub; it may have been this account's: read them again, now that
            # the hub forwards changes. (Nearly always none was, and a reconnect storm costs
            # one read per socket, not two.)
            fresh = await self._gateway.accounts.authenticate(token)
            if fresh is None:
                self.close_soon(CloseCode.UNAUTHENTICATED, "session revoked")
                return
            if fresh.roles != viewer.roles:
                hub.remove(self)
                self._viewer = fresh
                hub.add(self)
        self._reply(
            Welcome(account_id=viewer.account_id, heartbeat_s=self._gateway.settings.heartbeat_s)
        )

    async def _send(self, frame: Send) -> None:
        started = time.perf_counter()
        message = await self._gateway.conversations.send(self.viewer, frame)
        self._reply(
            Ack(
                ref=frame.ref,
                client_id=message.client_id,
                conversation_id=message.conversation_id,
                seq=message.seq,
                id=message.id,
                created_at=message.created_at,
            )
        )
        metrics.SEND_TO_ACK.observe(time.perf_counter() - started)

    async def _sync(self, frame: Sync) -> None:
        handler = self._gateway.conversations
        conversation_id = frame.conversation_id
        # Live messages wait while the history is read; the first page also checks that the
        # viewer takes part (not_found otherwise, and nothing was buffered).
        self._syncing[conversation_id] = []
        after = frame.after_seq
        last_seq = after
        try:
            while True:
                page = await handler.history(
                    self.viewer, conversation_id, after_seq=after, limit=SYNC_PAGE
                )
                for message in page.messages:
                    self.push(encode(MessageFrame(message=message)))
                last_seq = page.last_seq
                if len(page.messages) < SYNC_PAGE:
                    break
                after = page.messages[-1].seq
            delivered = self._delivered.get(conversation_id, 0)
            self._delivered[conversation_id] = max(delivered, last_seq)
            self._reply(Synced(ref=frame.ref, conversation_id=conversation_id, last_seq=last_seq))
        finally:
            delivered = sum(
                self.deliver_message(conversation_id, seq, text)
                for seq, text in self._syncing.pop(conversation_id)
            )
            metrics.MESSAGES_DELIVERED.inc(delivered)

    def _reply(self, frame: ServerFrame) -> None:
        self.push(encode(frame))

    def _reply_error(self, ref: str | None, code: str, message: str) -> None:
        if code == "invalid_input":
            code = "invalid_frame"
        self._reply(ErrorFrame(ref=ref, code=code, message=message))

    async def _write_loop(self) -> None:
        while True:
            if not self._outbox:
                self._outbox_filled = asyncio.get_running_loop().create_future()
                await self._outbox_filled
            item = self._outbox.popleft()
            if isinstance(item, Close):
                with contextlib.suppress(Exception):
                    await self._websocket.close(code=item.code, reason=item.reason)
                return
            try:
                await self._asgi_send({"type": "websocket.send", "text": item})
            except Exception:
                # The peer is gone; the read loop sees the disconnect and cleans up.
                self._closing = True
                return
