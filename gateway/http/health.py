"""Liveness, readiness, and the API's own description."""

from __future__ import annotations

import asyncio
import logging

from gateway.errors import ApiError
from gateway.http.api import ApiRequest, Endpoint
from gateway.schemas import Health

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 2.0


async def healthz(call: ApiRequest) -> Health:
    return Health(status="ok")


async def readyz(call: ApiRequest) -> Health:
    checks: dict[str, str] = {}
    for name, probe in (("database", call.gateway.db.ping), ("bus", call.gateway.bus.ping)):
        try:
            await asyncio.wait_for(probe(), READY_TIMEOUT_S)
            checks[name] = "ok"
        except Exception as error:  # any failure means "not ready"; say which and why
            log.warning("readiness: %s unreachable: %s", name, error)
            checks[name] = "unreachable"
    if any(value != "ok" for value in checks.values()):
        failing = ", ".join(name for name, value in checks.items() if value != "ok")
        raise ApiError(503, "not_ready", f"unreachable: {failing}")
    return Health(status="ok", checks=checks)


ENDPOINTS = (
    Endpoint("GET", "/healthz", "The process is up", healthz, ok=(200, Health), auth=False),
    Endpoint("GET", "/readyz", "The database and the bus are reachable", readyz,
             ok=(200, Health), auth=False, errors=(503,)),
)  # fmt: skip
