"""Our own web pages: the brand console (/console), the consumer app (/app), and the
JavaScript SDK they run on (/sdk/atdesk.js). Checked-in files, served as they are."""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from gateway.web_session import CSRF_COOKIE, new_csrf_token

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = ROOT / "brand_console"
CONSUMER_APP = ROOT / "consumer_app"
SDK = ROOT / "sdk" / "js" / "atdesk.js"

# No inline script or style anywhere: text that slipped into HTML could not run anyway.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


def page(path: str, index: Path) -> Route:
    """The app's one HTML page; hands out the CSRF cookie its forms copy into a header."""

    async def serve(request: Request) -> Response:
        response = FileResponse(index, headers={**SECURITY_HEADERS, "cache-control": "no-cache"})
        if not request.cookies.get(CSRF_COOKIE):
            response.set_cookie(
                CSRF_COOKIE, new_csrf_token(), path="/", samesite="strict",
                secure=request.url.scheme == "https", httponly=False,
            )  # fmt: skip
        return response

    return Route(path, serve, methods=["GET"])


class SecureStatic:
    """StaticFiles with our security headers on every answer."""

    def __init__(self, directory: Path) -> None:
        self._files = StaticFiles(directory=directory)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                headers.append((b"cache-control", b"no-cache"))
                message = {**message, "headers": headers}
            await send(message)

        await self._files(scope, receive, send_with_headers)


async def sdk(request: Request) -> Response:
    return FileResponse(SDK, media_type="text/javascript", headers=SECURITY_HEADERS)


async def home(request: Request) -> Response:
    return RedirectResponse("/app", status_code=302)


def routes() -> list[BaseRoute]:
    found: list[BaseRoute] = [Route("/", home, methods=["GET"])]
    for path, app in (("/console", CONSOLE), ("/app", CONSUMER_APP)):
        index = app / "index.html"
        if not index.is_file():
            log.warning("%s is missing: %s is not served", index, path)
            continue
        found += [page(path, index), Mount(f"{path}/static", SecureStatic(app / "static"))]
    if SDK.is_file():
        found.append(Route("/sdk/atdesk.js", sdk, methods=["GET"]))
    else:
        log.warning("%s is missing (not a source checkout?): the web apps cannot run", SDK)
    return found
