"""Acceptance 2 and 3: ordered, complete fan-out under concurrency; idempotent retries."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from tests.clients import Api, Socket, staffed
from tests.gateway_process import GatewayProcess

PER_SENDER = 100


async def _drain(
    socket: Socket, *, messages: int, acks: int
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Read until ``messages`` message frames and ``acks`` acks have arrived."""
    received: list[dict[str, Any]] = []
    acked: dict[str, dict[str, Any]] = {}
    async with asyncio.timeout(120):
        while len(received) < messages or len(acked) < acks:
            try:
                frame = await socket.recv(timeout=30)
            except TimeoutError:
                raise AssertionError(
                    f"stalled at {len(received)}/{messages} messages, {len(acked)}/{acks} acks"
                ) from None
            if frame["type"] == "message":
                received.append(frame["message"])
            elif frame["type"] == "ack":
                acked[frame["client_id"]] = frame
            else:
                assert frame["type"] in ("conversation", "read", "typing"), frame
    return received, acked


async def test_twenty_concurrent_senders_agree_on_one_order(
    gateway: GatewayProcess, api: Api
) -> None:
    owner = await api.sign_up("owner")
    agents = [await api.sign_up("agent"), await api.sign_up("agent")]
    consumer = await api.sign_up("lea")
    handle = await api.create_brand(owner)
    for agent in agents:
        await api.add_member(owner, handle, agent)

    first = await Socket.open(gateway.ws_url, consumer)
    async with staffed(gateway.ws_url, owner):
        opening = await first.send_message("hello desk", to=f"@{handle}")
    conversation_id = opening["conversation_id"]

    consumer_devices = [first] + [
        await Socket.open(gateway.ws_url, await api.sign_in(consumer)) for _ in range(9)
    ]
    agent_devices = [
        await Socket.open(gateway.ws_url, await api.sign_in(agent))
        for agent in agents
        for _ in range(5)
    ]
    senders = consumer_devices + agent_devices
    owner_socket = await Socket.open(gateway.ws_url, owner)
    total = len(senders) * PER_SENDER
    assert total == 2000

    async def send_all(socket: Socket, count: int) -> list[str]:
        client_ids = [uuid.uuid4().hex for _ in range(count)]
        for client_id in client_ids:
            await socket.send_json(
                {"type": "send", "client_id": client_id, "conversation_id": conversation_id,
                 "text": f"message {client_id}"}
            )  # fmt: skip
        return client_ids

    # Message 1 is behind every socket: sent and skipped by ``first``, before the others opened.
    readers = [
        asyncio.create_task(
            _drain(socket, messages=total - 1, acks=PER_SENDER - (1 if socket is first else 0))
        )
        for socket in senders
    ]
    owner_reader = asyncio.create_task(_drain(owner_socket, messages=total - 1, acks=0))
    sent = await asyncio.gather(
        *(send_all(socket, PER_SENDER - (1 if socket is first else 0)) for socket in senders)
    )
    results = await asyncio.gather(*readers, owner_reader)

    history = await api.history(consumer, conversation_id)
    assert [m["seq"] for m in history] == list(range(1, total + 1))
    stored = {m["client_id"]: m for m in history}
    for (received, acked), client_ids in zip(results, sent + [[]], strict=True):
        # Everyone received the same messages in the same order: the stored order.
        assert [m["id"] for m in received] == [m["id"] for m in history[-len(received) :]]
        for client_id in client_ids:
            ack = acked[client_id]
            row = stored[client_id]
            assert (ack["seq"], ack["id"], ack["created_at"]) == (
                row["seq"], row["id"], row["created_at"],
            )  # fmt: skip
    for socket in senders + [owner_socket]:
        await socket.close()


async def test_a_retried_client_id_stores_one_message_and_repeats_its_ack(
    gateway: GatewayProcess, api: Api
) -> None:
    owner = await api.sign_up("owner")
    consumer = await api.sign_up("lea")
    handle = await api.create_brand(owner)
    phone = await Socket.open(gateway.ws_url, consumer)
    laptop = await Socket.open(gateway.ws_url, await api.sign_in(consumer))
    client_id = uuid.uuid4().hex
    desk = await Socket.open(gateway.ws_url, owner)  # no automatic answer in the history

    first = await phone.send_message("once only", to=f"@{handle}", client_id=client_id)
    second = await phone.send_message("once only", to=f"@{handle}", client_id=client_id)
    # Two at once from two sockets of the same account.
    third, fourth = await asyncio.gather(
        phone.send_message("once only", to=f"@{handle}", client_id=client_id),
        laptop.send_message("once only", to=f"@{handle}", client_id=client_id),
    )
    fifth = await laptop.send_message(
        "once only", conversation_id=first["conversation_id"], client_id=client_id
    )
    acks = [first, second, third, fourth, fifth]
    fields = ("client_id", "conversation_id", "seq", "id", "created_at")
    assert len({tuple(ack[f] for f in fields) for ack in acks}) == 1

    history = await api.history(consumer, first["conversation_id"])
    assert [(m["client_id"], m["seq"]) for m in history] == [(client_id, 1)]
    await desk.close()
    await phone.close()
    await laptop.close()


async def test_a_client_id_is_unique_per_sender_not_globally(
    gateway: GatewayProcess, api: Api
) -> None:
    owner = await api.sign_up("owner")
    lea, max_ = await api.sign_up("lea"), await api.sign_up("max")
    handle = await api.create_brand(owner)
    shared_id = uuid.uuid4().hex
    lea_socket = await Socket.open(gateway.ws_url, lea)
    max_socket = await Socket.open(gateway.ws_url, max_)
    a = await lea_socket.send_message("from lea", to=f"@{handle}", client_id=shared_id)
    b = await max_socket.send_message("from max", to=f"@{handle}", client_id=shared_id)
    assert a["conversation_id"] != b["conversation_id"]
    assert a["id"] != b["id"]
    await lea_socket.close()
    await max_socket.close()
