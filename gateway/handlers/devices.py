"""Push devices and push preferences: who gets notified where (PROTOCOL section 5)."""

from __future__ import annotations

from typing import cast

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from gateway.authz import Viewer
from gateway.database import Database, Transaction
from gateway.errors import not_found
from gateway.ids import format_time, new_id, utc_now
from gateway.models import Device
from gateway.schemas import DeviceCreate, DeviceList, DevicePublic, Platform
from gateway.stores import devices as store


class DeviceHandler:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def register(self, viewer: Viewer, body: DeviceCreate) -> DevicePublic:
        """Idempotent per token; a token another account registered moves to this one."""

        def put(tx: Transaction) -> Device:
            return store.put_device(
                tx.session, device_id=new_id("d"), account_id=viewer.account_id,
                platform=body.platform, push_token=body.push_token, now=utc_now(),
            )  # fmt: skip

        try:
            device = await self._db.write(put)
        except IntegrityError:
            # The same token was inserted concurrently (another request, another node): it
            # exists now, so the second try updates it.
            device = await self._db.write(put)
        return _public(device)

    async def unregister(self, viewer: Viewer, push_token: str) -> None:
        def delete(tx: Transaction) -> bool:
            return store.delete_device(
                tx.session, account_id=viewer.account_id, push_token=push_token
            )

        if not await self._db.write(delete):
            # Someone else's token looks the same as no token: tokens cannot be probed.
            raise not_found("no such device")

    async def list(self, viewer: Viewer) -> DeviceList:
        def load(session: Session) -> list[Device]:
            return store.devices_of(session, account_id=viewer.account_id)

        return DeviceList(devices=[_public(device) for device in await self._db.read(load)])

    async def set_push_previews(self, viewer: Viewer, push_previews: bool) -> None:
        def put(tx: Transaction) -> None:
            store.set_push_previews(
                tx.session, account_id=viewer.account_id, push_previews=push_previews
            )

        await self._db.write(put)


def _public(device: Device) -> DevicePublic:
    return DevicePublic(
        platform=cast(Platform, device.platform),  # stored only as DeviceCreate admitted it
        push_token=device.push_token,
        created_at=format_time(device.created_at),
    )
