"""The socket protocol without I/O: frames in, decisions out.

``FrameProtocol.receive`` takes the text of one client frame and says what to do: handle
a valid frame, answer with an error (the socket stays open) or close with a code. The
socket loop in ``gateway.websocket`` only moves bytes between this and the network.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

from gateway.ratelimit import TokenBucket
from gateway.schemas import ConversationPublic, MessagePublic, NoticePublic
from gateway.validation import message_text_problem

MAX_FRAME_BYTES = 64 * 1024

Ref = Annotated[str, Meta(max_length=128)]
# Ids never hold U+0000 (PostgreSQL text cannot), so a frame naming one is invalid.
Id = Annotated[str, Meta(min_length=1, max_length=64, pattern="^[^\x00]+$")]
# Bounded like the HTTP after_seq: larger numbers overflow the database's integers.
Seq = Annotated[int, Meta(ge=0, le=2**53)]


class CloseCode(enum.IntEnum):
    GOING_AWAY = 1001  # gateway shutting down: reconnect elsewhere
    TOO_LARGE = 1009
    INTERNAL = 1011
    PROTOCOL_VIOLATION = 4400
    UNAUTHENTICATED = 4401
    FORBIDDEN_ORIGIN = 4403
    SLOW_CONSUMER = 4408  # addition: the socket fell too far behind; reconnect and sync
    RATE_LIMITED = 4429


# --- client frames -------------------------------------------------------------------


class ClientFrame(Struct, tag_field="type", frozen=True, kw_only=True):
    ref: Ref | None = None


class Hello(ClientFrame, tag="hello", frozen=True):
    # None: a browser page of ours, signed in by its session cookie (sent with the upgrade).
    token: Annotated[str, Meta(max_length=512)] | None = None
    client: Annotated[str, Meta(max_length=128)] | None = None


class Send(ClientFrame, tag="send", frozen=True):
    client_id: Id
    text: str
    to: Annotated[str, Meta(max_length=64)] | None = None
    conversation_id: Id | None = None


class Sync(ClientFrame, tag="sync", frozen=True):
    conversation_id: Id
    after_seq: Seq


class Read(ClientFrame, tag="read", frozen=True):
    conversation_id: Id
    seq: Seq


class Typing(ClientFrame, tag="typing", frozen=True):
    conversation_id: Id


class Ping(ClientFrame, tag="ping", frozen=True):
    """An addition: an application-level heartbeat for clients that cannot see pings."""


AnyClientFrame = Hello | Send | Sync | Read | Typing | Ping
_decoder = msgspec.json.Decoder(AnyClientFrame)
_lenient_decoder = msgspec.json.Decoder()


# --- server frames -------------------------------------------------------------------


class ServerFrame(Struct, tag_field="type", omit_defaults=True):
    pass


class Welcome(ServerFrame, tag="welcome"):
    account_id: str
    heartbeat_s: int


class Ack(ServerFrame, tag="ack"):
    client_id: str
    conversation_id: str
    seq: int
    id: str
    created_at: str
    ref: str | None = None


class MessageFrame(ServerFrame, tag="message"):
    message: MessagePublic


class ConversationFrame(ServerFrame, tag="conversation"):
    conversation: ConversationPublic


class Synced(ServerFrame, tag="synced"):
    conversation_id: str
    last_seq: int
    ref: str | None = None


class ReadFrame(ServerFrame, tag="read"):
    conversation_id: str
    account_id: str
    seq: int


class TypingFrame(ServerFrame, tag="typing"):
    conversation_id: str
    account_id: str


class RatingRequestFrame(ServerFrame, tag="rating_request"):
    conversation_id: str
    case: int


class NoticeFrame(ServerFrame, tag="notice"):
    notice: NoticePublic


class Pong(ServerFrame, tag="pong"):
    ref: str | None = None


class ErrorFrame(ServerFrame, tag="error"):
    code: str
    message: str
    ref: str | None = None
    retry_after_s: float | None = None


_encoder = msgspec.json.Encoder()


def encode(frame: ServerFrame) -> str:
    return _encoder.encode(frame).decode()


# --- decisions -----------------------------------------------------------------------


class State(enum.Enum):
    AWAITING_HELLO = "awaiting_hello"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class Handle:
    """A valid frame for the handlers."""

    frame: AnyClientFrame


@dataclass(frozen=True)
class Reply:
    """Answer this frame (with an error) and keep the socket open."""

    frame: ErrorFrame


@dataclass(frozen=True)
class Close:
    code: CloseCode
    reason: str


Decision = Handle | Reply | Close


class ProtocolError(Exception):
    def __init__(self, code: str, message: str, ref: str | None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


def _ref_of(raw: bytes | str) -> str | None:
    """The ``ref`` of a frame that failed validation, so its error can still carry it."""
    try:
        value: Any = _lenient_decoder.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    ref = value.get("ref") if isinstance(value, dict) else None
    # Echoed even when too long to be valid, so the client can match the error to its frame.
    return ref if isinstance(ref, str) else None


def parse_frame(raw: bytes | str) -> AnyClientFrame:
    """Decode and validate one client frame, or raise ProtocolError(invalid_frame/too_large)."""
    if isinstance(raw, bytes):
        # A binary frame: the JSON decoder skips unknown keys without checking their UTF-8.
        try:
            raw = raw.decode()
        except UnicodeDecodeError:
            raise ProtocolError("invalid_frame", "a frame is one JSON object", None) from None
    try:
        frame: AnyClientFrame = _decoder.decode(raw)
    except msgspec.ValidationError as error:
        raise ProtocolError("invalid_frame", str(error), _ref_of(raw)) from None
    except (msgspec.DecodeError, UnicodeDecodeError):
        raise ProtocolError("invalid_frame", "a frame is one JSON object", None) from None
    if isinstance(frame, Send):
        if (frame.to is None) == (frame.conversation_id is None):
            raise ProtocolError(
                "invalid_frame", "send needs exactly one of to and conversation_id", frame.ref
            )
        problem = message_text_problem(frame.text)
        if problem is not None:
            raise ProtocolError(problem[0], problem[1], frame.ref)
    return frame


class FrameProtocol:
    """One socket's protocol state: hello first, then frames, within rate limits."""

    # Frames refused for rate in a row before the socket is closed with 4429.
    MAX_STRIKES = 20

    def __init__(self, frame_bucket: TokenBucket) -> None:
        self.state = State.AWAITING_HELLO
        self._frame_bucket = frame_bucket
        self._strikes = 0

    def receive(self, raw: bytes | str) -> Decision:
        if self.state is State.CLOSED:
            raise RuntimeError("receive() after the protocol closed")
        if self.state is State.AWAITING_HELLO:
            return self._receive_hello(raw)
        wait = self._frame_bucket.take()
        if wait > 0:
            return self.refuse_for_rate(wait, _ref_of(raw))
        try:
            frame = parse_frame(raw)
        except ProtocolError as error:
            return Reply(ErrorFrame(code=error.code, message=error.message, ref=error.ref))
        if isinstance(frame, Hello):
            return Reply(
                ErrorFrame(code="invalid_frame", message="already said hello", ref=frame.ref)
            )
        self._strikes = 0
        return Handle(frame)

    def refuse_for_rate(self, wait_s: float, ref: str | None) -> Decision:
        """Answer ``rate_limited``; a client that keeps going regardless is closed."""
        self._strikes += 1
        if self._strikes > self.MAX_STRIKES:
            return self.close(CloseCode.RATE_LIMITED, "rate limited: slow down")
        retry = math.ceil(wait_s * 1000) / 1000
        return Reply(
            ErrorFrame(
                code="rate_limited",
                message=f"too many frames; retry in {retry:g} s",
                ref=ref,
                retry_after_s=retry,
            )  # fmt: skip
        )

    def _receive_hello(self, raw: bytes | str) -> Decision:
        try:
            frame = parse_frame(raw)
        except ProtocolError:
            if _hello_without_usable_token(raw):
                return self.close(CloseCode.UNAUTHENTICATED, "hello needs a valid token")
            return self.close(CloseCode.PROTOCOL_VIOLATION, "the first frame must be hello")
        if not isinstance(frame, Hello):
            return self.close(CloseCode.PROTOCOL_VIOLATION, "the first frame must be hello")
        return Handle(frame)

    def hello_accepted(self) -> None:
        if self.state is not State.AWAITING_HELLO:
            raise RuntimeError(f"hello accepted in state {self.state.value}")
        self.state = State.OPEN

    def close(self, code: CloseCode, reason: str) -> Close:
        self.state = State.CLOSED
        return Close(code, reason)


def _hello_without_usable_token(raw: bytes | str) -> bool:
    """A hello whose token is missing or malformed: unauthenticated (4401), not a protocol
    violation. Any other flaw in a hello is a protocol violation (4400)."""
    try:
        value: Any = _lenient_decoder.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return False
    if not isinstance(value, dict) or value.get("type") != "hello":
        return False
    token = value.get("token")
    return not isinstance(token, str) or len(token) > 512
