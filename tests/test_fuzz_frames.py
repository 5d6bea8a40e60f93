"""Acceptance: 10,000 random frames from ``hypothesis`` over one signed-in socket.

Each frame gets exactly one answer: an error with a documented code and the frame's
``ref`` echoed, or the pong of a valid ping. The socket stays open throughout, nothing is
stored, the gateway logs no traceback, and other clients are served as usual afterwards.

The gateway is a fresh one with no brands and no conversations, so no generated frame
can succeed silently: a well-formed ``send`` names a brand or a conversation that does
not exist, and so do ``sync``, ``read`` and ``typing``.
"""

from __future__ import annotations

import json
import math
import uuid
from collections import Counter
from typing import Any

import httpx
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

from tests.gateway_process import GatewayProcess

EXAMPLES = 10_000
DOCUMENTED_CODES = {
    "invalid_frame", "unknown_brand", "not_found", "forbidden", "too_large", "rate_limited",
}  # fmt: skip
FRAME_TYPES = ("hello", "send", "sync", "read", "typing", "ping")
FIELDS: dict[str, tuple[str, ...]] = {
    "hello": ("token", "client"),
    "send": ("client_id", "text", "to", "conversation_id"),
    "sync": ("conversation_id", "after_seq"),
    "read": ("conversation_id", "seq"),
    "typing": ("conversation_id",),
    "ping": (),
}
ALL_FIELDS = tuple(sorted({name for names in FIELDS.values() for name in names}))
MAX_PAYLOAD = 60_000  # under the 64 KiB frame limit, which closes the socket (tested elsewhere)

# --- what a frame is made of ---------------------------------------------------------

short_text = st.text(max_size=16)
# Long strings are built from a repeated chunk: drawing thousands of characters one by one
# would make generation, not the gateway, the slow part of the run.
long_text = st.builds(
    lambda chunk, length: (chunk * (length // len(chunk) + 1))[:length],
    st.text(min_size=1, max_size=8),
    st.integers(min_value=500, max_value=4_200),
)
edge_text = st.sampled_from(
    ["", " ", "\t\n", "\x00", "@", "@@acme", "\u202eevil", "🙂" * 40, "x" * 4000, "x" * 4001,
     " " + "é" * 4000 + " ", "y" * 4001 + "  ", "\u3000" * 5, "null", "{}", '"', "\\"]
)  # fmt: skip
any_text = st.one_of(short_text, short_text, edge_text, long_text)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    short_text,
)  # fmt: skip
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(short_text, children, max_size=4)
    ),
    max_leaves=6,
)
# A value of any JSON type, cheap to draw: for fields, usually of the wrong type.
any_value = st.one_of(
    scalars, st.lists(scalars, max_size=2), st.dictionaries(short_text, scalars, max_size=2)
)
numbers = st.one_of(
    st.integers(min_value=-3, max_value=2**70),
    st.sampled_from([0, 1, 2**31, 2**53, 2**53 + 1, 2**63 - 1, 2**63, 2**64]),
    st.floats(allow_nan=False, allow_infinity=False),
)
handle_like = st.builds(
    str.__add__, st.sampled_from(["", "@", " @"]), st.text("abcxyz_0189AZ", max_size=32)
)
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "token": any_text,
    "client": short_text,
    "client_id": st.one_of(st.text(min_size=1, max_size=64), any_text),
    "text": any_text,
    # A fresh gateway has no brands: whatever ``to`` says, it names none.
    "to": st.one_of(handle_like, st.text(max_size=70)),
    "conversation_id": st.one_of(
        st.text(min_size=1, max_size=64), st.just("c_01M8351X76YAVDPWVNKVJ7X2JN"), any_text
    ),
    "after_seq": numbers,
    "seq": numbers,
}
ABSENT = object()


