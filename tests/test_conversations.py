"""Conversations beyond the happy path: sync, receipts, typing, cases, listing, unread."""

from __future__ import annotations

from tests.clients import Api, Socket, User, staffed
from tests.gateway_process import GatewayProcess


async def _desk(api: Api) -> tuple[User, User, User, str]:
    owner, agent, consumer = [await api.sign_up(n) for n in ("owner", "agent", "lea")]
    handle = await api.create_brand(owner)
    await api.add_member(owner, handle, agent)
    return owner, agent, consumer, handle


async def test_sync_returns_what_was_missed_in_order_then_synced(
    gateway: GatewayProcess, api: Api
) -> None:
    _, agent, consumer, handle = await _desk(api)
    desk = await Socket.open(gateway.ws_url, agent)
    phone = await Socket.open(gateway.ws_url, consumer)
    first = await phone.send_message("one", to=f"@{handle}")
    conversation_id = first["conversation_id"]
    await phone.close()  # the phone goes offline
    for text in ("two", "three", "four"):
        await desk.send_message(text, conversation_id=conversation_id)

    phone = await Socket.open(gateway.ws_url, consumer)
    await phone.send_json(
        {"type": "sync", "ref": "s1", "conversation_id": conversation_id, "after_seq": 1}
    )
    missed = await phone.messages(3)
    assert [(m["seq"], m["text"]) for m in missed] == [(2, "two"), (3, "three"), (4, "four")]
    synced = await phone.recv()
    assert synced == {"type": "synced", "ref": "s1", "conversation_id": conversation_id,
                      "last_seq": 4}  # fmt: skip

    # Live delivery carries on after the sync, with no repeat of what sync sent.
    await desk.send_message("five", conversation_id=conversation_id)
    [live] = await phone.messages(1)
    assert live["seq"] == 5
    await phone.send_json(
        {"type": "sync", "ref": "s2", "conversation_id": conversation_id, "after_seq": 5}
    )
    assert await phone.recv() == {"type": "synced", "ref": "s2",
                                  "conversation_id": conversation_id, "last_seq": 5}  # fmt: skip
    await phone.close()
    await desk.close()


async def test_sync_of_a_long_history_is_complete_and_ordered(
    gateway: GatewayProcess, api: Api
) -> None:
    _, agent, consumer, handle = await _desk(api)
    desk = await Socket.open(gateway.ws_url, agent)  # no automatic answer in the history
    socket = await Socket.open(gateway.ws_url, consumer)
    first = await socket.send_message("0", to=f"@{handle}")
    conversation_id = first["conversation_id"]
    for i in range(1, 1200):
        await socket.send_json(
            {"type": "send", "client_id": f"c{i}", "conversation_id": conversation_id,
             "text": str(i)}
        )  # fmt: skip
    acks = 0
    while acks < 1199:
        acks += (await socket.recv())["type"] == "ack"
    reader = await Socket.open(gateway.ws_url, await api.sign_in(consumer))
    await reader.send_json(
        {"type": "sync", "ref": "all", "conversation_id": conversation_id, "after_seq": 0}
    )
    messages = await reader.messages(1200, timeout=60)
    assert [m["seq"] for m in messages] == list(range(1, 1201))
    assert (await reader.recv())["last_seq"] == 1200
    await socket.close()
    await reader.close()
    await desk.close()


async def test_read_receipts_move_forward_only_and_are_relayed(
    gateway: GatewayProcess, api: Api
) -> None:
    _, agent, consumer, handle = await _desk(api)
    phone = await Socket.open(gateway.ws_url, consumer)
    desk = await Socket.open(gateway.ws_url, agent)
    ack = await phone.send_message("hello", to=f"@{handle}")
    conversation_id = ack["conversation_id"]
    for text in ("a", "b", "c"):
        await desk.send_message(text, conversation_id=conversation_id)

    listed = await api.call("GET", f"/v1/conversations/{conversation_id}", consumer)
    assert listed.json()["unread"] == 3  # the consumer read their own message, not the answers

    await phone.send_json({"type": "read", "conversation_id": conversation_id, "seq": 3})
    relayed = await desk.recv_until("read")
    assert relayed == {"type": "read", "conversation_id": conversation_id,
                       "account_id": consumer.account_id, "seq": 3}  # fmt: skip
    await phone.send_json({"type": "read", "conversation_id": conversation_id, "seq": 1})
    await phone.send_json({"type": "read", "conversation_id": conversation_id, "seq": 99})
    # Backwards is ignored (the cursor stays at 3); beyond the end is clamped to the last seq.
    relayed_seqs = []
    while not relayed_seqs or relayed_seqs[-1] != 4:
        relayed_seqs.append((await desk.recv_until("read"))["seq"])
    assert relayed_seqs == [3, 4]
    conversation = (await api.call("GET", f"/v1/conversations/{conversation_id}", consumer)).json()
    assert conversation["unread"] == 0
    await phone.close()
    await desk.close()


