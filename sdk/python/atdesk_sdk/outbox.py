"""The outbox: every message sent and not yet acked, oldest first, and which to send now.

No sockets here. With a ``StateFile`` each change is written to disk before it takes
effect, so a process that crashes resends its unacked messages when it starts again.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from atdesk_sdk.state import StateFile


@dataclass(frozen=True)
class OutboxEntry:
    """One message to send; ``client_id`` makes retries of it safe.

    Exactly one of ``to`` (``"@acme"``) and ``conversation_id`` is set.
    """

    client_id: str
    text: str
    to: str | None = None
    conversation_id: str | None = None

    def __post_init__(self) -> None:
        if (self.to is None) == (self.conversation_id is None):
            raise ValueError("an outbox entry needs exactly one of to and conversation_id")
        if not 1 <= len(self.client_id) <= 64:
            raise ValueError("client_id must be 1 to 64 characters")

    def destination(self, conversation_for_handle: Mapping[str, str]) -> str:
        """The conversation this entry goes to, as far as the client knows.

        ``to="@acme"`` counts as the conversation with @acme once the client knows its
        id, so that messages to one thread are ordered whichever way they were addressed.
        """
        if self.conversation_id is not None:
            return self.conversation_id
        handle = normalize_handle(self.to or "")
        return conversation_for_handle.get(handle, "@" + handle)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"client_id": self.client_id, "text": self.text}
        if self.to is not None:
            data["to"] = self.to
        if self.conversation_id is not None:
            data["conversation_id"] = self.conversation_id
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OutboxEntry:
        return cls(
            client_id=str(data["client_id"]),
            text=str(data["text"]),
            to=data.get("to"),
            conversation_id=data.get("conversation_id"),
        )


def normalize_handle(raw: str) -> str:
    """``" @ACME "`` -> ``"acme"``, as the gateway compares handles."""
    return raw.strip().removeprefix("@").lower()


class Outbox:
    """Messages waiting for their ack, oldest first.

    Args:
        entries: entries restored from a state file, oldest first.
        journal: where each change is recorded before it takes effect; None keeps the
            outbox in memory only.
    """

    def __init__(
        self, entries: Iterable[OutboxEntry] = (), journal: StateFile | None = None
    ) -> None:
        # dicts keep insertion order: the oldest entry comes first.
        self._entries: dict[str, OutboxEntry] = {entry.client_id: entry for entry in entries}
        self._journal = journal

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, client_id: object) -> bool:
        return client_id in self._entries

    def __iter__(self) -> Iterator[OutboxEntry]:
        return iter(list(self._entries.values()))

    def get(self, client_id: str) -> OutboxEntry | None:
        return self._entries.get(client_id)

    def add(self, entry: OutboxEntry) -> None:
        """Queue ``entry``; with a journal it is on disk when this returns.

        Raises:
            ValueError: an entry with this client_id is already waiting.
        """
        if entry.client_id in self._entries:
            raise ValueError(f"client_id {entry.client_id} is already in the outbox")
        if self._journal is not None:
            self._journal.record_add(entry)
        self._entries[entry.client_id] = entry

    def remove(self, client_id: str) -> OutboxEntry | None:
        """Drop an acked (or refused) entry; None if it was not waiting."""
        entry = self._entries.pop(client_id, None)
        if entry is not None and self._journal is not None:
            self._journal.record_done(client_id)
        return entry

    def dispatchable(
        self,
        in_flight: Collection[str],
        destination: Callable[[OutboxEntry], str],
        limit: int,
    ) -> list[OutboxEntry]:
        """The entries to send now, oldest first.

        One message per destination is in flight at a time. Pipelining several would be
        faster, but if the gateway refused one for rate and took the next, the two would
        be committed out of order; per conversation, order is the promise.

        Args:
            in_flight: client_ids sent on the current socket and not yet answered.
            destination: the conversation an entry goes to (see ``OutboxEntry.destination``).
            limit: at most this many entries in flight in all.
        """
        busy = {destination(self._entries[cid]) for cid in in_flight if cid in self._entries}
        room = limit - len(in_flight)
        chosen: list[OutboxEntry] = []
        for entry in self._entries.values():
            if room <= 0:
                break
            if entry.client_id in in_flight:
                continue
            where = destination(entry)
            if where in busy:
                continue
            busy.add(where)
            chosen.append(entry)
            room -= 1
        return chosen
