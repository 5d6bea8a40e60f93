"""gateway.protocol without a socket: frames in, decisions and JSON out.

Like python-websockets' ``tests/test_protocol.py``: no server, no network, no sleeps. The
frame rate limiter runs on a fake clock that the tests move by hand.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.protocol import (
    Ack,
    Close,
    CloseCode,
    ConversationFrame,
    ErrorFrame,
    FrameProtocol,
    Handle,
    Hello,
    MessageFrame,
    Ping,
    Pong,
    ProtocolError,
    Read,
    ReadFrame,
    Reply,
    Send,
    ServerFrame,
    State,
    Sync,
    Synced,
    Typing,
    TypingFrame,
    Welcome,
    encode,
    parse_frame,
)
from gateway.ratelimit import TokenBucket
from gateway.schemas import AccountRef, BrandRef, ConversationPublic, MessagePublic, Sender


class FakeClock:
    """A monotonic clock that only moves when told to."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def js(value: Any) -> str:
    return json.dumps(value)


def parse_error(raw: str | bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        parse_frame(raw)
    return caught.value


# --- parse_frame: valid frames -------------------------------------------------------

VALID_FRAMES: list[Any] = [
    pytest.param({"type": "hello", "token": "tok"}, Hello(token="tok"), id="hello-minimal"),
    pytest.param(
        {"type": "hello", "token": "tok", "client": "atdesk-py/0.1", "ref": "h1"},
        Hello(ref="h1", token="tok", client="atdesk-py/0.1"),
        id="hello-full",
    ),
    pytest.param(
        {"type": "send", "ref": "r1", "client_id": "8f1c", "to": "@acme", "text": "@acme hi"},
        Send(ref="r1", client_id="8f1c", text="@acme hi", to="@acme"),
        id="send-to",
    ),
    pytest.param(
        {"type": "send", "ref": "r2", "client_id": "91aa", "conversation_id": "c_1", "text": "ok"},
        Send(ref="r2", client_id="91aa", text="ok", conversation_id="c_1"),
        id="send-conversation",
    ),
    pytest.param(
        {"type": "sync", "ref": "s1", "conversation_id": "c_1", "after_seq": 12},
        Sync(ref="s1", conversation_id="c_1", after_seq=12),
        id="sync",
    ),
    pytest.param(
        {"type": "read", "conversation_id": "c_1", "seq": 15},
        Read(conversation_id="c_1", seq=15),
        id="read",
    ),
    pytest.param(
        {"type": "typing", "conversation_id": "c_1"}, Typing(conversation_id="c_1"), id="typing"
    ),
    pytest.param({"type": "ping"}, Ping(), id="ping"),
    pytest.param({"type": "ping", "ref": "p1"}, Ping(ref="p1"), id="ping-ref"),
    pytest.param({"type": "ping", "ref": None}, Ping(), id="ref-null-is-no-ref"),
    pytest.param({"type": "ping", "ref": ""}, Ping(ref=""), id="ref-empty-string"),
    pytest.param({"type": "ping", "ref": "r" * 128}, Ping(ref="r" * 128), id="ref-128"),
    pytest.param({"type": "ping", "extra": [1, 2]}, Ping(), id="unknown-fields-ignored"),
    pytest.param(
        {"type": "send", "client_id": "c" * 64, "to": "@" + "a" * 63, "text": "x"},
        Send(client_id="c" * 64, text="x", to="@" + "a" * 63),
        id="send-bounds-64",
    ),
    pytest.param(
        {"type": "hello", "token": "t" * 512, "client": "c" * 128},
        Hello(token="t" * 512, client="c" * 128),
        id="hello-bounds",
    ),
    pytest.param(
        {"type": "sync", "conversation_id": "c" * 64, "after_seq": 0},
        Sync(conversation_id="c" * 64, after_seq=0),
        id="sync-after-seq-0",
    ),
    pytest.param(
        {"type": "sync", "conversation_id": "c_1", "after_seq": 2**53},
        Sync(conversation_id="c_1", after_seq=2**53),
        id="sync-after-seq-max",
    ),
    pytest.param(
        {"type": "read", "conversation_id": "c_1", "seq": 0},
        Read(conversation_id="c_1", seq=0),
        id="read-seq-0",
    ),
    pytest.param(
        {"type": "read", "conversation_id": "c_1", "seq": 2**53},
        Read(conversation_id="c_1", seq=2**53),
        id="read-seq-max",
    ),
]


@pytest.mark.parametrize(("value", "expected"), VALID_FRAMES)
def test_parse_frame_accepts_each_valid_frame(value: dict[str, Any], expected: Any) -> None:
    assert parse_frame(js(value)) == expected


@pytest.mark.parametrize(("value", "expected"), VALID_FRAMES)
def test_parse_frame_accepts_utf8_bytes_like_text(value: dict[str, Any], expected: Any) -> None:
    assert parse_frame(js(value).encode()) == expected


PROTOCOL_EXAMPLES = [
    # Verbatim from PROTOCOL.md section 4.
    (
        '{"type": "hello", "token": "<bearer token>", "client": "atdesk-py/0.1"}',
        Hello(token="<bearer token>", client="atdesk-py/0.1"),
    ),
    (
        '{"type": "send", "ref": "r1", "client_id": "8f1c...", "to": "@acme", '
        '"text": "@acme my order 123 has not arrived"}',
        Send(ref="r1", client_id="8f1c...", to="@acme", text="@acme my order 123 has not arrived"),
    ),
    (
        '{"type": "send", "ref": "r2", "client_id": "91aa...", "conversation_id": "c_...", '
        '"text": "thanks"}',
        Send(ref="r2", client_id="91aa...", conversation_id="c_...", text="thanks"),
    ),
    (
        '{"type": "sync", "ref": "s1", "conversation_id": "c_...", "after_seq": 12}',
        Sync(ref="s1", conversation_id="c_...", after_seq=12),
    ),
    (
        '{"type": "read", "conversation_id": "c_...", "seq": 15}',
        Read(conversation_id="c_...", seq=15),
    ),
    ('{"type": "typing", "conversation_id": "c_..."}', Typing(conversation_id="c_...")),
]


@pytest.mark.parametrize(("raw", "expected"), PROTOCOL_EXAMPLES)
def test_the_examples_of_the_protocol_document_parse(raw: str, expected: Any) -> None:
    assert parse_frame(raw) == expected


def test_bytes_are_decoded_as_utf8() -> None:
    raw = js({"type": "send", "client_id": "k", "to": "@acme", "text": "crème brûlée 🙂"})
    assert parse_frame(raw.encode()) == Send(client_id="k", to="@acme", text="crème brûlée 🙂")
    raw_unescaped = '{"type":"send","client_id":"k","to":"@acme","text":"é🙂"}'.encode()
    assert parse_frame(raw_unescaped) == Send(client_id="k", to="@acme", text="é🙂")


# --- parse_frame: invalid frames -----------------------------------------------------

# (frame, the field the error message must name)
MISSING_FIELDS: list[Any] = [
    pytest.param({"type": "send", "to": "@acme", "text": "hi"}, "client_id", id="send-client_id"),
    pytest.param({"type": "send", "client_id": "k", "to": "@acme"}, "text", id="send-text"),
    pytest.param({"type": "sync", "after_seq": 1}, "conversation_id", id="sync-conversation"),
    pytest.param({"type": "sync", "conversation_id": "c_1"}, "after_seq", id="sync-after_seq"),
    pytest.param({"type": "read", "seq": 1}, "conversation_id", id="read-conversation"),
    pytest.param({"type": "read", "conversation_id": "c_1"}, "seq", id="read-seq"),
    pytest.param({"type": "typing"}, "conversation_id", id="typing-conversation"),
    pytest.param({"client_id": "k", "to": "@acme", "text": "hi"}, "type", id="no-type"),
]


@pytest.mark.parametrize(("value", "field"), MISSING_FIELDS)
def test_a_missing_field_is_invalid_frame_naming_it(value: dict[str, Any], field: str) -> None:
    error = parse_error(js({**value, "ref": "m1"}))
    assert (error.code, error.ref) == ("invalid_frame", "m1")
    assert error.message == f"Object missing required field `{field}`"


WRONG_TYPES: list[Any] = [
    pytest.param({"type": "hello", "token": 12345}, "$.token", id="hello-token-int"),
    pytest.param({"type": "hello", "token": ["t"]}, "$.token", id="hello-token-list"),
    pytest.param({"type": "hello", "token": "t", "client": 1}, "$.client", id="hello-client"),
    pytest.param(
        {"type": "send", "client_id": 7, "to": "@a", "text": "x"}, "$.client_id", id="client_id"
    ),
    pytest.param(
        {"type": "send", "client_id": "k", "to": "@a", "text": None}, "$.text", id="text-null"
    ),
    pytest.param(
        {"type": "send", "client_id": "k", "to": "@a", "text": ["x"]}, "$.text", id="text-list"
    ),
    pytest.param({"type": "send", "client_id": "k", "to": 5, "text": "x"}, "$.to", id="to-int"),
    pytest.param(
        {"type": "send", "client_id": "k", "conversation_id": {}, "text": "x"},
        "$.conversation_id",
        id="conversation_id-object",
    ),
    pytest.param(
        {"type": "sync", "conversation_id": "c", "after_seq": "1"}, "$.after_seq", id="seq-str"
    ),
    pytest.param(
        {"type": "sync", "conversation_id": "c", "after_seq": 1.5}, "$.after_seq", id="seq-float"
    ),
    pytest.param(
        {"type": "sync", "conversation_id": "c", "after_seq": 1.0}, "$.after_seq", id="seq-1.0"
    ),
    pytest.param(
        {"type": "sync", "conversation_id": "c", "after_seq": True}, "$.after_seq", id="seq-bool"
    ),
    pytest.param({"type": "read", "conversation_id": "c", "seq": None}, "$.seq", id="seq-null"),
    pytest.param({"type": "typing", "conversation_id": 1}, "$.conversation_id", id="typing-id"),
    pytest.param({"type": 5}, "$.type", id="type-int"),
]


@pytest.mark.parametrize(("value", "path"), WRONG_TYPES)
def test_a_field_of_the_wrong_type_is_invalid_frame(value: dict[str, Any], path: str) -> None:
    error = parse_error(js({**value, "ref": "w1"}))
    assert (error.code, error.ref) == ("invalid_frame", "w1")
    assert error.message.endswith(f"- at `{path}`")


OUT_OF_BOUNDS: list[Any] = [
    pytest.param({"type": "sync", "conversation_id": "c", "after_seq": -1}, id="after_seq-neg"),
    pytest.param(
        {"type": "sync", "conversation_id": "c", "after_seq": 2**53 + 1}, id="after_seq-big"
    ),
    pytest.param(
        {"type": "sync", "conversation_id": "c", "after_seq": 2**64}, id="after_seq-over-int64"
    ),
    pytest.param({"type": "read", "conversation_id": "c", "seq": -1}, id="seq-neg"),
    pytest.param({"type": "read", "conversation_id": "c", "seq": 2**53 + 1}, id="seq-big"),
    pytest.param({"type": "typing", "conversation_id": ""}, id="conversation_id-empty"),
    pytest.param({"type": "typing", "conversation_id": "c" * 65}, id="conversation_id-65"),
    pytest.param({"type": "send", "client_id": "", "to": "@a", "text": "x"}, id="client_id-0"),
    pytest.param(
        {"type": "send", "client_id": "k" * 65, "to": "@a", "text": "x"}, id="client_id-65"
    ),
    pytest.param({"type": "send", "client_id": "k", "to": "@" + "a" * 64, "text": "x"}, id="to"),
    pytest.param({"type": "hello", "token": "t" * 513}, id="token-513"),
    pytest.param({"type": "hello", "token": "t", "client": "c" * 129}, id="client-129"),
]


@pytest.mark.parametrize("value", OUT_OF_BOUNDS)
def test_a_value_out_of_bounds_is_invalid_frame(value: dict[str, Any]) -> None:
    error = parse_error(js({**value, "ref": "b1"}))
    assert (error.code, error.ref) == ("invalid_frame", "b1")
    assert " - at `$." in error.message


def test_an_unknown_type_is_invalid_frame_with_its_ref() -> None:
    error = parse_error(js({"type": "subscribe", "ref": "u1"}))
    assert (error.code, error.message, error.ref) == (
        "invalid_frame",
        "Invalid value 'subscribe' - at `$.type`",
        "u1",
    )


@pytest.mark.parametrize(
    ("raw", "got"),
    [
        ("[1, 2]", "array"),
        ('[{"type": "ping", "ref": "r"}]', "array"),
        ('"ping"', "str"),
        ("42", "int"),
        ("4.2", "float"),
        ("true", "bool"),
        ("null", "null"),
    ],
)
def test_json_that_is_not_an_object_is_invalid_frame_without_ref(raw: str, got: str) -> None:
    error = parse_error(raw)
    assert (error.code, error.message, error.ref) == (
        "invalid_frame",
        f"Expected `object`, got `{got}`",
        None,
    )


@pytest.mark.parametrize(
    "raw",
    [
        "",
        " ",
        "{",
        "not json",
        '{"type": "ping", "ref": "r1"',  # truncated: its ref cannot be read
        '{"type": "ping", "ref": "r1"} trailing',
        "{'type': 'ping'}",
        '{"type": "ping",}',
        b"",
        b"\x00\xff",
        b"\xef\xbb\xbf",
    ],
)
def test_invalid_json_is_invalid_frame_without_ref(raw: str | bytes) -> None:
    error = parse_error(raw)
    assert (error.code, error.message, error.ref) == (
        "invalid_frame",
        "a frame is one JSON object",
        None,
    )


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"type": "ping", "ref": "\xff"}', id="ref"),
        pytest.param(b'{"type": "send", "client_id": "k", "to": "@a", "text": "\xc3"}', id="text"),
        pytest.param(b'{"type": "ping", "n\xe9": 1}', id="key"),
    ],
)
def test_bytes_that_are_not_utf8_are_invalid_frame(raw: bytes) -> None:
    # Binary WebSocket frames reach the protocol as bytes that nobody has checked for UTF-8.
    error = parse_error(raw)
    assert (error.code, error.ref) == ("invalid_frame", None)


