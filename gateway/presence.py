"""Who has a live socket, on any node: used to decide who needs a push."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from gateway.hub import Hub


class Presence(Protocol):
    async def offline(self, account_ids: Iterable[str]) -> set[str]:
        """Those of ``account_ids`` with no live socket on any node."""
        ...


class LocalPresence:
    """One process: this node's hub knows every live socket."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    async def offline(self, account_ids: Iterable[str]) -> set[str]:
        return {account_id for account_id in account_ids if not self._hub.is_online(account_id)}
