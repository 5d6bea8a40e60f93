"""Conversations: sending, reading history, receipts, typing, resolve and assign."""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from gateway import authz, metrics, validation
from gateway.authz import Viewer
from gateway.bus import Bus
from gateway.conversation_rules import SenderRole
from gateway.database import Database, GroupCommit, GroupRead, Transaction
from gateway.errors import ApiError, invalid_input, not_found
from gateway.events import (
    ConversationChanged,
    MessageCommitted,
    RatingRequested,
    ReadMoved,
    TypingStarted,
)
from gateway.handlers import queue
from gateway.handlers.brands import unknown_brand
from gateway.ids import new_id, parse_time, utc_now
from gateway.models import Conversation
from gateway.protocol import Send
from gateway.push.payload import PushJob, PushKind
from gateway.schemas import (
    AssignBody,
    ConversationList,
    ConversationPublic,
    MessagePage,
    MessagePublic,
    ResolveBody,
)
from gateway.stores import brands as brand_store
from gateway.stores import conversations as store
from gateway.stores import sends
from gateway.stores import service as service_store
from gateway.stores.sends import ConversationRow

# Conversation id -> (brand id, consumer id). These never change, so caching them is safe;
# it spares typing and read receipts a query each.
_PARTICIPANTS_CACHE_SIZE = 100_000


@dataclasses.dataclass(frozen=True)
class ConsumerWrote:
    """A consumer's message committed into a case that wants routing or may want the
    automatic answer (PROTOCOL 6: nobody online, or the desk closed)."""

    conversation_id: str
    brand_id: str
    case_number: int
    route: bool  # the case opened (new or reopened) at a brand that routes automatically
    hours: str | None  # the brand's opening hours as stored, if it keeps any
    answer_pending: bool  # no human nor the automatic answer has answered the case yet


@dataclasses.dataclass(frozen=True)
class Sent:
    message: MessagePublic
    wrote: ConsumerWrote | None  # a consumer's message (also a replay); None for a member's


