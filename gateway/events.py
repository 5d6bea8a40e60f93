"""What the gateway publishes after a commit: the bus envelope, one struct per event.

Every conversation event names the conversation's brand and consumer, so a node can find
the participants' live sockets without asking the database.
"""

from __future__ import annotations

import msgspec

from gateway.schemas import ConversationPublic, MessagePublic, NoticePublic


class MessageCommitted(msgspec.Struct, tag="message", frozen=True):
    brand_id: str
    consumer_id: str
    message: MessagePublic


class ConversationChanged(msgspec.Struct, tag="conversation", frozen=True):
    brand_id: str
    consumer_id: str
    conversation: ConversationPublic  # ``unread`` is filled in per recipient from read_seqs
    read_seqs: dict[str, int]


class ReadMoved(msgspec.Struct, tag="read", frozen=True):
    brand_id: str
    consumer_id: str
    conversation_id: str
    account_id: str
    seq: int


class TypingStarted(msgspec.Struct, tag="typing", frozen=True):
    brand_id: str
    consumer_id: str
    conversation_id: str
    account_id: str


class SessionRevoked(msgspec.Struct, tag="session_revoked", frozen=True):
    session_id: str


class MembershipChanged(msgspec.Struct, tag="membership", frozen=True):
    brand_id: str
    account_id: str
    role: str | None  # None: removed


class RatingRequested(msgspec.Struct, tag="rating_request", frozen=True):
    """A case was resolved: its consumer is asked to rate it (PROTOCOL 6)."""

    brand_id: str
    consumer_id: str
    conversation_id: str
    case: int


class NoticeDelivered(msgspec.Struct, tag="notice", frozen=True):
    """One batch of a notice's fan-out: these accounts' live sockets get it (PROTOCOL 7)."""

    account_ids: list[str]
    notice: NoticePublic


Event = (
    MessageCommitted
    | ConversationChanged
    | ReadMoved
    | TypingStarted
    | SessionRevoked
    | MembershipChanged
    | RatingRequested
    | NoticeDelivered
)
