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
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import msgspec
import redis.asyncio as redis
from redis.exceptions import RedisError

from gateway import metrics
from gateway.bus import Deliver
from gateway.events import Event, MessageCommitted
from gateway.ids import new_id, parse_time, utc_now

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
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(Envelope)
        self._tasks: list[asyncio.Task[None]] = []
        self.healthy_at: datetime | None = None  # last moment the subscription was known good

    def subscribe(self, deliver: Deliver) -> None:
        self._subscribers.append(deliver)

    def publish(self, event: Event) -> None:
        # This node's own sockets hear at once and in commit order, Redis or not.
        for deliver in self._subscribers:
            deliver(event)
        try:
            self._unsent.put_nowait(self._encoder.encode(Envelope(self.node_id, event)))
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
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.channel)
            since = self.healthy_at
            self.healthy_at = utc_now()
            if recovering and since is not None:
                log.info("bus: back; reading back what was committed since %s", since)
                metrics.BUS_RECOVERIES.inc()
                await self._on_recovered(since - CLOCK_SLACK)
            while True:
                message = await pubsub.get_message(timeout=HEALTH_CHECK_S)
                if message is None:
                    await pubsub.ping()
                    self.healthy_at = utc_now()
                    continue
                self.healthy_at = utc_now()
                if message["type"] != "message":
                    continue  # the answer to our health-check ping
                envelope = self._decoder.decode(message["data"])
                if envelope.node == self.node_id:
                    continue
                if isinstance(envelope.event, MessageCommitted):
                    committed = parse_time(envelope.event.message.created_at)
                    metrics.BUS_LAG.observe(max(0.0, (self.healthy_at - committed).total_seconds()))
                for deliver in self._subscribers:
                    deliver(envelope.event)
        finally:
            # Closing waits for the connection, which a cancelled read may still hold.
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                await asyncio.wait_for(pubsub.aclose(), 1)  # type: ignore[no-untyped-call]
