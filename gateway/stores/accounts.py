"""Accounts and signed-in sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, update
from sqlmodel import Session, col, select

from gateway.authz import Role
from gateway.models import Account, AuthSession, Brand, Membership


def insert_account(
    session: Session, *, account_id: str, email: str, display_name: str,
    password_hash: str, now: datetime,
) -> Account:  # fmt: skip
    account = Account(
        id=account_id, email=email, display_name=display_name,
        password_hash=password_hash, created_at=now,
    )  # fmt: skip
    session.add(account)
    session.flush()
    return account


def account_by_email(session: Session, *, email: str) -> Account | None:
    return (session.exec(select(Account).where(Account.email == email))).first()


def account_by_id(session: Session, *, account_id: str) -> Account | None:
    return session.get(Account, account_id)


def set_password_hash(session: Session, *, account_id: str, password_hash: str) -> None:
    session.exec(
        update(Account).where(col(Account.id) == account_id).values(password_hash=password_hash)
    )


def insert_session(
    session: Session, *, session_id: str, account_id: str, token_hash: str,
    device_name: str | None, now: datetime, expires_at: datetime,
) -> None:  # fmt: skip
    session.add(
        AuthSession(
            id=session_id,
            account_id=account_id,
            token_hash=token_hash,
            device_name=device_name,
            created_at=now,
            expires_at=expires_at,
        )  # fmt: skip
    )


def live_session(
    session: Session, *, token_hash: str, now: datetime
) -> tuple[AuthSession, Account] | None:
    """The session a token opens and its account, unless it was revoked or has expired."""
    found = session.exec(_SESSION_BY_TOKEN, params={"token_hash": token_hash}).first()
    if found is None or found[0].revoked_at is not None:
        return None
    expires_at = found[0].expires_at
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=now.tzinfo)
    return found if expires_at > now else None


# Every hello runs these two, thousands at once after a reconnect storm: built once, as
# building a statement cost about as much as running it.
_SESSION_BY_TOKEN = (
    select(AuthSession, Account)
    .join(Account, col(Account.id) == col(AuthSession.account_id))
    .where(col(AuthSession.token_hash) == bindparam("token_hash"))
)
_ROLES = select(Membership.brand_id, Membership.role).where(
    col(Membership.account_id) == bindparam("account_id")
)


def revoke_session(session: Session, *, session_id: str, now: datetime) -> None:
    session.exec(
        update(AuthSession).where(col(AuthSession.id) == session_id).values(revoked_at=now)
    )


def roles_of(session: Session, *, account_id: str) -> dict[str, Role]:
    """Brand id -> role, for every brand the account belongs to."""
    rows = session.exec(_ROLES, params={"account_id": account_id})
    return {brand_id: Role(role) for brand_id, role in rows}


def brand_roles_of(session: Session, *, account_id: str) -> list[tuple[str, Role]]:
    """(handle, role) for every brand the account belongs to, by handle."""
    rows = session.exec(
        select(Brand.handle, Membership.role)
        .join(Membership, col(Membership.brand_id) == col(Brand.id))
        .where(Membership.account_id == account_id)
        .order_by(col(Brand.handle))
    )
    return [(handle, Role(role)) for handle, role in rows]
