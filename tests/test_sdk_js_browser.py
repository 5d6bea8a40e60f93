"""The JavaScript SDK in headless Chromium (Debian's), against a real gateway: the browser's
own fetch, WebSocket and localStorage, as an app of a company would run it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Page

from tests.browser import PageWatch, chromium, new_page
from tests.clients import Api, Socket
from tests.gateway_process import GatewayProcess

PASSWORD = "correct horse"

# Loaded into a page of the gateway's origin (its API answers carry no CORS headers).
START = """async ([options]) => {
  const sdk = await import('/sdk/atdesk.js');
  const client = new sdk.AtdeskClient(location.origin, options);
  window.client = client;
  window.received = [];
  client.on('message', (message) => window.received.push(message));
  return true;
}"""


@pytest.fixture
async def page(gateway: GatewayProcess) -> AsyncIterator[Page]:
    watch = PageWatch()
    async with chromium() as browser:
        context, opened = await new_page(browser, watch)
        await opened.goto(gateway.http_url + "/healthz")
        yield opened
        await context.close()
    assert watch.errors == []


async def start_client(page: Page, **options: Any) -> None:
    await page.evaluate(START, [options])


async def received_texts(page: Page, count: int) -> list[str]:
    await page.wait_for_function(f"window.received.length >= {count}", timeout=10_000)
    texts: list[str] = await page.evaluate("window.received.map((m) => m.text)")
    return texts


async def test_sign_up_send_and_receive_in_a_browser(
    gateway: GatewayProcess, api: Api, page: Page
) -> None:
    owner = await api.sign_up("owner")
    handle = await api.create_brand(owner, "acme")
    agent_socket = await Socket.open(gateway.ws_url, owner)
    await start_client(page, storage=None)
    ack = await page.evaluate(
        """async ([email, password, handle]) => {
             await client.signUp(email, password, 'Lea');
             await client.signIn(email, password, 'chromium');
             await client.connect();
             return client.send('@' + handle, 'hello from a browser');
           }""",
        [f"lea-{owner.account_id[-8:].lower()}@example.com", PASSWORD, handle],
    )
    assert ack["seq"] == 1
    [seen] = await agent_socket.messages(1)
    assert (seen["text"], seen["seq"]) == ("hello from a browser", 1)
    reply = await agent_socket.send_message(
        "hi, how can I help?", conversation_id=seen["conversation_id"]
    )
    # Its own message comes back too (for the user's other devices), then the reply.
    assert await received_texts(page, 2) == ["hello from a browser", "hi, how can I help?"]
    # The same message again (a sync after a reconnect, say) is not handed on twice.
    await page.evaluate("client.sync()")
    assert await page.evaluate("window.received.length") == 2
    assert reply["seq"] == 2
    await agent_socket.close()


async def test_a_message_queued_before_a_reload_is_sent_after_it_once(
    gateway: GatewayProcess, api: Api, page: Page
) -> None:
    owner = await api.sign_up("owner")
    handle = await api.create_brand(owner, "acme")
    consumer = await api.sign_up("lea")
    options = {"token": consumer.token, "accountId": consumer.account_id}
    await start_client(page, **options)
    # Not connected: the message waits in the outbox, which lives in localStorage.
    await page.evaluate(
        "([handle]) => { client.send('@' + handle, 'sent before the reload').catch(() => {}); }",
        [handle],
    )
    assert await page.evaluate("client.pending().length") == 1
    await page.reload()
    await start_client(page, **options)
    assert await page.evaluate("client.pending().map((m) => m.text)") == ["sent before the reload"]
    await page.evaluate("client.connect().then(() => client.flush())")
    conversations = await api.call("GET", "/v1/conversations", consumer)
    [conversation] = conversations.json()["conversations"]
    history = await api.history(consumer, conversation["id"])
    # Nobody of the brand online: the gateway's automatic answer follows it.
    assert [(m["sender"]["role"], m["seq"]) for m in history] == [("consumer", 1), ("system", 2)]
    assert history[0]["text"] == "sent before the reload"
    assert await page.evaluate("client.pending().length") == 0


async def test_a_cookie_session_never_shows_its_token_to_the_page(
    gateway: GatewayProcess, api: Api, page: Page
) -> None:
    owner = await api.sign_up("owner")
    handle = await api.create_brand(owner, "acme")
    consumer = await api.sign_up("lea")
    agent_socket = await Socket.open(gateway.ws_url, owner)
    await page.goto(gateway.http_url + "/app")  # hands out the CSRF cookie
    await start_client(page, session="cookie", storage=None)
    session = await page.evaluate(
        """async ([email, password, handle]) => {
             const session = await client.signIn(email, password);
             await client.connect();
             await client.send('@' + handle, 'hello over a cookie session');
             return session;
           }""",
        [consumer.email, PASSWORD, handle],
    )
    assert session["account_id"] == consumer.account_id and "token" not in session
    assert "atdesk_session" not in await page.evaluate("document.cookie")
    [seen] = await agent_socket.messages(1)
    assert seen["text"] == "hello over a cookie session"
    await page.evaluate("client.signOut()")
    await page.wait_for_function("client.state === 'failed'", timeout=10_000)
    await agent_socket.close()
