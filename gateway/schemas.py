"""HTTP request and response bodies, and the objects frames carry, as msgspec structs.

The OpenAPI document is generated from these very types, so it cannot drift from them.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

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


class WebSession(Struct):
    """A browser's session: its token is in the HttpOnly cookie, not here."""

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
    # Addition: the handles of the brands this account follows (PROTOCOL 7), a to z.
    following: list[str] = []


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
    # Addition: the opening hours (PROTOCOL 6), null when the brand has set none.
    hours: OpeningHours | None = None
    # Addition: new and reopened cases are assigned to the least busy online agent (on for
    # new brands).
    auto_assign: bool = False


class BrandList(Struct):
    brands: list[BrandPublic]


class MemberAdd(Struct):
    email: Annotated[str, Meta(max_length=254)]
    role: Literal["admin", "agent"]


class MemberAdded(Struct):
    account_id: str
    role: Literal["admin", "agent"]


class Member(Struct):
    account_id: str
    email: str | None  # for owners and admins only
    display_name: str
    role: Literal["owner", "admin", "agent"]


class MemberList(Struct):
    members: list[Member]


# --- conversations and messages ------------------------------------------------------


class BrandRef(Struct):
    handle: str
    name: str
    verified: bool


class AccountRef(Struct):
    id: str
    display_name: str


class ConversationPublic(Struct, omit_defaults=True):
    id: str
    brand: BrandRef
    consumer: AccountRef
    status: Literal["open", "resolved"]
    case: int
    assignee: AccountRef | None
    last_seq: int
    last_message_at: Timestamp
    unread: int
    # Addition: while the case waits in the brand's queue (open, nobody assigned, and the
    # brand routes cases automatically), its place in it (1: next). Absent otherwise.
    queue_position: int | None = None
    # Addition: the latest resolved case and its rating (score null: not rated yet).
    # Absent until a case of the conversation is resolved.
    rating: CaseRating | None = None


class CaseRating(Struct):
    """Whether the conversation's latest resolved case is rated (PROTOCOL 6)."""

    case: int
    score: Annotated[int | None, Meta(description="1..5; null: not rated yet")]


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


# --- service quality and opening hours (section 6) -----------------------------------

HHMM = Annotated[str, Meta(pattern="^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$",
                           description="a wall-clock time, 00:00 to 24:00")]  # fmt: skip
Interval = tuple[HHMM, HHMM]


class Weekly(Struct, forbid_unknown_fields=True):
    """Open intervals per weekday, in the brand's time zone; a missing day is closed."""

    mon: list[Interval] = []
    tue: list[Interval] = []
    wed: list[Interval] = []
    thu: list[Interval] = []
    fri: list[Interval] = []
    sat: list[Interval] = []
    sun: list[Interval] = []


class OpeningHours(Struct):
    time_zone: Annotated[str, Meta(min_length=1, max_length=64,
                                   description="IANA time zone, e.g. Europe/Paris")]  # fmt: skip
    weekly: Weekly


class BrandUpdate(Struct):
    """Only the fields present change; ``hours: null`` removes the opening hours."""

    name: Annotated[str, Meta(min_length=1, max_length=80)] | UnsetType = UNSET
    description: Annotated[str, Meta(max_length=1000)] | UnsetType = UNSET
    hours: OpeningHours | None | UnsetType = UNSET
    auto_assign: bool | UnsetType = UNSET


class RatingCreate(Struct):
    score: Score
    comment: Annotated[str, Meta(max_length=2000)] | None = None


class RatingPublic(Struct):
    conversation_id: str
    case: int
    score: int
    comment: str | None
    created_at: Timestamp


class StatsFigures(Struct):
    """A brand's or an agent's own figures: no 5-case floor, null only without data."""

    median_first_response_s: float | None
    csat: float | None
    rated_cases: int
    resolved_cases: int


class EstimateAccuracy(Struct):
    """How close the agents' estimates at resolve came to the customers' scores."""

    compared_cases: int
    mean_absolute_error: float | None
    exact_share: Annotated[float, Meta(ge=0, le=1)] | None
    bias: Annotated[float | None, Meta(description="mean of estimate - score")]


class AgentStats(Struct):
    agent: AccountRef
    figures: StatsFigures
    estimates: EstimateAccuracy


class DayStats(Struct):
    date: Annotated[str, Meta(description="a UTC calendar day, YYYY-MM-DD")]
    median_first_response_s: float | None
    csat: float | None
    resolved_cases: int
    rated_cases: int


class Verbatim(Struct):
    score: int
    comment: str
    created_at: Timestamp
    conversation_id: str
    case: int
    agent: AccountRef | None  # who resolved the case


class BrandStats(Struct):
    handle: str
    window_days: int
    since: Timestamp
    until: Timestamp
    figures: StatsFigures
    estimates: EstimateAccuracy
    agents: list[AgentStats]
    days: list[DayStats]
    comments: list[Verbatim]


# --- notices (section 7) and canned replies ------------------------------------------


class NoticeCreate(Struct):
    title: Annotated[str, Meta(min_length=1, max_length=200)]
    text: Annotated[str, Meta(min_length=1, max_length=4000)]


class NoticePublic(Struct):
    id: str
    brand: str  # the handle
    title: str
    text: str
    created_at: Timestamp


class NoticeList(Struct):
    notices: list[NoticePublic]


class CannedCreate(Struct):
    title: Annotated[str, Meta(min_length=1, max_length=80)]
    text: Annotated[str, Meta(min_length=1, max_length=4000)]


class CannedPublic(Struct):
    id: str
    title: str
    text: str
    created_at: Timestamp


class CannedList(Struct):
    canned: list[CannedPublic]
