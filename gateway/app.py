"""Wiring: settings in, a Starlette application out."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from gateway.bus import Bus, LocalBus
from gateway.database import Database
from gateway.handlers.accounts import AccountHandler
from gateway.handlers.brands import BrandHandler
from gateway.handlers.conversations import ConversationHandler
from gateway.http import accounts, brands, conversations, health
from gateway.http.api import Endpoint, http_exception, internal_error, route
from gateway.http.openapi import openapi_document
from gateway.hub import Hub
from gateway.presence import LocalPresence, Presence
from gateway.ratelimit import TokenBucket
from gateway.secrets import Passwords
from gateway.settings import Settings, load_settings
from gateway.websocket import websocket_endpoint

log = logging.getLogger(__name__)

ENDPOINTS: tuple[Endpoint, ...] = (
    health.ENDPOINTS + accounts.ENDPOINTS + brands.ENDPOINTS + conversations.ENDPOINTS
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
    _send_buckets: dict[str, TokenBucket] = field(default_factory=dict)

    def send_bucket(self, account_id: str) -> TokenBucket:
        """The send allowance of an account, shared by all its sockets on this node."""
        bucket = self._send_buckets.get(account_id)
        if bucket is None:
            if len(self._send_buckets) >= 100_000:
                self._send_buckets.clear()
            bucket = TokenBucket(self.settings.send_rate_per_s, self.settings.send_burst)
            self._send_buckets[account_id] = bucket
        return bucket


def build_gateway(settings: Settings) -> Gateway:
    db = Database(settings)
    bus = LocalBus()
    hub = Hub()
    bus.subscribe(hub.dispatch)
    return Gateway(
        settings=settings,
        db=db,
        bus=bus,
        hub=hub,
        presence=LocalPresence(hub),
        accounts=AccountHandler(settings, db, bus, Passwords(settings)),
        brands=BrandHandler(db, bus),
        conversations=ConversationHandler(db, bus),
    )


def create_app(settings: Settings | None = None) -> Starlette:
    """The ASGI application. Settings default to the environment (``ATDESK_*``)."""
    gateway = build_gateway(settings or load_settings())
    document = openapi_document(ENDPOINTS, version=gateway_version())

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(document)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        log.info("gateway ready (database: %s)", gateway.db.engine.url.render_as_string())
        yield
        await gateway.bus.close()
        await gateway.db.close()

    routes: list[BaseRoute] = [route(endpoint, gateway) for endpoint in ENDPOINTS]
    routes += [
        Route("/v1/openapi.json", openapi_json, methods=["GET"]),
        WebSocketRoute("/v1/ws", websocket_endpoint),
    ]
    handlers: dict[Any, Any] = {HTTPException: http_exception, Exception: internal_error}
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=handlers)
    app.state.gateway = gateway
    return app
