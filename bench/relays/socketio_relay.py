"""Baseline (b): a python-socketio chat relay served by uvicorn, what a Python team would pick.

The frames are Socket.IO events named "frame" carrying the same JSON objects as atdesk's
socket. No auth, no storage: hello is welcomed whatever the token ("agent:<handle>" joins
the room of that brand), a send is acked at once and its message emitted to the room.

    python socketio_relay.py PORT
"""

import sys
from datetime import UTC, datetime
from typing import Any

import socketio
import uvicorn

sio = socketio.AsyncServer(async_mode="asgi")
accounts: dict[str, str] = {}
counter = 0


@sio.on("frame")
async def frame(sid: str, data: dict[str, Any]) -> None:
    global counter
    if data["type"] == "hello":
        account = accounts[sid] = str(data["token"])
        if account.startswith("agent:"):
            await sio.enter_room(sid, account[6:])
        await sio.emit("frame", {"type": "welcome", "account_id": account}, to=sid)
    elif data["type"] == "send":
        handle = data["to"][1:] if data.get("to") else data["conversation_id"]
        counter += 1
        created_at = datetime.now(UTC).isoformat()
        common = {"conversation_id": handle, "seq": counter, "id": f"m{counter}"}
        ack = {"type": "ack", "client_id": data["client_id"], "created_at": created_at, **common}
        await sio.emit("frame", ack, to=sid)
        account = accounts.get(sid, "")
        sender = {"id": account, "role": "consumer", "display_name": account}
        message = {**common, "client_id": data["client_id"], "sender": sender}
        message.update(text=data["text"], created_at=created_at)
        await sio.emit("frame", {"type": "message", "message": message}, room=handle)


@sio.event
async def disconnect(sid: str, *_: Any) -> None:
    accounts.pop(sid, None)


if __name__ == "__main__":
    uvicorn.run(socketio.ASGIApp(sio), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
