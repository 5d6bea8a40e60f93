"""Declaring endpoints once: the route, the OpenAPI operation and the checks come from it."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from gateway.authz import Viewer
from gateway.errors import ApiError, invalid_input, unauthenticated
from gateway.schemas import ErrorBody, ErrorDetail
from gateway.web_session import (
    SAFE_METHODS,
    SESSION_COOKIE,
    csrf_problem,
    origin_allowed,
)

if TYPE_CHECKING:
    from gateway.app import Gateway

log = logging.getLogger(__name__)

T = TypeVar("T")
_encoder = msgspec.json.Encoder()
MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class QueryParam:
    name: str
    schema: dict[str, Any]
    description: str = ""


@dataclass(frozen=True)
class Endpoint:
    """One HTTP operation. ``ok`` is the success status and its body type (None: no body)."""

    method: str
    path: str
    summary: str
    handler: Callable[[ApiRequest], Awaitable[msgspec.Struct | None]]
    ok: tuple[int, type[msgspec.Struct] | None]
    auth: bool = True
    # Check CSRF even without a session cookie: a browser sign-in must not be forged either.
    csrf: bool = False
    body: type[msgspec.Struct] | None = None
    body_required: bool = True
    query: tuple[QueryParam, ...] = ()
    errors: tuple[int, ...] = ()
    # Path parameters whose OpenAPI schema is not the default short id (1..64 characters).
    path_schemas: tuple[QueryParam, ...] = ()

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)


class ApiRequest:
    """What a handler may read from a request: parsed, validated, and who is asking."""

    def __init__(self, request: Request, gateway: Gateway, viewer: Viewer | None) -> None:
        self.request = request
        self.gateway = gateway
        self._viewer = viewer
        # (name, value or None to delete, max_age, http_only), set on the response.
        self.cookies: list[tuple[str, str | None, int | None, bool]] = []

    @property
    def viewer(self) -> Viewer:
        if self._viewer is None:
            raise unauthenticated()
        return self._viewer

    @property
    def client_ip(self) -> str:
        return self.request.client.host if self.request.client else "unknown"

    def path(self, name: str) -> str:
        value = str(self.request.path_params[name])
        if "\x00" in value:
            raise ApiError(404, "not_found", f"no such {name}")  # no id or handle holds U+0000
        return value

    async def body(self, kind: type[T], *, required: bool = True) -> T:
        raw = await self.request.body()
        if len(raw) > MAX_BODY_BYTES:
            raise ApiError(413, "too_large", f"a request body is at most {MAX_BODY_BYTES} bytes")
        if not raw.strip() and not required:
            raw = b"{}"
        try:
            return msgspec.json.decode(raw, type=kind)
        except msgspec.ValidationError as error:
            raise invalid_input(str(error)) from None
        except msgspec.DecodeError:
            raise ApiError(400, "invalid_json", "the body must be one JSON object") from None

    def query_int(self, name: str, *, default: int, low: int, high: int) -> int:
        raw = self.request.query_params.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise invalid_input(f"{name} must be a whole number") from None
        if not low <= value <= high:
            raise invalid_input(f"{name} must be between {low} and {high}")
        return value

    def query_str(self, name: str, *, choices: Sequence[str] | None = None) -> str | None:
        value = self.request.query_params.get(name)
        if value is not None and choices is not None and value not in choices:
            raise invalid_input(f"{name} must be one of {', '.join(choices)}")
        return value


def json_response(status: int, body: msgspec.Struct | None) -> Response:
    if body is None:
        return Response(status_code=status)
    return Response(_encoder.encode(body), status_code=status, media_type="application/json")


def error_response(error: ApiError) -> Response:
    response = json_response(
        error.status, ErrorBody(error=ErrorDetail(code=error.code, message=error.message))
    )
    retry_after = getattr(error, "retry_after_s", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def check_csrf(request: Request, gateway: Gateway) -> None:
    problem = csrf_problem(
        cookies=request.cookies,
        headers=request.headers,
        origin_ok=origin_allowed(
            request.headers.get("origin"),
            request.headers.get("host"),
            gateway.settings.allowed_origins,
        ),
    )
    if problem is not None:
        log.warning("%s %s refused: %s", request.method, request.url.path, problem)
        raise ApiError(403, "csrf_failed", problem)


def route(endpoint: Endpoint, gateway: Gateway) -> Route:
    async def run(request: Request) -> Response:
        try:
            viewer = None
            token = bearer_token(request)
            if token is None:
                # A browser page of ours: the session rides in an HttpOnly cookie.
                token = request.cookies.get(SESSION_COOKIE)
                if token is not None and request.method not in SAFE_METHODS:
                    check_csrf(request, gateway)
            if endpoint.csrf:
                check_csrf(request, gateway)
            if endpoint.auth:
                viewer = None if token is None else await gateway.accounts.authenticate(token)
                if viewer is None:
                    raise unauthenticated()
            call = ApiRequest(request, gateway, viewer)
            response = json_response(endpoint.ok[0], await endpoint.handler(call))
            # Secure whenever the page came over HTTPS (directly or via a trusted proxy).
            secure = request.url.scheme == "https"
            for name, value, max_age, http_only in call.cookies:
                if value is None:
                    response.delete_cookie(name, path="/", secure=secure, samesite="strict")
                else:
                    response.set_cookie(
                        name, value, max_age=max_age, path="/", secure=secure,
                        httponly=http_only, samesite="strict",
                    )  # fmt: skip
            return response
        except ApiError as error:
            return error_response(error)

    return Route(endpoint.path, run, methods=[endpoint.method], name=endpoint.handler.__name__)


async def http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 and 405, in our error shape."""
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    code = codes.get(exc.status_code, "http_error")
    message = "no such endpoint" if exc.status_code == 404 else str(exc.detail)
    response = error_response(ApiError(exc.status_code, code, message))
    if exc.status_code == 405:
        # Starlette's Allow names one route's methods; a path has one route per method.
        allowed: set[str] = set()
        for candidate in request.app.router.routes:
            if isinstance(candidate, Route) and candidate.methods:
                if candidate.matches(request.scope)[0] is not Match.NONE:
                    allowed |= candidate.methods
        response.headers["Allow"] = ", ".join(sorted(allowed))
    return response


async def internal_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(ApiError(500, "internal", "the gateway failed; it has been logged"))
