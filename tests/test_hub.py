"""gateway.hub with fake sockets: who gets which event, serialized how, and clean removal.

The fakes are plain classes that record what the hub asks of them. Like the real socket,
a fake's ``brand_ids()`` follows the roles the hub sets on it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest
from prometheus_client import REGISTRY

from gateway.events import (
    ConversationChanged,
    MembershipChanged,
    MessageCommitted,
    NoticeDelivered,
    RatingRequested,
    ReadMoved,
    SessionRevoked,
    TypingStarted,
)
from gateway.hub import Hub
from gateway.protocol import CloseCode
from gateway.schemas import (
    AccountRef,
    BrandRef,
    ConversationPublic,
    MessagePublic,
    NoticePublic,
    Sender,
)

ACME = "b_acme"
RIVAL = "b_rival"
LEA = "a_lea"  # the consumer of the conversation
TOM = "a_tom"  # another consumer
MAX = "a_max"  # ACME agent
OWEN = "a_owen"  # ACME owner
RIA = "a_ria"  # RIVAL agent
ZED = "a_zed"  # nobody in particular


class FakeSocket:
    def __init__(self, account_id: str, session_id: str, roles: dict[str, str] | None = None):
        self.account_id = account_id
        self.session_id = session_id
        self.roles = dict(roles or {})
        self.delivered: list[tuple[str, int, str]] = []
        self.pushed: list[str] = []
        self.closed: list[tuple[CloseCode, str]] = []
        self.role_changes: list[tuple[str, str | None]] = []

    def __repr__(self) -> str:
        return f"FakeSocket({self.session_id})"

    def brand_ids(self) -> Iterable[str]:
        return list(self.roles)

    def set_role(self, brand_id: str, role: str | None) -> None:
        self.role_changes.append((brand_id, role))
        if role is None:
            self.roles.pop(brand_id, None)
        else:
            self.roles[brand_id] = role

    def deliver_message(self, conversation_id: str, seq: int, text: str) -> bool:
        self.delivered.append((conversation_id, seq, text))
        return self.session_id != "s_lea_web"  # as if this one had it already

    def push(self, text: str) -> None:
        self.pushed.append(text)

    def close_soon(self, code: CloseCode, reason: str) -> None:
        self.closed.append((code, reason))

    def received_nothing(self) -> bool:
        return not (self.delivered or self.pushed or self.closed)


class World:
    """A hub with ACME's conversation with Lea, its participants and some outsiders."""

    def __init__(self) -> None:
        self.hub = Hub()
        self.lea_phone = FakeSocket(LEA, "s_lea_phone")
        self.lea_web = FakeSocket(LEA, "s_lea_web")
        self.max = FakeSocket(MAX, "s_max", {ACME: "agent"})
        self.owen_desk = FakeSocket(OWEN, "s_owen_desk", {ACME: "owner", RIVAL: "agent"})
        self.owen_laptop = FakeSocket(OWEN, "s_owen_laptop", {ACME: "owner", RIVAL: "agent"})
        self.ria = FakeSocket(RIA, "s_ria", {RIVAL: "agent"})
        self.tom = FakeSocket(TOM, "s_tom")
        self.zed = FakeSocket(ZED, "s_zed")
        for socket in self.all:
            self.hub.add(socket)

    @property
    def all(self) -> list[FakeSocket]:
        return [
            self.lea_phone, self.lea_web, self.max, self.owen_desk, self.owen_laptop, self.ria,
            self.tom, self.zed,
        ]  # fmt: skip

    @property
    def participants(self) -> list[FakeSocket]:
        return [self.lea_phone, self.lea_web, self.max, self.owen_desk, self.owen_laptop]

    @property
    def outsiders(self) -> list[FakeSocket]:
        return [self.ria, self.tom, self.zed]


@pytest.fixture
def world() -> World:
    return World()


def message(seq: int = 1, conversation_id: str = "c_lea") -> MessagePublic:
    return MessagePublic(
        conversation_id=conversation_id,
        seq=seq,
        id=f"m_{seq}",
        client_id=f"k_{seq}",
        sender=Sender(id=LEA, role="consumer", display_name="Lea"),
        text=f"message {seq}",
        created_at="2026-11-22T10:00:00.000Z",
    )


