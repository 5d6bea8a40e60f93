"""Accounts and signed-in sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.authz import Role
from gateway.models import Account, AuthSession, Brand, Membership


async def insert_account(
    session: AsyncSession, *, account_id: str, email: str, display_name: str,
    password_hash: str, now: datetime,
) -> Account:  # fmt: skip
    account = Account(
        id=account_id, email=email, display_name=display_name,
        password_hash=password_hash, created_at=now,
    )  # fmt: skip
    session.add(account)
    await session.flush()
    return account


async def account_by_email(session: AsyncSession, *, email: str) -> Account | None:
    return (await session.exec(select(Account).where(Account.email == email))).first()


async def account_by_id(session: AsyncSession, *, account_id: str) -> Account | None:
    return await session.get(Account, account_id)


async def set_password_hash(session: AsyncSession, *, account_id: str, password_hash: str) -> None:
    await session.execute(
        update(Account).where(col(Account.id) == account_id).values(password_hash=password_hash)
    )


async def insert_session(
    session: AsyncSession, *, session_id: str, account_id: str, token_hash: str,
    device_name: str | None, now: datetime, expires_at: datetime,
) -> None:  # fmt: skip
    session.add(
        AuthSession(
            id=session_id, account_id=account_id, token_hash=token_hash,
            device_name=device_name, created_at=now, expires_at=expires_at,
        )  # fmt: skip
    )


async def live_session(session: AsyncSession, *, token_hash: str, now: datetime) -> AuthSession | None:
    """The session a token opens, unless it was revoked or has expired."""
    found = (
        await session.exec(select(AuthSession).where(AuthSession.token_hash == token_hash))
    ).first()
    if found is None or found.revoked_at is not None:
        return None
    expires_at = found.expires_at
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=now.tzinfo)
    return found if expires_at > now else None


async def revoke_session(session: AsyncSession, *, session_id: str, now: datetime) -> None:
    await session.execute(
        update(AuthSession).where(col(AuthSession.id) == session_id).values(revoked_at=now)
    )


async def roles_of(session: AsyncSession, *, account_id: str) -> dict[str, Role]:
    """Brand id -> role, for every brand the account belongs to."""
    rows = await session.exec(
        select(Membership.brand_id, Membership.role).where(Membership.account_id == account_id)
    )
    return {brand_id: Role(role) for brand_id, role in rows}


async def brand_roles_of(session: AsyncSession, *, account_id: str) -> list[tuple[str, Role]]:
    """(handle, role) for every brand the account belongs to, by handle."""
    rows = await session.exec(
        select(Brand.handle, Membership.role)
        .join(Membership, col(Membership.brand_id) == col(Brand.id))
        .where(Membership.account_id == account_id)
        .order_by(col(Brand.handle))
    )
    return [(handle, Role(role)) for handle, role in rows]