# --- parse_frame: ref echo -------------------------------------------------------------


def test_an_invalid_frame_echoes_its_ref() -> None:
    error = parse_error(js({"type": "read", "ref": "e1", "conversation_id": "c_1", "seq": -5}))
    assert (error.code, error.ref) == ("invalid_frame", "e1")


def test_a_ref_too_long_to_be_valid_is_still_echoed_whole() -> None:
    ref = "r" * 129
    error = parse_error(js({"type": "ping", "ref": ref}))
    assert (error.code, error.ref) == ("invalid_frame", ref)
    assert error.message == "Expected `str` of length <= 128 - at `$.ref`"


def test_an_overlong_ref_is_echoed_when_another_field_is_also_bad() -> None:
    ref = "r" * 500
    error = parse_error(js({"type": "typing", "ref": ref}))
    assert (error.code, error.ref) == ("invalid_frame", ref)


@pytest.mark.parametrize("ref", [5, 1.5, True, ["r1"], {"r": 1}])
def test_a_ref_that_is_not_a_string_is_not_echoed(ref: object) -> None:
    error = parse_error(js({"type": "ping", "ref": ref}))
    assert (error.code, error.ref) == ("invalid_frame", None)
    assert error.message.endswith("- at `$.ref`")


def test_a_non_string_ref_is_not_echoed_when_another_field_is_bad() -> None:
    error = parse_error(js({"type": "typing", "ref": 7}))
    assert (error.code, error.ref) == ("invalid_frame", None)


