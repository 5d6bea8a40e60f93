"""Every object-level permission decision, in one place, as pure functions.

Handlers load the facts (who is asking, which brand a thing belongs to) and ask here.
Anything a viewer may not see is reported as "not found", so ids cannot be probed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from gateway.errors import ApiError, forbidden, not_found


class Role(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    AGENT = "agent"


class Access(enum.Enum):
    NONE = "none"
    CONSUMER = "consumer"
    MEMBER = "member"


@dataclass(frozen=True)
class Viewer:
    """A signed-in account and the brands it belongs to (brand id -> role)."""

    account_id: str
    session_id: str
    roles: dict[str, Role] = field(default_factory=dict)
    display_name: str = ""


def conversation_access(viewer: Viewer, *, brand_id: str, consumer_id: str) -> Access:
    if viewer.account_id == consumer_id:
        return Access.CONSUMER
    if brand_id in viewer.roles:
        return Access.MEMBER
    return Access.NONE


def require_participant(viewer: Viewer, *, brand_id: str, consumer_id: str) -> Access:
    access = conversation_access(viewer, brand_id=brand_id, consumer_id=consumer_id)
    if access is Access.NONE:
        raise not_found()
    return access


def require_member(viewer: Viewer, *, brand_id: str, consumer_id: str) -> Role:
    """Brand members act on a conversation; its consumer may only read and write."""
    require_participant(viewer, brand_id=brand_id, consumer_id=consumer_id)
    role = viewer.roles.get(brand_id)
    if role is None:
        raise forbidden("only the brand's members can do this")
    return role


def require_brand_member(viewer: Viewer, *, brand_id: str) -> Role:
    """Any member sees who else works for the brand (to assign a conversation to them)."""
    role = viewer.roles.get(brand_id)
    if role is None:
        raise forbidden("only the brand's members can do this")
    return role


def require_consumer(viewer: Viewer, *, brand_id: str, consumer_id: str) -> None:
    """Only the conversation's consumer rates it; its brand's members may not."""
    if require_participant(viewer, brand_id=brand_id, consumer_id=consumer_id) is not (
        Access.CONSUMER
    ):
        raise forbidden("only the conversation's consumer can do this")


def require_brand_admin(viewer: Viewer, *, brand_id: str) -> Role:
    """Owners and admins manage a brand. Non-members learn only that they may not."""
    role = viewer.roles.get(brand_id)
    if role not in (Role.OWNER, Role.ADMIN):
        raise forbidden("only the brand's owners and admins can do this")
    return role


def check_member_change(
    actor_role: Role, *, target_role: Role | None, new_role: Role | None
) -> None:
    """May ``actor_role`` set a member whose role is ``target_role`` to ``new_role``?

    ``new_role`` None means removal. Owners are changed only by owners, and nobody
    is made owner through the members endpoint. Agents manage nobody.
    """
    if actor_role not in (Role.OWNER, Role.ADMIN):
        raise forbidden("only the brand's owners and admins can do this")
    if new_role is Role.OWNER:
        raise ApiError(422, "invalid_input", "role must be admin or agent")
    if target_role is Role.OWNER and actor_role is not Role.OWNER:
        raise forbidden("only an owner can change or remove an owner")
