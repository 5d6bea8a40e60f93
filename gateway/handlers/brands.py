"""Brands, the directory, and who works for a brand."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import msgspec
from msgspec import UnsetType
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from gateway import authz, hours, service_rules, validation
from gateway.authz import Role, Viewer
from gateway.bus import Bus
from gateway.database import Database, Transaction
from gateway.errors import ApiError
from gateway.events import MembershipChanged
from gateway.handlers import queue
from gateway.ids import new_id, utc_now
from gateway.models import Brand
from gateway.schemas import (
    BrandCreate,
    BrandList,
    BrandPublic,
    BrandUpdate,
    Member,
    MemberAdd,
    MemberAdded,
    MemberList,
    OpeningHours,
    ServiceFigures,
)
from gateway.stores import accounts as account_store
from gateway.stores import brands as store
from gateway.stores import service as service_store

log = logging.getLogger(__name__)

SERVICE_WINDOW_DAYS = service_rules.WINDOW_DAYS


def service_view(figures: service_rules.Figures | None) -> ServiceFigures:
    return ServiceFigures(
        median_first_response_s=None if figures is None else figures.median_first_response_s,
        csat=None if figures is None else figures.csat,
        rated_cases=None if figures is None else figures.rated_cases,
        resolved_cases=None if figures is None else figures.resolved_cases,
        window_days=SERVICE_WINDOW_DAYS,
    )


def hours_view(brand: Brand) -> OpeningHours | None:
    schedule = hours.schedule_from_json(brand.hours)
    return None if schedule is None else msgspec.convert(schedule.to_wire(), OpeningHours)


def brand_view(brand: Brand, figures: service_rules.Figures | None = None) -> BrandPublic:
    # The figures are measured from conversations once there are enough cases to judge.
    return BrandPublic(
        handle=brand.handle, name=brand.name, verified=brand.verified,
        description=brand.description, service=service_view(figures), hours=hours_view(brand),
        auto_assign=brand.auto_assign,
    )  # fmt: skip


def public_figures(session: Session, brand_ids: Iterable[str]) -> dict[str, service_rules.Figures]:
    """Brand id -> its public service figures now (PROTOCOL 6)."""
    now = utc_now()
    since = service_rules.window_start(now, service_rules.WINDOW_DAYS)
    totals = service_store.window_totals(session, brand_ids=brand_ids, since=since, until=now)
    figures = {}
    for brand_id, total in totals.items():
        middle = []
        if total.answered >= service_rules.MIN_CASES:
            middle = service_store.middle_first_responses(
                session, brand_id=brand_id, since=since, until=now, answered=total.answered
            )
        figures[brand_id] = service_rules.public_from_totals(
            answered=total.answered, middle=middle, resolved=total.resolved, rated=total.rated,
            score_sum=total.score_sum,
        )  # fmt: skip
    return figures


def unknown_brand(handle: str) -> ApiError:
    return ApiError(404, "unknown_brand", f"no brand @{handle}")


def find_brand(session: Session, raw_handle: str) -> Brand:
    """The brand a path names (``acme`` or ``@Acme``), else 404 ``unknown_brand``."""
    handle = validation.lookup_handle(raw_handle)
    if handle is None:
        raise unknown_brand(raw_handle.lower())
    brand = store.brand_by_handle(session, handle=handle)
    if brand is None:
        raise unknown_brand(handle)
    return brand


def _schedule(body: OpeningHours) -> hours.Schedule:
    try:
        return hours.parse_schedule(body.time_zone, msgspec.structs.asdict(body.weekly))
    except hours.HoursError as error:
        raise ApiError(422, "invalid_hours", f"hours: {error}") from None


class BrandHandler:
    def __init__(self, db: Database, bus: Bus) -> None:
        self._db = db
        self._bus = bus
        # Told a brand id when its queue may be routable now: routing was turned on, or its
        # members changed (an online account may have become a candidate).
        self.after_routing_may_move: Callable[[str], None] | None = None

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
        def load(session: Session) -> BrandPublic:
            brand = find_brand(session, raw_handle)
            return brand_view(brand, public_figures(session, [brand.id])[brand.id])

        return await self._db.read(load)

    async def update(self, viewer: Viewer, raw_handle: str, body: BrandUpdate) -> BrandPublic:
        """PATCH: name, description and opening hours (owners and admins)."""
        brand = await self._brand(raw_handle)
        authz.require_brand_admin(viewer, brand_id=brand.id)
        changes: dict[str, object] = {}
        if not isinstance(body.name, UnsetType):
            name = validation.normalize_brand_name(body.name)
            changes.update(name=name, name_lower=name.lower())
        if not isinstance(body.description, UnsetType):
            changes["description"] = validation.normalize_description(body.description)
        if not isinstance(body.hours, UnsetType):
            changes["hours"] = None if body.hours is None else _schedule(body.hours).to_json()
        if not isinstance(body.auto_assign, UnsetType):
            changes["auto_assign"] = body.auto_assign

        def update(tx: Transaction) -> BrandPublic:
            routed = queue.routes_automatically(tx, brand.id)
            row = store.update_brand(tx.session, brand_id=brand.id, changes=changes)
            if row.auto_assign != routed:
                # The waiting cases are queued now, or no longer: tell them.
                queue.publish_queue_head(tx, self._bus, row.id)
                if row.auto_assign and self.after_routing_may_move is not None:
                    hook = self.after_routing_may_move
                    tx.after_commit(lambda: hook(row.id))
            return brand_view(row, public_figures(tx.session, [row.id])[row.id])

        return await self._db.write(update)

    async def search(self, query: str, limit: int) -> BrandList:
        prefix = query.strip().removeprefix("@")
        if "\x00" in prefix:
            return BrandList(brands=[])  # no handle or name holds U+0000
        brands = await self._db.read(
            lambda session: store.search_brands(session, prefix=prefix, limit=limit)
        )
        figures = await self._db.read(
            lambda session: public_figures(session, [brand.id for brand in brands])
        )
        return BrandList(brands=[brand_view(brand, figures[brand.id]) for brand in brands])

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

    async def list_members(self, viewer: Viewer, raw_handle: str) -> MemberList:
        brand = await self._brand(raw_handle)
        viewer_role = authz.require_brand_member(viewer, brand_id=brand.id)
        # Agents need a colleague's name to hand a case over; emails are for those who
        # manage the team.
        sees_emails = viewer_role in (Role.OWNER, Role.ADMIN)
        found = await self._db.read(lambda session: store.members(session, brand_id=brand.id))
        return MemberList(
            members=[
                Member(
                    account_id=account.id,
                    email=account.email if sees_emails else None,
                    display_name=account.display_name,
                    role=role.value,
                )  # fmt: skip
                for account, role in found
            ]
        )

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
        return await self._db.read(lambda session: find_brand(session, raw_handle))

    def _publish_role(self, brand_id: str, account_id: str, role: Role | None) -> None:
        self._bus.publish(
            MembershipChanged(
                brand_id=brand_id, account_id=account_id, role=None if role is None else role.value
            )
        )
        if self.after_routing_may_move is not None:
            # Who may be routed cases changed (a new agent, or the last one left): the
            # queue may move to someone already online.
            self.after_routing_may_move(brand_id)
