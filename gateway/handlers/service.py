"""Service quality (PROTOCOL 6): ratings, the members' statistics, and what follows a
consumer's message: the one automatic reply when nobody can answer, and routing."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlmodel import Session

from gateway import authz, hours, routing, service_rules
from gateway.authz import Viewer
from gateway.database import Database, Transaction
from gateway.errors import ApiError, not_found
from gateway.handlers.brands import find_brand, public_figures
from gateway.handlers.conversations import ConsumerWrote, ConversationHandler
from gateway.hub import Hub
from gateway.ids import format_time, utc_now
from gateway.models import Brand
from gateway.presence import Presence
from gateway.schemas import (
    AccountRef,
    AgentStats,
    BrandStats,
    DayStats,
    EstimateAccuracy,
    RatingCreate,
    RatingPublic,
    StatsFigures,
    Verbatim,
)
from gateway.stores import brands as brand_store
from gateway.stores import conversations as conversation_store
from gateway.stores import service as store

log = logging.getLogger(__name__)

# How long a member seen online on another node counts as online for the automatic answer.
# Presence across nodes is only as fresh as a node's heartbeat (seconds) anyway; without this,
# every consumer message to a case not yet answered automatically whose desk sits on another
# node would cost a database read and a Redis round trip before its ack.
SEEN_ONLINE_S = 1.0

COMMENTS_SHOWN = 20


class ServiceHandler:
    def __init__(
        self, db: Database, hub: Hub, presence: Presence, conversations: ConversationHandler
    ) -> None:
        self._db = db
        self._hub = hub
        self._presence = presence
        self._conversations = conversations
        self._tasks: set[asyncio.Task[None]] = set()
        # Brand id -> whether another routing pass is wanted, while one runs on this node.
        self._queue_passes: dict[str, bool] = {}
        # Brand id -> until when a member seen online elsewhere counts (SEEN_ONLINE_S).
        self._seen_online: dict[str, float] = {}
        # (conversation id, case) -> the automatic-answer decision under way on this node.
        self._answering: dict[tuple[str, int], asyncio.Task[None]] = {}
        # Brand id -> the look on this node for a member online on any node, under way.
        self._looking_online: dict[str, asyncio.Task[bool]] = {}

    # --- ratings -----------------------------------------------------------------------

    async def rate(self, viewer: Viewer, conversation_id: str, body: RatingCreate) -> RatingPublic:
        comment = None if body.comment is None else body.comment.strip() or None

        def rate(tx: Transaction) -> RatingPublic:
            conversation = conversation_store.conversation_by_id(
                tx.session, conversation_id=conversation_id, lock=True
            )
            if conversation is None:
                raise not_found()
            authz.require_consumer(
                viewer, brand_id=conversation.brand_id, consumer_id=conversation.consumer_id
            )
            case = store.latest_resolved_case(tx.session, conversation_id=conversation_id)
            if case is None:
                raise ApiError(409, "not_resolved", "no case of this conversation is resolved yet")
            now = utc_now()
            if not store.rate(tx.session, case=case, score=body.score, comment=comment, now=now):
                raise ApiError(409, "already_rated", f"case {case.number} is rated already")
            # The conversation's ``rating`` changed: the consumer's other devices stop asking.
            self._conversations.publish_conversation(tx, conversation)
            return RatingPublic(
                conversation_id=conversation_id, case=case.number, score=body.score,
                comment=comment, created_at=format_time(now),
            )  # fmt: skip

        return await self._db.write(rate)

    # --- the members' statistics -------------------------------------------------------

    async def stats(self, viewer: Viewer, raw_handle: str, days: int) -> BrandStats:
        def load(session: Session) -> BrandStats:
            brand = find_brand(session, raw_handle)
            authz.require_brand_member(viewer, brand_id=brand.id)
            now = utc_now()
            since = service_rules.window_start(now, days)
            cases = store.cases_in_window(session, brand_ids=[brand.id], since=since, until=now)[
                brand.id
            ]
            agents = service_rules.by_agent(cases)
            comments = service_rules.latest_comments(cases, since, now, COMMENTS_SHOWN)
            people = store.names(
                session, account_ids=[*agents, *(c.resolver_id for c in comments if c.resolver_id)]
            )
            return BrandStats(
                handle=brand.handle, window_days=days, since=format_time(since),
                until=format_time(now),
                figures=_figures(service_rules.figures(cases, since, now, floor=0)),
                estimates=_estimates(service_rules.estimate_accuracy(cases, since, now)),
                agents=sorted(
                    (
                        _agent(agent_id, people.get(agent_id, ""), mine, since, now)
                        for agent_id, mine in agents.items()
                    ),
                    key=lambda agent: (agent.agent.display_name.lower(), agent.agent.id),
                ),
                days=[
                    DayStats(
                        date=day.date.isoformat(),
                        median_first_response_s=day.figures.median_first_response_s,
                        csat=day.figures.csat, resolved_cases=day.figures.resolved_cases or 0,
                        rated_cases=day.figures.rated_cases or 0,
                    )  # fmt: skip
                    for day in service_rules.daily(cases, since, now)
                ],
                comments=[
                    Verbatim(
                        score=case.score or 0, comment=case.comment or "",
                        created_at=format_time(case.rated_at or now),
                        conversation_id=case.conversation_id, case=case.number,
                        agent=None if case.resolver_id is None else AccountRef(
                            id=case.resolver_id, display_name=people.get(case.resolver_id, "")
                        ),
                    )  # fmt: skip
                    for case in comments
                ],
            )  # fmt: skip

        return await self._db.read(load)

    # --- after a consumer's message ----------------------------------------------------

    async def consumer_wrote(self, wrote: ConsumerWrote) -> None:
        """Awaited after a consumer's message commits, before its ack: the automatic answer
        when one is due (so it follows the message at once); routing runs in a task."""
        if wrote.route:
            self._spawn(self._route_new_case(wrote.conversation_id, wrote.case_number))
        if not wrote.answer_pending or self._attended(wrote):
            return
        # Pipelined messages to one case share one decision, and a shutdown drains it
        # (the message is committed: its answer must not be dropped with the socket).
        key = (wrote.conversation_id, wrote.case_number)
        deciding = self._answering.get(key)
        if deciding is None:
            deciding = self._spawn(self._auto_reply_logged(wrote))
            self._answering[key] = deciding
            deciding.add_done_callback(lambda _: self._answering.pop(key, None))
        await asyncio.shield(deciding)

    async def _auto_reply_logged(self, wrote: ConsumerWrote) -> None:
        try:
            await self._auto_reply(wrote)
        except Exception:
            # The message is committed: it is acknowledged whatever happened here.
            log.exception("the automatic reply for %s failed", wrote.conversation_id)

    def _attended(self, wrote: ConsumerWrote) -> bool:
        """A member has a socket on this node (or was seen online on another one just now)
        and the desk is open: no answer is due, and nothing needs reading to know it (the
        common case under load)."""
        online = (
            self._hub.has_brand_member(wrote.brand_id)
            or self._seen_online.get(wrote.brand_id, 0.0) > time.monotonic()
        )
        if not online:
            return False
        try:
            schedule = hours.schedule_from_json(wrote.hours)
        except (ValueError, KeyError, TypeError):
            # Hours the gateway stored but cannot read: decide the slow way, which logs it.
            log.exception("unreadable opening hours of brand %s", wrote.brand_id)
            return False
        return not hours.answer_due(schedule, utc_now(), anyone_online=True)

    def case_resolved(self, brand_id: str) -> None:
        """Called after a resolve commits: the agent is freer; the queue may move."""
        self.route_queue(brand_id)

    def member_online(self, account_id: str, brand_ids: list[str]) -> None:
        """Called when an account's first socket opens here: queued cases may go to them."""
        for brand_id in brand_ids:
            self.route_queue(brand_id)

    def route_queue(self, brand_id: str) -> None:
        """Route the brand's queue, the longest waiting first, until it is empty or nobody
        online can take a case: after routing is turned on, a membership change, a member
        coming online, a resolve, a new case. Passes of one brand never overlap on a node:
        asked while one runs, it runs once more when done (what it read may be stale).
        Other nodes may run theirs at the same time; the database decides (``route``)."""
        if brand_id in self._queue_passes:
            self._queue_passes[brand_id] = True
            return
        self._queue_passes[brand_id] = False
        self._spawn(self._route_queue_passes(brand_id))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    async def _route_new_case(self, conversation_id: str, case_number: int) -> None:
        """A case opened (new or reopened). Unassigned, it joins the queue behind the cases
        waiting longer, and the queue is routed in order. Still assigned (reopened), it
        stays with its assignee if online, else goes to the least busy online candidate,
        or to the queue when nobody is online."""
        try:
            await self._route_opened_case(conversation_id, case_number)
        except Exception:
            log.exception("routing %s failed", conversation_id)

    async def _route_opened_case(self, conversation_id: str, case_number: int) -> None:
        facts = await self._db.read(lambda s: _routing_facts(s, conversation_id))
        if facts is None:
            return
        if facts.assignee_id is None:
            self.route_queue(facts.brand_id)
            return
        offline = await self._presence.offline(facts.candidates)
        choice = routing.choose(
            facts.candidates - offline, facts.open_cases, current=facts.assignee_id
        )
        await self._conversations.route(
            conversation_id, case_number, choice, chosen_from=facts.assignee_id
        )

    async def _route_queue_passes(self, brand_id: str) -> None:
        try:
            while True:
                self._queue_passes[brand_id] = False
                try:
                    await self._empty_queue(brand_id)
                except Exception:
                    log.exception("routing the queue of %s failed", brand_id)
                if not self._queue_passes[brand_id]:
                    return
        finally:
            del self._queue_passes[brand_id]

    async def _empty_queue(self, brand_id: str) -> None:
        """Route the brand's waiting cases, the longest waiting first, until none is left
        or nobody online can take one; then tell those still waiting their new places,
        once (after each case routed, a burst of N new cases would publish N^2 changes)."""
        if await self._route_waiting_cases(brand_id):
            await self._conversations.publish_queue(brand_id)

    async def _route_waiting_cases(self, brand_id: str) -> bool:
        """Whether any was routed. A case someone else took meanwhile (by hand, by
        answering, another node) is skipped: it left the queue, the next one is read."""
        routed_any = False
        lost: str | None = None
        while True:
            queued = await self._db.read(partial(_next_queued, brand_id=brand_id))
            if queued is None:
                return routed_any
            routed = await self._route_queued(queued)
            if routed is None:
                return routed_any  # nobody online can take it, or the brand stopped routing
            if routed:
                lost = None
                routed_any = True
            elif queued == lost:
                return routed_any  # lost twice in a row yet still first: a later pass
            else:
                lost = queued
            # A long queue must not hold up the rest of the node.
            await asyncio.sleep(0)

    async def _route_queued(self, conversation_id: str) -> bool | None:
        """Give a waiting case to the least busy online candidate. True: assigned; False:
        it was no longer waiting (taken meanwhile); None: nobody can take it now."""
        facts = await self._db.read(lambda s: _routing_facts(s, conversation_id))
        if facts is None:
            return None
        if facts.assignee_id is not None or not facts.open:
            return False
        offline = await self._presence.offline(facts.candidates)
        choice = routing.choose(facts.candidates - offline, facts.open_cases)
        if choice is None:
            return None
        # Only if still unassigned when written: an assignment made meanwhile stands.
        return await self._conversations.route(
            conversation_id, None, choice, chosen_from=None, tell_queue=False
        )

    def _saw_online(self, brand_id: str) -> None:
        now = time.monotonic()
        if len(self._seen_online) >= 10_000:  # only brands seen in the last second matter
            self._seen_online = {b: t for b, t in self._seen_online.items() if t > now}
        self._seen_online[brand_id] = now + SEEN_ONLINE_S

    async def _anyone_online(self, brand_id: str) -> bool:
        """Whether a member of the brand has a socket on any node. When SEEN_ONLINE_S lapses,
        every case of the brand waiting for an answer asks at once: one look answers them
        all (one look each would pile reads onto a node already busy)."""
        looking = self._looking_online.get(brand_id)
        if looking is None:
            looking = asyncio.create_task(self._look_online(brand_id))
            self._looking_online[brand_id] = looking
            looking.add_done_callback(lambda _: self._looking_online.pop(brand_id, None))
        return await asyncio.shield(looking)

    async def _look_online(self, brand_id: str) -> bool:
        members = await self._db.read(
            lambda s: brand_store.member_ids(s, brand_ids=[brand_id])[brand_id]
        )
        # Unsure whether a member is online (Redis down), say nothing: a wrong "nobody is
        # here" is worse than none, and the case's next message asks again.
        offline = await self._presence.offline(members, unsure=False)
        anyone_online = len(offline) < len(set(members))
        if anyone_online:
            self._saw_online(brand_id)
        return anyone_online

    async def _auto_reply(self, wrote: ConsumerWrote) -> None:
        anyone_online = await self._anyone_online(wrote.brand_id)
        if self._attended(wrote):
            return  # the common case: a member is online elsewhere, the desk open
        conversation_id, case_number = wrote.conversation_id, wrote.case_number
        facts = await self._db.read(lambda s: _auto_reply_facts(s, conversation_id, case_number))
        if facts is None:
            return
        now = utc_now()
        if not hours.answer_due(facts.schedule, now, anyone_online=anyone_online):
            return
        brand_id = facts.brand.id
        figures = await self._db.read(lambda s: public_figures(s, [brand_id])[brand_id])
        text = hours.auto_reply_text(
            handle=facts.brand.handle, schedule=facts.schedule, now=now,
            anyone_online=anyone_online, median_first_response_s=figures.median_first_response_s,
        )  # fmt: skip
        if text is not None:
            await self._conversations.post_system_message(conversation_id, case_number, text)


