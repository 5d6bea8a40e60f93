"""Acceptance 7 and section 1: password hashing, tokens at rest, sessions, sign-in limits."""

from __future__ import annotations

from pathlib import Path

import pytest
import websockets

from tests.clients import Api, Socket
from tests.gateway_process import GatewayProcess


async def test_passwords_are_argon2id_and_tokens_are_kept_only_as_hashes(
    own_gateway: GatewayProcess,
) -> None:
    own_gateway.start()
    api = Api(own_gateway.http_url)
    user = await api.sign_up("lea", password="a passphrase")
    second = await api.sign_in(user, password="a passphrase")
    # (The one other account is atdesk's own, which signs system messages and has no hash.)
    [(stored_hash,)] = own_gateway.query(
        f"SELECT password_hash FROM accounts WHERE id = '{user.account_id}'"
    )
    assert isinstance(stored_hash, str) and stored_hash.startswith("$argon2id$")
    assert "a passphrase" not in stored_hash
    dump = repr(own_gateway.query("SELECT * FROM sessions")) + repr(
        own_gateway.query("SELECT * FROM accounts")
    )
    for token in (user.token, second.token):
        assert len(token) >= 43  # 256 bits, URL-safe base64
        assert token not in dump
    assert len(own_gateway.query("SELECT token_hash FROM sessions")) == 2
    await api.close()


async def test_a_login_rehashes_when_the_parameters_change(own_gateway: GatewayProcess) -> None:
    own_gateway.start()
    api = Api(own_gateway.http_url)
    user = await api.sign_up("lea")
    mine = f"SELECT password_hash FROM accounts WHERE id = '{user.account_id}'"
    [(before,)] = own_gateway.query(mine)
    own_gateway.stop()
    own_gateway.env["ATDESK_PASSWORD_TIME_COST"] = "2"
    own_gateway.start()
    await api.sign_in(user)
    [(after,)] = own_gateway.query(mine)
    assert before != after
    assert "t=1" in before.split("$")[3] and "t=2" in after.split("$")[3]
    await api.sign_in(user)  # the new hash verifies
    await api.close()


async def test_me_lists_brands_and_sign_out_kills_the_token_everywhere(
    gateway: GatewayProcess, api: Api
) -> None:
    owner = await api.sign_up("owner")
    handle = await api.create_brand(owner)
    me = (await api.call("GET", "/v1/me", owner)).json()
    assert me == {"id": owner.account_id, "email": owner.email, "display_name": "Owner",
                  "brands": [{"handle": handle, "role": "owner"}],
                  "push_previews": False, "following": []}  # fmt: skip

    other_device = await api.sign_in(owner)
    socket = await Socket.open(gateway.ws_url, owner)
    other_socket = await Socket.open(gateway.ws_url, other_device)
    assert (await api.call("DELETE", "/v1/sessions/current", owner)).status_code == 204
    assert await socket.closed_with() == 4401
    assert (await api.call("GET", "/v1/me", owner)).status_code == 401
    # Only that session ends: the same account's other device carries on.
    assert (await api.call("GET", "/v1/me", other_device)).status_code == 200
    await other_socket.send_json({"type": "ping", "ref": "still here"})
    assert await other_socket.recv() == {"type": "pong", "ref": "still here"}
    await other_socket.close()


async def test_repeated_bad_logins_are_rate_limited(tmp_path: Path) -> None:
    server = GatewayProcess(tmp_path, env={"ATDESK_LOGIN_ATTEMPTS_PER_MINUTE": "3"})
    server.start()
    try:
        api = Api(server.http_url)
        user = await api.sign_up("lea")
        codes = []
        for _ in range(4):
            response = await api.call(
                "POST", "/v1/sessions", json={"email": user.email, "password": "wrong guess"}
            )
            codes.append((response.status_code, response.json()["error"]["code"]))
        assert codes[:3] == [(401, "bad_credentials")] * 3
        assert codes[3] == (429, "rate_limited")
        assert int(response.headers["retry-after"]) >= 1
        await api.close()
    finally:
        server.destroy()


async def test_browsers_from_other_sites_cannot_open_the_socket(tmp_path: Path) -> None:
    server = GatewayProcess(tmp_path, env={"ATDESK_ALLOWED_ORIGINS": "https://desk.example.com"})
    server.start()
    try:
        api = Api(server.http_url)
        user = await api.sign_up("lea")
        allowed = await Socket.open(
            server.ws_url, user, additional_headers={"Origin": "https://desk.example.com"}
        )
        await allowed.close()
        same_origin = await Socket.open(
            server.ws_url, user, additional_headers={"Origin": server.http_url}
        )
        await same_origin.close()
        with pytest.raises(websockets.InvalidStatus) as refused:
            await Socket.open(server.ws_url, additional_headers={"Origin": "https://evil.example"})
        assert refused.value.response.status_code == 403
        await api.close()
    finally:
        server.destroy()


async def test_welcome_announces_the_heartbeat(gateway: GatewayProcess, api: Api) -> None:
    user = await api.sign_up("lea")
    socket = await Socket.open(gateway.ws_url)
    welcome = await socket.hello(user)
    assert welcome == {"type": "welcome", "account_id": user.account_id, "heartbeat_s": 25}
    await socket.close()
