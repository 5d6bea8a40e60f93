"""Sign up, sign in, sign out, and who is asking."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from gateway import metrics, validation
from gateway.authz import Role, Viewer
from gateway.bus import Bus
from gateway.database import Database, GroupRead, Transaction
from gateway.errors import ApiError
from gateway.events import SessionRevoked
from gateway.ids import format_time, new_id, utc_now
from gateway.limits import LoginLimiter
from gateway.models import Account
from gateway.schemas import (
    AccountCreate,
    AccountPublic,
    BrandRole,
    Me,
    SessionCreate,
    SessionCreated,
)
from gateway.secrets import Passwords, new_token, token_hash
from gateway.settings import Settings
from gateway.stores import accounts as store
from gateway.stores import notices as notice_store

log = logging.getLogger(__name__)


class AccountHandler:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        bus: Bus,
        passwords: Passwords,
        login_limiter: LoginLimiter,
    ) -> None:
        self._settings = settings
        self._db = db
        self._bus = bus
        self._passwords = passwords
        self._login_failures = login_limiter
        # Every request and every socket's hello asks: under a reconnect storm, many share
        # one trip to the database.
        self._viewers = GroupRead(db, _viewer_of)

    async def sign_up(self, body: AccountCreate) -> AccountPublic:
        email = validation.normalize_email(body.email)
        display_name = validation.normalize_display_name(body.display_name)
        validation.check_password(body.password)
        password_hash = await asyncio.to_thread(self._passwords.hash, body.password)
        taken = ApiError(409, "email_taken", f"an account with {email} already exists")

        def create_account(tx: Transaction) -> Account:
            if store.account_by_email(tx.session, email=email) is not None:
                raise taken
            return store.insert_account(
                tx.session, account_id=new_id("a"), email=email, display_name=display_name,
                password_hash=password_hash, now=utc_now(),
            )  # fmt: skip

        try:
            account = await self._db.write(create_account)
        except IntegrityError:
            raise taken from None
        log.info("account %s created", account.id)
        return AccountPublic(id=account.id, email=account.email, display_name=account.display_name)

    async def sign_in(self, body: SessionCreate, *, client_ip: str) -> SessionCreated:
        email = body.email.strip().lower()
        keys = (f"ip:{client_ip}", f"email:{email}")
        wait = max([await self._login_failures.retry_after(key) for key in keys])
        if wait > 0:
            metrics.RATE_LIMITED.labels("sign_in").inc()
            raise RateLimited(wait)
        account = await self._db.read(lambda session: store.account_by_email(session, email=email))
        stored_hash = None if account is None else account.password_hash
        ok = await asyncio.to_thread(self._passwords.verify, stored_hash, body.password)
        if account is None or not ok:
            for key in keys:
                await self._login_failures.fail(key)
            raise ApiError(401, "bad_credentials", "wrong email or password")
        await self._login_failures.succeed(f"email:{email}")
        token = new_token()
        now = utc_now()
        expires_at = now + timedelta(days=self._settings.session_days)
        new_hash = None
        if self._passwords.needs_rehash(account.password_hash):
            new_hash = await asyncio.to_thread(self._passwords.hash, body.password)
            log.info("account %s: password rehashed with current parameters", account.id)

        def open_session(tx: Transaction) -> None:
            if new_hash is not None:
                store.set_password_hash(tx.session, account_id=account.id, password_hash=new_hash)
            store.insert_session(
                tx.session, session_id=new_id("s"), account_id=account.id,
                token_hash=token_hash(token), device_name=body.device_name, now=now,
                expires_at=expires_at,
            )  # fmt: skip

        await self._db.write(open_session)
        return SessionCreated(
            token=token, account_id=account.id, expires_at=format_time(expires_at)
        )

    async def authenticate(self, token: str) -> Viewer | None:
        """The viewer a bearer token stands for, with their brand roles; None if it is dead."""
        if not token:
            return None
        return await self._viewers.submit(token)

    async def sign_out(self, viewer: Viewer) -> None:
        def revoke(tx: Transaction) -> None:
            store.revoke_session(tx.session, session_id=viewer.session_id, now=utc_now())
            tx.after_commit(lambda: self._bus.publish(SessionRevoked(session_id=viewer.session_id)))

        await self._db.write(revoke)

    async def me(self, viewer: Viewer) -> Me:
        def load(session: Session) -> tuple[Account | None, list[tuple[str, Role]], list[str]]:
            return (
                store.account_by_id(session, account_id=viewer.account_id),
                store.brand_roles_of(session, account_id=viewer.account_id),
                notice_store.followed_handles(session, account_id=viewer.account_id),
            )

        account, brands, following = await self._db.read(load)
        if account is None:
            raise ApiError(401, "unauthenticated", "this account no longer exists")
        return Me(
            id=account.id,
            email=account.email,
            display_name=account.display_name,
            brands=[BrandRole(handle=handle, role=role.value) for handle, role in brands],
            push_previews=account.push_previews,
            following=following,
        )


class RateLimited(ApiError):
    def __init__(self, retry_after_s: float) -> None:
        seconds = max(1, round(retry_after_s + 0.5))
        super().__init__(429, "rate_limited", f"too many attempts; retry in {seconds} s")
        self.retry_after_s = seconds


def _viewer_of(session: Session, token: str) -> Viewer | None:
    return store.viewer_by_token(session, token_hash=token_hash(token), now=utc_now())