def test_an_unknown_type_with_a_non_string_ref_has_no_ref() -> None:
    error = parse_error(js({"type": "nope", "ref": {"x": 1}}))
    assert (error.code, error.ref) == ("invalid_frame", None)


# --- parse_frame: send rules -----------------------------------------------------------


@pytest.mark.parametrize(
    "addressing",
    [
        pytest.param({"to": "@acme", "conversation_id": "c_1"}, id="both"),
        pytest.param({}, id="neither"),
        pytest.param({"to": None, "conversation_id": None}, id="both-null"),
    ],
)
def test_send_needs_exactly_one_of_to_and_conversation_id(addressing: dict[str, Any]) -> None:
    error = parse_error(
        js({"type": "send", "ref": "s9", "client_id": "k", "text": "hi"} | addressing)
    )
    assert (error.code, error.message, error.ref) == (
        "invalid_frame",
        "send needs exactly one of to and conversation_id",
        "s9",
    )


def send_with(text: str, ref: str | None = "t1") -> str:
    return js({"type": "send", "ref": ref, "client_id": "k", "to": "@acme", "text": text})


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param(" ", id="space"),
        pytest.param(" \t\r\n ", id="ascii-whitespace"),
        pytest.param("\u3000\u2003\u00a0", id="unicode-whitespace"),
        pytest.param(" " * 5000, id="long-whitespace"),
    ],
)
def test_text_that_is_only_whitespace_is_invalid_frame(text: str) -> None:
    error = parse_error(send_with(text))
    assert (error.code, error.message, error.ref) == (
        "invalid_frame",
        "text must not be empty",
        "t1",
    )


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("x", id="1"),
        pytest.param("x" * 4000, id="4000"),
        pytest.param("🙂" * 4000, id="4000-emoji"),
        pytest.param("  " + "x" * 4000 + "\n\t", id="4000-after-trimming"),
        pytest.param(" " + "x" * 3998 + " y", id="inner-space-counts"),
    ],
)
def test_text_of_1_to_4000_characters_after_trimming_is_accepted(text: str) -> None:
    frame = parse_frame(send_with(text))
    # parse_frame validates; it does not rewrite (the send handler trims when storing).
    assert frame == Send(ref="t1", client_id="k", to="@acme", text=text)


