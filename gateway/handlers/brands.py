"""Brands, the directory, and who works for a brand."""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError

from gateway import authz, validation
from gateway.authz import Role, Viewer
from gateway.bus import Bus
from gateway.database import Database, Transaction
from gateway.errors import ApiError
from gateway.events import MembershipChanged
from gateway.ids import new_id, utc_now
from gateway.models import Brand
from gateway.schemas import (
    BrandCreate,
    BrandList,
    BrandPublic,
    MemberAdd,
    MemberAdded,
    ServiceFigures,
)
from gateway.stores import accounts as account_store
from gateway.stores import brands as store

log = logging.getLogger(__name__)

SERVICE_WINDOW_DAYS = 30


def brand_view(brand: Brand) -> BrandPublic:
    # The figures are measured from conversations once there are enough cases to judge.
    service = ServiceFigures(
        median_first_response_s=None, csat=None, rated_cases=None, resolved_cases=None,
        window_days=SERVICE_WINDOW_DAYS,
    )  # fmt: skip
    return BrandPublic(
        handle=brand.handle, name=brand.name, verified=brand.verified,
        description=brand.description, service=service,
    )  # fmt: skip


def unknown_brand(handle: str) -> ApiError:
    return ApiError(404, "unknown_brand", f"no brand @{handle}")


class BrandHandler:
    def __init__(self, db: Database, bus: Bus) -> None:
        self._db = db
        self._bus = bus

    async def create(self, viewer: Viewer, body: BrandCreate) -> BrandPublic:
        handle = validation.normalize_handle(body.handle)
        name = validation.normalize_brand_name(body.name)
        description = validation.normalize_description(body.description)
        taken = ApiError(409, "handle_taken", f"the handle @{handle} is already registered")

        def create_brand(tx: Transaction) -> Brand:
            if store.brand_by_handle(tx.session, handle=handle) is not None:
                raise taken
            brand = store.insert_brand(
                tx.session, brand_id=new_id("b"), handle=handle, name=name,
                description=description, owner_id=viewer.account_id, now=utc_now(),
            )  # fmt: skip
            tx.after_commit(lambda: self._publish_role(brand.id, viewer.account_id, Role.OWNER))
            return brand

        try:
            brand = await self._db.write(create_brand)
        except IntegrityError:
            raise taken from None
        log.info("brand @%s created by %s", handle, viewer.account_id)
        return brand_view(brand)

    async def get(self, raw_handle: str) -> BrandPublic:
        return brand_view(await self._brand(raw_handle))

    async def search(self, query: str, limit: int) -> BrandList:
        prefix = query.strip().removeprefix("@")
        if "\x00" in prefix:
            return BrandList(brands=[])  # no handle or name holds U+0000
        brands = await self._db.read(
            lambda session: store.search_brands(session, prefix=prefix, limit=limit)
        )
        return BrandList(brands=[brand_view(brand) for brand in brands])

    async def put_member(self, viewer: Viewer, raw_handle: str, body: MemberAdd) -> MemberAdded:
        brand = await self._brand(raw_handle)
        actor = authz.require_brand_admin(viewer, brand_id=brand.id)
        email = body.email.strip().lower()
        new_role = Role(body.role)

        def put_member(tx: Transaction) -> str:
            account = account_store.account_by_email(tx.session, email=email)
            if account is None:
                raise ApiError(404, "unknown_account", f"no account with {email}")
            current = store.member_role(tx.session, brand_id=brand.id, account_id=account.id)
            authz.check_member_change(actor, target_role=current, new_role=new_role)
            if current is Role.OWNER and store.count_owners(tx.session, brand_id=brand.id) == 1:
                raise ApiError(409, "last_owner", "a brand keeps at least one owner")
            store.put_member(
                tx.session, brand_id=brand.id, account_id=account.id, role=new_role, now=utc_now()
            )
            tx.after_commit(lambda: self._publish_role(brand.id, account.id, new_role))
            return account.id

        account_id = await self._db.write(put_member)
        return MemberAdded(account_id=account_id, role=body.role)

    async def remove_member(self, viewer: Viewer, raw_handle: str, account_id: str) -> None:
        brand = await self._brand(raw_handle)
        actor = authz.require_brand_admin(viewer, brand_id=brand.id)

        def remove_member(tx: Transaction) -> None:
            current = store.member_role(tx.session, brand_id=brand.id, account_id=account_id)
            if current is None:
                raise ApiError(
                    404, "unknown_member", f"that account is not a member of @{brand.handle}"
                )
            authz.check_member_change(actor, target_role=current, new_role=None)
            if current is Role.OWNER and store.count_owners(tx.session, brand_id=brand.id) == 1:
                raise ApiError(409, "last_owner", "a brand keeps at least one owner")
            store.remove_member(tx.session, brand_id=brand.id, account_id=account_id)
            tx.after_commit(lambda: self._publish_role(brand.id, account_id, None))

        await self._db.write(remove_member)

    async def _brand(self, raw_handle: str) -> Brand:
        handle = validation.lookup_handle(raw_handle)
        if handle is None:
            raise unknown_brand(raw_handle.lower())
        brand = await self._db.read(lambda session: store.brand_by_handle(session, handle=handle))
        if brand is None:
            raise unknown_brand(handle)
        return brand

    def _publish_role(self, brand_id: str, account_id: str, role: Role | None) -> None:
        self._bus.publish(
            MembershipChanged(
                brand_id=brand_id, account_id=account_id, role=None if role is None else role.value
            )
        )
