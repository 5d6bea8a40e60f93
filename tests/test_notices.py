"""PROTOCOL 7 against a real gateway: following, posting and listing notices, who gets one
live and who by push, and a notice to 100,000 followers that conversations do not wait for.
Also the brand's canned replies, which live beside notices."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.clients import Api, Socket, User
from tests.conftest import run_gateway
from tests.fake_fcm import FakeFcm
from tests.gateway_process import GatewayProcess
from tests.test_authorization import frames_until_answered
from tests.test_push import metrics, push_env, settled


@pytest.fixture(scope="module")
def gateway(fake: FakeFcm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    workdir = tmp_path_factory.mktemp("notices")
    yield from run_gateway(workdir, push_env(fake, workdir))


async def post_notice(api: Api, user: User, handle: str, title: str, text: str) -> Any:
    return await api.call(
        "POST", f"/v1/brands/{handle}/notices", user, json={"title": title, "text": text}
    )


async def test_follow_post_list_and_who_hears_it(api: Api, gateway: GatewayProcess) -> None:
    owner, admin, agent = [await api.sign_up(n) for n in ("owner", "admin", "agent")]
    fan, ex_fan, lea, done, stranger = [
        await api.sign_up(n) for n in ("fan", "exfan", "lea", "done", "stranger")
    ]
    handle = await api.create_brand(owner, "outage")
    await api.add_member(owner, handle, admin, "admin")
    await api.add_member(owner, handle, agent)
    for user in (fan, ex_fan):
        follow = await api.call("POST", f"/v1/brands/{handle}/follow", user)
        assert follow.status_code == 204, follow.text
    assert (await api.call("POST", f"/v1/brands/{handle}/follow", fan)).status_code == 204
    assert (await api.call("DELETE", f"/v1/brands/{handle}/follow", ex_fan)).status_code == 204
    assert (await api.call("POST", f"/v1/brands/{handle}/follow")).status_code == 401
    missing = await api.call("POST", "/v1/brands/nosuchbrand9/follow", fan)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_brand"

    sockets = {name: await Socket.open(gateway.ws_url, user) for name, user in (
        ("fan", fan), ("ex_fan", ex_fan), ("lea", lea), ("done", done), ("stranger", stranger),
        ("agent", agent))}  # fmt: skip
    open_thread = await sockets["lea"].send_message("is the network down?", to=f"@{handle}")
    closed = await sockets["done"].send_message("hi", to=f"@{handle}")
    resolved = await api.call(
        "POST", f"/v1/conversations/{closed['conversation_id']}/resolve", owner
    )
    assert resolved.status_code == 200
    for name in ("lea", "done", "agent"):
        await frames_until_answered(sockets[name])
    assert open_thread["seq"] == 1

    for user, status in ((agent, 403), (stranger, 403), (fan, 403)):
        assert (await post_notice(api, user, handle, "x", "y")).status_code == status
    first = await post_notice(api, admin, handle, "Outage in Lyon", "Fibre is down since 9:00.")
    assert first.status_code == 201, first.text
    notice = first.json()
    assert set(notice) == {"id", "brand", "title", "text", "created_at"}
    assert (notice["brand"], notice["title"]) == (handle, "Outage in Lyon")
    for name in ("fan", "lea"):
        assert await sockets[name].recv_until("notice") == {"type": "notice", "notice": notice}
    # One fan-out batch reaches every node's sockets at once: the others heard nothing.
    for name in ("ex_fan", "done", "stranger", "agent"):
        frames = await frames_until_answered(sockets[name])
        assert [f for f in frames if f["type"] == "notice"] == [], name

    second = (await post_notice(api, owner, handle, "Fixed", "All back.")).json()
    listed = await api.call("GET", f"/v1/brands/{handle}/notices")  # public
    assert listed.status_code == 200
    assert listed.json() == {"notices": [second, notice]}
    one = await api.call("GET", f"/v1/brands/{handle}/notices", params={"limit": 1})
    assert one.json() == {"notices": [second]}
    for bad in ({"title": "", "text": "x"}, {"title": "x", "text": " "}, {"title": "x"}):
        response = await api.call("POST", f"/v1/brands/{handle}/notices", owner, json=bad)
        assert response.status_code == 422, (bad, response.text)
    for socket in sockets.values():
        await socket.close()


BULK = 100_000
WITH_DEVICES = 200


def bulk_insert(
    gateway: GatewayProcess, brand_id: str, with_phone: list[int] | None = None
) -> None:
    """100,000 followers, some with a phone (the first 200 unless ``with_phone`` says which),
    written straight into the database.
    Their ids ("a_1bulk...") sort after the gateway's ("a_01..."): accounts made through
    the API are in the fan-out's first batch."""
    ids = [(f"a_1bulk{n:06d}",) for n in range(BULK)]
    phones = range(WITH_DEVICES) if with_phone is None else with_phone
    statements = [
        ("INSERT INTO accounts (id, email, display_name, password_hash, created_at, "
         "push_previews) VALUES (?, ? || '@bulk.example', 'Bulk', '!', '2026-01-01 00:00:00', "
         "false)", [(i, i) for (i,) in ids]),
        ("INSERT INTO follows (brand_id, account_id, created_at) VALUES (?, ?, "
         "'2026-01-01 00:00:00')", [(brand_id, i) for (i,) in ids]),
        ("INSERT INTO devices (id, account_id, platform, push_token, created_at) VALUES "
         "(?, ?, 'android', ?, '2026-01-01 00:00:00')",
         [(f"d_{ids[n][0]}", ids[n][0], f"bulk-token-{ids[n][0]}") for n in phones]),
    ]  # fmt: skip
    if gateway.postgres_database is None:
        with sqlite3.connect(gateway.workdir / "atdesk.sqlite3") as db:
            for sql, rows in statements:
                db.executemany(sql, rows)
        return
    with psycopg.connect(gateway.env["ATDESK_DATABASE_URL"]) as connection:
        with connection.cursor() as cursor:
            for sql, rows in statements:
                cursor.executemany(sql.replace("?", "%s"), rows)  # type: ignore[arg-type]