@pytest.mark.parametrize(
    ("text", "length"),
    [
        pytest.param("x" * 4001, 4001, id="4001"),
        pytest.param(" " + "x" * 4001 + " ", 4001, id="4001-after-trimming"),
        pytest.param("é" * 4001, 4001, id="4001-non-ascii"),
        pytest.param("x" * 60_000, 60_000, id="60000"),
    ],
)
def test_text_over_4000_characters_after_trimming_is_too_large(text: str, length: int) -> None:
    error = parse_error(send_with(text))
    assert (error.code, error.message, error.ref) == (
        "too_large",
        f"text is {length} characters; at most 4000",
        "t1",
    )


def test_text_problems_carry_no_ref_when_the_frame_had_none() -> None:
    error = parse_error(send_with("   ", ref=None))
    assert (error.code, error.ref) == ("invalid_frame", None)


def test_addressing_is_checked_before_text() -> None:
    raw = js({"type": "send", "ref": "o", "client_id": "k", "text": "x" * 4001})
    assert parse_error(raw).message == "send needs exactly one of to and conversation_id"


# --- FrameProtocol: awaiting hello ------------------------------------------------------


def new_protocol(
    clock: FakeClock | None = None, *, rate: float = 10.0, burst: int = 100
) -> FrameProtocol:
    return FrameProtocol(TokenBucket(rate, burst, clock or FakeClock()))


def open_protocol(
    clock: FakeClock | None = None, *, rate: float = 10.0, burst: int = 100
) -> FrameProtocol:
    protocol = new_protocol(clock, rate=rate, burst=burst)
    assert isinstance(protocol.receive(js({"type": "hello", "token": "tok"})), Handle)
    protocol.hello_accepted()
    return protocol


NOT_HELLO = Close(CloseCode.PROTOCOL_VIOLATION, "the first frame must be hello")
BAD_TOKEN = Close(CloseCode.UNAUTHENTICATED, "hello needs a valid token")


def test_a_new_protocol_awaits_hello() -> None:
    assert new_protocol().state is State.AWAITING_HELLO


def test_hello_is_handed_to_the_handlers_and_the_state_waits_for_acceptance() -> None:
    protocol = new_protocol()
    decision = protocol.receive(js({"type": "hello", "token": "tok", "client": "c/1", "ref": "h"}))
    assert decision == Handle(Hello(ref="h", token="tok", client="c/1"))
    states = [protocol.state]
    protocol.hello_accepted()
    states.append(protocol.state)
    assert states == [State.AWAITING_HELLO, State.OPEN]


