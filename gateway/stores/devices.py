"""Push devices (one row per push token) and each account's push preferences."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from gateway.models import Account, Device


def device_by_token(session: Session, *, push_token: str) -> Device | None:
    return session.exec(select(Device).where(Device.push_token == push_token)).first()


def put_device(
    session: Session, *, device_id: str, account_id: str, platform: str, push_token: str,
    now: datetime,
) -> Device:  # fmt: skip
    """Register ``push_token`` for ``account_id``, taking it over from any other account.

    A token names one app install; when someone else signs in on that install, the
    notifications are theirs from then on.
    """
    device = device_by_token(session, push_token=push_token)
    if device is None:
        device = Device(
            id=device_id, account_id=account_id, platform=platform, push_token=push_token,
            created_at=now,
        )  # fmt: skip
    elif device.account_id != account_id or device.platform != platform:
        device.account_id = account_id
        device.platform = platform
        device.created_at = now
    session.add(device)
    session.flush()
    return device


def devices_of(session: Session, *, account_id: str) -> list[Device]:
    query = select(Device).where(Device.account_id == account_id).order_by(col(Device.created_at))
    return list(session.exec(query))


def delete_device(session: Session, *, account_id: str, push_token: str) -> bool:
    """Delete the account's device with this token; False if the account has none such."""
    result = session.exec(
        delete(Device).where(
            col(Device.account_id) == account_id, col(Device.push_token) == push_token
        )
    )
    return bool(result.rowcount)


def delete_tokens(session: Session, *, push_tokens: Iterable[str]) -> int:
    """Forget tokens that FCM reports dead, whoever holds them now; how many went."""
    deleted = 0
    for chunk in _chunks(push_tokens):
        result = session.exec(delete(Device).where(col(Device.push_token).in_(chunk)))
        deleted += int(result.rowcount)
    return deleted


def devices_for(session: Session, *, account_ids: Iterable[str]) -> list[Device]:
    found: list[Device] = []
    for chunk in _chunks(account_ids):
        found += session.exec(select(Device).where(col(Device.account_id).in_(chunk)))
    return found


def set_push_previews(session: Session, *, account_id: str, push_previews: bool) -> None:
    session.exec(
        update(Account).where(col(Account.id) == account_id).values(push_previews=push_previews)
    )


def accounts_with_previews(session: Session, *, account_ids: Iterable[str]) -> set[str]:
    """Those of ``account_ids`` that asked for message text in their pushes."""
    found: set[str] = set()
    for chunk in _chunks(account_ids):
        query = select(Account.id).where(col(Account.id).in_(chunk), col(Account.push_previews))
        found.update(session.exec(query))
    return found


def _chunks(values: Iterable[str], size: int = 500) -> Iterator[list[str]]:
    """Distinct values in lists short enough for one IN (...) on any database."""
    distinct = sorted(set(values))
    for start in range(0, len(distinct), size):
        yield distinct[start : start + size]
