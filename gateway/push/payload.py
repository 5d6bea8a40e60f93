"""What happened, and what a phone is shown about it: pure, no I/O (PROTOCOL section 5).

A lock screen is not private: by default a push names the kind of event, the brand, the
conversation and the seq, never the text. An account that opted in to previews also gets
the text, cut short.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from gateway.events import MessageCommitted

PREVIEW_CHARS = 240  # FCM refuses payloads over 4 KiB; a lock screen shows two lines anyway


class PushKind(enum.StrEnum):
    MESSAGE = "message"
    RATING_REQUEST = "rating_request"
    NOTICE = "notice"


@dataclass(frozen=True)
class PushJob:
    """Something committed that its offline recipients should hear about."""

    kind: PushKind
    brand_id: str
    consumer_id: str
    conversation_id: str | None
    seq: int | None
    text: str  # shown only to recipients who opted in to previews
    sender_id: str | None = None  # never notified of what they did themselves
    # None: every participant of the conversation (its consumer and the brand's members).
    recipients: tuple[str, ...] | None = None

    @classmethod
    def message(cls, event: MessageCommitted) -> PushJob:
        message = event.message
        return cls(
            kind=PushKind.MESSAGE, brand_id=event.brand_id, consumer_id=event.consumer_id,
            conversation_id=message.conversation_id, seq=message.seq, text=message.text,
            sender_id=message.sender.id,
        )  # fmt: skip


@dataclass(frozen=True)
class Notification:
    """One push, whatever the platform: the FCM message is made from it in ``fcm``."""

    title: str
    body: str | None
    data: dict[str, str]  # FCM data values are strings
    collapse_key: str  # one notification per thread on the phone


_GENERIC_TITLES = {
    PushKind.MESSAGE: "New message",
    PushKind.RATING_REQUEST: "How did we do?",
    PushKind.NOTICE: "New notice",
}


def notification_for(job: PushJob, *, brand_handle: str, previews: bool) -> Notification:
    data = {"type": job.kind.value, "brand": brand_handle}
    if job.conversation_id is not None:
        data["conversation_id"] = job.conversation_id
    if job.seq is not None:
        data["seq"] = str(job.seq)
    title = _GENERIC_TITLES[job.kind]
    body = None
    if previews:
        title = f"@{brand_handle}"
        body = _preview(job.text) or None
    return Notification(
        title=title,
        body=body,
        data=data,
        # Notices of a brand replace each other as a thread's messages do.
        collapse_key=job.conversation_id or job.brand_id,
    )


def _preview(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= PREVIEW_CHARS:
        return text
    return text[: PREVIEW_CHARS - 1].rstrip() + "…"
