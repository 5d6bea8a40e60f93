"""HTTP request and response bodies, and the objects frames carry, as msgspec structs.

The OpenAPI document is generated from these very types, so it cannot drift from them.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

Score = Annotated[int, Meta(ge=1, le=5)]
Timestamp = Annotated[str, Meta(description="RFC 3339, UTC, Z suffix")]


class ErrorDetail(Struct):
    code: str
    message: str


class ErrorBody(Struct):
    error: ErrorDetail


# --- accounts and sessions -----------------------------------------------------------


class AccountCreate(Struct):
    email: Annotated[str, Meta(max_length=254)]
    password: Annotated[str, Meta(min_length=8, max_length=256)]
    display_name: Annotated[str, Meta(min_length=1, max_length=64)]


class AccountPublic(Struct):
    id: str
    email: str
    display_name: str


class SessionCreate(Struct):
    email: Annotated[str, Meta(max_length=254)]
    password: Annotated[str, Meta(max_length=256)]
    device_name: Annotated[str, Meta(max_length=64)] | None = None


class SessionCreated(Struct):
    token: str
    account_id: str
    expires_at: Timestamp


class BrandRole(Struct):
    handle: str
    role: Literal["owner", "admin", "agent"]


class Me(Struct):
    id: str
    email: str
    display_name: str
    brands: list[BrandRole]
    push_previews: bool = False  # pushes carry message text only when this is true


class MeUpdate(Struct):
    push_previews: Annotated[
        bool, Meta(description="show message text in push notifications (default: no)")
    ]


# --- brands --------------------------------------------------------------------------


class BrandCreate(Struct):
    handle: Annotated[str, Meta(description="2..30 of [a-z0-9_], case-insensitive")]
    name: Annotated[str, Meta(min_length=1, max_length=80)]
    description: Annotated[str, Meta(max_length=1000)] | None = None


class ServiceFigures(Struct):
    """Measured from real conversations; null until there are enough cases."""

    median_first_response_s: float | None
    csat: float | None
    rated_cases: int | None
    resolved_cases: int | None
    window_days: int


class BrandPublic(Struct):
    handle: str
    name: str
    verified: bool
    description: str
    service: ServiceFigures


class BrandList(Struct):
    brands: list[BrandPublic]


class MemberAdd(Struct):
    email: Annotated[str, Meta(max_length=254)]
    role: Literal["admin", "agent"]


class MemberAdded(Struct):
    account_id: str
    role: Literal["admin", "agent"]


# --- conversations and messages ------------------------------------------------------


class BrandRef(Struct):
    handle: str
    name: str
    verified: bool


class AccountRef(Struct):
    id: str
    display_name: str


class ConversationPublic(Struct):
    id: str
    brand: BrandRef
    consumer: AccountRef
    status: Literal["open", "resolved"]
    case: int
    assignee: AccountRef | None
    last_seq: int
    last_message_at: Timestamp
    unread: int


class ConversationList(Struct):
    conversations: list[ConversationPublic]
    next: str | None


class Sender(Struct):
    id: str
    role: Literal["consumer", "agent", "system"]
    display_name: str


class MessagePublic(Struct):
    conversation_id: str
    seq: int
    id: str
    client_id: str
    sender: Sender
    text: str
    created_at: Timestamp


class MessagePage(Struct):
    messages: list[MessagePublic]
    last_seq: int


class ResolveBody(Struct):
    agent_estimate: Score | None = None


class AssignBody(Struct):
    account_id: str | None


class Health(Struct):
    status: str
    checks: dict[str, str] = msgspec.field(default_factory=dict)


# --- push (section 5) ----------------------------------------------------------------

# FCM registration tokens are URL-safe base64 with ':' separators; this also admits plain
# base64. Never '/', so a token always fits in the path of DELETE /v1/devices/{push_token}.
PUSH_TOKEN_PATTERN = "^[A-Za-z0-9_:.~+=-]+$"
PushToken = Annotated[str, Meta(min_length=1, max_length=1024, pattern=PUSH_TOKEN_PATTERN)]


Platform = Literal["android", "ios", "web"]


class DeviceCreate(Struct):
    platform: Platform
    push_token: PushToken


class DevicePublic(Struct):
    platform: Platform
    push_token: str
    created_at: Timestamp


class DeviceList(Struct):
    devices: list[DevicePublic]