async def test_a_notice_to_100000_followers_does_not_hold_up_conversations(
    api: Api, gateway: GatewayProcess, fake: FakeFcm
) -> None:
    owner, agent, lea, early_fan = [await api.sign_up(n) for n in ("owner", "agent", "lea", "e")]
    handle = await api.create_brand(owner, "bignews")
    await api.add_member(owner, handle, agent)
    [(brand_id,)] = gateway.query(f"SELECT id FROM brands WHERE handle = '{handle}'")
    bulk_insert(gateway, brand_id)
    assert (await api.call("POST", f"/v1/brands/{handle}/follow", early_fan)).status_code == 204
    fan_socket = await Socket.open(gateway.ws_url, early_fan)
    desk = await Socket.open(gateway.ws_url, agent)
    phone = await Socket.open(gateway.ws_url, lea)
    conversation_id = (await phone.send_message("hello", to=f"@{handle}"))["conversation_id"]
    await settled(api)
    before = await metrics(api)
    pushed_before = len(fake.received())

    # The order the test observes: "ack" per acknowledged send, "first" when the first
    # batch's follower hears the notice, "done" once the gateway counts the fan-out finished.
    seen: list[str] = []
    finished = asyncio.Event()

    async def chat() -> None:
        while not finished.is_set():
            await phone.send_message("still there?", conversation_id=conversation_id)
            seen.append("ack")

    async def first_batch() -> None:
        frame = await fan_socket.recv_until("notice", timeout=60)
        assert frame["notice"]["title"] == "Big outage"
        seen.append("first")

    async def fan_out_done() -> None:
        target = before.get("notices_fanned_out_total", 0) + 1
        while (await metrics(api)).get("notices_fanned_out_total", 0) < target:
            await asyncio.sleep(0.01)
        seen.append("done")
        finished.set()

    chatting = asyncio.create_task(chat())
    posted = await post_notice(api, owner, handle, "Big outage", "We are on it.")
    assert posted.status_code == 201, posted.text
    async with asyncio.timeout(120):
        await asyncio.gather(first_batch(), fan_out_done())
        await chatting

    # Acks kept coming while the notice went out, batch after batch.
    start, end = seen.index("first"), seen.index("done")
    assert seen[start:end].count("ack") >= 3, seen
    after = await metrics(api)
    # Every follower and the consumer of the open conversation, once each.
    assert after["notice_recipients_total"] - before["notice_recipients_total"] == BULK + 2
    await settled(api)
    notices = [r for r in fake.received()[pushed_before:] if r.message["data"]["type"] == "notice"]
    assert sorted(r.token for r in notices) == sorted(
        f"bulk-token-a_1bulk{n:06d}" for n in range(WITH_DEVICES)
    )
    assert all(r.message["data"]["brand"] == handle for r in notices)
    for socket in (fan_socket, desk, phone):
        await socket.close()


