"""Conversations: sending, reading history, receipts, typing, resolve and assign."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway import authz, validation
from gateway.authz import Viewer
from gateway.bus import Bus
from gateway.conversation_rules import SenderRole
from gateway.database import Database, Transaction
from gateway.errors import ApiError, invalid_input, not_found
from gateway.events import ConversationChanged, MessageCommitted, ReadMoved, TypingStarted
from gateway.handlers.brands import unknown_brand
from gateway.ids import format_time, new_id, parse_time, utc_now
from gateway.models import Account, Conversation, Message
from gateway.protocol import Send
from gateway.schemas import AssignBody, ConversationList, ConversationPublic, MessagePage, ResolveBody
from gateway.stores import brands as brand_store
from gateway.stores import conversations as store

# Conversation id -> (brand id, consumer id). These never change, so caching them is safe;
# it spares typing and read receipts a query each.
_PARTICIPANTS_CACHE_SIZE = 100_000


class ConversationHandler:
    def __init__(self, db: Database, bus: Bus) -> None:
        self._db = db
        self._bus = bus
        self._participants: dict[str, tuple[str, str]] = {}

    # --- sending -----------------------------------------------------------------------

    async def send(self, viewer: Viewer, frame: Send) -> Message:
        """Commit one message (or find the one this client_id already made) and publish it."""
        try:
            return await self._send_once(viewer, frame)
        except IntegrityError:
            # Another socket committed the same client_id (or opened the same thread) first.
            return await self._send_once(viewer, frame)

    async def _send_once(self, viewer: Viewer, frame: Send) -> Message:
        async with self._db.transaction() as tx:
            session = tx.session
            existing = await store.message_by_client_id(
                session, sender_id=viewer.account_id, client_id=frame.client_id
            )
            if existing is not None:
                return existing
            conversation, created = await self._thread_for_send(session, viewer, frame)
            sender = await session.get(Account, viewer.account_id)
            if sender is None:
                raise ApiError(401, "unauthenticated", "this account no longer exists")
            role = (
                SenderRole.CONSUMER
                if viewer.account_id == conversation.consumer_id
                else SenderRole.AGENT
            )
            now = utc_now()
            message_id = new_id("m")
            changed = await store.append_message(
                session, conversation=conversation, message_id=message_id,
                sender_id=viewer.account_id, sender_role=role, sender_name=sender.display_name,
                client_id=frame.client_id, text=frame.text.strip(), now=now,
            )  # fmt: skip
            message = await session.get(Message, message_id)
            assert message is not None
            if created or changed:
                await self._publish_conversation(tx, conversation)
            event = MessageCommitted(
                brand_id=conversation.brand_id,
                consumer_id=conversation.consumer_id,
                message=store.message_view(message),
            )
            tx.after_commit(lambda: self._bus.publish(event))
        return message

    async def _thread_for_send(
        self, session: AsyncSession, viewer: Viewer, frame: Send
    ) -> tuple[Conversation, bool]:
        if frame.conversation_id is not None:
            conversation = await store.conversation_by_id(
                session, conversation_id=frame.conversation_id, lock=True
            )
            if conversation is None:
                raise not_found()
            authz.require_participant(
                viewer, brand_id=conversation.brand_id, consumer_id=conversation.consumer_id
            )
            return conversation, False
        raw_to = frame.to or ""
        handle = validation.lookup_handle(raw_to)
        brand = None if handle is None else await brand_store.brand_by_handle(session, handle=handle)
        if brand is None:
            raise unknown_brand(raw_to.strip().removeprefix("@").lower())
        conversation = await store.conversation_for_pair(
            session, consumer_id=viewer.account_id, brand_id=brand.id, lock=True
        )
        if conversation is not None:
            return conversation, False
        conversation = await store.insert_conversation(
            session, conversation_id=new_id("c"), brand_id=brand.id,
            consumer_id=viewer.account_id, now=utc_now(),
        )  # fmt: skip
        return conversation, True

    async def _publish_conversation(self, tx: Transaction, conversation: Conversation) -> None:
        await tx.session.flush()
        view = await store.view_one(
            tx.session, conversation_id=conversation.id, viewer_id=conversation.consumer_id
        )
        assert view is not None
        event = ConversationChanged(
            brand_id=conversation.brand_id,
            consumer_id=conversation.consumer_id,
            conversation=view,
            read_seqs=await store.read_cursors(tx.session, conversation_id=conversation.id),
        )
        tx.after_commit(lambda: self._bus.publish(event))

    # --- reading -----------------------------------------------------------------------

    async def history(
        self, viewer: Viewer, conversation_id: str, *, after_seq: int, limit: int
    ) -> MessagePage:
        async with self._db.reader() as session:
            conversation = await self._visible(session, viewer, conversation_id)
            messages = await store.messages_after(
                session, conversation_id=conversation.id, after_seq=after_seq, limit=limit
            )
        return MessagePage(
            messages=[store.message_view(message) for message in messages],
            last_seq=conversation.last_seq,
        )

    async def get(self, viewer: Viewer, conversation_id: str) -> ConversationPublic:
        async with self._db.reader() as session:
            await self._visible(session, viewer, conversation_id)
            view = await store.view_one(
                session, conversation_id=conversation_id, viewer_id=viewer.account_id
            )
        assert view is not None
        return view

    async def list(
        self, viewer: Viewer, *, status: str | None, before: str | None, limit: int
    ) -> ConversationList:
        async with self._db.reader() as session:
            views = await store.view_list(
                session, viewer_id=viewer.account_id, brand_ids=sorted(viewer.roles),
                status=status, before=None if before is None else _decode_cursor(before),
                limit=limit + 1,
            )  # fmt: skip
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
            async with self._db.reader() as session:
                conversation = await store.conversation_by_id(
                    session, conversation_id=conversation_id
                )
            if conversation is None:
                raise not_found()
            known = (conversation.brand_id, conversation.consumer_id)
            if len(self._participants) >= _PARTICIPANTS_CACHE_SIZE:
                self._participants.clear()
            self._participants[conversation_id] = known
        authz.require_participant(viewer, brand_id=known[0], consumer_id=known[1])
        return known

    async def _visible(
        self, session: AsyncSession, viewer: Viewer, conversation_id: str
    ) -> Conversation:
        conversation = await store.conversation_by_id(session, conversation_id=conversation_id)
        if conversation is None:
            raise not_found()
        authz.require_participant(
            viewer, brand_id=conversation.brand_id, consumer_id=conversation.consumer_id
        )
        return conversation

    # --- receipts and typing -----------------------------------------------------------

    async def mark_read(self, viewer: Viewer, conversation_id: str, seq: int) -> None:
        brand_id, consumer_id = await self.participants(viewer, conversation_id)
        async with self._db.transaction() as tx:
            conversation = await store.conversation_by_id(
                tx.session, conversation_id=conversation_id
            )
            assert conversation is not None
            seq = min(seq, conversation.last_seq)
            await store.move_read_cursor(
                tx.session, conversation_id=conversation_id, account_id=viewer.account_id, seq=seq
            )
            event = ReadMoved(
                brand_id=brand_id, consumer_id=consumer_id, conversation_id=conversation_id,
                account_id=viewer.account_id, seq=seq,
            )  # fmt: skip
            tx.after_commit(lambda: self._bus.publish(event))

    async def typing(self, viewer: Viewer, conversation_id: str) -> None:
        brand_id, consumer_id = await self.participants(viewer, conversation_id)
        self._bus.publish(
            TypingStarted(
                brand_id=brand_id, consumer_id=consumer_id, conversation_id=conversation_id,
                account_id=viewer.account_id,
            )  # fmt: skip
        )

    # --- the desk's actions ------------------------------------------------------------

    async def resolve(
        self, viewer: Viewer, conversation_id: str, body: ResolveBody
    ) -> ConversationPublic:
        async with self._db.transaction() as tx:
            conversation = await self._for_member(tx.session, viewer, conversation_id)
            if await store.resolve(
                tx.session, conversation=conversation, agent_estimate=body.agent_estimate,
                now=utc_now(),
            ):  # fmt: skip
                await self._publish_conversation(tx, conversation)
        return await self.get(viewer, conversation_id)

    async def assign(
        self, viewer: Viewer, conversation_id: str, body: AssignBody
    ) -> ConversationPublic:
        async with self._db.transaction() as tx:
            conversation = await self._for_member(tx.session, viewer, conversation_id)
            if body.account_id is not None:
                role = await brand_store.member_role(
                    tx.session, brand_id=conversation.brand_id, account_id=body.account_id
                )
                if role is None:
                    raise ApiError(
                        422, "unknown_member", "a conversation is assigned to a brand member"
                    )
            if await store.set_assignee(
                tx.session, conversation=conversation, assignee_id=body.account_id
            ):
                await self._publish_conversation(tx, conversation)
        return await self.get(viewer, conversation_id)

    async def _for_member(
        self, session: AsyncSession, viewer: Viewer, conversation_id: str
    ) -> Conversation:
        conversation = await store.conversation_by_id(
            session, conversation_id=conversation_id, lock=True
        )
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