async def test_typing_is_relayed_to_the_other_side_only(gateway: GatewayProcess, api: Api) -> None:
    _, agent, consumer, handle = await _desk(api)
    phone = await Socket.open(gateway.ws_url, consumer)
    laptop = await Socket.open(gateway.ws_url, await api.sign_in(consumer))
    desk = await Socket.open(gateway.ws_url, agent)
    ack = await phone.send_message("hello", to=f"@{handle}")
    conversation_id = ack["conversation_id"]
    await phone.send_json({"type": "typing", "conversation_id": conversation_id})
    typing = await desk.recv_until("typing")
    assert typing == {"type": "typing", "conversation_id": conversation_id,
                      "account_id": consumer.account_id}  # fmt: skip
    # The typist's own other device is not told that they are typing.
    await laptop.send_json({"type": "ping", "ref": "p"})
    frames = []
    while (frame := await laptop.recv())["type"] != "pong":
        frames.append(frame["type"])
    assert "typing" not in frames
    for socket in (phone, laptop, desk):
        await socket.close()


async def test_resolve_then_a_consumer_message_reopens_a_new_case(
    gateway: GatewayProcess, api: Api
) -> None:
    _, agent, consumer, handle = await _desk(api)
    phone = await Socket.open(gateway.ws_url, consumer)
    desk = await Socket.open(gateway.ws_url, agent)
    ack = await phone.send_message("my order", to=f"@{handle}")
    conversation_id = ack["conversation_id"]
    path = f"/v1/conversations/{conversation_id}"

    assigned = await api.call(
        "POST", path + "/assign", agent, json={"account_id": agent.account_id}
    )
    assert assigned.status_code == 200
    assert assigned.json()["assignee"] == {"id": agent.account_id, "display_name": "Agent"}
    resolved = await api.call("POST", path + "/resolve", agent, json={"agent_estimate": 4})
    assert resolved.status_code == 200
    assert (resolved.json()["status"], resolved.json()["case"]) == ("resolved", 1)
    assigned_frame = await phone.recv_until("conversation")
    assert assigned_frame["conversation"]["assignee"]["id"] == agent.account_id
    seen = await phone.recv_until("conversation")
    assert (seen["conversation"]["status"], seen["conversation"]["case"]) == ("resolved", 1)
    again = await api.call("POST", path + "/resolve", agent)  # a second click changes nothing
    assert again.status_code == 200 and again.json()["status"] == "resolved"

    # An agent's follow-up does not reopen; the consumer's next message does, as case 2.
    await desk.send_message("anything else?", conversation_id=conversation_id)
    assert (await api.call("GET", path, consumer)).json()["status"] == "resolved"
    await phone.send_message("yes, one more thing", conversation_id=conversation_id)
    reopened = await desk.recv_until("conversation")
    assert (reopened["conversation"]["status"], reopened["conversation"]["case"]) == ("open", 2)
    unassign = await api.call("POST", path + "/assign", agent, json={"account_id": None})
    assert unassign.json()["assignee"] is None
    outsider = await api.sign_up("mallory")
    refused = await api.call(
        "POST", path + "/assign", agent, json={"account_id": outsider.account_id}
    )
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "unknown_member"
    await phone.close()
    await desk.close()


async def test_listing_is_newest_first_filtered_and_paged(
    gateway: GatewayProcess, api: Api
) -> None:
    owner = await api.sign_up("owner")
    handle = await api.create_brand(owner)
    consumers = [await api.sign_up(f"c{i}") for i in range(5)]
    ids = []
    for consumer in consumers:
        socket = await Socket.open(gateway.ws_url, consumer)
        ids.append((await socket.send_message("hi", to=f"@{handle}"))["conversation_id"])
        await socket.close()
    await api.call("POST", f"/v1/conversations/{ids[1]}/resolve", owner)

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"before": cursor} if cursor else {})}
        page = (await api.call("GET", "/v1/conversations", owner, params=params)).json()
        seen += [c["id"] for c in page["conversations"]]
        cursor = page["next"]
        if cursor is None:
            break
    # Resolving is not activity: the order is by last message, newest first.
    assert seen == list(reversed(ids))
    open_only = await api.call("GET", "/v1/conversations", owner, params={"status": "open"})
    assert [c["id"] for c in open_only.json()["conversations"]] == [
        i for i in reversed(ids) if i != ids[1]
    ]
    mine = await api.call("GET", "/v1/conversations", consumers[0])
    assert [c["id"] for c in mine.json()["conversations"]] == [ids[0]]
    bad = await api.call("GET", "/v1/conversations", owner, params={"before": "garbage!"})
    assert bad.status_code == 422


async def test_history_after_a_seq_beyond_any_column_is_empty(
    gateway: GatewayProcess, api: Api
) -> None:
    _, agent, consumer, handle = await _desk(api)
    socket = await Socket.open(gateway.ws_url, consumer)
    async with staffed(gateway.ws_url, agent):
        conversation_id = (await socket.send_message("hi", to=f"@{handle}"))["conversation_id"]
    for after_seq in (2**31 - 1, 2**31, 2**53):
        page = await api.call(
            "GET", f"/v1/conversations/{conversation_id}/messages", consumer,
            params={"after_seq": after_seq},
        )  # fmt: skip
        assert (page.status_code, page.json()) == (200, {"messages": [], "last_seq": 1})
    await socket.send_json(
        {"type": "sync", "ref": "far", "conversation_id": conversation_id, "after_seq": 2**53}
    )
    assert await socket.recv_until("synced") == {
        "type": "synced", "ref": "far", "conversation_id": conversation_id, "last_seq": 1,
    }  # fmt: skip
    await socket.close()