def test_hello_as_bytes_is_handled() -> None:
    decision = new_protocol().receive(js({"type": "hello", "token": "tok"}).encode())
    assert decision == Handle(Hello(token="tok"))


def test_an_empty_token_is_well_formed_and_left_to_authentication() -> None:
    assert new_protocol().receive(js({"type": "hello", "token": ""})) == Handle(Hello(token=""))


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(js({"type": "ping"}), id="ping"),
        pytest.param(js({"type": "typing", "conversation_id": "c_1"}), id="typing"),
        pytest.param(js({"type": "sync", "conversation_id": "c_1", "after_seq": 0}), id="sync"),
        pytest.param(js({"type": "read", "conversation_id": "c_1", "seq": 1}), id="read"),
        pytest.param(
            js({"type": "send", "client_id": "k", "to": "@acme", "text": "hi"}), id="send"
        ),
        pytest.param(js({"type": "send", "client_id": "k", "text": "hi"}), id="invalid-send"),
        pytest.param(js({"type": "welcome", "token": "tok"}), id="unknown-type"),
        pytest.param(js({"token": "tok"}), id="no-type"),
        pytest.param(js([{"type": "hello", "token": "tok"}]), id="array"),
        pytest.param("null", id="null"),
        pytest.param('{"type": "hello", "token": ', id="invalid-json"),
        pytest.param("", id="empty"),
        pytest.param(b"\x00\xff", id="binary-garbage"),
    ],
)
def test_a_first_frame_other_than_hello_closes_with_4400(raw: str | bytes) -> None:
    protocol = new_protocol()
    assert protocol.receive(raw) == NOT_HELLO
    assert protocol.state is State.CLOSED


@pytest.mark.parametrize(
    "hello",
    [
        pytest.param({"type": "hello", "token": 12345}, id="number"),
        pytest.param({"type": "hello", "token": ["tok"]}, id="list"),
        pytest.param({"type": "hello", "token": {"t": 1}}, id="object"),
        pytest.param({"type": "hello", "token": "t" * 513}, id="overlong"),
    ],
)
def test_a_hello_without_a_valid_token_closes_with_4401(hello: dict[str, Any]) -> None:
    protocol = new_protocol()
    assert protocol.receive(js(hello)) == BAD_TOKEN
    assert protocol.state is State.CLOSED


@pytest.mark.parametrize("hello", [{"type": "hello"}, {"type": "hello", "token": None}])
def test_a_hello_without_a_token_is_left_to_the_session_cookie(hello: dict[str, Any]) -> None:
    # A browser page of ours says hello without a token: its socket's upgrade carried the
    # session cookie. The socket decides (no cookie either: 4401, tested on a live gateway).
    assert new_protocol().receive(js(hello)) == Handle(Hello(token=None))


@pytest.mark.parametrize(
    "hello",
    [
        pytest.param({"client": "c" * 129}, id="overlong-client"),
        pytest.param({"client": 7}, id="number-client"),
        pytest.param({"ref": "r" * 129}, id="overlong-ref"),
        pytest.param({"ref": 7}, id="number-ref"),
    ],
)
def test_a_hello_with_a_valid_token_but_another_bad_field_is_not_unauthenticated(
    hello: dict[str, Any],
) -> None:
    # 4401 tells a client its token is bad (SDKs sign the user out on it); the token here is
    # well formed, and a malformed hello is a protocol violation (4400).
    protocol = new_protocol()
    decision = protocol.receive(js({"type": "hello", "token": "tok"} | hello))
    assert isinstance(decision, Close)
    assert decision.code is CloseCode.PROTOCOL_VIOLATION
    assert protocol.state is State.CLOSED


def test_the_frame_bucket_is_not_spent_before_hello() -> None:
    clock = FakeClock()
    protocol = new_protocol(clock, rate=1.0, burst=1)
    assert protocol.receive(js({"type": "hello", "token": "tok"})) == Handle(Hello(token="tok"))
    protocol.hello_accepted()
    # The one token of the burst is still there for the first frame after hello.
    assert protocol.receive(js({"type": "ping", "ref": "p"})) == Handle(Ping(ref="p"))


