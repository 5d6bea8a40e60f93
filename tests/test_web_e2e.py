"""Issue 4's end-to-end run: an agent in the brand console (laptop) and a consumer in the
app (phone), two browser contexts of Debian's Chromium, on one real gateway that is stopped
and started again in the middle.

1. The consumer's new message appears in the console without a reload within 1 s; the
   agent replies with Enter; the app shows the reply; resolve moves the thread to resolved
   in both.
2. Offline, then online: the app sends while the gateway is stopped; the gateway restarts;
   the message arrives exactly once.
3. `<img src=x onerror=alert(1)>` shows as text in both apps, and no dialog opens.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from playwright.async_api import Page, expect

from tests.browser import LAPTOP, PHONE, PageWatch, chromium, new_page
from tests.clients import Api, User
from tests.gateway_process import GatewayProcess

PASSWORD = "correct horse"
XSS = "<img src=x onerror=alert(1)>"
# The "within 1 s": from the app showing the message as committed (acked) to the
# console showing it. The one timed assertion of the suite, because the issue asks for it.
LIVE_WITHIN_MS = 1_000
WAIT_MS = 15_000  # anything else: as long as a loaded machine needs


@dataclass
class Desk:
    gateway: GatewayProcess
    api: Api
    handle: str
    agent: User
    consumer: User
    console: Page
    app: Page
    watch: PageWatch


async def sign_in(page: Page, user: User) -> None:
    await page.fill("#signin-email", user.email)
    await page.fill("#signin-password", PASSWORD)
    await page.click("#signin-submit")


@pytest.fixture
async def desk(own_gateway: GatewayProcess) -> AsyncIterator[Desk]:
    own_gateway.start()
    api = Api(own_gateway.http_url)
    owner = await api.sign_up("owner")
    agent = await api.sign_up("agent")
    consumer = await api.sign_up("lea")
    handle = await api.create_brand(owner, "acme")
    await api.add_member(owner, handle, agent)
    watch = PageWatch()
    async with chromium() as browser:
        console_context, console = await new_page(browser, watch, **LAPTOP)
        app_context, app = await new_page(browser, watch, **PHONE)
        console.set_default_timeout(WAIT_MS)
        app.set_default_timeout(WAIT_MS)
        await console.goto(own_gateway.http_url + "/console")
        await sign_in(console, agent)
        await expect(console.locator("#connection")).to_contain_text("connected")
        await app.goto(own_gateway.http_url + "/app")
        await sign_in(app, consumer)
        await expect(app.locator("#connection")).to_contain_text("online")
        yield Desk(own_gateway, api, handle, agent, consumer, console, app, watch)
        await console_context.close()
        await app_context.close()
    await api.close()


async def app_send(app: Page, text: str) -> None:
    await app.fill("#compose", text)
    await app.press("#compose", "Enter")


async def start_thread(desk: Desk, text: str) -> str:
    """The consumer's first message to the brand, typed in the app: @ha..., pick, write."""
    app = desk.app
    await app.click("#new-chat")
    await expect(app.locator("#to")).to_be_focused()  # opened: cleared, then focused
    await app.fill("#to", f"@{desk.handle[:4]}")
    await app.click(f'#brand-suggestions .suggestion[data-handle="{desk.handle}"]')
    await app_send(app, text)
    committed = app.locator("#messages .message[data-seq]", has_text=text)
    await expect(committed).to_have_count(1)
    conversations = await desk.api.call("GET", "/v1/conversations", desk.consumer)
    [conversation] = conversations.json()["conversations"]
    return str(conversation["id"])


async def texts_at_brand(desk: Desk, conversation_id: str) -> list[str]:
    return [m["text"] for m in await desk.api.history(desk.agent, conversation_id)]


async def test_console_and_app_live_then_resolved_in_both(desk: Desk) -> None:
    console, app = desk.console, desk.app
    conversation_id = await start_thread(desk, "my order 123 has not arrived")
    item = console.locator(f'.inbox-item[data-conversation-id="{conversation_id}"]')
    await expect(item).to_be_visible(timeout=LIVE_WITHIN_MS)  # no reload, within 1 s

    # A second message into the open thread: also live, also within 1 s.
    await item.click()
    await expect(console.locator("#messages .message-text").last).to_have_text(
        "my order 123 has not arrived"
    )
    await app_send(app, "it was due on Monday")
    await expect(app.locator("#messages .message[data-seq]", has_text="Monday")).to_have_count(1)
    await expect(
        console.locator("#messages .message-text", has_text="it was due on Monday")
    ).to_be_visible(timeout=LIVE_WITHIN_MS)

    await console.fill("#reply", "Sorry! It ships today, here is the tracking link.")
    await console.press("#reply", "Enter")
    await expect(app.locator("#messages .message-text", has_text="It ships today")).to_be_visible()
    await expect(console.locator("#reply")).to_have_value("")

    await console.click("#resolve")
    await expect(console.locator("#thread-status")).to_have_text("resolved")
    await expect(app.locator("#chat-status")).to_have_text("resolved")
    await console.click("#filter-resolved")
    await expect(item.locator(".inbox-status")).to_have_text("resolved")
    await app.goto(desk.gateway.http_url + "/app#/threads")
    thread = app.locator(f'.thread[data-conversation-id="{conversation_id}"]')
    await expect(thread.locator(".thread-status")).to_have_text("resolved")
    assert desk.watch.errors == []


