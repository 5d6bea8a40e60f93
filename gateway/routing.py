"""Automatic routing: which online agent takes a case. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Collection, Mapping


def candidates(roles: Mapping[str, str]) -> set[str]:
    """Who may be routed cases: the brand's agents; a brand without agents, all members."""
    agents = {account for account, role in roles.items() if role == "agent"}
    return agents or set(roles)


def choose(
    online: Collection[str], open_cases: Mapping[str, int], *, current: str | None = None
) -> str | None:
    """The assignee of a new or reopened case: its current assignee if online (continuity),
    else the online candidate with the fewest open cases (ties: the smallest id, so every
    node picks the same). None: nobody is online, the case waits in the queue."""
    if current is not None and current in online:
        return current
    if not online:
        return None
    return min(online, key=lambda account: (open_cases.get(account, 0), account))