# --- FrameProtocol: open ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"type": "ping", "ref": "p"}, Ping(ref="p")),
        ({"type": "typing", "conversation_id": "c_1"}, Typing(conversation_id="c_1")),
        ({"type": "read", "conversation_id": "c_1", "seq": 3}, Read(conversation_id="c_1", seq=3)),
        (
            {"type": "sync", "conversation_id": "c_1", "after_seq": 2},
            Sync(conversation_id="c_1", after_seq=2),
        ),
        (
            {"type": "send", "client_id": "k", "conversation_id": "c_1", "text": "hi"},
            Send(client_id="k", conversation_id="c_1", text="hi"),
        ),
    ],
)
def test_valid_frames_are_handled_when_open(value: dict[str, Any], expected: Any) -> None:
    protocol = open_protocol()
    assert protocol.receive(js(value)) == Handle(expected)
    assert protocol.state is State.OPEN


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        pytest.param(
            "{", ErrorFrame(code="invalid_frame", message="a frame is one JSON object"), id="json"
        ),
        pytest.param(
            js({"type": "nope", "ref": "n"}),
            ErrorFrame(code="invalid_frame", message="Invalid value 'nope' - at `$.type`", ref="n"),
            id="unknown-type",
        ),
        pytest.param(
            js({"type": "send", "ref": "b", "client_id": "k", "text": "hi"}),
            ErrorFrame(
                code="invalid_frame",
                message="send needs exactly one of to and conversation_id",
                ref="b",
            ),
            id="send-neither",
        ),
        pytest.param(
            send_with("x" * 4001, ref="big"),
            ErrorFrame(
                code="too_large", message="text is 4001 characters; at most 4000", ref="big"
            ),
            id="too-large",
        ),
        pytest.param(
            send_with(" \n ", ref="ws"),
            ErrorFrame(code="invalid_frame", message="text must not be empty", ref="ws"),
            id="whitespace",
        ),
        pytest.param(
            js({"type": "hello", "token": "tok", "ref": "h2"}),
            ErrorFrame(code="invalid_frame", message="already said hello", ref="h2"),
            id="second-hello",
        ),
        pytest.param(
            js({"type": "hello", "ref": "h3"}),
            ErrorFrame(code="invalid_frame", message="already said hello", ref="h3"),
            id="second-hello-without-token",
        ),
    ],
)
def test_errors_when_open_are_replies_and_the_socket_stays_open(
    raw: str, error: ErrorFrame
) -> None:
    protocol = open_protocol()
    assert protocol.receive(raw) == Reply(error)
    assert protocol.state is State.OPEN
    assert protocol.receive(js({"type": "ping"})) == Handle(Ping())


def test_non_utf8_bytes_when_open_are_an_invalid_frame_reply() -> None:
    protocol = open_protocol()
    decision = protocol.receive(b'{"type": "ping", "ref": "\xff"}')
    assert isinstance(decision, Reply)
    assert decision.frame.code == "invalid_frame"
    assert protocol.state is State.OPEN


def test_non_utf8_bytes_as_the_first_frame_close_with_4400() -> None:
    protocol = new_protocol()
    # Not UTF-8, so not JSON: like any invalid JSON first, a protocol violation.
    assert protocol.receive(b'{"type": "hello", "token": "\xff"}') == NOT_HELLO
    assert protocol.state is State.CLOSED


# --- FrameProtocol: rate limits ---------------------------------------------------------

PING = js({"type": "ping"})


def rate_limited(retry: float, ref: str | None = None) -> Reply:
    return Reply(
        ErrorFrame(
            code="rate_limited",
            message=f"too many frames; retry in {retry:g} s",
            ref=ref,
            retry_after_s=retry,
        )
    )


def exhausted(clock: FakeClock, *, rate: float, burst: int) -> FrameProtocol:
    protocol = open_protocol(clock, rate=rate, burst=burst)
    for _ in range(burst):
        assert protocol.receive(PING) == Handle(Ping())
    return protocol


def test_a_frame_over_the_rate_is_refused_with_retry_after() -> None:
    clock = FakeClock()
    protocol = exhausted(clock, rate=4.0, burst=2)
    assert protocol.receive(js({"type": "ping", "ref": "r3"})) == rate_limited(0.25, "r3")
    assert protocol.state is State.OPEN


def test_retry_after_shrinks_as_the_clock_moves_and_the_frame_passes_when_due() -> None:
    clock = FakeClock()
    protocol = exhausted(clock, rate=4.0, burst=2)
    assert protocol.receive(PING) == rate_limited(0.25)
    clock.advance(0.125)
    assert protocol.receive(PING) == rate_limited(0.125)
    clock.advance(0.125)
    assert protocol.receive(PING) == Handle(Ping())
    assert protocol.receive(PING) == rate_limited(0.25)


def test_retry_after_is_rounded_up_to_the_millisecond() -> None:
    clock = FakeClock()
    protocol = exhausted(clock, rate=3.0, burst=1)
    # One token takes 1/3 s: rounding down would invite a retry that is refused again.
    assert protocol.receive(PING) == rate_limited(0.334)


def test_the_rate_is_checked_before_validity_and_the_ref_is_still_echoed() -> None:
    clock = FakeClock()
    protocol = exhausted(clock, rate=1.0, burst=1)
    too_long_ref = "r" * 200
    assert protocol.receive(js({"type": "nope", "ref": "x"})) == rate_limited(1.0, "x")
    assert protocol.receive(js({"type": "ping", "ref": too_long_ref})) == rate_limited(
        1.0, too_long_ref
    )
    assert protocol.receive("{not json") == rate_limited(1.0, None)
    assert protocol.receive(js({"type": "ping", "ref": 5})) == rate_limited(1.0, None)


def test_non_utf8_bytes_over_the_rate_are_refused_for_rate() -> None:
    clock = FakeClock()
    protocol = exhausted(clock, rate=1.0, burst=1)
    assert protocol.receive(b'{"type": "ping", "ref": "\xff"}') == rate_limited(1.0, None)
    assert protocol.state is State.OPEN


