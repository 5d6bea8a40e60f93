"""Counters and gauges for ``GET /metrics``, in the Prometheus text format.

Metrics live in prometheus_client's default registry, so the process metrics come along.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

# Every push ends as exactly one of sent, failed or pruned; a dropped one was never tried.
PUSH_SENT = Counter("push_sent", "Pushes FCM accepted")
PUSH_FAILED = Counter("push_failed", "Pushes given up on; their tokens are kept")
PUSH_PRUNED = Counter("push_pruned", "Pushes to tokens FCM called dead, which were deleted")
PUSH_DROPPED = Counter("push_dropped", "Push jobs dropped because the push queue was full")
PUSH_BACKLOG = Gauge("push_backlog", "Push jobs queued or in hand, and pushes waiting to retry")
WEBSOCKETS = Gauge("websocket_connections", "Live sockets on this node")

MESSAGES_COMMITTED = Counter("messages_committed", "Messages this node committed")
MESSAGES_DELIVERED = Counter("messages_delivered", "Message frames handed to live sockets")
SEND_TO_ACK = Histogram(
    "send_to_ack_seconds",
    "From a send frame read to its ack queued, on this node",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
RATE_LIMITED = Counter("rate_limited", "Frames and sign-ins refused for rate", ["kind"])
BUS_RECONNECTS = Counter("bus_reconnects", "Times the Redis bus subscription was re-made")
BUS_UNREADABLE = Counter("bus_unreadable", "Bus messages this node could not read and dropped")
BUS_RECOVERIES = Counter("bus_recoveries", "Read-backs from the database after a bus outage")
BUS_LAG = Histogram(
    "bus_lag_seconds",
    "From commit (on the committing node's clock) to arrival here through Redis",
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30),
)
NOTICE_RECIPIENTS = Counter(
    "notice_recipients", "Accounts a notice was fanned out to (live frame or push)"
)
NOTICES_FANNED_OUT = Counter("notices_fanned_out", "Notices whose fan-out finished")
BUS_GAPS_FILLED = Counter("bus_gaps_filled", "Messages read from the database to fill a gap")
# Every collection stops every socket on the node: its pauses, by generation (2 is full).
GC_PAUSE = Histogram(
    "gc_pause_seconds",
    "Cyclic garbage collections of this node, by generation",
    ["generation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
GC_LONGEST_PAUSE = Gauge(
    "gc_longest_pause_seconds", "The longest collection so far, start-up's included", ["generation"]
)


async def metrics_endpoint(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