async def test_a_fan_out_cut_short_by_a_crash_is_finished_after_the_restart(
    fake: FakeFcm, tmp_path: Path
) -> None:
    gateway = GatewayProcess(tmp_path, push_env(fake, tmp_path, ATDESK_NOTICE_LEASE_S="1"))
    gateway.start()
    api = Api(gateway.http_url)
    try:
        owner, early_fan = await api.sign_up("owner"), await api.sign_up("early")
        handle = await api.create_brand(owner, "crashy")
        [(brand_id,)] = gateway.query(f"SELECT id FROM brands WHERE handle = '{handle}'")
        phones = list(range(0, BULK, 1000))  # one phone per fan-out batch
        bulk_insert(gateway, brand_id, phones)
        assert (await api.call("POST", f"/v1/brands/{handle}/follow", early_fan)).status_code == 204
        fan_socket = await Socket.open(gateway.ws_url, early_fan)
        posted = await post_notice(api, owner, handle, "Down", "Everything is down.")
        assert posted.status_code == 201
        await fan_socket.recv_until("notice")  # the first batch is out
        gateway.kill()
        [(after, done)] = gateway.query(
            f"SELECT fanout_after, fanned_out_at FROM notices WHERE id = '{posted.json()['id']}'"
        )
        assert done is None, "the fan-out finished before the crash: nothing to take over"
        pushed_before = len(fake.received())

        gateway.start()  # its sweeper takes the stalled fan-out over once the lease ran out
        async with asyncio.timeout(60):
            while (await metrics(api)).get("notices_fanned_out_total", 0) < 1:
                await asyncio.sleep(0.05)
        await settled(api)
        [(done,)] = gateway.query(
            f"SELECT fanned_out_at FROM notices WHERE id = '{posted.json()['id']}'"
        )
        assert done is not None
        # Every phone after the last batch recorded before the crash got the notice.
        pushed = {r.token for r in fake.received()[pushed_before:]}
        missing = [
            n for n in phones if f"a_1bulk{n:06d}" > (after or "") and
            f"bulk-token-a_1bulk{n:06d}" not in pushed
        ]  # fmt: skip
        assert missing == []
        assert len(pushed) >= 1
    finally:
        await api.close()
        gateway.destroy()


async def test_canned_replies(api: Api) -> None:
    owner, admin, agent, stranger = [await api.sign_up(n) for n in ("o", "a", "g", "s")]
    handle = await api.create_brand(owner, "canned")
    await api.add_member(owner, handle, admin, "admin")
    await api.add_member(owner, handle, agent)
    path = f"/v1/brands/{handle}/canned"
    body = {"title": "refund", "text": "We have refunded your order."}
    for user, status in ((agent, 403), (stranger, 403), (admin, 201)):
        assert (await api.call("POST", path, user, json=body)).status_code == status
    created = (await api.call("POST", path, owner, json={"title": "hello", "text": "Hi!"})).json()
    assert set(created) == {"id", "title", "text", "created_at"}
    for user in (owner, admin, agent):
        listed = await api.call("GET", path, user)
        assert listed.status_code == 200
        assert [c["title"] for c in listed.json()["canned"]] == ["hello", "refund"]
    assert (await api.call("GET", path, stranger)).status_code == 403
    assert (await api.call("GET", path)).status_code == 401
    assert (await api.call("DELETE", f"{path}/{created['id']}", agent)).status_code == 403
    assert (await api.call("DELETE", f"{path}/{created['id']}", admin)).status_code == 204
    again = await api.call("DELETE", f"{path}/{created['id']}", admin)
    assert again.status_code == 404 and again.json()["error"]["code"] == "not_found"
    assert [c["title"] for c in (await api.call("GET", path, agent)).json()["canned"]] == ["refund"]
    for bad in ({"title": "", "text": "x"}, {"title": "x", "text": "  "}, {"title": "x" * 81}):
        assert (await api.call("POST", path, owner, json=bad)).status_code == 422