class ConversationHandler:
    def __init__(
        self, db: Database, bus: Bus, push: Callable[[PushJob], None] | None = None
    ) -> None:
        self._db = db
        self._bus = bus
        self._push = push  # queues a push for offline recipients; never waits
        self._participants: dict[str, tuple[str, str]] = {}
        self._sends = GroupCommit(db, self._send_in, prepare=_prefetch_for_sends)
        # Every reconnecting socket syncs each of its conversations: in a storm, many of
        # those reads share one trip to the database.
        self._histories = GroupRead(db, _history_page)
        # Awaited after a consumer's message commits and before it is acknowledged, so the
        # automatic answer, when one is due, has its seq before anything else can follow;
        # it also starts routing (gateway.handlers.service).
        self.after_consumer_message: Callable[[ConsumerWrote], Awaitable[None]] | None = None
        # Told the brand id after a case is resolved: an agent may take a queued case.
        self.after_case_resolved: Callable[[str], None] | None = None

    # --- sending -----------------------------------------------------------------------

    async def send(self, viewer: Viewer, frame: Send) -> MessagePublic:
        """Commit one message (or find the one this client_id already made) and publish it."""
        try:
            sent = await self._sends.submit((viewer, frame))
        except IntegrityError:
            # Another node committed the same client_id (or opened the same thread) first.
            sent = await self._sends.submit((viewer, frame))
        if sent.wrote is not None and self.after_consumer_message is not None:
            await self.after_consumer_message(sent.wrote)
        return sent.message

    async def drain(self) -> None:
        """Wait for every send taken in so far to be committed (for a graceful shutdown)."""
        await self._sends.drain()

    def _send_in(self, tx: Transaction, unit: tuple[Viewer, Send]) -> Sent:
        viewer, frame = unit
        session = tx.session
        existing = store.message_by_client_id(
            session, sender_id=viewer.account_id, client_id=frame.client_id
        )
        if existing is not None:
            # A resend after a lost ack: the node that committed it may have died before
            # its automatic answer; whether one is still due is decided again.
            replayed = None
            if existing.sender.role == SenderRole.CONSUMER.value:
                thread = store.conversation_by_id(session, conversation_id=existing.conversation_id)
                assert thread is not None
                replayed = _consumer_wrote(session, thread, opened=False)
            return Sent(existing, replayed)
        conversation, created = self._thread_for_send(session, viewer, frame)
        role = (
            SenderRole.CONSUMER
            if viewer.account_id == conversation.consumer_id
            else SenderRole.AGENT
        )
        appended = store.append_message(
            session, conversation=conversation, message_id=new_id("m"),
            sender_id=viewer.account_id, sender_role=role, sender_name=viewer.display_name,
            client_id=frame.client_id, text=frame.text.strip(), now=sends.moment(session),
        )  # fmt: skip
        # With automatic routing, the member who answers a waiting case takes it.
        taken = (
            role is SenderRole.AGENT
            and queue.waiting(conversation)
            and queue.routes_automatically(tx, conversation.brand_id)
            and store.set_assignee(
                session, conversation=conversation, assignee_id=viewer.account_id
            )
        )
        if created or appended.conversation_changed or taken:
            self._publish_conversation(tx, conversation)
        if taken:
            # Every case behind it moved: told once per batch (answering a queue of a
            # thousand, one by one, told the hundred behind each answer every time).
            brand_id = conversation.brand_id
            tx.once_before_commit(
                ("queue", brand_id), lambda: queue.publish_queue_head(tx, self._bus, brand_id)
            )
        wrote = None
        if role is SenderRole.CONSUMER:
            opened = created or appended.conversation_changed
            wrote = _consumer_wrote(session, conversation, opened=opened)
        self._publish_message(tx, conversation, appended.message)
        return Sent(appended.message, wrote)

    def _publish_message(
        self, tx: Transaction, conversation: ConversationRow, message: MessagePublic,
        push_to: tuple[str, ...] | None = None,
    ) -> None:  # fmt: skip
        """After the commit: the message to every live participant, a push to the offline
        ones (``push_to``: only those of them; None: every participant)."""
        event = MessageCommitted(
            brand_id=conversation.brand_id,
            consumer_id=conversation.consumer_id,
            message=message,
        )
        tx.after_commit(lambda: self._bus.publish(event))
        tx.after_commit(metrics.MESSAGES_COMMITTED.inc)
        if self._push is not None:
            push = self._push
            # Only the committing node queues the push, so each message is pushed once.
            job = PushJob.message(event)
            if push_to is not None:
                job = dataclasses.replace(job, recipients=push_to)
            tx.after_commit(lambda: push(job))

    def _thread_for_send(
        self, session: Session, viewer: Viewer, frame: Send
    ) -> tuple[ConversationRow, bool]:
        if frame.conversation_id is not None:
            conversation = store.conversation_to_send_in(
                session, conversation_id=frame.conversation_id
            )
            if conversation is None:
                raise not_found()
            authz.require_participant(
                viewer, brand_id=conversation.brand_id, consumer_id=conversation.consumer_id
            )
            return conversation, False
        raw_to = frame.to or ""
        handle = validation.lookup_handle(raw_to)
        brand = None if handle is None else brand_store.brand_by_handle(session, handle=handle)
        if brand is None:
            raise unknown_brand(raw_to.strip().removeprefix("@").lower())
        conversation = store.conversation_for_pair(
            session, consumer_id=viewer.account_id, brand_id=brand.id, lock=True
        )
        if conversation is not None:
            return conversation, False
        conversation = store.insert_conversation(
            session, conversation_id=new_id("c"), brand_id=brand.id,
            consumer_id=viewer.account_id, now=sends.moment(session),
        )  # fmt: skip
        return conversation, True

    def publish_conversation(self, tx: Transaction, conversation: Conversation) -> None:
        """After the commit: the conversation's new state to its participants."""
        self._publish_conversation(tx, conversation)

    def _publish_conversation(self, tx: Transaction, conversation: ConversationRow) -> None:
        tx.session.flush()
        view = store.view_one(
            tx.session, conversation_id=conversation.id, viewer_id=conversation.consumer_id
        )
        assert view is not None
        event = ConversationChanged(
            brand_id=conversation.brand_id,
            consumer_id=conversation.consumer_id,
            conversation=view,
            read_seqs=store.read_cursors(tx.session, conversation_id=conversation.id),
        )
        tx.after_commit(lambda: self._bus.publish(event))

    # --- reading -----------------------------------------------------------------------

    async def history(
        self, viewer: Viewer, conversation_id: str, *, after_seq: int, limit: int
    ) -> MessagePage:
        return await self._histories.submit((viewer, conversation_id, after_seq, limit))

    async def get(self, viewer: Viewer, conversation_id: str) -> ConversationPublic:
        def load(session: Session) -> ConversationPublic:
            conversation = _visible(session, viewer, conversation_id)
            view = store.view_one(
                session, conversation_id=conversation.id, viewer_id=viewer.account_id
            )
            assert view is not None
            return view

        return await self._db.read(load)

    async def list_conversations(
        self, viewer: Viewer, *, status: str | None, before: str | None, limit: int
    ) -> ConversationList:
        after = None if before is None else _decode_cursor(before)
        views = await self._db.read(
            lambda session: store.view_list(
                session,
                viewer_id=viewer.account_id,
                brand_ids=sorted(viewer.roles),
                status=status,
                before=after,
                limit=limit + 1,
            )  # fmt: skip
        )
        more = len(views) > limit
        views = views[:limit]
        return ConversationList(
            conversations=views,
            next=_encode_cursor(views[-1]) if more else None,
        )

    async def participants(self, viewer: Viewer, conversation_id: str) -> tuple[str, str]:
        """(brand id, consumer id) of a conversation the viewer takes part in, else not_found."""
        known = self._participants.get(conversation_id)
        if known is None:
            conversation = await self._db.read(
                lambda session: store.conversation_by_id(session, conversation_id=conversation_id)
            )
            if conversation is None:
                raise not_found()
            known = (conversation.brand_id, conversation.consumer_id)
            if len(self._participants) >= _PARTICIPANTS_CACHE_SIZE:
                self._participants.clear()
            self._participants[conversation_id] = known
        authz.require_participant(viewer, brand_id=known[0], consumer_id=known[1])
        return known

    # --- reading back what a bus lost (gateway.sequencer.MessageSource) ----------------

    async def last_seq_before(self, conversation_id: str, moment: datetime) -> int:
        return await self._db.read(
            lambda session: store.last_seq_before(
                session, conversation_id=conversation_id, moment=moment
            )
        )

    async def committed_after(
        self, conversation_id: str, after_seq: int, limit: int
    ) -> list[MessageCommitted]:
        def load(session: Session) -> list[MessageCommitted]:
            page = store.thread_page(
                session, conversation_id=conversation_id, after_seq=after_seq, limit=limit
            )
            if page is None:
                return []
            return [
                MessageCommitted(
                    brand_id=page.brand_id, consumer_id=page.consumer_id, message=message
                )
                for message in page.messages
            ]

        return await self._db.read(load)

    async def changed_since(self, moment: datetime) -> list[ConversationChanged]:
        """The present state of every conversation with a message since ``moment``."""

        def load(session: Session) -> list[ConversationChanged]:
            changes = []
            for conversation in store.active_since(session, moment=moment):
                view = store.view_one(
                    session, conversation_id=conversation.id, viewer_id=conversation.consumer_id
                )
                assert view is not None
                changes.append(
                    ConversationChanged(
                        brand_id=conversation.brand_id,
                        consumer_id=conversation.consumer_id,
                        conversation=view,
                        read_seqs=store.read_cursors(session, conversation_id=conversation.id),
                    )
                )
            return changes

        return await self._db.read(load)

    # --- receipts and typing -----------------------------------------------------------

    async def mark_read(self, viewer: Viewer, conversation_id: str, seq: int) -> None:
        brand_id, consumer_id = await self.participants(viewer, conversation_id)

        def move_cursor(tx: Transaction) -> None:
            conversation = store.conversation_by_id(tx.session, conversation_id=conversation_id)
            assert conversation is not None
            read_seq = min(seq, conversation.last_seq)
            moved = store.move_read_cursor(
                tx.session, conversation_id=conversation_id, account_id=viewer.account_id,
                seq=read_seq,
            )  # fmt: skip
            if not moved:
                # Read that far already (their own message moves a sender's cursor too): the
                # other side still learns where the cursor stands.
                read_seq = store.read_cursors(tx.session, conversation_id=conversation_id).get(
                    viewer.account_id, read_seq
                )
            event = ReadMoved(
                brand_id=brand_id, consumer_id=consumer_id, conversation_id=conversation_id,
                account_id=viewer.account_id, seq=read_seq,
            )  # fmt: skip
            tx.after_commit(lambda: self._bus.publish(event))

        await self._db.write(move_cursor)

    async def typing(self, viewer: Viewer, conversation_id: str) -> None:
        brand_id, consumer_id = await self.participants(viewer, conversation_id)
        self._bus.publish(
            TypingStarted(
                brand_id=brand_id,
                consumer_id=consumer_id,
                conversation_id=conversation_id,
                account_id=viewer.account_id,
            )  # fmt: skip
        )

    # --- the desk's actions ------------------------------------------------------------

    async def resolve(
        self, viewer: Viewer, conversation_id: str, body: ResolveBody
    ) -> ConversationPublic:
        def resolve(tx: Transaction) -> None:
            conversation = _for_member(tx.session, viewer, conversation_id)
            was_waiting = queue.waiting(conversation)
            if store.resolve(
                tx.session, conversation=conversation, agent_estimate=body.agent_estimate,
                resolver_id=viewer.account_id, now=utc_now(),
            ):  # fmt: skip
                self._publish_conversation(tx, conversation)
                if was_waiting:
                    queue.publish_moved_behind(tx, self._bus, conversation)
                self._request_rating(tx, conversation)
                if self.after_case_resolved is not None:
                    hook = self.after_case_resolved
                    tx.after_commit(lambda: hook(conversation.brand_id))

        await self._db.write(resolve)
        return await self.get(viewer, conversation_id)

    def _request_rating(self, tx: Transaction, conversation: Conversation) -> None:
        """Ask the consumer to rate the case just resolved: live, and by push if offline."""
        event = RatingRequested(
            brand_id=conversation.brand_id, consumer_id=conversation.consumer_id,
            conversation_id=conversation.id, case=conversation.case_number,
        )  # fmt: skip
        tx.after_commit(lambda: self._bus.publish(event))
        if self._push is not None:
            push = self._push
            job = PushJob(
                kind=PushKind.RATING_REQUEST, brand_id=conversation.brand_id,
                consumer_id=conversation.consumer_id, conversation_id=conversation.id,
                seq=None, text="How did we do? Rate your conversation.",
                recipients=(conversation.consumer_id,),
            )  # fmt: skip
            tx.after_commit(lambda: push(job))

    async def route(
        self, conversation_id: str, case_number: int | None, assignee_id: str | None,
        *, chosen_from: str | None, tell_queue: bool = True,
    ) -> bool:  # fmt: skip
        """Assign a case chosen by routing, if it is still open (and still that case) and
        still assigned to ``chosen_from``, as when the choice was made: an assignment by
        hand (or by answering) in the meantime stands. ``tell_queue``: publish the new
        places of the cases behind it (a queue pass tells them once, when it ends)."""

        def route(tx: Transaction) -> bool:
            conversation = store.conversation_by_id(
                tx.session, conversation_id=conversation_id, lock=True
            )
            if conversation is None or conversation.status != "open":
                return False
            if case_number is not None and conversation.case_number != case_number:
                return False
            if conversation.assignee_id != chosen_from:
                return False
            was_waiting = queue.waiting(conversation)
            if not store.set_assignee(
                tx.session, conversation=conversation, assignee_id=assignee_id
            ):
                return False
            self._publish_conversation(tx, conversation)
            if tell_queue and was_waiting != queue.waiting(conversation):
                queue.publish_moved_behind(tx, self._bus, conversation)
            return True

        return await self._db.write(route)

    async def publish_queue(self, brand_id: str) -> None:
        """Publish the places of the brand's first waiting cases (after a queue pass)."""
        await self._db.write(lambda tx: queue.publish_queue_head(tx, self._bus, brand_id))

    async def post_system_message(
        self, conversation_id: str, case_number: int, text: str
    ) -> MessagePublic | None:
        """Commit the one automatic message of a case, unless a human answered it already,
        it was sent already, or the case has moved on. Returns the message, if committed."""

        def post(tx: Transaction) -> MessagePublic | None:
            session = tx.session
            conversation = store.conversation_by_id(
                session, conversation_id=conversation_id, lock=True
            )
            if conversation is None or conversation.case_number != case_number:
                return None
            if not service_store.claim_auto_reply(
                session, conversation_id=conversation_id, number=case_number
            ):
                return None
            appended = store.append_message(
                session, conversation=conversation, message_id=new_id("m"),
                sender_id=service_store.SYSTEM_ACCOUNT_ID, sender_role=SenderRole.SYSTEM,
                sender_name=service_store.SYSTEM_NAME,
                # One per case, on every node: (sender, client_id) is unique.
                client_id=f"auto:{case_number}:{conversation_id}", text=text, now=utc_now(),
            )  # fmt: skip
            # The consumer is told by push; the desk learns nothing new from it.
            self._publish_message(tx, conversation, appended.message, (conversation.consumer_id,))
            return appended.message

        try:
            return await self._db.write(post)
        except IntegrityError:
            return None  # another node sent it first

    async def assign(
        self, viewer: Viewer, conversation_id: str, body: AssignBody
    ) -> ConversationPublic:
        def assign(tx: Transaction) -> None:
            conversation = _for_member(tx.session, viewer, conversation_id)
            if body.account_id is not None:
                role = brand_store.member_role(
                    tx.session, brand_id=conversation.brand_id, account_id=body.account_id
                )
                if role is None:
                    raise ApiError(
                        422, "unknown_member", "a conversation is assigned to a brand member"
                    )
            was_waiting = queue.waiting(conversation)
            if store.set_assignee(
                tx.session, conversation=conversation, assignee_id=body.account_id
            ):
                self._publish_conversation(tx, conversation)
                if was_waiting != queue.waiting(conversation):
                    queue.publish_moved_behind(tx, self._bus, conversation)

        await self._db.write(assign)
        return await self.get(viewer, conversation_id)