@dataclass(frozen=True)
class _RoutingFacts:
    brand_id: str
    open: bool
    candidates: set[str]
    open_cases: dict[str, int]
    assignee_id: str | None


def _auto_assigning(session: Session, brand_id: str) -> bool:
    brand = session.get(Brand, brand_id)
    return brand is not None and brand.auto_assign


def _next_queued(session: Session, *, brand_id: str) -> str | None:
    """The case that has waited longest, if the brand routes cases automatically."""
    if not _auto_assigning(session, brand_id):
        return None
    return store.oldest_queued(session, brand_id=brand_id)


def _routing_facts(session: Session, conversation_id: str) -> _RoutingFacts | None:
    """Who may take the case and how busy each is; None if the brand routes by hand."""
    conversation = conversation_store.conversation_by_id(session, conversation_id=conversation_id)
    if conversation is None or not _auto_assigning(session, conversation.brand_id):
        return None
    roles = store.member_roles(session, brand_id=conversation.brand_id)
    return _RoutingFacts(
        brand_id=conversation.brand_id,
        open=conversation.status == "open",
        candidates=routing.candidates(roles),
        open_cases=store.open_cases_by_assignee(session, brand_id=conversation.brand_id),
        assignee_id=conversation.assignee_id,
    )


@dataclass(frozen=True)
class _AutoReplyFacts:
    brand: Brand
    schedule: hours.Schedule | None


