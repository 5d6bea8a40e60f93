"""Fan-out between gateway nodes. In-process by default; Redis when configured."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from gateway.events import Event

Deliver = Callable[[Event], None]


class Bus(Protocol):
    def subscribe(self, deliver: Deliver) -> None:
        """Hand every published event, from any node, to ``deliver``."""

    def publish(self, event: Event) -> None:
        """Send ``event`` to every node. Called only after the commit it reports."""

    async def start(self) -> None:
        """Begin carrying events between nodes."""

    async def ping(self) -> None:
        """Raise if the bus cannot carry events right now."""

    async def close(self) -> None: ...


class LocalBus:
    """One process: publishing is a direct call, so events arrive in commit order."""

    def __init__(self) -> None:
        self._subscribers: list[Deliver] = []

    def subscribe(self, deliver: Deliver) -> None:
        self._subscribers.append(deliver)

    def publish(self, event: Event) -> None:
        for deliver in self._subscribers:
            deliver(event)

    async def start(self) -> None:
        return None

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._subscribers.clear()
