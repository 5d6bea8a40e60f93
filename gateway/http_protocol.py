"""uvicorn's HTTP protocol (httptools when installed, else h11, as uvicorn picks), with a
closed connection's transport freed at once.

Python 3.11's socket transport keeps a bound method of itself once closed (CPython
gh-100348, fixed in 3.12): a reference cycle per connection, which only a full garbage
collection finds, and which a connection open during one stays in until the next thaw
(``gateway.collector`` freezes what a full collection leaves). Released here as 3.12 does,
for HTTP connections and (``gateway.ws_protocol``) for WebSockets.
"""

from __future__ import annotations

from uvicorn.protocols.http.auto import AutoHTTPProtocol


def release_closed_transport(transport: object) -> None:
    """Break a closed socket transport's cycle through its read callback."""
    if getattr(transport, "_read_ready_cb", None) is not None:
        transport._read_ready_cb = None  # type: ignore[attr-defined]


class GatewayHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        release_closed_transport(self.transport)
