"""Keeping queue positions live: when a case joins or leaves a brand's queue, the cases
waiting behind it are told their new place.

Bounded: only the first ``QUEUE_PUBLISHED`` cases of the queue are told, so one case
leaving a queue of 10,000 publishes at most 100 changes. A case further back keeps the
place it was last told (an upper bound while the queue only shrinks) until it comes
within the first 100, which it is then told at once; reading the conversation (GET, the
list, a reconnect) always gives the exact place.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from gateway.bus import Bus
from gateway.database import Transaction
from gateway.events import ConversationChanged
from gateway.models import Conversation
from gateway.stores import conversations as conversation_store
from gateway.stores import sends
from gateway.stores import service as service_store
from gateway.stores.sends import ConversationRow

QUEUE_PUBLISHED = 100


def waiting(conversation: ConversationRow) -> bool:
    """Open with nobody assigned: in the queue, if the brand routes automatically."""
    return conversation.status == "open" and conversation.assignee_id is None


def routes_automatically(tx: Transaction, brand_id: str) -> bool:
    brand = sends.brand_rules(tx.session, brand_id)  # a send batch read it already
    return brand is not None and brand.auto_assign


def publish_moved_behind(tx: Transaction, bus: Bus, conversation: Conversation) -> None:
    """``conversation`` just joined or left its brand's queue: every case behind it moved
    by one. Publish them (the first ``QUEUE_PUBLISHED`` of the queue) after the commit."""
    if not routes_automatically(tx, conversation.brand_id):
        return
    tx.session.flush()
    key = service_store.queue_key(tx.session, conversation=conversation)
    if key is not None:
        _publish_queue(tx, bus, conversation.brand_id, after=key, skip={conversation.id})


def publish_queue_head(tx: Transaction, bus: Bus, brand_id: str) -> None:
    """The brand turned routing on or off: its first ``QUEUE_PUBLISHED`` waiting cases
    gained or lost their place."""
    tx.session.flush()
    _publish_queue(tx, bus, brand_id, after=None, skip=())


def _publish_queue(
    tx: Transaction, bus: Bus, brand_id: str, *, after: tuple[datetime, str] | None,
    skip: Collection[str],
) -> None:  # fmt: skip
    session = tx.session
    ids = [
        conversation_id
        for conversation_id in service_store.queued_behind(
            session, brand_id=brand_id, after=after, within=QUEUE_PUBLISHED
        )
        if conversation_id not in skip
    ]
    views = conversation_store.view_many(session, conversation_ids=ids, viewer_id=None)
    cursors = conversation_store.read_cursors_of(session, conversation_ids=ids)
    events = [
        ConversationChanged(
            brand_id=brand_id,
            consumer_id=view.consumer.id,
            conversation=view,
            read_seqs=cursors.get(view.id, {}),
        )  # fmt: skip
        for view in sorted(views, key=lambda view: view.queue_position or 0)
    ]

    def publish() -> None:
        for event in events:
            bus.publish(event)

    if events:
        tx.after_commit(publish)