@st.composite
def object_frames(draw: st.DrawFn) -> dict[str, Any]:
    """A dict shaped like a client frame: real or junk type, real fields with good or bad values."""
    frame_type = draw(
        st.one_of(st.sampled_from(FRAME_TYPES), st.sampled_from(FRAME_TYPES), short_text, scalars)
    )
    frame: dict[str, Any] = {}
    if draw(st.integers(0, 19)) > 0:
        frame["type"] = frame_type
    names = FIELDS.get(frame_type) if isinstance(frame_type, str) else None
    if names is None:  # a junk type: some of the real fields, of any frame type
        names = tuple(draw(st.lists(st.sampled_from(ALL_FIELDS), max_size=3, unique=True)))
    for name in names:
        presence = draw(st.integers(0, 9))
        if presence < 7:
            frame[name] = draw(PLAUSIBLE[name])
        elif presence < 9:
            frame[name] = draw(any_value)  # probably the wrong type
    ref = draw(
        st.one_of(st.just(ABSENT), short_text, st.text(min_size=100, max_size=300), any_value)
    )
    if ref is not ABSENT:
        frame["ref"] = ref
    for name, value in draw(st.dictionaries(short_text, any_value, max_size=2)).items():
        frame.setdefault(name, value)
    return frame


# Values a valid frame could carry; text may still be empty or too long.
VALID: dict[str, st.SearchStrategy[Any]] = {
    "token": short_text,
    "client": st.one_of(st.none(), short_text),
    "client_id": st.text(min_size=1, max_size=64),
    "text": any_text,
    "to": st.one_of(handle_like, st.text(min_size=1, max_size=64)),
    "conversation_id": st.text(min_size=1, max_size=64),
    "after_seq": st.integers(min_value=0, max_value=2**53),
    "seq": st.integers(min_value=0, max_value=2**53),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "hello": ("token",), "send": ("client_id", "text"), "sync": ("conversation_id", "after_seq"),
    "read": ("conversation_id", "seq"), "typing": ("conversation_id",), "ping": (),
}  # fmt: skip


@st.composite
def near_valid_frames(draw: st.DrawFn) -> dict[str, Any]:
    """A valid frame of a real type, then none, one or two mutations of it."""
    frame_type = draw(st.sampled_from(FRAME_TYPES))
    frame: dict[str, Any] = {"type": frame_type}
    for name in REQUIRED[frame_type]:
        frame[name] = draw(VALID[name])
    if frame_type == "send":
        target = draw(st.sampled_from(["to", "conversation_id"]))
        frame[target] = draw(VALID[target])
    ref = draw(st.one_of(st.just(ABSENT), st.none(), short_text))
    if ref is not ABSENT:
        frame["ref"] = ref
    for _ in range(draw(st.integers(0, 2))):
        mutation = draw(st.integers(0, 3))
        if mutation == 0 and len(frame) > 1:
            del frame[draw(st.sampled_from(sorted(frame)))]
        elif mutation == 1:
            frame[draw(st.sampled_from((*ALL_FIELDS, "type", "ref")))] = draw(any_value)
        elif mutation == 2:
            name = draw(st.sampled_from(ALL_FIELDS))
            frame[name] = draw(PLAUSIBLE[name])
        else:
            frame.setdefault(draw(short_text), draw(any_value))
    return frame


@st.composite
def payloads(draw: st.DrawFn) -> str | bytes:
    """One frame as sent on the wire: mostly JSON objects, also other JSON, text and bytes."""
    kind = draw(st.integers(0, 9))
    ascii_only = draw(st.booleans())
    if kind <= 3:
        payload: str | bytes = json.dumps(draw(near_valid_frames()), ensure_ascii=ascii_only)
    elif kind <= 5:
        payload = json.dumps(draw(object_frames()), ensure_ascii=ascii_only)
    elif kind == 6:
        payload = json.dumps(draw(json_values), ensure_ascii=ascii_only)
    elif kind == 7:
        # A frame broken in transit: cut short, or with junk spliced in.
        whole = json.dumps(draw(object_frames()), ensure_ascii=ascii_only)
        cut = draw(st.integers(0, len(whole)))
        payload = whole[:cut] + draw(st.one_of(st.just(""), short_text)) + whole[cut + 1 :]
    elif kind == 8:
        payload = draw(st.text(max_size=300))
    else:
        payload = draw(st.binary(max_size=300))
    size = len(payload) if isinstance(payload, bytes) else len(payload.encode())
    assume(size <= MAX_PAYLOAD)
    return payload