def message_json(seq: int, conversation_id: str = "c_lea") -> dict[str, Any]:
    return {
        "type": "message",
        "message": {
            "conversation_id": conversation_id,
            "seq": seq,
            "id": f"m_{seq}",
            "client_id": f"k_{seq}",
            "sender": {"id": LEA, "role": "consumer", "display_name": "Lea"},
            "text": f"message {seq}",
            "created_at": "2026-11-22T10:00:00.000Z",
        },
    }


def committed(seq: int = 1, brand_id: str = ACME, consumer_id: str = LEA) -> MessageCommitted:
    return MessageCommitted(brand_id=brand_id, consumer_id=consumer_id, message=message(seq))


def conversation(last_seq: int) -> ConversationPublic:
    return ConversationPublic(
        id="c_lea",
        brand=BrandRef(handle="acme", name="ACME Telecom", verified=True),
        consumer=AccountRef(id=LEA, display_name="Lea"),
        status="resolved",
        case=2,
        assignee=AccountRef(id=MAX, display_name="Max"),
        last_seq=last_seq,
        last_message_at="2026-11-22T10:00:00.000Z",
        unread=-7,  # a placeholder: the hub fills it in per recipient
    )


def conversation_json(last_seq: int, unread: int) -> dict[str, Any]:
    return {
        "type": "conversation",
        "conversation": {
            "id": "c_lea",
            "brand": {"handle": "acme", "name": "ACME Telecom", "verified": True},
            "consumer": {"id": LEA, "display_name": "Lea"},
            "status": "resolved",
            "case": 2,
            "assignee": {"id": MAX, "display_name": "Max"},
            "last_seq": last_seq,
            "last_message_at": "2026-11-22T10:00:00.000Z",
            "unread": unread,
        },
    }


def delivered_seqs(socket: FakeSocket) -> list[int]:
    return [seq for _, seq, _ in socket.delivered]


# --- MessageCommitted -----------------------------------------------------------------------


def test_a_message_reaches_the_consumer_and_the_brand_members_only(world: World) -> None:
    world.hub.dispatch(committed(seq=3))
    for socket in world.participants:
        assert [(c, s, json.loads(t)) for c, s, t in socket.delivered] == [
            ("c_lea", 3, message_json(3))
        ], socket
        assert socket.pushed == [] and socket.closed == [], socket
    for socket in world.outsiders:
        assert socket.received_nothing(), socket


def test_a_message_is_serialized_once_for_everyone(world: World) -> None:
    world.hub.dispatch(committed(seq=1))
    texts = [socket.delivered[0][2] for socket in world.participants]
    assert len(texts) == 5
    assert all(text is texts[0] for text in texts)


def test_the_frames_a_message_was_handed_on_in_are_counted(world: World) -> None:
    def counted() -> float:
        return REGISTRY.get_sample_value("messages_delivered_total") or 0.0

    before = counted()
    world.hub.dispatch(committed(seq=1))
    assert counted() - before == 4  # five participant sockets, one had it already


def test_a_message_to_another_brand_reaches_its_members_and_its_consumer(world: World) -> None:
    world.hub.dispatch(committed(seq=9, brand_id=RIVAL, consumer_id=TOM))
    reached = [s for s in world.all if s.delivered]
    assert reached == [world.owen_desk, world.owen_laptop, world.ria, world.tom]
    assert all(delivered_seqs(s) == [9] for s in reached)


def test_a_message_for_nobody_online_reaches_nobody(world: World) -> None:
    world.hub.dispatch(committed(seq=1, brand_id="b_ghost", consumer_id="a_ghost"))
    assert all(socket.received_nothing() for socket in world.all)


def test_a_consumer_who_is_also_a_member_gets_a_message_once() -> None:
    hub = Hub()
    both = FakeSocket(LEA, "s_lea", {ACME: "agent"})
    hub.add(both)
    hub.dispatch(committed(seq=1))
    assert delivered_seqs(both) == [1]


