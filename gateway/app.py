"""Wiring: settings in, a Starlette application out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway import metrics, redis_client
from gateway.bus import Bus, LocalBus
from gateway.database import Database
from gateway.events import Event, MessageCommitted
from gateway.handlers.accounts import AccountHandler
from gateway.handlers.brands import BrandHandler
from gateway.handlers.conversations import ConversationHandler
from gateway.handlers.devices import DeviceHandler
from gateway.handlers.notices import NoticeHandler
from gateway.handlers.service import ServiceHandler
from gateway.http import (
    accounts,
    brands,
    conversations,
    devices,
    health,
    notices,
    pages,
    service,
    web,
)
from gateway.http.api import Endpoint, http_exception, internal_error, route
from gateway.http.openapi import openapi_document
from gateway.hub import Hub
from gateway.ids import use_test_clock, utc_now
from gateway.limits import (
    LocalLoginLimiter,
    LocalSendLimiter,
    LoginLimiter,
    RedisLoginLimiter,
    RedisSendLimiter,
    SendLimiter,
)
from gateway.logs import RequestIdMiddleware
from gateway.presence import LocalPresence, Presence, RedisPresence
from gateway.protocol import CloseCode
from gateway.push.payload import PushJob
from gateway.push.worker import PushService, Sender
from gateway.redis_bus import RedisBus
from gateway.secrets import Passwords
from gateway.sequencer import Sequencer
from gateway.settings import Settings, load_settings
from gateway.websocket import SocketMiddleware

log = logging.getLogger(__name__)

ENDPOINTS: tuple[Endpoint, ...] = (
    health.ENDPOINTS
    + accounts.ENDPOINTS
    + brands.ENDPOINTS
    + conversations.ENDPOINTS
    + devices.ENDPOINTS
    + web.ENDPOINTS
    + service.ENDPOINTS
    + notices.ENDPOINTS
)


def gateway_version() -> str:
    try:
        return version("atdesk")
    except PackageNotFoundError:
        return "0.0.0"


@dataclass
class Gateway:
    """Everything one gateway process holds: settings, storage, bus, live sockets, handlers."""

    settings: Settings
    db: Database
    bus: Bus
    hub: Hub
    presence: Presence
    accounts: AccountHandler
    brands: BrandHandler
    conversations: ConversationHandler
    sequencer: Sequencer | None
    devices: DeviceHandler
    push: PushService
    send_limiter: SendLimiter
    service: ServiceHandler
    notices: NoticeHandler

    async def close_sockets(self, code: CloseCode, reason: str, timeout_s: float = 5) -> None:
        """Close every live socket of this node and wait (a little) until they are gone."""
        self.hub.close_all(code, reason)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while self.hub.count():
                    await asyncio.sleep(0.02)


def build_gateway(settings: Settings) -> Gateway:
    use_test_clock(settings.test_clock_file)
    db = Database(settings)
    hub = Hub()
    bus: Bus
    presence: Presence
    send_limiter: SendLimiter
    sequencer: Sequencer | None = None
    if settings.redis_url is None:
        presence = LocalPresence(hub)
        push = PushService(settings.push, db, presence, _push_sender(settings))
        bus = LocalBus()
        bus.subscribe(hub.dispatch)  # one node: events arrive in commit order
        send_limiter = LocalSendLimiter(settings.send_rate_per_s, settings.send_burst)
        login_limiter: LoginLimiter = LocalLoginLimiter(settings.login_attempts_per_minute)
        conversations = ConversationHandler(db, bus, push=_message_pushes(push))
    else:
        client = redis_client.connect(settings.redis_url)
        redis_bus = RedisBus(
            client, settings.redis_prefix, on_recovered=lambda since: recover(since)
        )
        bus = redis_bus
        presence = RedisPresence(client, settings.redis_prefix, redis_bus.node_id, hub)
        push = PushService(settings.push, db, presence, _push_sender(settings))
        send_limiter = RedisSendLimiter(
            client, settings.redis_prefix, settings.send_rate_per_s, settings.send_burst
        )
        login_limiter = RedisLoginLimiter(
            client, settings.redis_prefix, settings.login_attempts_per_minute
        )
        conversations = ConversationHandler(db, bus, push=_message_pushes(push))
        ordered = Sequencer(conversations, hub.dispatch)
        sequencer = ordered

        def route(event: Event) -> None:
            if isinstance(event, MessageCommitted):
                ordered.accept(event)
            else:
                hub.dispatch(event)

        bus.subscribe(route)

    async def recover(since: datetime) -> None:
        assert sequencer is not None
        for change in await conversations.changed_since(since):
            await sequencer.catch_up(change.conversation.id, since)
            hub.dispatch(change)

    service = ServiceHandler(db, hub, presence, conversations)
    conversations.after_consumer_message = service.consumer_wrote
    conversations.after_case_resolved = service.case_resolved
    hub.online_listeners.append(service.member_online)
    brands = BrandHandler(db, bus)
    brands.after_routing_may_move = service.route_queue
    return Gateway(
        service=service,
        notices=NoticeHandler(db, bus, presence, push.enqueue, lease_s=settings.notice_lease_s),
        settings=settings,
        db=db,
        bus=bus,
        hub=hub,
        presence=presence,
        accounts=AccountHandler(settings, db, bus, Passwords(settings), login_limiter),
        brands=brands,
        conversations=conversations,
        sequencer=sequencer,
        devices=DeviceHandler(db),
        push=push,
        send_limiter=send_limiter,
    )


def _message_pushes(push: PushService) -> Callable[[PushJob], None] | None:
    """Where the send path queues pushes; None when none are sent, so that it builds no
    jobs only to drop them."""
    return push.enqueue if push.enabled else None


def _push_sender(settings: Settings) -> Sender | None:
    if not settings.push.enabled:
        return None
    from gateway.push.fcm import FcmSender  # firebase-admin takes a second to import

    return FcmSender(settings.push)


def create_app(settings: Settings | None = None) -> Starlette:
    """The ASGI application. Settings default to the environment (``ATDESK_*``)."""
    gateway = build_gateway(settings or load_settings())
    document = openapi_document(ENDPOINTS, version=gateway_version())

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(document)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if gateway.sequencer is not None:
            gateway.sequencer.horizon = utc_now()
        await gateway.bus.start()
        await gateway.presence.start()
        gateway.push.start()
        gateway.notices.start()
        metrics.WEBSOCKETS.set_function(gateway.hub.count)
        log.info("gateway ready (database: %s)", gateway.db.engine.url.render_as_string())
        yield
        # Sends already taken in are committed before the database goes away; their clients
        # get the same ack from another node when they retry with the same client_id.
        await gateway.conversations.drain()
        await gateway.service.drain()
        await gateway.notices.close()
        await gateway.push.stop()
        await gateway.presence.close()
        await gateway.bus.close()
        if gateway.sequencer is not None:
            await gateway.sequencer.close()
        await gateway.db.close()

    routes: list[BaseRoute] = [route(endpoint, gateway) for endpoint in ENDPOINTS]
    routes += [
        Route("/v1/openapi.json", openapi_json, methods=["GET"]),
        Route("/metrics", metrics.metrics_endpoint, methods=["GET"]),
    ]
    routes += pages.routes()
    handlers: dict[Any, Any] = {HTTPException: http_exception, Exception: internal_error}
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers=handlers,
        middleware=[Middleware(RequestIdMiddleware), Middleware(SocketMiddleware)],
    )
    app.state.gateway = gateway
    return app
