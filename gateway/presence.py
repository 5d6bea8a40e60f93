"""Who has a live socket, on any node: used to decide who needs a push."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from typing import Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError

from gateway.hub import Hub

log = logging.getLogger(__name__)


class Presence(Protocol):
    async def offline(self, account_ids: Iterable[str], *, unsure: bool = True) -> set[str]:
        """Those of ``account_ids`` with no live socket on any node. ``unsure``: what an
        account counts as while other nodes cannot be asked (offline: pushed)."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class LocalPresence:
    """One process: this node's hub knows every live socket."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    async def offline(self, account_ids: Iterable[str], *, unsure: bool = True) -> set[str]:
        return {account_id for account_id in account_ids if not self._hub.is_online(account_id)}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisPresence:
    """Each account has a Redis set of the nodes where it has a socket; a node counts only
    while its heartbeat key lives, so the accounts of a node that died go offline with it
    after ``node_ttl_s``, with nothing to clean up first."""

    def __init__(
        self, client: redis.Redis, prefix: str, node_id: str, hub: Hub, *, node_ttl_s: int = 15
    ) -> None:
        self.node_ttl_s = node_ttl_s
        self.heartbeat_s = node_ttl_s / 3
        self._client = client
        self._prefix = prefix
        self._node_id = node_id
        self._hub = hub
        self._changes: asyncio.Queue[tuple[str, bool]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        # When this node last found that Redis had lost its registration (not at start).
        self._registered_again_at = -float("inf")
        hub.presence_listener = lambda account_id, online: self._changes.put_nowait(
            (account_id, online)
        )

    def _account_key(self, account_id: str) -> str:
        return f"{self._prefix}:presence:{account_id}"

    def _node_key(self, node_id: str) -> str:
        return f"{self._prefix}:node:{node_id}"

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task], timeout=2)
        with contextlib.suppress(RedisError, OSError):
            await self._client.delete(self._node_key(self._node_id))

    async def _run(self) -> None:
        started = True
        change: tuple[str, bool] | None = None  # taken from the queue, not yet written
        while True:
            try:
                previous = await self._client.set(
                    self._node_key(self._node_id), "1", ex=self.node_ttl_s, get=True
                )
                if previous is None:
                    # A start, a Redis restart or a missed heartbeat: say again who is here.
                    for account_id in self._hub.accounts():
                        await self._client.sadd(self._account_key(account_id), self._node_id)
                    if not started:
                        # Other nodes say it again at their next heartbeat; until then who
                        # is online elsewhere is not known.
                        self._registered_again_at = time.monotonic()
                started = False
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.heartbeat_s):
                        while True:
                            if change is None:
                                change = await self._changes.get()
                            account_id, online = change
                            key = self._account_key(account_id)
                            if online:
                                await self._client.sadd(key, self._node_id)
                            else:
                                await self._client.srem(key, self._node_id)
                            change = None  # written; a failed one is written again
            except (RedisError, OSError) as error:
                log.warning("presence: Redis unavailable (%s); will register again", error)
                await asyncio.sleep(1)

    async def offline(self, account_ids: Iterable[str], *, unsure: bool = True) -> set[str]:
        accounts = [a for a in account_ids if not self._hub.is_online(a)]
        if not accounts:
            return set()
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for account_id in accounts:
                    pipe.smembers(self._account_key(account_id))
                members: list[set[bytes]] = await pipe.execute()
            nodes = sorted({node.decode() for found in members for node in found})
            # This node's own key too: without it, Redis has lost what the nodes told it
            # (a restart) and they have not all said it again yet.
            keys = [self._node_key(node) for node in [self._node_id, *nodes]]
            [own, *flags] = await self._client.mget(keys)
            alive = {node for node, flag in zip(nodes, flags, strict=True) if flag}
            registering = time.monotonic() - self._registered_again_at < 2 * self.heartbeat_s
        except (RedisError, OSError) as error:
            log.warning(
                "presence: Redis unavailable (%s); counting remote accounts %s",
                error, "offline" if unsure else "online",
            )  # fmt: skip
            return set(accounts) if unsure else set()
        if not unsure and (own is None or registering):
            return set()
        return {
            account_id
            for account_id, found in zip(accounts, members, strict=True)
            if not any(node.decode() in alive for node in found)
        }