def test_messages_are_handed_over_in_dispatch_order(world: World) -> None:
    for seq in (1, 2, 3):
        world.hub.dispatch(committed(seq=seq))
    assert delivered_seqs(world.lea_web) == [1, 2, 3]
    assert delivered_seqs(world.max) == [1, 2, 3]


# --- ConversationChanged --------------------------------------------------------------------


def test_a_conversation_change_carries_each_recipients_own_unread(world: World) -> None:
    event = ConversationChanged(
        brand_id=ACME,
        consumer_id=LEA,
        conversation=conversation(last_seq=12),
        read_seqs={LEA: 12, MAX: 9, RIA: 1, "a_gone": 3},
    )
    world.hub.dispatch(event)
    expected_unread = {
        world.lea_phone: 0, world.lea_web: 0, world.max: 3, world.owen_desk: 12,
        world.owen_laptop: 12,
    }  # fmt: skip
    for socket, unread in expected_unread.items():
        assert [json.loads(text) for text in socket.pushed] == [conversation_json(12, unread)]
        assert socket.delivered == [] and socket.closed == []
    for socket in world.outsiders:
        assert socket.received_nothing(), socket
    assert event.conversation.unread == -7  # the event itself is left as it was


def test_unread_is_never_negative(world: World) -> None:
    world.hub.dispatch(
        ConversationChanged(
            brand_id=ACME, consumer_id=LEA, conversation=conversation(5), read_seqs={LEA: 8}
        )
    )
    assert [json.loads(text) for text in world.lea_phone.pushed] == [conversation_json(5, 0)]


# --- ReadMoved and TypingStarted ------------------------------------------------------------


def test_a_read_receipt_goes_to_every_participant_socket(world: World) -> None:
    world.hub.dispatch(
        ReadMoved(brand_id=ACME, consumer_id=LEA, conversation_id="c_lea", account_id=LEA, seq=15)
    )
    expected = '{"type":"read","conversation_id":"c_lea","account_id":"a_lea","seq":15}'
    for socket in world.participants:
        assert socket.pushed == [expected], socket
        assert socket.delivered == [] and socket.closed == []
    assert world.lea_web.pushed[0] is world.max.pushed[0]  # serialized once
    for socket in world.outsiders:
        assert socket.received_nothing(), socket


def test_typing_by_the_consumer_skips_all_of_the_consumers_sockets(world: World) -> None:
    world.hub.dispatch(
        TypingStarted(brand_id=ACME, consumer_id=LEA, conversation_id="c_lea", account_id=LEA)
    )
    expected = '{"type":"typing","conversation_id":"c_lea","account_id":"a_lea"}'
    assert [s for s in world.all if s.pushed] == [world.max, world.owen_desk, world.owen_laptop]
    assert all(s.pushed == [expected] for s in (world.max, world.owen_desk, world.owen_laptop))
    assert world.lea_phone.received_nothing() and world.lea_web.received_nothing()


def test_typing_by_an_agent_reaches_the_consumer_and_the_other_members(world: World) -> None:
    world.hub.dispatch(
        TypingStarted(brand_id=ACME, consumer_id=LEA, conversation_id="c_lea", account_id=OWEN)
    )
    expected = '{"type":"typing","conversation_id":"c_lea","account_id":"a_owen"}'
    assert [s for s in world.all if s.pushed] == [world.lea_phone, world.lea_web, world.max]
    assert all(s.pushed == [expected] for s in (world.lea_phone, world.lea_web, world.max))


# --- SessionRevoked ---------------------------------------------------------------------------


def test_a_revoked_session_closes_only_its_own_sockets_with_4401(world: World) -> None:
    second_tab = FakeSocket(LEA, "s_lea_phone")  # another socket on the same session
    world.hub.add(second_tab)
    world.hub.dispatch(SessionRevoked(session_id="s_lea_phone"))
    assert world.lea_phone.closed == [(CloseCode.UNAUTHENTICATED, "session revoked")]
    assert second_tab.closed == [(CloseCode.UNAUTHENTICATED, "session revoked")]
    assert world.lea_phone.pushed == [] and world.lea_phone.delivered == []
    for socket in world.all:
        if socket is not world.lea_phone:
            assert socket.received_nothing(), socket


