"""Baseline (a): a bare ``websockets`` relay, the Python ceiling.

No auth, no storage: hello is welcomed whatever the token ("agent:<handle>" joins that
brand's agents), a send is acked at once and its message frame, serialized once, goes to
the brand's agent sockets.

    python ws_relay.py PORT
"""

import asyncio
import json
import sys
from collections import defaultdict
from datetime import UTC, datetime

from websockets.asyncio.server import ServerConnection, broadcast, serve

agents: defaultdict[str, set[ServerConnection]] = defaultdict(set)
counter = 0


async def relay(ws: ServerConnection) -> None:
    global counter
    account = ""
    try:
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] == "hello":
                account = str(frame["token"])
                if account.startswith("agent:"):
                    agents[account[6:]].add(ws)
                await ws.send(json.dumps({"type": "welcome", "account_id": account}))
            elif frame["type"] == "send":
                handle = frame["to"][1:] if frame.get("to") else frame["conversation_id"]
                counter += 1
                created_at = datetime.now(UTC).isoformat()
                common = {"conversation_id": handle, "seq": counter, "id": f"m{counter}"}
                ack = {"type": "ack", "client_id": frame["client_id"], **common}
                await ws.send(json.dumps({**ack, "created_at": created_at}))
                sender = {"id": account, "role": "consumer", "display_name": account}
                message = {**common, "client_id": frame["client_id"], "sender": sender}
                message.update(text=frame["text"], created_at=created_at)
                broadcast(agents[handle], json.dumps({"type": "message", "message": message}))
    finally:
        if account.startswith("agent:"):
            agents[account[6:]].discard(ws)


async def main(port: int) -> None:
    async with serve(relay, "127.0.0.1", port, compression=None) as server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
