"""The one Redis client a node shares between its bus, presence and limits."""

from __future__ import annotations

import redis.asyncio as redis

# Commands in flight at once; more wait for a free connection. Under load a node has many
# in flight: presence looks, publishes, sign-in limits (send limits share a pipeline).
MAX_CONNECTIONS = 100
# How long a command waits for a connection, for the socket to connect, for a reply.
TIMEOUT_S = 5


def connect(url: str) -> redis.Redis:
    """A client whose pool makes a command wait for a free connection. redis-py's default
    pool refuses one outright ("Too many connections") once MAX_CONNECTIONS are busy: under
    load, send and sign-in limits, presence looks and publishes then failed as if Redis
    were down (the limits letting everything through, presence unsure) while it was fine."""
    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=TIMEOUT_S,
        socket_timeout=TIMEOUT_S,
        socket_connect_timeout=TIMEOUT_S,
    )
    return redis.Redis.from_pool(pool)
