"""Push (PROTOCOL section 5), black-box: a real gateway process runs the real firebase-admin
against a local fake FCM; the only seam is FCM's URL (ATDESK_FCM_ENDPOINT, tests only)
and the service-account file, whose token_uri points at the fake too.

Nothing here waits a fixed time. ``settled`` waits until the gateway's push backlog is
empty: every push of an acked message has then been answered, retried or given up.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.clients import Api, Socket, User
from tests.conftest import run_gateway
from tests.fake_fcm import (
    BAD_GATEWAY,
    INVALID_TOKEN,
    SENDER_ID_MISMATCH,
    UNAVAILABLE,
    UNREGISTERED,
    Answer,
    FakeFcm,
)
from tests.gateway_process import GatewayProcess

PUSH_TIMEOUT_S = 2.0


def push_env(fake: FakeFcm, workdir: Path, **extra: str) -> dict[str, str]:
    return {
        "ATDESK_TESTING": "1",
        "ATDESK_FCM_CREDENTIALS": str(fake.write_service_account(workdir)),
        "ATDESK_FCM_ENDPOINT": fake.url,
        "ATDESK_PUSH_RETRY_BASE_S": "0.2",
        **extra,
    }


@pytest.fixture(scope="module")
def gateway(fake: FakeFcm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    workdir = tmp_path_factory.mktemp("push")
    env = push_env(fake, workdir, ATDESK_PUSH_TIMEOUT_S=str(PUSH_TIMEOUT_S))
    yield from run_gateway(workdir, env)


# --- helpers -------------------------------------------------------------------------------


def new_token() -> str:
    return f"fcm-{uuid.uuid4().hex}:APA91b{uuid.uuid4().hex}"


async def metrics(api: Api) -> dict[str, float]:
    response = await api.call("GET", "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    values: dict[str, float] = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


async def wait_for_metric(api: Api, name: str, value: float, timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while (await metrics(api)).get(name) != value:
            await asyncio.sleep(0.02)


async def settled(api: Api) -> None:
    """Every push queued so far has been answered, retried to the end or given up."""
    await wait_for_metric(api, "push_backlog", 0)


async def counts(api: Api) -> tuple[float, float, float]:
    values = await metrics(api)
    return values["push_sent_total"], values["push_failed_total"], values["push_pruned_total"]


async def register(api: Api, user: User, token: str, platform: str = "android") -> None:
    response = await api.call(
        "POST", "/v1/devices", user, json={"platform": platform, "push_token": token}
    )
    assert response.status_code == 201, response.text


async def desk(api: Api, gateway: GatewayProcess) -> tuple[User, User, User, str, Socket, str]:
    """Owner, agent, consumer, brand handle, the agent's open socket, and a conversation the
    consumer opened and then left: the consumer is offline when this returns."""
    owner, agent, consumer = [await api.sign_up(name) for name in ("owner", "agent", "lea")]
    handle = await api.create_brand(owner)
    await api.add_member(owner, handle, agent)
    desk_socket = await Socket.open(gateway.ws_url, agent)
    phone = await Socket.open(gateway.ws_url, consumer)
    conversation_id = (await phone.send_message("hello", to=f"@{handle}"))["conversation_id"]
    await phone.close()
    await wait_for_metric(api, "websocket_connections", 1)  # the gateway saw the phone go
    await settled(api)
    return owner, agent, consumer, handle, desk_socket, conversation_id


def data_of(message: dict[str, Any]) -> tuple[str, int]:
    return message["data"]["conversation_id"], int(message["data"]["seq"])


# --- who gets a push, and what it says -----------------------------------------------------


async def test_offline_participants_get_exactly_one_push_per_message_without_its_text(
    api: Api, gateway: GatewayProcess, fake: FakeFcm
) -> None:
    owner, agent, consumer, handle, desk_socket, conversation_id = await desk(api, gateway)
    phone_token, owner_token, agent_token = new_token(), new_token(), new_token()
    await register(api, consumer, phone_token, "ios")
    await register(api, owner, owner_token)
    await register(api, agent, agent_token, "web")
    before = await counts(api)

    for text in ("we are on it", "a parcel is on its way"):
        await desk_socket.send_message(text, conversation_id=conversation_id)
    await settled(api)

    phone = fake.delivered(phone_token)
    assert [data_of(m) for m in phone] == [(conversation_id, 2), (conversation_id, 3)]
    assert phone[0]["data"] == {
        "type": "message",
        "brand": handle,
        "conversation_id": conversation_id,
        "seq": "2",
    }
    assert phone[0]["notification"] == {"title": "New message"}  # no text on a lock screen
    assert "a parcel" not in repr(phone) and "on it" not in repr(phone)
    # One notification per thread on every platform.
    assert phone[0]["android"]["collapse_key"] == conversation_id
    assert phone[0]["android"]["notification"]["tag"] == conversation_id
    assert phone[0]["apns"]["headers"]["apns-collapse-id"] == conversation_id
    assert phone[0]["apns"]["payload"]["aps"]["thread-id"] == conversation_id
    assert phone[0]["webpush"]["notification"]["tag"] == conversation_id
    # The owner is a participant too; the agent sent the messages and is online anyway.
    assert [data_of(m) for m in fake.delivered(owner_token)] == [
        (conversation_id, 2),
        (conversation_id, 3),
    ]
    assert fake.received(agent_token) == []
    assert fake.bad_auth == 0
    after = await counts(api)
    assert (after[0] - before[0], after[1] - before[1], after[2] - before[2]) == (4, 0, 0)
    await desk_socket.close()


async def test_an_online_consumer_gets_no_push(
    api: Api, gateway: GatewayProcess, fake: FakeFcm
) -> None:
    owner, _, consumer, handle, desk_socket, conversation_id = await desk(api, gateway)
    phone_token, owner_token = new_token(), new_token()
    await register(api, consumer, phone_token)
    await register(api, owner, owner_token)
    phone = await Socket.open(gateway.ws_url, consumer)

    await desk_socket.send_message("are you there?", conversation_id=conversation_id)
    [live] = await phone.messages(1)
    await settled(api)

    assert live["seq"] == 2
    assert fake.received(phone_token) == []  # the socket got it; no push
    assert [data_of(m) for m in fake.delivered(owner_token)] == [(conversation_id, 2)]
    await phone.close()
    await desk_socket.close()


async def test_an_offline_consumer_is_asked_by_push_to_rate_a_resolved_case(
    api: Api, gateway: GatewayProcess, fake: FakeFcm
) -> None:
    owner, agent, consumer, handle, desk_socket, conversation_id = await desk(api, gateway)
    phone_token, owner_token = new_token(), new_token()
    await register(api, consumer, phone_token)
    await register(api, owner, owner_token)
    resolved = await api.call("POST", f"/v1/conversations/{conversation_id}/resolve", agent)
    assert resolved.status_code == 200, resolved.text
    await settled(api)
    [push] = fake.delivered(phone_token)
    assert push["data"] == {
        "type": "rating_request", "brand": handle, "conversation_id": conversation_id,
    }  # fmt: skip
    assert push["notification"] == {"title": "How did we do?"}
    assert fake.received(owner_token) == []  # only the consumer is asked
    await desk_socket.close()


async def test_previews_show_the_text_only_to_who_opted_in(
    api: Api, gateway: GatewayProcess, fake: FakeFcm
) -> None:
    owner, _, consumer, handle, desk_socket, conversation_id = await desk(api, gateway)
    phone_token, owner_token = new_token(), new_token()
    await register(api, consumer, phone_token)
    await register(api, owner, owner_token)
    response = await api.call("PATCH", "/v1/me", consumer, json={"push_previews": True})
    assert response.status_code == 200, response.text
    assert response.json()["push_previews"] is True
    assert (await api.call("GET", "/v1/me", owner)).json()["push_previews"] is False

    await desk_socket.send_message("Your parcel ships today", conversation_id=conversation_id)
    await settled(api)

    [phone] = fake.delivered(phone_token)
    assert phone["notification"] == {"title": f"@{handle}", "body": "Your parcel ships today"}
    [desk_push] = fake.delivered(owner_token)
    assert desk_push["notification"] == {"title": "New message"}
    assert desk_push["data"] == phone["data"]
    await desk_socket.close()


# --- what FCM answers ----------------------------------------------------------------------


async def test_dead_tokens_are_deleted_and_others_kept(
    api: Api, gateway: GatewayProcess, fake: FakeFcm
) -> None:
    _, _, consumer, _, desk_socket, conversation_id = await desk(api, gateway)
    gone, malformed, mismatched, fine = (new_token() for _ in range(4))
    for token in (gone, malformed, mismatched, fine):
        await register(api, consumer, token)
    fake.script(gone, UNREGISTERED)
    fake.script(malformed, INVALID_TOKEN)
    fake.script(mismatched, SENDER_ID_MISMATCH)
    before = await counts(api)

    await desk_socket.send_message("one", conversation_id=conversation_id)
    await settled(api)

    after = await counts(api)
    assert (after[0] - before[0], after[1] - before[1], after[2] - before[2]) == (1, 1, 2)
    listed = (await api.call("GET", "/v1/devices", consumer)).json()["devices"]
    assert sorted(d["push_token"] for d in listed) == sorted([mismatched, fine])
    deleted = await api.call("DELETE", f"/v1/devices/{gone}", consumer)
    assert deleted.status_code == 404

    await desk_socket.send_message("two", conversation_id=conversation_id)
    await settled(api)
    assert len(fake.received(gone)) == 1 and len(fake.received(malformed)) == 1
    assert [data_of(m)[1] for m in fake.delivered(mismatched)] == [3]  # kept, and used
    assert [data_of(m)[1] for m in fake.delivered(fine)] == [2, 3]
    await desk_socket.close()


async def test_unavailable_bad_gateway_and_timeouts_are_retried_until_delivered(
    api: Api, gateway: GatewayProcess, fake: FakeFcm
) -> None:
    _, _, consumer, _, desk_socket, conversation_id = await desk(api, gateway)
    busy, broken, slow = new_token(), new_token(), new_token()
    for token in (busy, broken, slow):
        await register(api, consumer, token)
    # More 503s than firebase-admin retries inside one request: the gateway's own back-off
    # has to bring this one home.
    fake.script(busy, *[UNAVAILABLE] * 5)
    fake.script(broken, BAD_GATEWAY, BAD_GATEWAY)
    fake.script(slow, Answer(200, {"name": "late"}, delay_s=PUSH_TIMEOUT_S * 2))
    before = await counts(api)

    await desk_socket.send_message("one", conversation_id=conversation_id)
    await settled(api)

    assert [r.status for r in fake.received(busy)] == [503] * 5 + [200]
    assert [r.status for r in fake.received(broken)] == [502, 502, 200]
    assert [r.status for r in fake.received(slow)] == [0, 200]  # 0: answered too late
    for token in (busy, broken, slow):
        assert [data_of(m) for m in fake.delivered(token)] == [(conversation_id, 2)]
    after = await counts(api)
    assert (after[0] - before[0], after[1] - before[1], after[2] - before[2]) == (3, 0, 0)
    await desk_socket.close()


# --- devices over HTTP -----------------------------------------------------------------------


async def test_devices_are_idempotent_per_token_and_move_between_accounts(api: Api) -> None:
    lea, max_ = await api.sign_up("lea"), await api.sign_up("max")
    token = new_token()
    for _ in range(2):
        response = await api.call(
            "POST", "/v1/devices", lea, json={"platform": "android", "push_token": token}
        )
        assert response.status_code == 201
        assert response.json()["push_token"] == token
        assert response.json()["platform"] == "android"
    assert [
        d["push_token"] for d in (await api.call("GET", "/v1/devices", lea)).json()["devices"]
    ] == [token]

    # Max signs in on the same phone: its notifications are his from now on.
    await register(api, max_, token, "ios")
    assert (await api.call("GET", "/v1/devices", lea)).json() == {"devices": []}
    [moved] = (await api.call("GET", "/v1/devices", max_)).json()["devices"]
    assert (moved["push_token"], moved["platform"]) == (token, "ios")

    # Only the owner of a token can delete it; to anyone else it does not exist.
    assert (await api.call("DELETE", f"/v1/devices/{token}", lea)).status_code == 404
    assert (await api.call("DELETE", f"/v1/devices/{token}", max_)).status_code == 204
    assert (await api.call("DELETE", f"/v1/devices/{token}", max_)).status_code == 404
    assert (await api.call("GET", "/v1/devices", max_)).json() == {"devices": []}


async def test_device_registration_is_validated(api: Api) -> None:
    lea = await api.sign_up("lea")
    for body in (
        {"platform": "symbian", "push_token": new_token()},
        {"platform": "android", "push_token": ""},
        {"platform": "android", "push_token": "has/slash"},
        {"platform": "android", "push_token": "x" * 1025},
        {"platform": "android"},
    ):
        response = await api.call("POST", "/v1/devices", lea, json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "invalid_input"
    response = await api.call(
        "POST", "/v1/devices", json={"platform": "android", "push_token": new_token()}
    )
    assert response.status_code == 401
    assert (
        await api.call("PATCH", "/v1/me", lea, json={"push_previews": "yes"})
    ).status_code == 422


# --- the message path never waits for FCM --------------------------------------------------


async def test_a_thousand_queued_pushes_do_not_delay_acks(tmp_path: Path) -> None:
    fake = FakeFcm()
    gateway = GatewayProcess(tmp_path, push_env(fake, tmp_path, ATDESK_PUSH_TIMEOUT_S="120"))
    gateway.start()
    api = Api(gateway.http_url)
    try:
        _, _, consumer, _, desk_socket, conversation_id = await desk(api, gateway)
        phone_token = new_token()
        await register(api, consumer, phone_token)
        fake.hold()  # FCM takes every push and answers none until released

        count = 1001
        acks = await _send_pipelined(desk_socket, conversation_id, count)

        # Every ack came back while not one push had been answered, and all of them wait.
        assert sorted(acks) == list(range(2, count + 2))
        assert all(r.status is None for r in fake.received())
        assert (await metrics(api))["push_backlog"] == count
        fake.release()
        await settled(api)
        seqs = [data_of(m)[1] for m in fake.delivered(phone_token)]
        assert sorted(seqs) == list(range(2, count + 2))  # each exactly once
        assert (await counts(api))[:2] == (count, 0)
        await desk_socket.close()
    finally:
        fake.release()
        await api.close()
        gateway.destroy()
        fake.close()


async def _send_pipelined(socket: Socket, conversation_id: str, count: int) -> list[int]:
    """Send ``count`` messages without waiting between them; the seqs of their acks."""

    async def write() -> None:
        for i in range(count):
            await socket.send_json(
                {
                    "type": "send",
                    "client_id": f"bulk{i}",
                    "conversation_id": conversation_id,
                    "text": f"m{i}",
                }
            )

    async def read() -> list[int]:
        seqs: list[int] = []
        while len(seqs) < count:
            frame = await socket.recv(timeout=60)
            if frame["type"] == "ack":
                seqs.append(frame["seq"])
        return seqs

    _, seqs = await asyncio.gather(write(), read())
    return seqs


# --- configuration -------------------------------------------------------------------------


async def test_without_credentials_push_is_disabled_in_one_line(tmp_path: Path) -> None:
    gateway = GatewayProcess(
        tmp_path, {"ATDESK_FCM_CREDENTIALS": "", "GOOGLE_APPLICATION_CREDENTIALS": ""}
    )
    gateway.start()
    try:
        api = Api(gateway.http_url)
        owner, consumer = await api.sign_up("owner"), await api.sign_up("lea")
        handle = await api.create_brand(owner)
        await register(api, owner, new_token())  # devices are still kept
        phone = await Socket.open(gateway.ws_url, consumer)
        await phone.send_message("hello", to=f"@{handle}")
        await phone.close()
        values = await metrics(api)
        assert (values["push_sent_total"], values["push_failed_total"]) == (0, 0)
        await api.close()
    finally:
        gateway.destroy()
    lines = [line for line in gateway.log().splitlines() if "push disabled" in line]
    assert len(lines) == 1
    assert "ATDESK_FCM_CREDENTIALS" in lines[0]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099"}, "FIREBASE_AUTH_EMULATOR_HOST"),
        ({"ATDESK_FCM_ENDPOINT": "http://127.0.0.1:9"}, "ATDESK_FCM_ENDPOINT is for tests only"),
        ({"ATDESK_FCM_CREDENTIALS": "/nonexistent/key.json"}, "cannot read it"),
    ],
)
def test_unsafe_or_broken_push_settings_stop_the_start(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    gateway = GatewayProcess(tmp_path, {"ATDESK_TESTING": "", **env})
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve", "--port", str(gateway.port)],
        cwd=tmp_path,
        env=gateway.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    gateway.destroy()
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("atdesk: ") and message in line
