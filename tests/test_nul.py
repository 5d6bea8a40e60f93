"""U+0000 anywhere in input: refused or not found, alike on SQLite and PostgreSQL (whose
text cannot hold it), never a 500."""

from __future__ import annotations

from tests.clients import Api, Socket
from tests.gateway_process import GatewayProcess


async def test_nul_in_input_is_refused_the_same_on_every_backend(
    gateway: GatewayProcess, api: Api
) -> None:
    owner, consumer = await api.sign_up("owner"), await api.sign_up("lea")
    handle = await api.create_brand(owner)

    search = await api.call("GET", "/v1/brands", params={"q": handle[:3] + "\x00"})
    assert (search.status_code, search.json()) == (200, {"brands": []})
    missing = await api.call("GET", "/v1/conversations/c_1%00x", consumer)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    for body in (
        {"email": "a\x00@example.com", "password": "long enough", "display_name": "A"},
        {"email": "b@example.com", "password": "long enough", "display_name": "B\x00"},
    ):
        refused = await api.call("POST", "/v1/accounts", json=body)
        assert (refused.status_code, refused.json()["error"]["code"]) == (422, "invalid_input")
    sign_in = await api.call(
        "POST", "/v1/sessions", json={"email": "c\x00@example.com", "password": "whatever1"}
    )
    assert sign_in.status_code in (401, 422)

    socket = await Socket.open(gateway.ws_url, consumer)
    frames = [
        {"type": "send", "ref": "t", "client_id": "k1", "to": f"@{handle}", "text": "hi\x00"},
        {"type": "send", "ref": "c", "client_id": "k\x00", "to": f"@{handle}", "text": "hi"},
        {"type": "sync", "ref": "s", "conversation_id": "c\x00", "after_seq": 0},
    ]
    for frame in frames:
        await socket.send_json(frame)
        reply = await socket.recv()
        assert (reply["type"], reply["code"], reply["ref"]) == (
            "error", "invalid_frame", frame["ref"],
        )  # fmt: skip
    assert (await api.call("GET", "/v1/conversations", consumer)).json()["conversations"] == []
    await socket.close()
