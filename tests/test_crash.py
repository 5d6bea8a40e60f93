"""Acceptance 4: an acked message survives SIGKILL; resending the unacked creates no twin."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import websockets

from tests.clients import Api, Socket
from tests.gateway_process import GatewayProcess


async def test_acked_messages_survive_a_crash_and_resends_do_not_duplicate(
    own_gateway: GatewayProcess,
) -> None:
    own_gateway.start()
    api = Api(own_gateway.http_url)
    owner = await api.sign_up("owner")
    consumer = await api.sign_up("lea")
    handle = await api.create_brand(owner)
    # A member is online (killed with the gateway, back before the resends): no automatic
    # answer joins the messages counted here.
    desk = await Socket.open(own_gateway.ws_url, owner)
    socket = await Socket.open(own_gateway.ws_url, consumer)
    opening = await socket.send_message("before the crash", to=f"@{handle}")
    conversation_id = opening["conversation_id"]

    outbox = [uuid.uuid4().hex for _ in range(3000)]
    acked: dict[str, dict[str, Any]] = {opening["client_id"]: opening}

    async def send_everything() -> None:
        for client_id in outbox:
            await socket.send_json(
                {"type": "send", "client_id": client_id, "conversation_id": conversation_id,
                 "text": f"message {client_id}"}
            )  # fmt: skip

    async def read_acks() -> None:
        while True:
            frame = await socket.recv(timeout=30)
            if frame["type"] == "ack":
                acked[frame["client_id"]] = frame
                if len(acked) == 200:
                    own_gateway.kill()  # mid-stream: frames in flight, commits under way

    sender = asyncio.create_task(send_everything())
    try:
        await read_acks()
    except websockets.ConnectionClosed:
        pass
    sender.cancel()
    await asyncio.gather(sender, return_exceptions=True)
    assert 200 <= len(acked) < len(outbox), "the kill must land while sends are in flight"

    own_gateway.start()
    consumer = await api.sign_in(consumer)
    history = await api.history(consumer, conversation_id)
    stored = {m["client_id"]: m for m in history}
    for client_id, ack in acked.items():
        assert client_id in stored, f"acked message {client_id} was lost"
        assert (stored[client_id]["seq"], stored[client_id]["id"]) == (ack["seq"], ack["id"])

    # The client's outbox resends everything it has no ack for, with the same client_ids.
    await desk.close()  # died with the gateway
    desk = await Socket.open(own_gateway.ws_url, await api.sign_in(owner))
    socket = await Socket.open(own_gateway.ws_url, consumer)
    unacked = [client_id for client_id in outbox if client_id not in acked]
    for client_id in unacked:
        await socket.send_message(
            f"message {client_id}", conversation_id=conversation_id, client_id=client_id
        )
    history = await api.history(consumer, conversation_id)
    client_ids = [m["client_id"] for m in history]
    assert len(client_ids) == len(set(client_ids)) == 1 + len(outbox)
    assert [m["seq"] for m in history] == list(range(1, len(history) + 1))
    await socket.close()
    await desk.close()
    await api.close()
