"""The HTTP half of the contract (PROTOCOL.md sections 1, 2, 3 and 5) over httpx."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from atdesk_sdk.errors import ApiError, AuthError
from atdesk_sdk.models import (
    Account,
    Brand,
    Conversation,
    ConversationPage,
    Me,
    Message,
    MessagePage,
    Session,
)
from atdesk_sdk.outbox import normalize_handle

USER_AGENT = "atdesk-py/0.1"
# The gateway (uvicorn) closes a connection idle for 5 s, and httpx kept one as long: a
# request sent on it just as the gateway closed it failed (ReadError, or "server
# disconnected"). Idle connections are given up here first.
KEEPALIVE_EXPIRY_S = 2.0


class HttpApi:
    """Typed calls to the gateway's HTTP API; ``token`` is sent as the bearer token.

    Args:
        base_url: the gateway, e.g. ``http://127.0.0.1:8000``.
        token: a bearer token from an earlier sign-in, if any.
        http: an httpx client to use (its base URL is ignored); one is made if None.
    """

    def __init__(
        self, base_url: str, *, token: str | None = None, http: httpx.AsyncClient | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=30,
            headers={"user-agent": USER_AGENT},
            limits=httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY_S),
        )

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        auth: bool = True,
    ) -> Any:
        """One request; the decoded JSON body (None for an empty one).

        Raises:
            AuthError: 401: bad credentials, or a dead token.
            ApiError: any other 4xx or 5xx, with the contract's error code.
            httpx.TransportError: the gateway could not be reached.
        """
        headers: dict[str, str] = {}
        if auth:
            if self.token is None:
                raise AuthError("unauthenticated", "sign in first")
            headers["authorization"] = f"Bearer {self.token}"
        if params is not None:
            params = {key: value for key, value in params.items() if value is not None}
        response = await self._http.request(
            method, self.base_url + path, json=json, params=params, headers=headers
        )
        if response.status_code >= 400:
            raise _error(response)
        if not response.content:
            return None
        return response.json()

    # --- accounts and sessions ---------------------------------------------------------

    async def sign_up(self, email: str, password: str, display_name: str) -> Account:
        body = {"email": email, "password": password, "display_name": display_name}
        return Account.from_json(await self.call("POST", "/v1/accounts", json=body, auth=False))

    async def sign_in(self, email: str, password: str, device_name: str | None = None) -> Session:
        body: dict[str, Any] = {"email": email, "password": password}
        if device_name is not None:
            body["device_name"] = device_name
        session = Session.from_json(await self.call("POST", "/v1/sessions", json=body, auth=False))
        self.token = session.token
        return session

    async def sign_out(self) -> None:
        await self.call("DELETE", "/v1/sessions/current")
        self.token = None

    async def me(self) -> Me:
        return Me.from_json(await self.call("GET", "/v1/me"))

    # --- brands ------------------------------------------------------------------------

    async def search_brands(self, query: str, *, limit: int = 10) -> list[Brand]:
        found = await self.call(
            "GET", "/v1/brands", params={"q": query, "limit": limit}, auth=False
        )
        return [Brand.from_json(item) for item in found["brands"]]

    async def brand(self, handle: str) -> Brand:
        path = "/v1/brands/" + quote(normalize_handle(handle), safe="")
        return Brand.from_json(await self.call("GET", path, auth=False))

    # --- conversations -----------------------------------------------------------------

    async def conversations(
        self, *, status: str | None = None, limit: int = 50, before: str | None = None
    ) -> ConversationPage:
        page = await self.call(
            "GET", "/v1/conversations", params={"status": status, "limit": limit, "before": before}
        )
        return ConversationPage(
            conversations=tuple(Conversation.from_json(item) for item in page["conversations"]),
            next=page.get("next"),
        )

    async def all_conversations(self, *, status: str | None = None) -> list[Conversation]:
        found: list[Conversation] = []
        before: str | None = None
        while True:
            page = await self.conversations(status=status, limit=200, before=before)
            found += page.conversations
            if page.next is None:
                return found
            before = page.next

    async def conversation(self, conversation_id: str) -> Conversation:
        path = "/v1/conversations/" + quote(conversation_id, safe="")
        return Conversation.from_json(await self.call("GET", path))

    async def messages(
        self, conversation_id: str, *, after_seq: int = 0, limit: int = 100
    ) -> MessagePage:
        path = f"/v1/conversations/{quote(conversation_id, safe='')}/messages"
        page = await self.call("GET", path, params={"after_seq": after_seq, "limit": limit})
        return MessagePage(
            messages=tuple(Message.from_json(item) for item in page["messages"]),
            last_seq=int(page["last_seq"]),
        )

    async def history(self, conversation_id: str, *, after_seq: int = 0) -> list[Message]:
        found: list[Message] = []
        while True:
            page = await self.messages(conversation_id, after_seq=after_seq, limit=500)
            found += page.messages
            if len(page.messages) < 500:
                return found
            after_seq = page.messages[-1].seq

    # --- push devices ------------------------------------------------------------------

    async def register_device(self, platform: str, push_token: str) -> None:
        body = {"platform": platform, "push_token": push_token}
        await self.call("POST", "/v1/devices", json=body)

    async def unregister_device(self, push_token: str) -> None:
        await self.call("DELETE", "/v1/devices/" + quote(push_token, safe=""))


def _error(response: httpx.Response) -> ApiError:
    code, message = "http_error", response.reason_phrase or f"HTTP {response.status_code}"
    try:
        detail = response.json()["error"]
        code, message = str(detail["code"]), str(detail["message"])
    except (ValueError, KeyError, TypeError):
        pass  # not the contract's error shape (a proxy's page, say): keep the HTTP reason
    if response.status_code == 401:
        return AuthError(code, message)
    return ApiError(response.status_code, code, message)
