"""The one Redis client a node shares between its bus, presence and limits."""

from __future__ import annotations

import redis.asyncio as redis

# Commands in flight at once; more wait for a free connection. A node's load keeps about
# one command in flight per send (its limit) and per presence look, so hundreds under load.
MAX_CONNECTIONS = 100
# How long a command waits for a connection, for the socket to connect, for a reply.
TIMEOUT_S = 5


def connect(url: str) -> redis.Redis:
    """A client whose pool makes a command wait for a free connection. redis-py's default
    pool refuses one outright ("Too many connections") once MAX_CONNECTIONS are busy: under
    load every send's limit, presence look and sign-in limit then failed as if Redis were
    down (the limits allowing everything, presence unsure) while Redis was fine."""
    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=TIMEOUT_S,
        socket_timeout=TIMEOUT_S,
        socket_connect_timeout=TIMEOUT_S,
    )
    return redis.Redis.from_pool(pool)