def test_rate_limited_encodes_with_retry_after_s() -> None:
    clock = FakeClock()
    protocol = exhausted(clock, rate=4.0, burst=1)
    decision = protocol.receive(js({"type": "ping", "ref": "r9"}))
    assert isinstance(decision, Reply)
    assert json.loads(encode(decision.frame)) == {
        "type": "error",
        "code": "rate_limited",
        "message": "too many frames; retry in 0.25 s",
        "ref": "r9",
        "retry_after_s": 0.25,
    }


def test_a_client_that_keeps_flooding_is_closed_with_4429_after_max_strikes() -> None:
    clock = FakeClock()
    protocol = exhausted(clock, rate=1.0, burst=1)
    for _ in range(FrameProtocol.MAX_STRIKES):
        assert protocol.receive(PING) == rate_limited(1.0)
        assert protocol.state is State.OPEN
    assert protocol.receive(PING) == Close(CloseCode.RATE_LIMITED, "rate limited: slow down")
    assert protocol.state is State.CLOSED


def test_strikes_reset_when_a_frame_is_accepted() -> None:
    clock = FakeClock()
    protocol = exhausted(clock, rate=1.0, burst=1)
    for _ in range(FrameProtocol.MAX_STRIKES):
        assert protocol.receive(PING) == rate_limited(1.0)
    clock.advance(1.0)
    assert protocol.receive(PING) == Handle(Ping())
    # A fresh run of MAX_STRIKES refusals is allowed again before the close.
    for _ in range(FrameProtocol.MAX_STRIKES):
        assert protocol.receive(PING) == rate_limited(1.0)
    assert protocol.receive(PING) == Close(CloseCode.RATE_LIMITED, "rate limited: slow down")


def test_refusals_spread_over_time_still_count_as_in_a_row() -> None:
    clock = FakeClock()
    protocol = exhausted(clock, rate=1.0, burst=1)
    for _ in range(FrameProtocol.MAX_STRIKES):
        clock.advance(0.03125)
        assert isinstance(protocol.receive(PING), Reply)
    # 20 * 1/32 s = 0.625 s: still no whole token.
    clock.advance(0.03125)
    assert protocol.receive(PING) == Close(CloseCode.RATE_LIMITED, "rate limited: slow down")


# --- FrameProtocol: illegal moves ---------------------------------------------------------


def test_receive_after_a_4400_close_raises() -> None:
    protocol = new_protocol()
    assert protocol.receive(PING) == NOT_HELLO
    with pytest.raises(RuntimeError, match=r"^receive\(\) after the protocol closed$"):
        protocol.receive(js({"type": "hello", "token": "tok"}))


def test_receive_after_a_4429_close_raises() -> None:
    clock = FakeClock()
    protocol = exhausted(clock, rate=1.0, burst=1)
    for _ in range(FrameProtocol.MAX_STRIKES + 1):
        protocol.receive(PING)
    assert protocol.state is State.CLOSED
    clock.advance(3600)
    with pytest.raises(RuntimeError, match=r"^receive\(\) after the protocol closed$"):
        protocol.receive(PING)


def test_receive_after_an_explicit_close_raises() -> None:
    protocol = open_protocol()
    assert protocol.close(CloseCode.GOING_AWAY, "bye") == Close(CloseCode.GOING_AWAY, "bye")
    assert protocol.state is State.CLOSED
    with pytest.raises(RuntimeError):
        protocol.receive(PING)


def test_hello_accepted_twice_raises() -> None:
    protocol = open_protocol()
    with pytest.raises(RuntimeError, match=r"^hello accepted in state open$"):
        protocol.hello_accepted()
    assert protocol.state is State.OPEN


def test_hello_accepted_after_close_raises() -> None:
    protocol = new_protocol()
    protocol.receive(PING)
    with pytest.raises(RuntimeError, match=r"^hello accepted in state closed$"):
        protocol.hello_accepted()
    assert protocol.state is State.CLOSED


def test_close_codes_are_those_of_the_protocol() -> None:
    assert {code.name: int(code) for code in CloseCode} == {
        "GOING_AWAY": 1001,
        "TOO_LARGE": 1009,
        "INTERNAL": 1011,
        "PROTOCOL_VIOLATION": 4400,
        "UNAUTHENTICATED": 4401,
        "FORBIDDEN_ORIGIN": 4403,
        "SLOW_CONSUMER": 4408,
        "RATE_LIMITED": 4429,
    }


# --- server frames ------------------------------------------------------------------------

MESSAGE = MessagePublic(
    conversation_id="c_1",
    seq=12,
    id="m_1",
    client_id="8f1c",
    sender=Sender(id="a_lea", role="consumer", display_name="Lea"),
    text="my order 123 has not arrived",
    created_at="2026-11-22T10:00:00.000Z",
)
MESSAGE_JSON = {
    "conversation_id": "c_1",
    "seq": 12,
    "id": "m_1",
    "client_id": "8f1c",
    "sender": {"id": "a_lea", "role": "consumer", "display_name": "Lea"},
    "text": "my order 123 has not arrived",
    "created_at": "2026-11-22T10:00:00.000Z",
}


def conversation(assignee: AccountRef | None) -> ConversationPublic:
    return ConversationPublic(
        id="c_1",
        brand=BrandRef(handle="acme", name="ACME Telecom", verified=True),
        consumer=AccountRef(id="a_lea", display_name="Lea"),
        status="open",
        case=1,
        assignee=assignee,
        last_seq=12,
        last_message_at="2026-11-22T10:00:00.000Z",
        unread=2,
    )


