"""Browser sessions, against a real gateway: the HttpOnly cookie, CSRF on every state change,
the socket signed in by the cookie, and the headers our pages are served with."""

from __future__ import annotations

from collections.abc import AsyncIterator
from http.cookies import SimpleCookie

import httpx
import pytest
import websockets

from tests.clients import HTTP_LIMITS, Api, Socket, User
from tests.gateway_process import GatewayProcess

PASSWORD = "correct horse"


class Browser:
    """What a browser does with our cookies: keeps them, sends them back, shows none to JS
    but the CSRF one (which a page of ours copies into X-CSRF-Token)."""

    def __init__(self, gateway: GatewayProcess) -> None:
        self.gateway = gateway
        self.origin = gateway.http_url
        self.http = httpx.AsyncClient(base_url=gateway.http_url, timeout=30, limits=HTTP_LIMITS)

    async def close(self) -> None:
        await self.http.aclose()

    async def open_page(self, path: str = "/app") -> httpx.Response:
        page = await self.http.get(path)
        assert page.status_code == 200, page.text
        return page

    @property
    def csrf(self) -> str:
        return self.http.cookies["atdesk_csrf"]

    async def post(self, path: str, body: object, **headers: str) -> httpx.Response:
        merged = {"origin": self.origin, "x-csrf-token": self.csrf, **headers}
        return await self.http.post(path, json=body, headers=merged)

    async def sign_in(self, user: User) -> httpx.Response:
        await self.open_page()
        return await self.post("/v1/web/session", {"email": user.email, "password": PASSWORD})


@pytest.fixture
async def browser(gateway: GatewayProcess) -> AsyncIterator[Browser]:
    page = Browser(gateway)
    yield page
    await page.close()


def set_cookies(response: httpx.Response) -> dict[str, SimpleCookie]:
    found: dict[str, SimpleCookie] = {}
    for header in response.headers.get_list("set-cookie"):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        for name in cookie:
            found[name] = cookie
    return found


async def test_signing_in_puts_the_session_in_an_httponly_strict_cookie(
    api: Api, browser: Browser
) -> None:
    user = await api.sign_up("lea")
    response = await browser.sign_in(user)
    assert response.status_code == 201, response.text
    assert response.json() == {
        "account_id": user.account_id,
        "expires_at": response.json()["expires_at"],
    }
    assert "token" not in response.json()  # the page never holds the session
    cookie = set_cookies(response)["atdesk_session"]["atdesk_session"]
    assert cookie["httponly"] is True
    assert cookie["samesite"].lower() == "strict"
    assert cookie["path"] == "/"
    assert not cookie["secure"]  # plain http: a Secure cookie would never come back
    me = await browser.http.get("/v1/me")
    assert me.status_code == 200, me.text
    assert me.json()["id"] == user.account_id


async def test_behind_a_trusted_tls_proxy_the_cookies_are_secure(
    own_gateway: GatewayProcess,
) -> None:
    own_gateway.env["ATDESK_TRUSTED_PROXIES"] = "127.0.0.1"
    own_gateway.start()
    api = Api(own_gateway.http_url)
    browser = Browser(own_gateway)
    try:
        user = await api.sign_up("lea")
        https = {"x-forwarded-proto": "https"}
        page = await browser.http.get("/console", headers=https)
        csrf = set_cookies(page)["atdesk_csrf"]["atdesk_csrf"]
        assert csrf["secure"] is True
        # httpx, like a browser, keeps Secure cookies off plain http: hand it back by hand.
        response = await api.http.post(
            "/v1/web/session", json={"email": user.email, "password": PASSWORD},
            headers={**https, "cookie": f"atdesk_csrf={csrf.value}", "x-csrf-token": csrf.value},
        )  # fmt: skip
        assert response.status_code == 201, response.text
        assert set_cookies(response)["atdesk_session"]["atdesk_session"]["secure"] is True
    finally:
        await api.close()
        await browser.close()