# --- what the gateway must answer ----------------------------------------------------


class NotJson(Exception):
    pass


def _no_constants(name: str) -> Any:
    raise NotJson(name)  # NaN and Infinity are not JSON


def _unrepresentable(value: Any) -> bool:
    """A lone surrogate (escaped in the JSON) is no Unicode text, and a number past a double's
    range (Python reads it as inf) is no number the gateway can hold: either way the frame
    is not JSON the gateway can read, so it cannot find a ref in it either."""
    if isinstance(value, str):
        return any("\ud800" <= char <= "\udfff" for char in value)
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list):
        return any(_unrepresentable(item) for item in value)
    if isinstance(value, dict):
        return any(_unrepresentable(k) or _unrepresentable(v) for k, v in value.items())
    return False


def decoded(payload: str | bytes) -> Any:
    """The JSON value of ``payload``, or NotJson."""
    try:
        text = payload.decode("utf-8") if isinstance(payload, bytes) else payload
        value = json.loads(text, parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError) as error:
        raise NotJson(str(error)) from None
    if _unrepresentable(value):
        raise NotJson("not representable")
    return value


def check_reply(payload: str | bytes, reply: dict[str, Any]) -> None:
    try:
        value = decoded(payload)
    except NotJson:
        value = ABSENT
    is_object = isinstance(value, dict)
    ref = value.get("ref") if isinstance(value, dict) else None
    echoed = ref if isinstance(ref, str) else None
    is_ping = is_object and value.get("type") == "ping"
    # A ping whose ref is absent, null or a reasonable string is valid and must be answered.
    must_pong = is_ping and (ref is None or (isinstance(ref, str) and len(ref) <= 128))
    if echoed is None:
        assert "ref" not in reply, reply
    else:
        assert reply.get("ref") == echoed, reply
    if reply["type"] == "pong":
        assert is_ping, reply
        assert set(reply) <= {"type", "ref"}, reply
        return
    assert not must_pong, reply
    assert reply["type"] == "error", reply
    assert reply["code"] in DOCUMENTED_CODES, reply
    assert isinstance(reply["message"], str) and reply["message"], reply
    assert set(reply) <= {"type", "code", "message", "ref", "retry_after_s"}, reply


class Exchange:
    """One signed-in socket: send a frame, get its one reply, tell it from the next frame's."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.sent = 0
        self.outcomes: Counter[str] = Counter()

    def recv(self) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(self.socket.recv(timeout=30))
        return frame

    def ping(self) -> None:
        """The socket is open and nothing is pending: the next frame is this ping's pong."""
        ref = f"sentinel-{uuid.uuid4().hex}"
        self.socket.send(json.dumps({"type": "ping", "ref": ref}))
        assert self.recv() == {"type": "pong", "ref": ref}

    def one_reply(self, payload: str | bytes) -> dict[str, Any]:
        """The replies to ``payload``, which must be exactly one.

        A sentinel ping follows each frame. Sends are handled concurrently, so a send's
        answer may come after the sentinel's pong: wait for both. A second answer to this
        frame would come before the next sentinel, and fail the next frame's check.
        """
        self.sent += 1
        sentinel = f"sentinel-{uuid.uuid4().hex}"
        self.socket.send(payload)
        self.socket.send(json.dumps({"type": "ping", "ref": sentinel}))
        replies: list[dict[str, Any]] = []
        seen_sentinel = False
        while not (seen_sentinel and replies):
            frame = self.recv()
            if frame == {"type": "pong", "ref": sentinel}:
                assert not seen_sentinel
                seen_sentinel = True
            else:
                replies.append(frame)
        assert len(replies) == 1, replies
        [reply] = replies
        self.outcomes[reply.get("code", reply["type"])] += 1
        return reply


def sign_up(http: httpx.Client, name: str) -> tuple[str, str]:
    """A new account, signed in: (account id, token)."""
    email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"
    created = http.post(
        "/v1/accounts",
        json={"email": email, "password": "correct horse", "display_name": name.title()},
    )
    assert created.status_code == 201, created.text
    session = http.post("/v1/sessions", json={"email": email, "password": "correct horse"})
    assert session.status_code == 201, session.text
    return created.json()["id"], session.json()["token"]


