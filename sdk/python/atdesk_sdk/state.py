"""A client's state on disk: its outbox and how far it has read each conversation.

The file is a journal of JSON lines, appended to as things happen and compacted when it
is opened or has grown. A crash can tear at most the last line, which is then ignored:
the change it described had not taken effect (entries are written before they are sent).
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from atdesk_sdk.outbox import OutboxEntry

_VERSION = 1


@dataclass
class SavedState:
    """What a client restores at start: unacked messages, cursors, whether it has a baseline."""

    outbox: dict[str, OutboxEntry] = field(default_factory=dict)
    cursors: dict[str, int] = field(default_factory=dict)
    baselined: bool = False

    def apply(self, record: dict[str, Any]) -> None:
        if "add" in record:
            entry = OutboxEntry.from_json(record["add"])
            self.outbox[entry.client_id] = entry
        elif "done" in record:
            self.outbox.pop(str(record["done"]), None)
        elif "cursor" in record:
            conversation_id, seq = record["cursor"]
            self.cursors[str(conversation_id)] = max(int(seq), self.cursors.get(conversation_id, 0))
        elif "baselined" in record:
            self.baselined = True

    def records(self) -> list[dict[str, Any]]:
        """The fewest records that rebuild this state."""
        records: list[dict[str, Any]] = [{"version": _VERSION}]
        if self.baselined:
            records.append({"baselined": True})
        records += [{"cursor": [cid, seq]} for cid, seq in self.cursors.items()]
        records += [{"add": entry.to_json()} for entry in self.outbox.values()]
        return records

    def size(self) -> int:
        """How many records ``records()`` would write."""
        return 1 + int(self.baselined) + len(self.cursors) + len(self.outbox)


class StateFileInUse(RuntimeError):
    """Another client holds this state file: two would send each other's messages."""


class StateFile:
    """The journal behind one client; a lock keeps a second client (or process) out.

    Args:
        path: the file; created if missing.
        fsync: force each queued message to the disk before it is sent, so it survives a
            power cut too, not only a crash of the process.
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self.state = SavedState()
        self._file: IO[str] | None = None
        self._lock: IO[str] | None = None
        self._records = 0

    def open(self) -> SavedState:
        """Read the journal, rewrite it compacted, and keep it open for appending."""
        if self._file is not None:
            return self.state
        self._take_lock()
        self.state = SavedState()
        if self.path.exists():
            with self.path.open(encoding="utf-8") as journal:
                for line in journal:
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError:
                        break  # a line torn by a crash: nothing after it was written
                    if isinstance(record, dict):
                        self.state.apply(record)
        self._compact()
        return self.state

    def record_add(self, entry: OutboxEntry) -> None:
        self._append({"add": entry.to_json()}, durable=self.fsync)

    def record_done(self, client_id: str) -> None:
        # Losing this line in a crash costs one harmless resend: the gateway dedupes it.
        self._append({"done": client_id}, durable=False)

    def record_cursor(self, conversation_id: str, seq: int) -> None:
        if seq > self.state.cursors.get(conversation_id, -1):
            self._append({"cursor": [conversation_id, seq]}, durable=False)

    def record_baselined(self) -> None:
        if not self.state.baselined:
            self._append({"baselined": True}, durable=True)

    def close(self) -> None:
        self._close_journal()
        if self._lock is not None:
            self._lock.close()  # closing releases the lock, as a crash of the process does
            self._lock = None

    def _take_lock(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(self.path.name + ".lock").open("w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise StateFileInUse(f"{self.path} is in use by another client") from None
        self._lock = lock

    def _close_journal(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _append(self, record: dict[str, Any], *, durable: bool) -> None:
        if self._file is None:
            raise RuntimeError("the state file is not open")
        self.state.apply(record)
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._file.flush()
        if durable:
            os.fsync(self._file.fileno())
        self._records += 1
        if self._records > 1000 and self._records > 4 * self.state.size():
            self._compact()

    def _compact(self) -> None:
        self._close_journal()
        records = self.state.records()
        temporary = self.path.with_name(self.path.name + ".tmp")
        with temporary.open("w", encoding="utf-8") as out:
            out.writelines(json.dumps(record, separators=(",", ":")) + "\n" for record in records)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)  # atomic: a crash leaves the old file or the new one
        self._file = self.path.open("a", encoding="utf-8")
        self._records = len(records)
