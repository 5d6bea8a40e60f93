"""A client that keeps flooding after `rate_limited` is closed with 4429; others carry on."""

from __future__ import annotations

from pathlib import Path

import websockets

from tests.clients import Api, Socket
from tests.gateway_process import GatewayProcess


async def test_flooding_past_rate_limited_closes_with_4429(tmp_path: Path) -> None:
    server = GatewayProcess(tmp_path, {"ATDESK_FRAME_RATE": "0.1", "ATDESK_FRAME_BURST": "5"})
    server.start()
    api = Api(server.http_url)
    try:
        flooder, neighbour = await api.sign_up("flood"), await api.sign_up("calm")
        socket = await Socket.open(server.ws_url, flooder)
        for i in range(40):
            await socket.send_json({"type": "ping", "ref": str(i)})
        replies = []
        code: int | None = None
        try:
            while True:
                replies.append(await socket.recv())
        except websockets.ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
        assert [r["type"] for r in replies[:5]] == ["pong"] * 5
        refusals = replies[5:]
        assert refusals and all(r["code"] == "rate_limited" for r in refusals)
        assert all(r["retry_after_s"] > 0 for r in refusals)
        assert len(refusals) == 20  # then the 21st refusal in a row closes the socket
        assert code == 4429
        calm = await Socket.open(server.ws_url, neighbour)
        await calm.send_json({"type": "ping", "ref": "still served"})
        assert await calm.recv() == {"type": "pong", "ref": "still served"}
        await calm.close()
    finally:
        await api.close()
        server.destroy()
