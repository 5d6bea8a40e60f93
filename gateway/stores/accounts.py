"""Accounts and signed-in sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, update
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from gateway.authz import Role, Viewer
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


def viewer_by_token(session: Session, *, token_hash: str, now: datetime) -> Viewer | None:
    """Who a token's session signs in, with their brand roles, unless it was revoked or has
    expired: one statement, a row per membership (one with no brand for none)."""
    rows = session.connection().execute(_VIEWER_BY_TOKEN, {"token_hash": token_hash}).all()
    if not rows:
        return None
    session_id, expires_at, revoked_at, account_id, display_name = rows[0][:5]
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=now.tzinfo)
    if revoked_at is not None or expires_at <= now:
        return None
    roles = {brand_id: Role(role) for *_, brand_id, role in rows if brand_id is not None}
    return Viewer(
        account_id=account_id, session_id=session_id, display_name=display_name, roles=roles
    )


# Every request and every socket's hello runs this, thousands at once after a reconnect
# storm: columns through Core, in one statement, where an AuthSession and an Account
# loaded by the ORM and a second statement for the roles cost several times as much
# (bench/RESULTS.md, History, eighth pass). Built once, as building a statement cost
# about as much as running it.
_VIEWER_BY_TOKEN = (
    select_columns(  # SQLAlchemy's: SQLModel's select is typed for up to four
        col(AuthSession.id),
        col(AuthSession.expires_at),
        col(AuthSession.revoked_at),
        col(Account.id),
        col(Account.display_name),
        col(Membership.brand_id),
        col(Membership.role),
    )
    .join(Account, col(Account.id) == col(AuthSession.account_id))
    .outerjoin(Membership, col(Membership.account_id) == col(Account.id))
    .where(col(AuthSession.token_hash) == bindparam("token_hash"))
)


def revoke_session(session: Session, *, session_id: str, now: datetime) -> None:
    session.exec(
        update(AuthSession).where(col(AuthSession.id) == session_id).values(revoked_at=now)
    )


def brand_roles_of(session: Session, *, account_id: str) -> list[tuple[str, Role]]:
    """(handle, role) for every brand the account belongs to, by handle."""
    rows = session.exec(
        select(Brand.handle, Membership.role)
        .join(Membership, col(Membership.brand_id) == col(Brand.id))
        .where(Membership.account_id == account_id)
        .order_by(col(Brand.handle))
    )
    return [(handle, Role(role)) for handle, role in rows]