def _auto_reply_facts(
    session: Session, conversation_id: str, case_number: int
) -> _AutoReplyFacts | None:
    """What deciding on the automatic reply needs, or None when it is not due: a human
    answered, it was sent already, or the case moved on."""
    conversation = conversation_store.conversation_by_id(session, conversation_id=conversation_id)
    if conversation is None or conversation.case_number != case_number:
        return None
    if not store.auto_reply_pending(session, conversation_id=conversation_id, number=case_number):
        return None
    brand = session.get(Brand, conversation.brand_id)
    if brand is None:
        return None
    return _AutoReplyFacts(brand, hours.schedule_from_json(brand.hours))


def _figures(figures: service_rules.Figures) -> StatsFigures:
    return StatsFigures(
        median_first_response_s=figures.median_first_response_s, csat=figures.csat,
        rated_cases=figures.rated_cases or 0, resolved_cases=figures.resolved_cases or 0,
    )  # fmt: skip


def _estimates(accuracy: service_rules.EstimateAccuracy) -> EstimateAccuracy:
    return EstimateAccuracy(
        compared_cases=accuracy.compared_cases,
        mean_absolute_error=accuracy.mean_absolute_error,
        exact_share=accuracy.exact_share,
        bias=accuracy.bias,
    )


def _agent(
    agent_id: str, name: str, cases: list[service_rules.CaseFacts], since: datetime,
    now: datetime,
) -> AgentStats:  # fmt: skip
    view = service_rules.agent_view(agent_id, cases)
    mine = [case for case in view if case.resolver_id == agent_id]
    return AgentStats(
        agent=AccountRef(id=agent_id, display_name=name),
        figures=_figures(service_rules.figures(view, since, now, floor=0)),
        estimates=_estimates(service_rules.estimate_accuracy(mine, since, now)),
    )
