"""Brands, the directory, and brand membership."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from gateway.authz import Role
from gateway.models import Account, Brand, Membership


def insert_brand(
    session: Session, *, brand_id: str, handle: str, name: str, description: str,
    owner_id: str, now: datetime,
) -> Brand:  # fmt: skip
    brand = Brand(
        id=brand_id, handle=handle, name=name, name_lower=name.lower(),
        description=description, created_at=now, auto_assign=True,
    )  # fmt: skip
    session.add(brand)
    session.flush()
    session.add(Membership(brand_id=brand_id, account_id=owner_id, role=Role.OWNER, created_at=now))
    session.flush()
    return brand


def update_brand(session: Session, *, brand_id: str, changes: dict[str, object]) -> Brand:
    brand = session.get(Brand, brand_id, with_for_update=True)
    assert brand is not None
    for name, value in changes.items():
        setattr(brand, name, value)
    session.add(brand)
    session.flush()
    return brand


def brand_by_handle(session: Session, *, handle: str) -> Brand | None:
    return (session.exec(select(Brand).where(Brand.handle == handle))).first()


def _prefix_pattern(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def search_brands(session: Session, *, prefix: str, limit: int) -> list[Brand]:
    """Handles starting with ``prefix`` first, then names starting with it."""
    pattern = _prefix_pattern(prefix.lower())
    by_handle = list(
        session.exec(
            select(Brand)
            .where(col(Brand.handle).like(pattern, escape="\\"))
            .order_by(col(Brand.handle))
            .limit(limit)
        )
    )
    if len(by_handle) >= limit:
        return by_handle
    seen = [brand.id for brand in by_handle]
    by_name = session.exec(
        select(Brand)
        .where(col(Brand.name_lower).like(pattern, escape="\\"), col(Brand.id).not_in(seen))
        .order_by(col(Brand.name_lower), col(Brand.handle))
        .limit(limit - len(by_handle))
    )
    return by_handle + list(by_name)


def member_role(session: Session, *, brand_id: str, account_id: str) -> Role | None:
    membership = session.get(Membership, (brand_id, account_id))
    return None if membership is None else Role(membership.role)


def put_member(
    session: Session, *, brand_id: str, account_id: str, role: Role, now: datetime
) -> None:
    membership = session.get(Membership, (brand_id, account_id))
    if membership is None:
        session.add(Membership(brand_id=brand_id, account_id=account_id, role=role, created_at=now))
    else:
        membership.role = role
        session.add(membership)
    session.flush()


def remove_member(session: Session, *, brand_id: str, account_id: str) -> None:
    session.exec(
        delete(Membership).where(
            col(Membership.brand_id) == brand_id, col(Membership.account_id) == account_id
        )
    )


def members(session: Session, *, brand_id: str) -> list[tuple[Account, Role]]:
    """The brand's members with their roles, owners first, then by name."""
    rows = session.exec(
        select(Account, Membership.role)
        .join(Membership, col(Membership.account_id) == col(Account.id))
        .where(Membership.brand_id == brand_id)
    ).all()
    rank = {Role.OWNER: 0, Role.ADMIN: 1, Role.AGENT: 2}
    found = [(account, Role(role)) for account, role in rows]
    return sorted(found, key=lambda item: (rank[item[1]], item[0].display_name.lower()))


def count_owners(session: Session, *, brand_id: str) -> int:
    result = session.exec(
        select(func.count())
        .select_from(Membership)
        .where(Membership.brand_id == brand_id, Membership.role == Role.OWNER)
    )
    return int(result.one())


def member_ids(session: Session, *, brand_ids: Iterable[str]) -> dict[str, list[str]]:
    """Brand id -> the account ids of its members, for each of ``brand_ids``."""
    members: dict[str, list[str]] = {brand_id: [] for brand_id in brand_ids}
    if members:
        rows = session.exec(
            select(Membership.brand_id, Membership.account_id).where(
                col(Membership.brand_id).in_(list(members))
            )
        )
        for brand_id, account_id in rows:
            members[brand_id].append(account_id)
    return members


def handles(session: Session, *, brand_ids: Iterable[str]) -> dict[str, str]:
    """Brand id -> handle, for those of ``brand_ids`` that exist."""
    wanted = list(set(brand_ids))
    if not wanted:
        return {}
    rows = session.exec(select(Brand.id, Brand.handle).where(col(Brand.id).in_(wanted)))
    return dict(rows.all())
