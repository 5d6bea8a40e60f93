"""Acceptance 1: the private @mention, end to end, against a real server."""

from __future__ import annotations

from tests.clients import Api, Socket
from tests.gateway_process import GatewayProcess


async def test_consumer_reaches_the_desk_and_gets_an_answer(
    gateway: GatewayProcess, api: Api
) -> None:
    owner = await api.sign_up("owner")
    agent = await api.sign_up("agent")
    consumer = await api.sign_up("lea")
    handle = await api.create_brand(owner)
    await api.add_member(owner, handle, agent)

    owner_socket = await Socket.open(gateway.ws_url, owner)
    agent_socket = await Socket.open(gateway.ws_url, agent)
    consumer_socket = await Socket.open(gateway.ws_url, consumer)

    ack = await consumer_socket.send_message(f"@{handle} my order never came", to=f"@{handle}")
    conversation_id = ack["conversation_id"]
    assert ack["seq"] == 1

    for socket in (agent_socket, owner_socket):
        created = await socket.recv_until("conversation")
        assert created["conversation"]["id"] == conversation_id
        assert created["conversation"]["status"] == "open"
        assert created["conversation"]["consumer"] == {
            "id": consumer.account_id,
            "display_name": consumer.display_name,
        }
        [message] = await socket.messages(1)
        assert message["text"] == f"@{handle} my order never came"
        assert message["sender"]["role"] == "consumer"
        assert message["seq"] == 1

    reply = await agent_socket.send_message("Sorry! Looking now.", conversation_id=conversation_id)
    assert reply["seq"] == 2
    [answer] = await consumer_socket.messages(1)
    assert answer["text"] == "Sorry! Looking now."
    assert answer["sender"] == {
        "id": agent.account_id, "role": "agent", "display_name": agent.display_name,
    }  # fmt: skip

    history = await api.history(consumer, conversation_id)
    assert [(m["seq"], m["id"], m["client_id"], m["created_at"]) for m in history] == [
        (a["seq"], a["id"], a["client_id"], a["created_at"]) for a in (ack, reply)
    ]
    assert await api.history(owner, conversation_id) == history
    for socket in (owner_socket, agent_socket, consumer_socket):
        await socket.close()