def test_revoking_an_unknown_session_closes_nothing(world: World) -> None:
    world.hub.dispatch(SessionRevoked(session_id="s_nobody"))
    assert all(socket.received_nothing() for socket in world.all)


# --- MembershipChanged -------------------------------------------------------------------------


def test_a_new_member_joins_the_brands_fan_out_at_once(world: World) -> None:
    world.hub.dispatch(MembershipChanged(brand_id=ACME, account_id=ZED, role="agent"))
    assert world.zed.role_changes == [(ACME, "agent")]
    assert world.zed.roles == {ACME: "agent"}
    world.hub.dispatch(committed(seq=4))
    assert delivered_seqs(world.zed) == [4]
    assert world.ria.received_nothing() and world.tom.received_nothing()


def test_a_removed_member_leaves_the_brands_fan_out_at_once(world: World) -> None:
    world.hub.dispatch(MembershipChanged(brand_id=ACME, account_id=OWEN, role=None))
    assert world.owen_desk.role_changes == [(ACME, None)]
    assert world.owen_laptop.role_changes == [(ACME, None)]
    world.hub.dispatch(committed(seq=5))
    assert world.owen_desk.delivered == [] and world.owen_laptop.delivered == []
    assert delivered_seqs(world.max) == [5]
    # Still in the other brand's fan-out.
    world.hub.dispatch(committed(seq=6, brand_id=RIVAL, consumer_id=TOM))
    assert delivered_seqs(world.owen_desk) == [6] and delivered_seqs(world.owen_laptop) == [6]


def test_a_role_change_keeps_the_member_in_the_fan_out(world: World) -> None:
    world.hub.dispatch(MembershipChanged(brand_id=ACME, account_id=MAX, role="admin"))
    assert world.max.roles == {ACME: "admin"}
    world.hub.dispatch(committed(seq=2))
    assert delivered_seqs(world.max) == [2]


def test_a_membership_change_for_someone_offline_touches_nobody(world: World) -> None:
    world.hub.dispatch(MembershipChanged(brand_id=ACME, account_id="a_offline", role="agent"))
    world.hub.dispatch(MembershipChanged(brand_id=ACME, account_id="a_offline", role=None))
    assert all(socket.role_changes == [] for socket in world.all)
    world.hub.dispatch(committed(seq=1))
    assert [s for s in world.all if s.delivered] == world.participants


def test_removing_a_membership_the_socket_never_had_is_harmless(world: World) -> None:
    world.hub.dispatch(MembershipChanged(brand_id=ACME, account_id=TOM, role=None))
    assert world.tom.role_changes == [(ACME, None)]
    world.hub.dispatch(committed(seq=1, brand_id=RIVAL, consumer_id=TOM))
    assert delivered_seqs(world.tom) == [1]


# --- add, remove, count, is_online, close_all ---------------------------------------------------


def test_count_and_is_online_follow_add_and_remove(world: World) -> None:
    hub = world.hub
    assert hub.count() == 8
    assert all(hub.is_online(a) for a in (LEA, TOM, MAX, OWEN, RIA, ZED))
    hub.remove(world.lea_phone)
    assert hub.count() == 7 and hub.is_online(LEA)
    hub.remove(world.lea_web)
    assert hub.count() == 6 and not hub.is_online(LEA)
    for socket in world.all:
        hub.remove(socket)  # removing twice is harmless
    assert hub.count() == 0
    assert not any(hub.is_online(a) for a in (LEA, TOM, MAX, OWEN, RIA, ZED))


def test_adding_the_same_socket_twice_counts_it_once() -> None:
    hub = Hub()
    socket = FakeSocket(LEA, "s_lea")
    hub.add(socket)
    hub.add(socket)
    assert hub.count() == 1
    hub.remove(socket)
    assert hub.count() == 0 and not hub.is_online(LEA)


