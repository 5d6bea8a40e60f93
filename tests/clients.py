"""Test clients that speak the wire contract: HTTP through httpx, the socket through
the ``websockets`` library, as any third-party client would."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import websockets
from atdesk_sdk.api import KEEPALIVE_EXPIRY_S
from websockets.asyncio.client import ClientConnection

_counter = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}{next(_counter)}x{uuid.uuid4().hex[:6]}"


@dataclass
class User:
    account_id: str
    email: str
    display_name: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


# As the SDK: idle connections given up before the gateway closes them (seen once in CI
# with httpx's default, a ReadError after a test's 2,000 messages took about 5 s).
HTTP_LIMITS = httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY_S)


class Api:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.AsyncClient(base_url=base_url, timeout=30, limits=HTTP_LIMITS)

    async def close(self) -> None:
        await self.http.aclose()

    async def call(
        self, method: str, path: str, user: User | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if user is not None:
            headers.update(user.auth)
        return await self.http.request(method, path, headers=headers, **kwargs)

    async def sign_up(self, name: str = "user", password: str = "correct horse") -> User:
        email = f"{unique(name)}@example.com"
        created = await self.call(
            "POST", "/v1/accounts",
            json={"email": email, "password": password, "display_name": name.title()},
        )  # fmt: skip
        assert created.status_code == 201, created.text
        session = await self.call(
            "POST", "/v1/sessions", json={"email": email, "password": password}
        )
        assert session.status_code == 201, session.text
        return User(created.json()["id"], email, name.title(), session.json()["token"])

    async def sign_in(self, user: User, password: str = "correct horse") -> User:
        session = await self.call(
            "POST", "/v1/sessions", json={"email": user.email, "password": password}
        )
        assert session.status_code == 201, session.text
        return User(user.account_id, user.email, user.display_name, session.json()["token"])

    async def create_brand(self, owner: User, name: str = "acme") -> str:
        handle = unique(name)[:30]
        response = await self.call(
            "POST", "/v1/brands", owner, json={"handle": handle, "name": name.title() + " Inc"}
        )
        assert response.status_code == 201, response.text
        return handle

    async def desk(self, name: str = "acme", *, agent: str = "agent") -> tuple[User, User, str]:
        """A brand's service desk: (its owner, an agent of it, its handle)."""
        owner = await self.sign_up("owner")
        member = await self.sign_up(agent)
        handle = await self.create_brand(owner, name)
        await self.add_member(owner, handle, member)
        return owner, member, handle

    async def set_auto_assign(self, admin: User, handle: str, on: bool) -> None:
        """Route the brand's cases automatically (new brands do) or by hand."""
        response = await self.call("PATCH", f"/v1/brands/{handle}", admin, json={"auto_assign": on})
        assert response.status_code == 200 and response.json()["auto_assign"] is on, response.text

    async def add_member(self, admin: User, handle: str, member: User, role: str = "agent") -> None:
        response = await self.call(
            "POST", f"/v1/brands/{handle}/members", admin,
            json={"email": member.email, "role": role},
        )  # fmt: skip
        assert response.status_code == 201, response.text

    async def history(self, user: User, conversation_id: str) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while True:
            page = await self.call(
                "GET", f"/v1/conversations/{conversation_id}/messages", user,
                params={"after_seq": messages[-1]["seq"] if messages else 0, "limit": 500},
            )  # fmt: skip
            assert page.status_code == 200, page.text
            batch = page.json()["messages"]
            messages += batch
            if len(batch) < 500:
                return messages


class Socket:
    """One device's socket, with helpers to wait for the frames a test expects."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.refs = itertools.count()

    @classmethod
    async def open(cls, ws_url: str, user: User | None = None, **kwargs: Any) -> Socket:
        # The test process reads thousands of frames; its own keepalive pings would queue
        # behind them and time out. The gateway's pings are what is under test.
        kwargs.setdefault("ping_interval", None)
        socket = cls(await websockets.connect(ws_url, **kwargs))
        if user is not None:
            await socket.hello(user)
        return socket

    async def hello(self, user: User) -> dict[str, Any]:
        await self.send_json({"type": "hello", "token": user.token, "client": "tests/1"})
        welcome = await self.recv()
        assert welcome["type"] == "welcome", welcome
        assert welcome["account_id"] == user.account_id
        return welcome

    async def send_json(self, frame: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(frame))

    async def recv(self, timeout: float = 10) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.connection.recv(), timeout)
        frame: dict[str, Any] = json.loads(raw)
        return frame

    async def recv_until(
        self, frame_type: str, timeout: float = 10, **match: Any
    ) -> dict[str, Any]:
        """Skip frames until one of ``frame_type`` whose fields equal ``match``."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.recv(timeout)
                if frame["type"] == frame_type and all(frame.get(k) == v for k, v in match.items()):
                    return frame

    async def send_message(
        self, text: str, *, to: str | None = None, conversation_id: str | None = None,
        client_id: str | None = None, skipped: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Send and wait for the ack (skipping other frames, kept in ``skipped`` if given)."""
        ref = f"r{next(self.refs)}"
        frame: dict[str, Any] = {
            "type": "send", "ref": ref, "client_id": client_id or uuid.uuid4().hex, "text": text,
        }  # fmt: skip
        if to is not None:
            frame["to"] = to
        if conversation_id is not None:
            frame["conversation_id"] = conversation_id
        await self.send_json(frame)
        while True:
            reply = await self.recv()
            if reply.get("ref") == ref:
                assert reply["type"] == "ack", reply
                return reply
            if skipped is not None:
                skipped.append(reply)

    async def messages(self, count: int, timeout: float = 10) -> list[dict[str, Any]]:
        """The next ``count`` message objects this socket receives, other frames skipped."""
        received: list[dict[str, Any]] = []
        async with asyncio.timeout(timeout):
            while len(received) < count:
                frame = await self.recv(timeout)
                if frame["type"] == "message":
                    received.append(frame["message"])
        return received

    async def close(self) -> None:
        await self.connection.close()

    async def closed_with(self, timeout: float = 10) -> int | None:
        """Wait for the gateway to close this socket; its close code."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    await self.connection.recv()
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None


@contextlib.asynccontextmanager
async def staffed(ws_url: str, *members: User) -> AsyncIterator[None]:
    """Brand members online meanwhile: a consumer writing then gets no automatic answer
    (PROTOCOL 6), for tests about something else."""
    sockets = [await Socket.open(ws_url, member) for member in members]
    try:
        yield
    finally:
        for socket in sockets:
            await socket.close()
