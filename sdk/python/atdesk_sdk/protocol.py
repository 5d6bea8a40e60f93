"""The socket frames of PROTOCOL.md section 4, without I/O: build client frames as text,
parse server frames into typed values. The client only moves these over a socket."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from atdesk_sdk.events import ConversationEvent, MessageEvent, OtherEvent, ReadEvent, TypingEvent
from atdesk_sdk.models import Ack, Conversation, Message

MAX_TEXT_CHARS = 4000
MAX_CLIENT_ID_CHARS = 64


class CloseCode(enum.IntEnum):
    """Close codes the gateway uses (section 4.6) and what the client makes of them."""

    GOING_AWAY = 1001
    TOO_LARGE = 1009
    INTERNAL = 1011
    PROTOCOL_VIOLATION = 4400
    UNAUTHENTICATED = 4401
    FORBIDDEN_ORIGIN = 4403
    SLOW_CONSUMER = 4408
    RATE_LIMITED = 4429


# Closes after which reconnecting cannot help: the token is dead, or this origin is refused.
FATAL_CLOSE_CODES = frozenset({CloseCode.UNAUTHENTICATED, CloseCode.FORBIDDEN_ORIGIN})

# Errors worth retrying (a send with the same client_id, a sync); any other code is final.
RETRYABLE_ERRORS = frozenset({"rate_limited", "internal"})


def ws_url(http_url: str) -> str:
    """The socket address of a gateway: ``http://host:8000`` -> ``ws://host:8000/v1/ws``."""
    parts = urlsplit(http_url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ValueError(f"not a gateway address: {http_url!r} (try http://127.0.0.1:8000)")
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/v1/ws", "", ""))


def text_problem(text: str) -> str | None:
    """Why the gateway would refuse ``text`` as a message, or None if it would take it."""
    trimmed = text.strip()
    if not trimmed:
        return "text must not be empty"
    if len(trimmed) > MAX_TEXT_CHARS:
        return f"text is {len(trimmed)} characters; at most {MAX_TEXT_CHARS}"
    return None


# --- client frames -------------------------------------------------------------------


def _frame(kind: str, ref: str | None, **fields: Any) -> str:
    frame: dict[str, Any] = {"type": kind}
    if ref is not None:
        frame["ref"] = ref
    frame.update({key: value for key, value in fields.items() if value is not None})
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def hello_frame(token: str, client: str) -> str:
    return _frame("hello", None, token=token, client=client)


def send_frame(
    *, client_id: str, text: str, to: str | None, conversation_id: str | None, ref: str | None
) -> str:
    if (to is None) == (conversation_id is None):
        raise ValueError("a send needs exactly one of to and conversation_id")
    return _frame(
        "send", ref, client_id=client_id, to=to, conversation_id=conversation_id, text=text
    )


def sync_frame(conversation_id: str, after_seq: int, ref: str | None) -> str:
    return _frame("sync", ref, conversation_id=conversation_id, after_seq=after_seq)


def read_frame(conversation_id: str, seq: int, ref: str | None = None) -> str:
    return _frame("read", ref, conversation_id=conversation_id, seq=seq)


def typing_frame(conversation_id: str) -> str:
    return _frame("typing", None, conversation_id=conversation_id)


# --- server frames -------------------------------------------------------------------


@dataclass(frozen=True)
class Welcome:
    account_id: str
    heartbeat_s: int


@dataclass(frozen=True)
class AckReply:
    ack: Ack
    ref: str | None


@dataclass(frozen=True)
class SyncedReply:
    conversation_id: str
    last_seq: int
    ref: str | None


@dataclass(frozen=True)
class ErrorReply:
    code: str
    message: str
    ref: str | None
    retry_after_s: float | None


@dataclass(frozen=True)
class Pong:
    ref: str | None


ServerFrame = (
    Welcome
    | AckReply
    | SyncedReply
    | ErrorReply
    | Pong
    | MessageEvent
    | ConversationEvent
    | ReadEvent
    | TypingEvent
    | OtherEvent
)


class FrameError(ValueError):
    """A server frame that does not follow the contract."""


def parse_server_frame(raw: str | bytes) -> ServerFrame:
    """Parse one frame from the gateway.

    Args:
        raw: the text of one WebSocket message.

    Returns:
        The typed frame; frame types this SDK does not know become ``OtherEvent``.

    Raises:
        FrameError: the text is not a JSON object, or a known frame lacks a field.
    """
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise FrameError(f"not JSON: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise FrameError("a frame is a JSON object with a string type")
    try:
        return _parse(data["type"], data)
    except (KeyError, TypeError, ValueError) as error:
        raise FrameError(f"bad {data['type']} frame: {error!r}") from None


def _ref(data: Mapping[str, Any]) -> str | None:
    ref = data.get("ref")
    return ref if isinstance(ref, str) else None


def _parse(kind: str, data: dict[str, Any]) -> ServerFrame:
    match kind:
        case "welcome":
            return Welcome(str(data["account_id"]), int(data.get("heartbeat_s", 25)))
        case "ack":
            return AckReply(Ack.from_json(data), _ref(data))
        case "message":
            return MessageEvent(Message.from_json(data["message"]))
        case "conversation":
            return ConversationEvent(Conversation.from_json(data["conversation"]))
        case "synced":
            return SyncedReply(str(data["conversation_id"]), int(data["last_seq"]), _ref(data))
        case "read":
            return ReadEvent(
                str(data["conversation_id"]), str(data["account_id"]), int(data["seq"])
            )
        case "typing":
            return TypingEvent(str(data["conversation_id"]), str(data["account_id"]))
        case "pong":
            return Pong(_ref(data))
        case "error":
            retry = data.get("retry_after_s")
            return ErrorReply(
                code=str(data["code"]),
                message=str(data.get("message", "")),
                ref=_ref(data),
                retry_after_s=float(retry) if isinstance(retry, int | float) else None,
            )
        case _:
            return OtherEvent(kind, data)