async def test_a_message_sent_offline_arrives_once_after_the_gateway_restarts(
    desk: Desk,
) -> None:
    console, app = desk.console, desk.app
    conversation_id = await start_thread(desk, "are you there?")
    await console.click(f'.inbox-item[data-conversation-id="{conversation_id}"]')

    desk.gateway.stop()
    await expect(app.locator("#connection")).to_contain_text("offline")
    await app_send(app, "sent while you were down")
    await expect(
        app.locator("#messages .message.pending", has_text="while you were")
    ).to_be_visible()

    desk.gateway.start()
    await expect(app.locator("#connection")).to_contain_text("online")
    committed = app.locator("#messages .message[data-seq]", has_text="while you were down")
    await expect(committed).to_have_count(1)
    await expect(app.locator("#messages .message.pending")).to_have_count(0)
    # If the app resent before the console was back, nobody was online: the gateway may
    # have answered it (PROTOCOL 6), once.
    texts = await texts_at_brand(desk, conversation_id)
    answers = [m for m in await desk.api.history(desk.agent, conversation_id)
               if m["sender"]["role"] == "system"]  # fmt: skip
    assert len(answers) <= 1
    assert [t for t in texts if t not in {a["text"] for a in answers}] == [
        "are you there?",
        "sent while you were down",
    ]
    # The console reconnected (after its back-off, which the outage grew: the SDK's 0.5 s
    # doubling) and caught up by itself, and shows it once. On a busy machine the thread
    # opened above may not have loaded before the gateway stopped: it loads again.
    await expect(console.locator("#connection")).to_have_text("connected", timeout=30_000)
    await expect(
        console.locator("#messages .message-text", has_text="while you were down")
    ).to_have_count(1, timeout=WAIT_MS)
    assert desk.watch.errors == []


async def test_a_thread_opened_while_the_gateway_is_down_loads_once_it_is_back(
    desk: Desk,
) -> None:
    console = desk.console
    conversation_id = await start_thread(desk, "are you there?")
    desk.gateway.stop()
    await expect(console.locator("#connection")).to_contain_text("offline")
    await console.click(f'.inbox-item[data-conversation-id="{conversation_id}"]')
    await expect(console.locator("#thread-error")).to_be_visible()

    desk.gateway.start()
    # Within the back-off the outage grew (the SDK's 0.5 s doubling), then a reload.
    await expect(console.locator("#connection")).to_have_text("connected", timeout=30_000)
    await expect(console.locator("#messages .message-text").first).to_have_text("are you there?")
    await expect(console.locator("#thread-error")).to_be_hidden()
    await app_send(desk.app, "and now?")
    await expect(console.locator("#messages .message-text", has_text="and now?")).to_be_visible()


async def test_a_chat_opened_in_the_app_while_the_gateway_is_down_loads_once_it_is_back(
    desk: Desk,
) -> None:
    app = desk.app
    conversation_id = await start_thread(desk, "are you there?")
    # A fresh page knows the thread from its list, not its messages.
    await app.goto(desk.gateway.http_url + "/app#/threads")
    await app.reload()  # the navigation above only changed the hash
    await expect(app.locator("#connection")).to_have_text("online")
    desk.gateway.stop()
    await expect(app.locator("#connection")).to_contain_text("offline")
    await app.click(f'.thread[data-conversation-id="{conversation_id}"]')
    await expect(app.locator("#chat-error")).to_be_visible()
    await expect(app.locator("#messages .message-text")).to_have_count(0)

    desk.gateway.start()
    # Within the app's back-off (at most 5 s between attempts), then a reload.
    await expect(app.locator("#connection")).to_have_text("online", timeout=30_000)
    await expect(app.locator("#messages .message-text").first).to_have_text("are you there?")
    await expect(app.locator("#chat-error")).to_be_hidden()


async def test_markup_in_a_message_is_text_in_both_apps_and_runs_nothing(desk: Desk) -> None:
    console, app = desk.console, desk.app
    conversation_id = await start_thread(desk, XSS)
    await console.click(f'.inbox-item[data-conversation-id="{conversation_id}"]')
    # Opening a thread clears its reply box: type once the thread is there.
    await expect(console.locator("#messages .message-text").first).to_have_text(XSS)
    await console.fill("#reply", f"you wrote {XSS}")
    await console.press("#reply", "Enter")

    for page in (console, app):
        shown = page.locator("#messages .message-text")
        await expect(shown.filter(has_text=f"you wrote {XSS}")).to_have_count(1)
        await expect(shown.filter(has_text=XSS).first).to_have_text(XSS)
        assert await page.locator("#messages img").count() == 0
    assert await texts_at_brand(desk, conversation_id) == [XSS, f"you wrote {XSS}"]
    assert desk.watch.dialogs == []
    assert desk.watch.errors == []
