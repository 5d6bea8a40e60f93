"""Tables. Changes here reach a database only through an Alembic revision in migrations/."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Index, Text, UniqueConstraint, false, text
from sqlmodel import Field, SQLModel


def _utc_column(*, nullable: bool = False) -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=nullable)


class Account(SQLModel, table=True):
    __tablename__ = "accounts"

    id: str = Field(primary_key=True, max_length=40)
    email: str = Field(max_length=254, unique=True)
    display_name: str = Field(max_length=64)
    password_hash: str = Field(max_length=512)
    created_at: datetime = Field(sa_column=_utc_column())
    # Push notifications show message text only if the account asked for it (PROTOCOL 5).
    push_previews: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class AuthSession(SQLModel, table=True):
    """A signed-in device. Only the SHA-256 of its bearer token is kept."""

    __tablename__ = "sessions"

    id: str = Field(primary_key=True, max_length=40)
    account_id: str = Field(foreign_key="accounts.id", index=True, max_length=40)
    token_hash: str = Field(max_length=64, unique=True)
    device_name: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(sa_column=_utc_column())
    expires_at: datetime = Field(sa_column=_utc_column())
    revoked_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))


class Brand(SQLModel, table=True):
    __tablename__ = "brands"

    id: str = Field(primary_key=True, max_length=40)
    handle: str = Field(max_length=30, unique=True)  # always lower case
    name: str = Field(max_length=80)
    name_lower: str = Field(max_length=80, index=True)  # for prefix search on name
    description: str = Field(default="", max_length=1000)
    verified: bool = Field(default=False)
    created_at: datetime = Field(sa_column=_utc_column())
    # Opening hours as JSON ({"time_zone", "weekly"}; gateway.hours); None: not set.
    hours: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # New and reopened cases go to the least busy online agent (else they wait in a queue).
    auto_assign: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class Membership(SQLModel, table=True):
    __tablename__ = "memberships"

    brand_id: str = Field(foreign_key="brands.id", primary_key=True, max_length=40)
    account_id: str = Field(foreign_key="accounts.id", primary_key=True, index=True, max_length=40)
    role: str = Field(max_length=16)  # owner | admin | agent
    created_at: datetime = Field(sa_column=_utc_column())


_WAITING = "status = 'open' AND assignee_id IS NULL"


class Conversation(SQLModel, table=True):
    """The one thread between a consumer and a brand; ``last_seq`` allocates message seqs."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("consumer_id", "brand_id", name="uq_conversations_consumer_brand"),
        Index("ix_conversations_brand_activity", "brand_id", "last_message_at", "id"),
        Index("ix_conversations_consumer_activity", "consumer_id", "last_message_at", "id"),
        # A node back from a bus outage reads the conversations active since it left.
        Index("ix_conversations_activity", "last_message_at"),
        # A brand's queue: only the waiting conversations are in it (migration 0005).
        Index(
            "ix_conversations_queue",
            "brand_id",
            sqlite_where=text(_WAITING),
            postgresql_where=text(_WAITING),
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    brand_id: str = Field(foreign_key="brands.id", max_length=40)
    consumer_id: str = Field(foreign_key="accounts.id", max_length=40)
    status: str = Field(max_length=16)  # open | resolved
    case_number: int
    assignee_id: str | None = Field(default=None, foreign_key="accounts.id", max_length=40)
    last_seq: int = 0
    created_at: datetime = Field(sa_column=_utc_column())
    last_message_at: datetime = Field(sa_column=_utc_column())


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
        # Idempotent sends: a retried client_id finds the row it created.
        UniqueConstraint("sender_id", "client_id", name="uq_messages_sender_client"),
    )

    id: str = Field(primary_key=True, max_length=40)
    conversation_id: str = Field(foreign_key="conversations.id", max_length=40)
    seq: int
    sender_id: str = Field(foreign_key="accounts.id", max_length=40)
    sender_role: str = Field(max_length=16)  # consumer | agent | system
    sender_name: str = Field(max_length=64)
    client_id: str = Field(max_length=64)
    text: str = Field(max_length=4000)
    created_at: datetime = Field(sa_column=_utc_column())


