"""This node's live sockets, indexed by account, brand and session, and fan-out to them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Protocol

import msgspec

from gateway import metrics
from gateway.events import (
    ConversationChanged,
    Event,
    MembershipChanged,
    MessageCommitted,
    NoticeDelivered,
    RatingRequested,
    ReadMoved,
    SessionRevoked,
    TypingStarted,
)
from gateway.protocol import (
    CloseCode,
    ConversationFrame,
    MessageFrame,
    NoticeFrame,
    RatingRequestFrame,
    ReadFrame,
    TypingFrame,
    encode,
)
from gateway.schemas import ConversationPublic


class Subscriber(Protocol):
    """What the hub needs of a live socket. Every method returns at once (no I/O)."""

    @property
    def account_id(self) -> str: ...

    @property
    def session_id(self) -> str: ...

    def brand_ids(self) -> Iterable[str]: ...

    def set_role(self, brand_id: str, role: str | None) -> None: ...

    def deliver_message(self, conversation_id: str, seq: int, text: str) -> bool: ...

    def push(self, text: str) -> None: ...

    def close_soon(self, code: CloseCode, reason: str) -> None: ...


# Told (account id, True) when an account's first socket on this node opens and
# (account id, False) when its last one closes.
PresenceListener = Callable[[str, bool], None]


class Hub:
    def __init__(self) -> None:
        self._by_account: defaultdict[str, set[Subscriber]] = defaultdict(set)
        self._by_brand: defaultdict[str, set[Subscriber]] = defaultdict(set)
        self._by_session: defaultdict[str, set[Subscriber]] = defaultdict(set)
        self.presence_listener: PresenceListener | None = None
        # Told (account id, its brand ids) when an account's first socket on this node opens.
        self.online_listeners: list[Callable[[str, list[str]], None]] = []
        # How many membership changes and revoked sessions this hub has handed on: a socket
        # that read its access before joining knows whether one may have passed it by.
        self.access_changes = 0

    def add(self, subscriber: Subscriber) -> None:
        first = subscriber.account_id not in self._by_account
        self._by_account[subscriber.account_id].add(subscriber)
        self._by_session[subscriber.session_id].add(subscriber)
        for brand_id in subscriber.brand_ids():
            self._by_brand[brand_id].add(subscriber)
        if first and self.presence_listener is not None:
            self.presence_listener(subscriber.account_id, True)
        if first:
            for listener in self.online_listeners:
                listener(subscriber.account_id, list(subscriber.brand_ids()))

    def remove(self, subscriber: Subscriber) -> None:
        _discard(self._by_account, subscriber.account_id, subscriber)
        _discard(self._by_session, subscriber.session_id, subscriber)
        for brand_id in subscriber.brand_ids():
            _discard(self._by_brand, brand_id, subscriber)
        if subscriber.account_id not in self._by_account and self.presence_listener is not None:
            self.presence_listener(subscriber.account_id, False)

    def accounts(self) -> list[str]:
        """Accounts with a live socket on this node."""
        return list(self._by_account)

    def is_online(self, account_id: str) -> bool:
        return account_id in self._by_account

    def has_brand_member(self, brand_id: str) -> bool:
        """Whether a member of the brand has a live socket on this node."""
        return brand_id in self._by_brand

    def count(self) -> int:
        return sum(len(subscribers) for subscribers in self._by_account.values())

    def close_all(self, code: CloseCode, reason: str) -> None:
        for subscribers in list(self._by_account.values()):
            for subscriber in list(subscribers):
                subscriber.close_soon(code, reason)

    def dispatch(self, event: Event) -> None:
        """Hand ``event`` to every local socket that should see it, serializing once."""
        match event:
            case MessageCommitted(message=message):
                text = encode(MessageFrame(message=message))
                delivered = 0
                for subscriber in self._participants(event.brand_id, event.consumer_id):
                    delivered += subscriber.deliver_message(
                        message.conversation_id, message.seq, text
                    )
                # Counted once a message, not once a socket: each count takes a lock.
                metrics.MESSAGES_DELIVERED.inc(delivered)
            case ConversationChanged(conversation=conversation, read_seqs=read_seqs):
                for subscriber in self._participants(event.brand_id, event.consumer_id):
                    unread = conversation.last_seq - read_seqs.get(subscriber.account_id, 0)
                    frame = ConversationFrame(conversation=_with_unread(conversation, unread))
                    subscriber.push(encode(frame))
            case ReadMoved():
                text = encode(
                    ReadFrame(
                        conversation_id=event.conversation_id,
                        account_id=event.account_id,
                        seq=event.seq,
                    )
                )
                for subscriber in self._participants(event.brand_id, event.consumer_id):
                    subscriber.push(text)
            case TypingStarted():
                text = encode(
                    TypingFrame(conversation_id=event.conversation_id, account_id=event.account_id)
                )
                for subscriber in self._participants(event.brand_id, event.consumer_id):
                    if subscriber.account_id != event.account_id:
                        subscriber.push(text)
            case SessionRevoked(session_id=session_id):
                self.access_changes += 1
                for subscriber in list(self._by_session.get(session_id, ())):
                    subscriber.close_soon(CloseCode.UNAUTHENTICATED, "session revoked")
            case RatingRequested():
                text = encode(
                    RatingRequestFrame(conversation_id=event.conversation_id, case=event.case)
                )
                for subscriber in self._by_account.get(event.consumer_id, ()):
                    subscriber.push(text)
            case NoticeDelivered(account_ids=account_ids, notice=notice):
                text = encode(NoticeFrame(notice=notice))
                for account_id in account_ids:
                    for subscriber in self._by_account.get(account_id, ()):
                        subscriber.push(text)
            case MembershipChanged(brand_id=brand_id, account_id=account_id, role=role):
                self.access_changes += 1
                for subscriber in self._by_account.get(account_id, ()):
                    subscriber.set_role(brand_id, role)
                    if role is None:
                        _discard(self._by_brand, brand_id, subscriber)
                    else:
                        self._by_brand[brand_id].add(subscriber)

    def _participants(self, brand_id: str, consumer_id: str) -> set[Subscriber]:
        return self._by_account.get(consumer_id, set()) | self._by_brand.get(brand_id, set())


def _with_unread(conversation: ConversationPublic, unread: int) -> ConversationPublic:
    return msgspec.structs.replace(conversation, unread=max(0, unread))


def _discard(index: defaultdict[str, set[Subscriber]], key: str, subscriber: Subscriber) -> None:
    subscribers = index.get(key)
    if subscribers is not None:
        subscribers.discard(subscriber)
        if not subscribers:
            del index[key]
