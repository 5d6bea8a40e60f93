"""Exactly once, in order: turns at-least-once, possibly out-of-order delivery into a
gap-free stream per conversation. No I/O."""

from __future__ import annotations

from collections.abc import Mapping

from atdesk_sdk.models import Message


class Sequencer:
    """Per conversation, the highest ``seq`` handed on, and messages held back behind a gap.

    The gateway delivers at least once, so a message can arrive twice (live and again by
    ``sync``). After a reconnect a live message can also overtake older ones that ``sync``
    has not brought yet. A message is handed on only when every earlier seq has been, and
    never twice: deduplication by ``(conversation_id, seq)``.
    """

    def __init__(self, cursors: Mapping[str, int] | None = None) -> None:
        self._cursors: dict[str, int] = dict(cursors or {})
        self._held: dict[str, dict[int, Message]] = {}

    def knows(self, conversation_id: str) -> bool:
        return conversation_id in self._cursors

    def track(self, conversation_id: str, *, after_seq: int = 0) -> bool:
        """Start following a conversation from ``after_seq``; False if already followed."""
        if conversation_id in self._cursors:
            return False
        self._cursors[conversation_id] = after_seq
        return True

    def cursor(self, conversation_id: str) -> int:
        """The highest seq handed on for this conversation (0: none)."""
        return self._cursors.get(conversation_id, 0)

    def cursors(self) -> dict[str, int]:
        return dict(self._cursors)

    def has_gap(self, conversation_id: str) -> bool:
        """Whether messages are held back waiting for an earlier seq (a sync will bring it)."""
        return bool(self._held.get(conversation_id))

    def receive(self, message: Message) -> list[Message]:
        """Take one delivered message; return the messages that may now be handed on, in order.

        Returns an empty list for a duplicate, or for a message held back behind a gap.
        """
        conversation_id = message.conversation_id
        self._cursors.setdefault(conversation_id, 0)
        cursor = self._cursors[conversation_id]
        held = self._held.setdefault(conversation_id, {})
        if message.seq <= cursor or message.seq in held:
            return []
        if message.seq != cursor + 1:
            held[message.seq] = message
            return []
        ready = [message]
        cursor = message.seq
        while cursor + 1 in held:
            cursor += 1
            ready.append(held.pop(cursor))
        self._cursors[conversation_id] = cursor
        if not held:
            del self._held[conversation_id]
        return ready

    def forget(self, conversation_id: str) -> None:
        """Stop following a conversation (the account lost access to it)."""
        self._cursors.pop(conversation_id, None)
        self._held.pop(conversation_id, None)
