"""The Redis bus: every node publishes its events to one pub/sub channel and hears all.

Why pub/sub (and not streams): the database is the source of truth, so the bus need not
keep anything. What a node misses while Redis or its subscription is down, it reads back
from the database when the bus returns (``on_recovered``); a stream would cost memory and
trimming policy and still lose everything on a Redis restart without persistence.
docs/architecture.md has the whole argument.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import msgspec
import redis.asyncio as redis
from redis.asyncio.connection import Connection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from gateway import metrics
from gateway.bus import Deliver
from gateway.events import Event, MessageCommitted
from gateway.ids import new_id, parse_time, utc_now
from gateway.redis_client import TIMEOUT_S

log = logging.getLogger(__name__)

# Clocks of nodes differ a little; reading back a little more than the outage is harmless
# (receivers drop what they already have), reading back too little would lose messages.
CLOCK_SLACK = timedelta(seconds=5)
HEALTH_CHECK_S = 1.0
MAX_UNSENT = 100_000
PUBLISH_BATCH = 500


class Envelope(msgspec.Struct, frozen=True):
    node: str
    event: Event


class Envelopes:
    """One node's events as they travel on the channel, and, of those heard, others' only.

    Every node hears every node's events, its own included; its own it has handed on when
    it published them. Those it knows by their first bytes, without decoding them: the
    encoder writes the fields in order, so they start with ``{"node":"<its id>",``.
    """

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(Envelope)
        self._own_start = b'{"node":' + self._encoder.encode(node_id) + b","

    def encode(self, event: Event) -> bytes:
        return self._encoder.encode(Envelope(self.node_id, event))

    def foreign_event(self, payload: bytes) -> Event | None:
        """The event ``payload`` carries, or None if this node published it. Raises
        ``msgspec.DecodeError`` if it is not an envelope."""
        if payload.startswith(self._own_start):
            return None
        envelope = self._decoder.decode(payload)
        return None if envelope.node == self.node_id else envelope.event


async def _as_heard(reply: Any) -> Any:
    """What the subscription's connection hands over as it came. On RESP3 every message
    is a push, and redis-py's own handler writes each one into a debug log line first,
    whether debug is on or not: 4.4 us a message read against 2.0 (micro-benchmark)."""
    return reply


class RedisBus:
    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        on_recovered: Callable[[datetime], Awaitable[None]],
    ) -> None:
        self.node_id = new_id("n")
        self.channel = f"{prefix}:events"
        self._client = client
        self._on_recovered = on_recovered
        self._subscribers: list[Deliver] = []
        self._unsent: asyncio.Queue[bytes] = asyncio.Queue(MAX_UNSENT)
        self._envelopes = Envelopes(self.node_id)
        self._tasks: list[asyncio.Task[None]] = []
        self.healthy_at: datetime | None = None  # last moment the subscription was known good

    def subscribe(self, deliver: Deliver) -> None:
        self._subscribers.append(deliver)

    def publish(self, event: Event) -> None:
        # This node's own sockets hear at once and in commit order, Redis or not.
        for deliver in self._subscribers:
            deliver(event)
        try:
            self._unsent.put_nowait(self._envelopes.encode(event))
        except asyncio.QueueFull:
            log.error("bus: %d events waiting for Redis; dropping one", MAX_UNSENT)

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._publish_loop()),
            asyncio.create_task(self._listen_loop()),
        ]

    async def ping(self) -> None:
        await self._client.ping()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            await asyncio.wait_for(self._client.aclose(), 2)

    async def _publish_loop(self) -> None:
        backoff = 0.1
        while True:
            # What waits goes in one pipeline, in order: one round trip per event could not
            # keep up with the batched commits of a busy node (deliveries on other nodes
            # fell seconds behind the acks).
            batch = [await self._unsent.get()]
            while len(batch) < PUBLISH_BATCH and not self._unsent.empty():
                batch.append(self._unsent.get_nowait())
            while True:
                try:
                    async with self._client.pipeline(transaction=False) as pipe:
                        for payload in batch:
                            pipe.publish(self.channel, payload)
                        await pipe.execute()
                    backoff = 0.1
                    break
                except (RedisError, OSError) as error:
                    log.warning("bus: publish failed (%s); retrying in %.1f s", error, backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)

    async def _listen_loop(self) -> None:
        backoff = 0.1
        first = True
        while True:
            healthy_before = self.healthy_at
            try:
                await self._listen(recovering=not first)
            except (RedisError, OSError) as error:
                log.warning("bus: subscription lost (%s); reconnecting", error)
            if self.healthy_at != healthy_before:
                backoff = 0.1  # it worked for a while: this is a new outage
            first = False
            metrics.BUS_RECONNECTS.inc()
            await asyncio.sleep(backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, 5.0)

    async def _listen(self, *, recovering: bool) -> None:
        pubsub = self._client.pubsub(push_handler_func=_as_heard)
        try:
            await pubsub.subscribe(self.channel)
            connection = pubsub.connection
            assert connection is not None  # subscribing connected it
            # Read back only once Redis has confirmed: from then on it hands this node every
            # event, so nothing committed after the read-back's start can fall between.
            if await connection.read_response(timeout=TIMEOUT_S, push_request=True) is None:
                raise RedisConnectionError("Redis did not confirm the subscription")
            since = self.healthy_at
            self.healthy_at = utc_now()
            if recovering and since is not None:
                log.info("bus: back; reading back what was committed since %s", since)
                metrics.BUS_RECOVERIES.inc()
                await self._on_recovered(since - CLOCK_SLACK)
            await self._hear(connection)
        finally:
            # Closing waits for the connection, which a cancelled read may still hold.
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                await asyncio.wait_for(pubsub.aclose(), 1)  # type: ignore[no-untyped-call]

    async def _hear(self, connection: Connection) -> None:
        """Read the subscription until it fails or falls silent (then raise).

        A connection whose peer is gone without a word (a dead route, a dropped NAT entry)
        takes pings without error and answers nothing: only its silence tells, and until
        then ``healthy_at`` must not move, or the read-back after it would start too late.
        """
        reader = asyncio.create_task(self._read(connection))
        try:
            # A read-back may have taken a while: an answer says the subscription still holds.
            await connection.send_command("PING")
            while True:
                done, _ = await asyncio.wait({reader}, timeout=HEALTH_CHECK_S)
                if done:
                    reader.result()  # why it stopped
                assert self.healthy_at is not None  # set before hearing began
                silent_s = (utc_now() - self.healthy_at).total_seconds()
                if silent_s > HEALTH_CHECK_S + TIMEOUT_S:
                    raise RedisConnectionError(f"the subscription was silent for {silent_s:.0f} s")
                if silent_s >= HEALTH_CHECK_S:
                    await connection.send_command("PING")  # its answer is heard by the reader
        finally:
            reader.cancel()
            await asyncio.wait({reader})

    async def _read(self, connection: Connection) -> None:
        # Straight from the connection: redis-py's get_message wraps every message in
        # retries, telemetry hooks, a read timeout and a dict (11 us a message against 2.0
        # here with _as_heard, micro-benchmark), and every node reads every node's events.
        # Its retries could also re-make a lost subscription quietly, with nothing read back.
        while True:
            reply = await connection.read_response(
                timeout=math.inf, disconnect_on_error=False, push_request=True
            )
            self.healthy_at = utc_now()
            if isinstance(reply, list) and reply[0] == b"message":  # else a ping's answer
                self._hand_on(reply[2])

    def _hand_on(self, payload: bytes) -> None:
        try:
            event = self._envelopes.foreign_event(payload)
        except msgspec.DecodeError as error:
            # One unreadable message (a node of another version, a stray publish) must not
            # end the subscription: every event after it would go unheard.
            metrics.BUS_UNREADABLE.inc()
            log.error("bus: dropped a message this node cannot read (%s): %.200r", error, payload)
            return
        if event is None:
            return  # published here, and handed to this node's sockets then
        if isinstance(event, MessageCommitted):
            committed = parse_time(event.message.created_at)
            assert self.healthy_at is not None
            metrics.BUS_LAG.observe(max(0.0, (self.healthy_at - committed).total_seconds()))
        for deliver in self._subscribers:
            deliver(event)
