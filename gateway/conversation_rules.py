"""How a conversation moves between open and resolved, and how cases are counted."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Status(enum.StrEnum):
    OPEN = "open"  # waiting on the brand
    RESOLVED = "resolved"


class SenderRole(enum.StrEnum):
    CONSUMER = "consumer"
    AGENT = "agent"
    SYSTEM = "system"


@dataclass(frozen=True)
class ThreadState:
    status: Status
    case_number: int


NEW_THREAD = ThreadState(Status.OPEN, 1)


def after_message(state: ThreadState, sender: SenderRole) -> ThreadState:
    """A consumer writing to a resolved thread starts a new case; nothing else moves it."""
    if sender is SenderRole.CONSUMER and state.status is Status.RESOLVED:
        return ThreadState(Status.OPEN, state.case_number + 1)
    return state


def after_resolve(state: ThreadState) -> ThreadState:
    """Resolving is idempotent: a second click on an already resolved thread changes nothing."""
    return ThreadState(Status.RESOLVED, state.case_number)


def is_first_response(sender: SenderRole) -> bool:
    """Only a brand member's message answers a case (a system notice does not)."""
    return sender is SenderRole.AGENT
