"""The objects of the wire contract (PROTOCOL.md sections 1-3) as typed, immutable values.

Each has ``from_json``, which reads the fields it knows and ignores the rest: the contract
lets the gateway add fields, and an older SDK must keep working when it does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Json = Mapping[str, Any]


def _str(data: Json, key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise ValueError(f"{key} should be a string, got {value!r}")
    return value


def _opt_str(data: Json, key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def _int(data: Json, key: str) -> int:
    value = data[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{key} should be an integer, got {value!r}")
    return value


def _opt_float(data: Json, key: str) -> float | None:
    value = data.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Account:
    """A signed-up account (``POST /v1/accounts``)."""

    id: str
    email: str
    display_name: str

    @classmethod
    def from_json(cls, data: Json) -> Account:
        return cls(_str(data, "id"), _str(data, "email"), _str(data, "display_name"))


@dataclass(frozen=True)
class Session:
    """A signed-in session (``POST /v1/sessions``); ``token`` is the bearer token."""

    token: str
    account_id: str
    expires_at: str

    @classmethod
    def from_json(cls, data: Json) -> Session:
        return cls(_str(data, "token"), _str(data, "account_id"), _str(data, "expires_at"))


@dataclass(frozen=True)
class BrandRole:
    handle: str
    role: str


@dataclass(frozen=True)
class Me:
    """Who the token belongs to (``GET /v1/me``), with the brands they work for."""

    id: str
    email: str
    display_name: str
    brands: tuple[BrandRole, ...]

    @classmethod
    def from_json(cls, data: Json) -> Me:
        brands = tuple(
            BrandRole(_str(item, "handle"), _str(item, "role")) for item in data.get("brands", ())
        )
        return cls(_str(data, "id"), _str(data, "email"), _str(data, "display_name"), brands)


@dataclass(frozen=True)
class ServiceFigures:
    """A brand's measured service; ``None`` until there are enough cases to judge."""

    median_first_response_s: float | None
    csat: float | None
    rated_cases: int | None
    window_days: int | None

    @classmethod
    def from_json(cls, data: Json) -> ServiceFigures:
        rated = data.get("rated_cases")
        window = data.get("window_days")
        return cls(
            median_first_response_s=_opt_float(data, "median_first_response_s"),
            csat=_opt_float(data, "csat"),
            rated_cases=rated if isinstance(rated, int) else None,
            window_days=window if isinstance(window, int) else None,
        )


@dataclass(frozen=True)
class Brand:
    """A public brand from the directory."""

    handle: str
    name: str
    verified: bool
    description: str
    service: ServiceFigures | None

    @classmethod
    def from_json(cls, data: Json) -> Brand:
        service = data.get("service")
        return cls(
            handle=_str(data, "handle"),
            name=_str(data, "name"),
            verified=bool(data.get("verified", False)),
            description=_opt_str(data, "description") or "",
            service=ServiceFigures.from_json(service) if isinstance(service, Mapping) else None,
        )


@dataclass(frozen=True)
class AccountRef:
    id: str
    display_name: str

    @classmethod
    def from_json(cls, data: Json) -> AccountRef:
        return cls(_str(data, "id"), _str(data, "display_name"))


@dataclass(frozen=True)
class BrandRef:
    handle: str
    name: str
    verified: bool

    @classmethod
    def from_json(cls, data: Json) -> BrandRef:
        return cls(_str(data, "handle"), _str(data, "name"), bool(data.get("verified", False)))


@dataclass(frozen=True)
class Conversation:
    """The one private thread between a consumer and a brand."""

    id: str
    brand: BrandRef
    consumer: AccountRef
    status: str
    case: int
    assignee: AccountRef | None
    last_seq: int
    last_message_at: str | None
    unread: int

    @classmethod
    def from_json(cls, data: Json) -> Conversation:
        assignee = data.get("assignee")
        unread = data.get("unread")
        return cls(
            id=_str(data, "id"),
            brand=BrandRef.from_json(data["brand"]),
            consumer=AccountRef.from_json(data["consumer"]),
            status=_str(data, "status"),
            case=_int(data, "case"),
            assignee=AccountRef.from_json(assignee) if isinstance(assignee, Mapping) else None,
            last_seq=_int(data, "last_seq"),
            last_message_at=_opt_str(data, "last_message_at"),
            unread=unread if isinstance(unread, int) else 0,
        )


@dataclass(frozen=True)
class Sender:
    id: str
    role: str
    display_name: str

    @classmethod
    def from_json(cls, data: Json) -> Sender:
        return cls(_str(data, "id"), _str(data, "role"), _str(data, "display_name"))


@dataclass(frozen=True)
class Message:
    """One committed message; ``seq`` numbers it within its conversation, from 1, no gaps."""

    conversation_id: str
    seq: int
    id: str
    client_id: str
    sender: Sender
    text: str
    created_at: str

    @classmethod
    def from_json(cls, data: Json) -> Message:
        return cls(
            conversation_id=_str(data, "conversation_id"),
            seq=_int(data, "seq"),
            id=_str(data, "id"),
            client_id=_str(data, "client_id"),
            sender=Sender.from_json(data["sender"]),
            text=_str(data, "text"),
            created_at=_str(data, "created_at"),
        )


@dataclass(frozen=True)
class Ack:
    """The gateway's word that a sent message is durably committed."""

    client_id: str
    conversation_id: str
    seq: int
    id: str
    created_at: str

    @classmethod
    def from_json(cls, data: Json) -> Ack:
        return cls(
            client_id=_str(data, "client_id"),
            conversation_id=_str(data, "conversation_id"),
            seq=_int(data, "seq"),
            id=_str(data, "id"),
            created_at=_str(data, "created_at"),
        )


@dataclass(frozen=True)
class ConversationPage:
    """One page of ``GET /v1/conversations``; pass ``next`` as ``before`` for the next."""

    conversations: tuple[Conversation, ...]
    next: str | None


@dataclass(frozen=True)
class MessagePage:
    """One page of history, oldest first; ``last_seq`` is the conversation's newest seq."""

    messages: tuple[Message, ...]
    last_seq: int