def hello(socket: ClientConnection, account_id: str, token: str) -> None:
    socket.send(json.dumps({"type": "hello", "token": token, "client": "fuzz/1"}))
    welcome = json.loads(socket.recv(timeout=10))
    assert welcome["type"] == "welcome", welcome
    assert welcome["account_id"] == account_id


def send_frame(**fields: Any) -> str:
    return json.dumps({"type": "send", "client_id": "c1", **fields})


def test_ten_thousand_random_frames_each_get_one_documented_answer(
    own_gateway: GatewayProcess,
) -> None:
    own_gateway.start()
    with httpx.Client(base_url=own_gateway.http_url, timeout=30) as http:
        fuzzer_id, fuzzer_token = sign_up(http, "fuzzer")
        with connect(own_gateway.ws_url, ping_interval=None, max_size=None) as socket:
            hello(socket, fuzzer_id, fuzzer_token)
            exchange = Exchange(socket)

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=[
                    HealthCheck.too_slow, HealthCheck.data_too_large,
                    HealthCheck.filter_too_much, HealthCheck.large_base_example,
                ],
            )  # fmt: skip
            # Explicit examples guarantee each kind of answer is reached at least once.
            @example(payload='{"type": "ping", "ref": "p"}')
            @example(payload='{"type": "ping"}')
            @example(payload=send_frame(ref="u", to="@acme", text="hi"))
            @example(payload=send_frame(ref="t", to="@acme", text="x" * 4001))
            @example(payload=send_frame(ref="n", conversation_id="c_1", text="hi"))
            @example(payload='{"type": "typing", "ref": "y", "conversation_id": "c_1"}')
            @example(payload=f'{{"type": "hello", "ref": "h", "token": "{fuzzer_token}"}}')
            @example(payload=b"\xff")
            @example(payload="")
            @given(payload=payloads())
            def one_frame(payload: str | bytes) -> None:
                check_reply(payload, exchange.one_reply(payload))

            one_frame()
            exchange.ping()  # still open, and no answer was left over

            assert exchange.sent >= EXAMPLES
            for outcome in ("pong", "invalid_frame", "unknown_brand", "not_found", "too_large"):
                assert exchange.outcomes[outcome] > 0, exchange.outcomes
            assert set(exchange.outcomes) <= DOCUMENTED_CODES | {"pong"}, exchange.outcomes

        # Nothing was stored for the fuzzer...
        auth = {"Authorization": f"Bearer {fuzzer_token}"}
        listed = http.get("/v1/conversations", headers=auth)
        assert listed.status_code == 200, listed.text
        assert listed.json() == {"conversations": [], "next": None}
        assert http.get("/v1/me", headers=auth).json()["brands"] == []

        # ...and others are served as usual: sign in, open a thread, exchange a message.
        owner_id, owner_token = sign_up(http, "owner")
        consumer_id, consumer_token = sign_up(http, "consumer")
        brand = http.post(
            "/v1/brands",
            headers={"Authorization": f"Bearer {owner_token}"},
            json={"handle": "after_fuzz", "name": "After Fuzz"},
        )
        assert brand.status_code == 201, brand.text
        with (
            connect(own_gateway.ws_url, ping_interval=None) as owner,
            connect(own_gateway.ws_url, ping_interval=None) as consumer,
        ):
            hello(owner, owner_id, owner_token)
            hello(consumer, consumer_id, consumer_token)
            consumer.send(send_frame(ref="a", to="@after_fuzz", text="still there?"))
            while (ack := json.loads(consumer.recv(timeout=10)))["type"] != "ack":
                pass
            assert ack["ref"] == "a" and ack["seq"] == 1
            while (pushed := json.loads(owner.recv(timeout=10)))["type"] != "message":
                pass
            assert pushed["message"]["text"] == "still there?"
            assert pushed["message"]["sender"]["id"] == consumer_id

    log = own_gateway.log()
    assert "Traceback" not in log, log[-5000:]
    assert " ERROR " not in log, log[-5000:]
