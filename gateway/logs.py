"""Logging set-up: one JSON object a line (for machines) or plain text (for a terminal),
each record carrying the id of the HTTP request or socket it happened in."""

from __future__ import annotations

import contextvars
import json
import logging
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The HTTP request or socket being served: "r_..." or the socket's "w_..." id.
context_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("context_id", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (current := context_id.get()) is not None:
            entry["context"] = current
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.context = context_id.get() or "-"
        return True


def configure(level: str, *, json_lines: bool) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(_ContextFilter())
    if json_lines:
        formatter: logging.Formatter = JsonFormatter()
        formatter.converter = time.gmtime
    else:
        formatter = logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s [%(context)s] %(message)s"
        )
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class RequestIdMiddleware:
    """Gives every HTTP request an id, in its log lines and its ``X-Request-Id`` header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = "r_" + secrets.token_hex(8)
        token = context_id.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            context_id.reset(token)