def _consumer_wrote(
    session: Session, conversation: ConversationRow, *, opened: bool
) -> ConsumerWrote:
    """What follows a consumer's message, decided on the rows the send transaction holds
    rather than in reads of their own after every message."""
    brand = sends.brand_rules(session, conversation.brand_id)
    assert brand is not None
    return ConsumerWrote(
        conversation_id=conversation.id,
        brand_id=conversation.brand_id,
        case_number=conversation.case_number,
        route=opened and brand.auto_assign,
        hours=brand.hours,
        answer_pending=opened
        or service_store.auto_reply_pending(
            session, conversation_id=conversation.id, number=conversation.case_number
        ),
    )


def _prefetch_for_sends(tx: Transaction, units: list[tuple[Viewer, Send]]) -> None:
    sends.prefetch(
        tx.session,
        client_ids=[(viewer.account_id, frame.client_id) for viewer, frame in units],
        conversation_ids=[
            frame.conversation_id for _, frame in units if frame.conversation_id is not None
        ],
    )


def _visible(session: Session, viewer: Viewer, conversation_id: str) -> Conversation:
    conversation = store.conversation_by_id(session, conversation_id=conversation_id)
    if conversation is None:
        raise not_found()
    authz.require_participant(
        viewer, brand_id=conversation.brand_id, consumer_id=conversation.consumer_id
    )
    return conversation


def _for_member(session: Session, viewer: Viewer, conversation_id: str) -> Conversation:
    conversation = store.conversation_by_id(session, conversation_id=conversation_id, lock=True)
    if conversation is None:
        raise not_found()
    authz.require_member(
        viewer, brand_id=conversation.brand_id, consumer_id=conversation.consumer_id
    )
    return conversation


def _encode_cursor(view: ConversationPublic) -> str:
    raw = f"{view.last_message_at}|{view.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, conversation_id = raw.split("|", 1)
        return parse_time(moment), conversation_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid_input("before is not a cursor this gateway gave out") from None


def _history_page(session: Session, query: tuple[Viewer, str, int, int]) -> MessagePage:
    viewer, conversation_id, after_seq, limit = query
    page = store.thread_page(
        session, conversation_id=conversation_id, after_seq=after_seq, limit=limit
    )
    if page is None:
        raise not_found()
    authz.require_participant(viewer, brand_id=page.brand_id, consumer_id=page.consumer_id)
    return MessagePage(messages=page.messages, last_seq=page.last_seq)