def test_a_removed_socket_gets_no_event_of_any_kind(world: World) -> None:
    for socket in world.all:
        world.hub.remove(socket)
    world.hub.dispatch(committed(seq=1))
    world.hub.dispatch(committed(seq=2, brand_id=RIVAL, consumer_id=TOM))
    world.hub.dispatch(
        ConversationChanged(
            brand_id=ACME, consumer_id=LEA, conversation=conversation(1), read_seqs={}
        )
    )
    world.hub.dispatch(
        ReadMoved(brand_id=ACME, consumer_id=LEA, conversation_id="c_lea", account_id=MAX, seq=1)
    )
    world.hub.dispatch(
        TypingStarted(brand_id=ACME, consumer_id=LEA, conversation_id="c_lea", account_id=MAX)
    )
    world.hub.dispatch(SessionRevoked(session_id="s_lea_phone"))
    world.hub.dispatch(MembershipChanged(brand_id=ACME, account_id=ZED, role="agent"))
    world.hub.close_all(CloseCode.GOING_AWAY, "bye")
    assert all(socket.received_nothing() for socket in world.all)
    assert world.zed.role_changes == []


def test_a_socket_that_joined_a_brand_while_connected_is_removed_from_it() -> None:
    hub = Hub()
    zed = FakeSocket(ZED, "s_zed")
    hub.add(zed)
    hub.dispatch(MembershipChanged(brand_id=ACME, account_id=ZED, role="agent"))
    hub.remove(zed)
    assert hub.count() == 0 and not hub.is_online(ZED)
    hub.dispatch(committed(seq=1))
    assert zed.delivered == []


def test_removing_one_device_leaves_the_others_subscribed(world: World) -> None:
    world.hub.remove(world.owen_desk)
    world.hub.dispatch(committed(seq=1))
    world.hub.dispatch(SessionRevoked(session_id="s_owen_desk"))
    assert world.owen_desk.received_nothing()
    assert delivered_seqs(world.owen_laptop) == [1]


def test_close_all_closes_every_socket_once(world: World) -> None:
    world.hub.close_all(CloseCode.GOING_AWAY, "gateway shutting down")
    for socket in world.all:
        assert socket.closed == [(CloseCode.GOING_AWAY, "gateway shutting down")], socket
        assert socket.delivered == [] and socket.pushed == []


# --- RatingRequested and NoticeDelivered (PROTOCOL 6 and 7) -----------------------------


def test_a_rating_request_reaches_only_the_consumers_sockets(world: World) -> None:
    world.hub.dispatch(
        RatingRequested(brand_id=ACME, consumer_id=LEA, conversation_id="c_lea", case=3)
    )
    expected = {"type": "rating_request", "conversation_id": "c_lea", "case": 3}
    for socket in (world.lea_phone, world.lea_web):
        assert [json.loads(text) for text in socket.pushed] == [expected]
    for socket in (world.max, world.owen_desk, world.owen_laptop, *world.outsiders):
        assert socket.received_nothing(), socket


def test_a_notice_batch_reaches_exactly_its_accounts_on_this_node(world: World) -> None:
    notice = NoticePublic(
        id="n_1", brand="acme", title="Outage", text="Fibre down", created_at="2026-11-22T10:00:00Z"
    )
    world.hub.dispatch(NoticeDelivered(account_ids=[LEA, RIA, "a_elsewhere"], notice=notice))
    expected = {
        "type": "notice",
        "notice": {"id": "n_1", "brand": "acme", "title": "Outage", "text": "Fibre down",
                   "created_at": "2026-11-22T10:00:00Z"},
    }  # fmt: skip
    for socket in (world.lea_phone, world.lea_web, world.ria):
        assert [json.loads(text) for text in socket.pushed] == [expected]
    for socket in (world.max, world.owen_desk, world.owen_laptop, world.tom, world.zed):
        assert socket.received_nothing(), socket


def test_access_changes_count_what_a_connecting_socket_may_have_missed(world: World) -> None:
    # A socket reads its roles, then joins the hub; it reads them again only if a change of
    # access was handed on in between (gateway.websocket), so every such change must count.
    before = world.hub.access_changes
    world.hub.dispatch(TypingStarted(conversation_id="c_1", account_id=LEA, brand_id=ACME,
                                     consumer_id=LEA))  # fmt: skip
    assert world.hub.access_changes == before
    world.hub.dispatch(MembershipChanged(brand_id=ACME, account_id="a_offline", role="agent"))
    world.hub.dispatch(SessionRevoked(session_id="s_nobody"))
    assert world.hub.access_changes == before + 2
