"""The bus's envelopes without Redis: what a node publishes, and which of what it hears it
hands on (another node's events) or drops (its own, or what it cannot read)."""

from __future__ import annotations

import msgspec
import pytest

from gateway.events import TypingStarted
from gateway.redis_bus import Envelopes

TYPING = TypingStarted("b_1", "a_consumer", "c_1", "a_consumer")


def test_another_nodes_event_is_handed_on() -> None:
    payload = Envelopes("n_elsewhere").encode(TYPING)
    assert Envelopes("n_here").foreign_event(payload) == TYPING


def test_an_own_event_is_dropped() -> None:
    here = Envelopes("n_here")
    assert here.foreign_event(here.encode(TYPING)) is None


def test_an_own_event_is_known_by_its_start_without_decoding_the_rest() -> None:
    here = Envelopes("n_here")
    start = here.encode(TYPING)[: len(b'{"node":"n_here",')]
    assert here.foreign_event(start + b"not an event") is None


def test_a_node_whose_id_starts_like_ours_is_another_node() -> None:
    payload = Envelopes("n_here2").encode(TYPING)
    assert Envelopes("n_here").foreign_event(payload) == TYPING


@pytest.mark.parametrize(
    "payload",
    [b"not json", b'{"node":"n_elsewhere"}', b'{"node":"n_elsewhere","event":{"type":"new"}}'],
)
def test_what_is_not_an_envelope_raises(payload: bytes) -> None:
    with pytest.raises(msgspec.DecodeError):
        Envelopes("n_here").foreign_event(payload)
