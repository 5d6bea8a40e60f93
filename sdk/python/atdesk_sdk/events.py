"""What ``AtdeskClient.events()`` yields: one small immutable class per kind of event."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from atdesk_sdk.models import Conversation, Message


@dataclass(frozen=True)
class MessageEvent:
    """A committed message, yielded once per ``(conversation_id, seq)``, in seq order.

    Your own messages come back this way too (``message.client_id`` is the one you sent).
    """

    message: Message


@dataclass(frozen=True)
class ConversationEvent:
    """A conversation was created or changed (status, case, assignee)."""

    conversation: Conversation


@dataclass(frozen=True)
class ReadEvent:
    """``account_id`` has read ``conversation_id`` up to ``seq``."""

    conversation_id: str
    account_id: str
    seq: int


@dataclass(frozen=True)
class TypingEvent:
    """``account_id`` is typing in ``conversation_id`` (never stored; show it briefly)."""

    conversation_id: str
    account_id: str


@dataclass(frozen=True)
class Connected:
    """The socket is up and signed in; catching up on what was missed has begun."""

    account_id: str


@dataclass(frozen=True)
class Disconnected:
    """The socket went down; the client reconnects by itself after ``retry_in_s``.

    ``code`` is the WebSocket close code, or ``None`` when the connection was lost or
    could not be made at all.
    """

    code: int | None
    reason: str
    retry_in_s: float


@dataclass(frozen=True)
class SendFailed:
    """The gateway refused a message for good; it has left the outbox."""

    client_id: str
    code: str
    message: str


@dataclass(frozen=True)
class OtherEvent:
    """A frame this SDK version does not know (the contract lets the gateway add some)."""

    type: str
    frame: Mapping[str, Any] = field(default_factory=dict)


Event = (
    MessageEvent
    | ConversationEvent
    | ReadEvent
    | TypingEvent
    | Connected
    | Disconnected
    | SendFailed
    | OtherEvent
)