class ReadCursor(SQLModel, table=True):
    __tablename__ = "read_cursors"

    conversation_id: str = Field(foreign_key="conversations.id", primary_key=True, max_length=40)
    account_id: str = Field(foreign_key="accounts.id", primary_key=True, max_length=40)
    seq: int = 0


class Case(SQLModel, table=True):
    """One episode of a conversation, from a consumer's first message to resolve.

    Everything the service figures need is kept here at commit time (PROTOCOL 6), so the
    figures read cases in a time window by index and never scan messages.
    """

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_brand_resolved", "brand_id", "resolved_at"),
        Index("ix_cases_brand_first_response", "brand_id", "first_response_at"),
    )

    conversation_id: str = Field(foreign_key="conversations.id", primary_key=True, max_length=40)
    number: int = Field(primary_key=True)
    brand_id: str = Field(foreign_key="brands.id", max_length=40)
    opened_at: datetime = Field(sa_column=_utc_column())
    first_response_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    first_response_s: float | None = None  # first_response_at - opened_at
    first_responder_id: str | None = Field(default=None, foreign_key="accounts.id", max_length=40)
    resolved_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    resolver_id: str | None = Field(default=None, foreign_key="accounts.id", max_length=40)
    agent_estimate: int | None = None
    score: int | None = None  # the consumer's rating, 1..5
    comment: str | None = Field(default=None, max_length=2000)
    rated_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    # The one automatic "when a human will answer" message of this case was sent.
    auto_replied: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class Device(SQLModel, table=True):
    """A phone or browser that takes push notifications for one account (PROTOCOL 5)."""

    __tablename__ = "devices"

    id: str = Field(primary_key=True, max_length=40)
    account_id: str = Field(foreign_key="accounts.id", index=True, max_length=40)
    platform: str = Field(max_length=16)  # android | ios | web
    # One device per token: a token registered again by another account moves to it.
    push_token: str = Field(max_length=1024, unique=True)
    created_at: datetime = Field(sa_column=_utc_column())


class Follow(SQLModel, table=True):
    """An account that wants a brand's notices (PROTOCOL 7)."""

    __tablename__ = "follows"

    brand_id: str = Field(foreign_key="brands.id", primary_key=True, max_length=40)
    account_id: str = Field(foreign_key="accounts.id", primary_key=True, index=True, max_length=40)
    created_at: datetime = Field(sa_column=_utc_column())


class Notice(SQLModel, table=True):
    """A brand's public announcement: its incident history (PROTOCOL 7)."""

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_brand_created", "brand_id", "created_at", "id"),)

    id: str = Field(primary_key=True, max_length=40)
    brand_id: str = Field(foreign_key="brands.id", max_length=40)
    author_id: str = Field(foreign_key="accounts.id", max_length=40)
    title: str = Field(max_length=200)
    text: str = Field(max_length=4000)
    created_at: datetime = Field(sa_column=_utc_column())
    # The fan-out's progress, so another node (or this one, restarted) can finish it: who
    # runs it, the last recipient id done, when it last moved, and when it finished.
    fanout_owner: str | None = Field(default=None, max_length=40)
    fanout_after: str | None = Field(default=None, max_length=40)
    fanout_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    fanned_out_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))


class CannedReply(SQLModel, table=True):
    """A prepared answer a brand's agents insert with / in the reply box."""

    __tablename__ = "canned_replies"

    id: str = Field(primary_key=True, max_length=40)
    brand_id: str = Field(foreign_key="brands.id", index=True, max_length=40)
    title: str = Field(max_length=80)
    text: str = Field(max_length=4000)
    created_at: datetime = Field(sa_column=_utc_column())