CONVERSATION_JSON = {
    "id": "c_1",
    "brand": {"handle": "acme", "name": "ACME Telecom", "verified": True},
    "consumer": {"id": "a_lea", "display_name": "Lea"},
    "status": "open",
    "case": 1,
    "assignee": None,
    "last_seq": 12,
    "last_message_at": "2026-11-22T10:00:00.000Z",
    "unread": 2,
}

SERVER_FRAMES: list[Any] = [
    pytest.param(
        Welcome(account_id="a_1", heartbeat_s=25),
        '{"type":"welcome","account_id":"a_1","heartbeat_s":25}',
        id="welcome",
    ),
    pytest.param(
        Ack(client_id="8f1c", conversation_id="c_1", seq=1, id="m_1", created_at="T", ref="r1"),
        '{"type":"ack","client_id":"8f1c","conversation_id":"c_1","seq":1,"id":"m_1",'
        '"created_at":"T","ref":"r1"}',
        id="ack",
    ),
    pytest.param(
        Ack(client_id="8f1c", conversation_id="c_1", seq=1, id="m_1", created_at="T"),
        '{"type":"ack","client_id":"8f1c","conversation_id":"c_1","seq":1,"id":"m_1",'
        '"created_at":"T"}',
        id="ack-without-ref",
    ),
    pytest.param(
        Synced(conversation_id="c_1", last_seq=15, ref="s1"),
        '{"type":"synced","conversation_id":"c_1","last_seq":15,"ref":"s1"}',
        id="synced",
    ),
    pytest.param(
        Synced(conversation_id="c_1", last_seq=0),
        '{"type":"synced","conversation_id":"c_1","last_seq":0}',
        id="synced-without-ref",
    ),
    pytest.param(
        ReadFrame(conversation_id="c_1", account_id="a_1", seq=15),
        '{"type":"read","conversation_id":"c_1","account_id":"a_1","seq":15}',
        id="read",
    ),
    pytest.param(
        TypingFrame(conversation_id="c_1", account_id="a_1"),
        '{"type":"typing","conversation_id":"c_1","account_id":"a_1"}',
        id="typing",
    ),
    pytest.param(Pong(ref="p1"), '{"type":"pong","ref":"p1"}', id="pong"),
    pytest.param(Pong(), '{"type":"pong"}', id="pong-without-ref"),
    pytest.param(
        ErrorFrame(code="unknown_brand", message="no brand @acmee", ref="r2"),
        '{"type":"error","code":"unknown_brand","message":"no brand @acmee","ref":"r2"}',
        id="error",
    ),
    pytest.param(
        ErrorFrame(code="internal", message="failed"),
        '{"type":"error","code":"internal","message":"failed"}',
        id="error-without-ref",
    ),
    pytest.param(
        ErrorFrame(code="rate_limited", message="slow", ref="r", retry_after_s=0.25),
        '{"type":"error","code":"rate_limited","message":"slow","ref":"r","retry_after_s":0.25}',
        id="error-retry-after",
    ),
    pytest.param(
        ErrorFrame(code="rate_limited", message="slow", retry_after_s=2.0),
        '{"type":"error","code":"rate_limited","message":"slow","retry_after_s":2.0}',
        id="error-retry-after-without-ref",
    ),
    pytest.param(
        ErrorFrame(code="invalid_frame", message="m", ref=""),
        '{"type":"error","code":"invalid_frame","message":"m","ref":""}',
        id="error-empty-ref-is-kept",
    ),
]


@pytest.mark.parametrize(("frame", "expected"), SERVER_FRAMES)
def test_server_frames_encode_to_the_exact_json(frame: ServerFrame, expected: str) -> None:
    assert encode(frame) == expected


def test_a_message_frame_carries_the_whole_message_object() -> None:
    assert json.loads(encode(MessageFrame(message=MESSAGE))) == {
        "type": "message",
        "message": MESSAGE_JSON,
    }


def test_a_conversation_frame_keeps_a_null_assignee() -> None:
    assert json.loads(encode(ConversationFrame(conversation=conversation(None)))) == {
        "type": "conversation",
        "conversation": CONVERSATION_JSON,
    }


def test_a_conversation_frame_carries_the_assignee() -> None:
    frame = ConversationFrame(conversation=conversation(AccountRef(id="a_max", display_name="Max")))
    assert json.loads(encode(frame)) == {
        "type": "conversation",
        "conversation": CONVERSATION_JSON | {"assignee": {"id": "a_max", "display_name": "Max"}},
    }


def test_text_is_encoded_as_utf8_json_not_html() -> None:
    message = MessagePublic(
        conversation_id="c_1",
        seq=1,
        id="m_1",
        client_id="k",
        sender=Sender(id="a_1", role="agent", display_name="<b>Max</b>"),
        text='<script>alert("x")</script> é',
        created_at="T",
    )
    encoded = encode(MessageFrame(message=message))
    assert '"text":"<script>alert(\\"x\\")</script> é"' in encoded
    assert json.loads(encoded)["message"]["sender"]["display_name"] == "<b>Max</b>"