async def test_forwarded_headers_are_ignored_unless_the_proxy_is_trusted(
    api: Api, browser: Browser
) -> None:
    user = await api.sign_up("lea")
    await browser.open_page()
    response = await browser.post(
        "/v1/web/session", {"email": user.email, "password": PASSWORD},
        **{"x-forwarded-proto": "https"},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    assert not set_cookies(response)["atdesk_session"]["atdesk_session"]["secure"]


async def test_signing_in_needs_the_csrf_token_too(api: Api, browser: Browser) -> None:
    """A forged sign-in would sign the victim in to the attacker's account (login CSRF)."""
    user = await api.sign_up("lea")
    await browser.open_page()
    body = {"email": user.email, "password": PASSWORD}
    missing = await browser.http.post("/v1/web/session", json=body)
    wrong = await browser.post("/v1/web/session", body, **{"x-csrf-token": "guess"})
    for response in (missing, wrong):
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "csrf_failed"
        assert "atdesk_session" not in set_cookies(response)


@pytest.mark.parametrize(
    "flaw",
    ["no-header", "wrong-header", "foreign-origin", "no-csrf-cookie"],
)
async def test_a_cookie_session_changes_nothing_without_csrf_proof(
    api: Api, browser: Browser, flaw: str
) -> None:
    user = await api.sign_up("lea")
    assert (await browser.sign_in(user)).status_code == 201
    handle = f"h{user.account_id[-10:].lower()}"
    body = {"handle": handle, "name": "Forged"}
    token = browser.csrf
    if flaw == "no-header":
        response = await browser.http.post("/v1/brands", json=body)
    elif flaw == "wrong-header":
        response = await browser.post("/v1/brands", body, **{"x-csrf-token": "x" * 43})
    elif flaw == "foreign-origin":
        response = await browser.post("/v1/brands", body, origin="https://evil.example")
    else:
        browser.http.cookies.delete("atdesk_csrf")
        response = await browser.http.post(
            "/v1/brands", json=body, headers={"x-csrf-token": token, "origin": browser.origin}
        )
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "csrf_failed"
    assert (await api.call("GET", f"/v1/brands/{handle}")).status_code == 404
    # The same request with the proof goes through: the refusal was the CSRF check's.
    if flaw == "no-csrf-cookie":
        browser.http.cookies.set("atdesk_csrf", token, domain="127.0.0.1")
    allowed = await browser.post("/v1/brands", body)
    assert allowed.status_code == 201, allowed.text


async def test_bearer_clients_need_no_csrf_token(api: Api) -> None:
    # Apps and servers send a bearer header, which no other site can make a browser send.
    user = await api.sign_up("owner")
    response = await api.call("POST", "/v1/brands", user, json={"handle": "", "name": "x"})
    assert response.json()["error"]["code"] != "csrf_failed"


async def test_the_socket_signs_in_with_the_cookie_and_dies_with_the_session(
    gateway: GatewayProcess, api: Api, browser: Browser
) -> None:
    user = await api.sign_up("lea")
    assert (await browser.sign_in(user)).status_code == 201
    cookie = "; ".join(f"{name}={value}" for name, value in browser.http.cookies.items())
    socket = await Socket.open(
        gateway.ws_url, additional_headers={"cookie": cookie, "origin": browser.origin}
    )
    await socket.send_json({"type": "hello", "client": "tests/1"})
    welcome = await socket.recv()
    assert welcome["type"] == "welcome" and welcome["account_id"] == user.account_id

    signed_out = await browser.http.delete(
        "/v1/web/session", headers={"x-csrf-token": browser.csrf, "origin": browser.origin}
    )
    assert signed_out.status_code == 204, signed_out.text
    assert set_cookies(signed_out)["atdesk_session"]["atdesk_session"].value == ""
    assert await socket.closed_with() == 4401
    assert (await browser.http.get("/v1/me")).status_code == 401
    # The old cookie, replayed, is dead too.
    replay = await api.http.get("/v1/me", headers={"cookie": cookie})
    assert replay.status_code == 401


async def test_a_hello_without_token_or_cookie_is_unauthenticated(gateway: GatewayProcess) -> None:
    socket = await Socket.open(gateway.ws_url)
    await socket.send_json({"type": "hello"})
    assert await socket.closed_with() == 4401


async def test_another_site_cannot_open_a_socket_with_the_cookie(
    gateway: GatewayProcess, api: Api, browser: Browser
) -> None:
    user = await api.sign_up("lea")
    assert (await browser.sign_in(user)).status_code == 201
    cookie = "; ".join(f"{name}={value}" for name, value in browser.http.cookies.items())
    with pytest.raises(websockets.InvalidStatus) as refused:
        await Socket.open(
            gateway.ws_url, additional_headers={"cookie": cookie, "origin": "https://evil.example"}
        )
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize("path", ["/console", "/app"])
async def test_pages_are_served_with_a_strict_content_security_policy(
    browser: Browser, path: str
) -> None:
    page = await browser.open_page(path)
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    csrf = set_cookies(page)["atdesk_csrf"]["atdesk_csrf"]
    assert len(csrf.value) >= 40 and csrf["samesite"].lower() == "strict"
    assert not csrf["httponly"]  # the page must read it to send it back in a header
    # A second visit keeps the token it has (open tabs keep working).
    again = await browser.http.get(path)
    assert "atdesk_csrf" not in set_cookies(again)


async def test_the_sdk_is_served_as_a_module(browser: Browser) -> None:
    sdk = await browser.http.get("/sdk/atdesk.js")
    assert sdk.status_code == 200
    assert sdk.headers["content-type"].startswith("text/javascript")
    assert "export class AtdeskClient" in sdk.text


async def test_the_root_leads_a_newcomer_to_the_app(browser: Browser) -> None:
    response = await browser.http.get("/")
    assert response.status_code == 302
    assert response.headers["location"] == "/app"
