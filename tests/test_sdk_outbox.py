"""The SDK's rules without sockets: outbox, state file, dedupe and order, back-off, frames."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from atdesk_sdk.backoff import Backoff
from atdesk_sdk.events import MessageEvent, OtherEvent, ReadEvent
from atdesk_sdk.models import Message, Sender
from atdesk_sdk.outbox import Outbox, OutboxEntry
from atdesk_sdk.protocol import (
    AckReply,
    ErrorReply,
    FrameError,
    SyncedReply,
    Welcome,
    parse_server_frame,
    send_frame,
    sync_frame,
    text_problem,
    ws_url,
)
from atdesk_sdk.sequencer import Sequencer
from atdesk_sdk.state import SavedState, StateFile, StateFileInUse


def message(conversation_id: str, seq: int) -> Message:
    return Message(
        conversation_id=conversation_id, seq=seq, id=f"m_{conversation_id}_{seq}",
        client_id=f"k{seq}", sender=Sender("a_1", "consumer", "Lea"), text=f"text {seq}",
        created_at="2026-11-22T10:00:00Z",
    )  # fmt: skip


def entry(
    client_id: str, *, to: str | None = None, conversation_id: str | None = None
) -> OutboxEntry:
    return OutboxEntry(client_id, f"text of {client_id}", to, conversation_id)


def restore(path: Path) -> SavedState:
    """What a client starting on ``path`` would restore."""
    journal = StateFile(path)
    try:
        return journal.open()
    finally:
        journal.close()


# --- dedupe and order --------------------------------------------------------------------


def test_sequencer_hands_on_each_seq_once_in_order_whatever_the_arrival_order() -> None:
    sequencer = Sequencer()
    arrivals = [1, 1, 3, 2, 2, 5, 3, 4, 6, 1, 6]
    handed_on = [m.seq for seq in arrivals for m in sequencer.receive(message("c1", seq))]
    assert handed_on == [1, 2, 3, 4, 5, 6]
    assert sequencer.cursor("c1") == 6
    assert not sequencer.has_gap("c1")


def test_sequencer_holds_messages_behind_a_gap_until_it_is_filled() -> None:
    sequencer = Sequencer({"c1": 10})
    assert sequencer.receive(message("c1", 9)) == []  # before the cursor: a duplicate
    assert sequencer.receive(message("c1", 12)) == []
    assert sequencer.has_gap("c1")
    assert [m.seq for m in sequencer.receive(message("c1", 11))] == [11, 12]
    assert not sequencer.has_gap("c1")
    assert sequencer.cursor("c1") == 12


def test_sequencer_keeps_conversations_apart_and_tracks_from_a_baseline() -> None:
    sequencer = Sequencer()
    assert sequencer.track("c2", after_seq=7) is True
    assert sequencer.track("c2", after_seq=0) is False  # already followed: cursor kept
    assert sequencer.receive(message("c2", 7)) == []
    assert [m.seq for m in sequencer.receive(message("c2", 8))] == [8]
    assert [m.seq for m in sequencer.receive(message("c1", 1))] == [1]
    assert sequencer.cursors() == {"c2": 8, "c1": 1}
    sequencer.forget("c2")
    assert not sequencer.knows("c2")


# --- the outbox ----------------------------------------------------------------------


def test_outbox_dispatches_one_message_per_conversation_oldest_first() -> None:
    outbox = Outbox(
        [
            entry("a1", conversation_id="c1"),
            entry("b1", to="@Acme"),
            entry("a2", conversation_id="c1"),
            entry("b2", conversation_id="c_acme"),
            entry("d1", conversation_id="c2"),
        ]
    )
    handles: dict[str, str] = {}

    def destination(e: OutboxEntry) -> str:
        return e.destination(handles)

    first = outbox.dispatchable((), destination, limit=10)
    assert [e.client_id for e in first] == ["a1", "b1", "b2", "d1"]
    handles["acme"] = "c_acme"  # learned from the ack of b1: b2 goes to the same thread
    assert [e.client_id for e in outbox.dispatchable(["a1", "b1"], destination, 10)] == ["d1"]
    assert [e.client_id for e in outbox.dispatchable([], destination, limit=2)] == ["a1", "b1"]
    outbox.remove("a1")
    outbox.remove("b1")
    assert [e.client_id for e in outbox.dispatchable([], destination, 10)] == ["a2", "b2", "d1"]


def test_outbox_refuses_a_client_id_twice_and_checks_destinations() -> None:
    outbox = Outbox()
    outbox.add(entry("x", to="@acme"))
    with pytest.raises(ValueError, match="already in the outbox"):
        outbox.add(entry("x", to="@acme"))
    with pytest.raises(ValueError, match="exactly one"):
        OutboxEntry("y", "text", to="@acme", conversation_id="c1")
    with pytest.raises(ValueError, match="exactly one"):
        OutboxEntry("y", "text")
    assert outbox.remove("nope") is None
    assert [e.client_id for e in outbox] == ["x"]


# --- the state file ------------------------------------------------------------------


def test_state_file_restores_unacked_messages_cursors_and_baseline(tmp_path: Path) -> None:
    path = tmp_path / "state.jsonl"
    journal = StateFile(path, fsync=False)
    journal.open()
    outbox = Outbox(journal=journal)
    for client_id in ("m1", "m2", "m3"):
        outbox.add(entry(client_id, to="@acme"))
    outbox.remove("m2")
    journal.record_cursor("c1", 4)
    journal.record_cursor("c1", 3)  # never backwards
    journal.record_baselined()
    journal.close()  # as good as a crash: every line was flushed when written

    restored = restore(path)
    assert list(restored.outbox) == ["m1", "m3"]
    assert restored.outbox["m3"] == entry("m3", to="@acme")
    assert restored.cursors == {"c1": 4}
    assert restored.baselined is True


def test_state_file_ignores_a_line_torn_by_a_crash_and_compacts(tmp_path: Path) -> None:
    path = tmp_path / "state.jsonl"
    lines = [
        {"add": {"client_id": "m1", "text": "one", "conversation_id": "c1"}},
        {"add": {"client_id": "m2", "text": "two", "conversation_id": "c1"}},
        {"done": "m1"},
    ]
    torn = json.dumps({"add": {"client_id": "m3", "text": "three", "conversation_id": "c1"}})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines) + torn[:25])
    journal = StateFile(path)
    state = journal.open()
    assert list(state.outbox) == ["m2"]
    journal.close()
    assert [json.loads(line) for line in path.read_text().splitlines()] == [
        {"version": 1},
        {"add": {"client_id": "m2", "text": "two", "conversation_id": "c1"}},
    ]


def test_state_file_compacts_itself_as_it_grows(tmp_path: Path) -> None:
    path = tmp_path / "state.jsonl"
    journal = StateFile(path, fsync=False)
    journal.open()
    outbox = Outbox(journal=journal)
    for n in range(3000):
        outbox.add(entry(f"m{n}", conversation_id="c1"))
        outbox.remove(f"m{n}")
    outbox.add(entry("last", conversation_id="c1"))
    journal.close()
    assert len(path.read_text().splitlines()) < 1100
    assert list(restore(path).outbox) == ["last"]


def test_state_file_is_used_by_one_client_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "state.jsonl"
    first = StateFile(path)
    first.open()
    with pytest.raises(StateFileInUse):
        StateFile(path).open()
    first.close()  # as a crash would: the lock goes with the process's files
    second = StateFile(path)
    assert second.open().outbox == {}
    second.close()


# --- back-off ------------------------------------------------------------------------


def test_backoff_grows_with_jitter_up_to_the_maximum_and_resets() -> None:
    backoff = Backoff(initial_s=1, maximum_s=8, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(7)]
    ceilings = [1, 2, 4, 8, 8, 8, 8]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling
    assert len(set(delays)) == len(delays)  # jittered: no two waits alike
    backoff.reset()
    assert backoff.ceiling() == 1
    assert 0.5 <= backoff.next_delay() <= 1


def test_backoff_spreads_clients_that_failed_together() -> None:
    first = [Backoff(rng=random.Random(seed)).next_delay() for seed in range(50)]
    assert len({round(delay, 6) for delay in first}) == 50
    with pytest.raises(ValueError):
        Backoff(initial_s=0)


# --- frames --------------------------------------------------------------------------


def test_client_frames_follow_the_contract() -> None:
    sent = json.loads(
        send_frame(client_id="k1", text="hé", to="@acme", conversation_id=None, ref="s:k1")
    )
    assert sent == {"type": "send", "ref": "s:k1", "client_id": "k1", "to": "@acme", "text": "hé"}
    assert json.loads(sync_frame("c1", 12, "y:1")) == {
        "type": "sync", "ref": "y:1", "conversation_id": "c1", "after_seq": 12,
    }  # fmt: skip
    with pytest.raises(ValueError):
        send_frame(client_id="k1", text="x", to=None, conversation_id=None, ref=None)
    assert ws_url("http://127.0.0.1:8000") == "ws://127.0.0.1:8000/v1/ws"
    assert ws_url("https://desk.example.com/") == "wss://desk.example.com/v1/ws"
    assert text_problem("   ") == "text must not be empty"
    assert text_problem("x" * 4001) == "text is 4001 characters; at most 4000"
    assert text_problem(" ok ") is None


def test_server_frames_parse_into_types_and_unknown_ones_pass_through() -> None:
    raw_message = {
        "conversation_id": "c1", "seq": 3, "id": "m3", "client_id": "k3",
        "sender": {"id": "a1", "role": "agent", "display_name": "Sam"}, "text": "hi",
        "created_at": "2026-11-22T10:00:00Z", "added_later": True,
    }  # fmt: skip
    assert parse_server_frame(json.dumps({"type": "message", "message": raw_message})) == (
        MessageEvent(
            Message(
                "c1", 3, "m3", "k3", Sender("a1", "agent", "Sam"), "hi", raw_message["created_at"]
            )
        )
    )
    ack = parse_server_frame(
        '{"type":"ack","ref":"s:k","client_id":"k","conversation_id":"c1","seq":1,'
        '"id":"m1","created_at":"2026-11-22T10:00:00Z"}'
    )
    assert isinstance(ack, AckReply) and ack.ref == "s:k" and ack.ack.seq == 1
    assert parse_server_frame('{"type":"welcome","account_id":"a1","heartbeat_s":25}') == Welcome(
        "a1", 25
    )
    assert parse_server_frame(
        '{"type":"synced","ref":"y:2","conversation_id":"c1","last_seq":9}'
    ) == SyncedReply("c1", 9, "y:2")
    assert parse_server_frame(
        '{"type":"error","ref":"s:k","code":"rate_limited","message":"slow","retry_after_s":0.5}'
    ) == ErrorReply("rate_limited", "slow", "s:k", 0.5)
    assert parse_server_frame(
        '{"type":"read","conversation_id":"c1","account_id":"a2","seq":4}'
    ) == ReadEvent("c1", "a2", 4)
    notice = parse_server_frame('{"type":"notice","notice":{"title":"outage"}}')
    assert notice == OtherEvent("notice", {"type": "notice", "notice": {"title": "outage"}})
    for bad in ("not json", "[1]", '{"type":"ack","client_id":"k"}', '{"type":"message"}'):
        with pytest.raises(FrameError):
            parse_server_frame(bad)
