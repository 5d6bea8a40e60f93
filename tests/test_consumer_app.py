"""The consumer web app (/app) in real Chromium on a phone viewport, against a real gateway.

Agents and brands are set up over HTTP and the socket (tests/clients.py), as the brand
console or any third-party client would; the consumer only ever uses the app."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser import PHONE, PageWatch, chromium, new_page
from tests.clients import Api, Socket, User, unique
from tests.gateway_process import GatewayProcess

MARKUP = "<img src=x onerror=alert(1)>"
# Generous for a shared two-core machine; expect() returns as soon as the page is right.
LIVE_MS = 10_000
RECONNECT_MS = 25_000


@dataclass
class Desk:
    handle: str
    owner: User
    agent: User


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def make_desk(api: Api) -> Desk:
    owner, agent, handle = await api.desk("acme", agent="sam")
    return Desk(handle, owner, agent)


async def open_app(browser: Browser, base_url: str) -> tuple[Page, PageWatch]:
    watch = PageWatch()
    _, page = await new_page(browser, watch, **PHONE)
    await page.goto(f"{base_url}/app")
    return page, watch


async def sign_in(page: Page, email: str, password: str = "correct horse") -> None:
    await page.locator("#signin-email").fill(email)
    await page.locator("#signin-password").fill(password)
    await page.locator("#signin-submit").click()
    await expect(page.locator("#threads")).to_be_attached()
    await expect(page.locator("#new-chat")).to_be_visible()
    await expect(page.locator("#connection")).to_contain_text("online", timeout=LIVE_MS)


async def start_chat(page: Page, handle: str, text: str) -> str:
    """Find the brand with the @ field, send the first message; the new conversation's id."""
    await page.locator("#new-chat").click()
    # The view clears the field and then focuses it when it opens: what is typed before
    # that is lost.
    await expect(page.locator("#to")).to_be_focused()
    # All but the last letter: a prefix, yet only this brand's (the shared gateway holds
    # hundreds of @acme... brands of other tests; the directory answers a page of 8).
    await page.locator("#to").press_sequentially(handle[:-1], delay=30)
    await page.locator(f'#brand-suggestions .suggestion[data-handle="{handle}"]').click()
    await page.locator("#compose").fill(text)
    await page.locator("#compose").press("Enter")
    await expect(page).to_have_url(re.compile(r"#/c/c_"), timeout=LIVE_MS)
    return page.url.rsplit("/", 1)[1]


def assert_clean(watch: PageWatch) -> None:
    assert watch.dialogs == [], watch.dialogs
    assert watch.errors == [], watch.errors


async def test_sign_up_sign_out_and_sign_in(browser: Browser, gateway: GatewayProcess) -> None:
    page, watch = await open_app(browser, gateway.http_url)
    email = f"{unique('lea')}@example.com"
    await page.locator("#show-signup").click()
    await page.locator("#signup-name").fill("Lea")
    await page.locator("#signup-email").fill(email)
    await page.locator("#signup-password").fill("a long password")
    await page.locator("#signup-submit").click()
    await expect(page.locator("#new-chat")).to_be_visible()
    await expect(page.locator("#connection")).to_contain_text("online", timeout=LIVE_MS)

    await page.locator("#signout").click()
    await expect(page.locator("#signin-email")).to_be_visible()
    await expect(page.locator("#connection")).not_to_contain_text("online")
    # Signed out for real: a reload does not bring the session back.
    await page.reload()
    await expect(page.locator("#signin-email")).to_be_visible()

    await page.locator("#signin-email").fill(email)
    await page.locator("#signin-password").fill("not the password")
    await page.locator("#signin-submit").click()
    await expect(page.locator("#signin-error")).to_have_text("Wrong email or password.")
    await sign_in(page, email, "a long password")
    await expect(page.locator("#whoami")).to_contain_text("Lea")
    assert_clean(watch)


async def test_autocomplete_first_message_live_reply(
    browser: Browser, gateway: GatewayProcess, api: Api
) -> None:
    desk = await make_desk(api)
    lea = await api.sign_up("lea")
    agent = await Socket.open(gateway.ws_url, desk.agent)
    try:
        page, watch = await open_app(browser, gateway.http_url)
        await sign_in(page, lea.email)

        # The @ field searches the directory as one types.
        await page.locator("#new-chat").click()
        await expect(page.locator("#to")).to_be_focused()  # opened: cleared, then focused
        await page.locator("#to").press_sequentially(desk.handle[:-1], delay=40)
        suggestion = page.locator(f'#brand-suggestions .suggestion[data-handle="{desk.handle}"]')
        await expect(suggestion).to_contain_text("Acme Inc")
        await suggestion.click()
        await page.locator("#compose").fill("Hi! My order 1234 has not arrived yet.")
        await page.locator("#compose").press("Enter")
        await expect(page).to_have_url(re.compile(r"#/c/c_"), timeout=LIVE_MS)
        conversation_id = page.url.rsplit("/", 1)[1]
        first = page.locator('#messages .message[data-seq="1"]')
        await expect(first.locator(".message-text")).to_have_text(
            "Hi! My order 1234 has not arrived yet."
        )
        await expect(page.locator("#chat-status")).to_have_text("open")

        received = await agent.recv_until("message")
        assert received["message"]["conversation_id"] == conversation_id

        # The agent types, then answers: both show live.
        await agent.send_json({"type": "typing", "conversation_id": conversation_id})
        await expect(page.locator("#typing")).to_be_visible(timeout=LIVE_MS)
        reply = "Sorry to hear that, Lea! Let me check with the courier."
        await agent.send_message(reply, conversation_id=conversation_id)
        second = page.locator('#messages .message[data-seq="2"]')
        await expect(second.locator(".message-text")).to_have_text(reply, timeout=LIVE_MS)
        await expect(second.locator(".message-sender")).to_have_text("Sam")
        # The chat is on screen, so the app tells the brand it was read.
        read = await agent.recv_until("read", conversation_id=conversation_id, seq=2)
        assert read["account_id"] == lea.account_id

        await agent.send_message(
            "It is at the depot and will be delivered tomorrow morning.",
            conversation_id=conversation_id,
        )
        await expect(page.locator('#messages .message[data-seq="3"]')).to_be_visible()
        await page.locator("#compose").fill("Great, thank you!")
        await page.locator("#send").click()
        await expect(page.locator('#messages .message[data-seq="4"]')).to_contain_text(
            "Great, thank you!"
        )
        await expect(page.locator("#messages .message.pending")).to_have_count(0)

        # The thread is listed, open; resolving moves it to resolved, live.
        await page.locator("#back").click()
        thread = page.locator(f'#threads .thread[data-conversation-id="{conversation_id}"]')
        await expect(thread.locator(".thread-brand")).to_contain_text(f"@{desk.handle}")
        await expect(thread.locator(".thread-status")).to_have_text("open")
        await expect(thread.locator(".thread-unread")).to_be_hidden()
        resolved = await api.call(
            "POST", f"/v1/conversations/{conversation_id}/resolve", desk.agent
        )
        assert resolved.status_code == 200, resolved.text
        await expect(thread.locator(".thread-status")).to_have_text("resolved", timeout=LIVE_MS)

        # A message that arrives while the list is on screen counts as unread.
        await agent.send_message(
            "One more thing: keep your receipt.", conversation_id=conversation_id
        )
        await expect(thread.locator(".thread-unread")).to_have_text("1", timeout=LIVE_MS)
        await thread.click()
        await expect(page.locator("#chat-status")).to_have_text("resolved")
        await expect(page.locator('#messages .message[data-seq="5"]')).to_be_visible()
        assert_clean(watch)
    finally:
        await agent.close()


async def test_markup_shows_as_text(browser: Browser, gateway: GatewayProcess, api: Api) -> None:
    desk = await make_desk(api)
    lea = await api.sign_up("lea")
    agent = await Socket.open(gateway.ws_url, desk.agent)
    try:
        page, watch = await open_app(browser, gateway.http_url)
        await sign_in(page, lea.email)
        conversation_id = await start_chat(page, desk.handle, MARKUP)
        await agent.send_message(MARKUP, conversation_id=conversation_id)
        texts = page.locator("#messages .message .message-text")
        await expect(texts).to_have_text([MARKUP, MARKUP], timeout=LIVE_MS)
        await expect(page.locator("#messages img")).to_have_count(0)
        # The list's preview is text too.
        await page.locator("#back").click()
        thread = page.locator(f'.thread[data-conversation-id="{conversation_id}"]')
        await expect(thread).to_contain_text(MARKUP)
        await expect(page.locator("#threads img")).to_have_count(0)
        assert_clean(watch)
    finally:
        await agent.close()


async def test_offline_then_online_delivers_once(
    browser: Browser, own_gateway: GatewayProcess
) -> None:
    own_gateway.start()
    api = Api(own_gateway.http_url)
    try:
        desk = await make_desk(api)
        lea = await api.sign_up("lea")
        page, watch = await open_app(browser, own_gateway.http_url)
        await sign_in(page, lea.email)
        conversation_id = await start_chat(page, desk.handle, "Before the outage")
        # Nobody of the brand is online: the gateway's answer is shown as its own.
        answer = page.locator('#messages .message.system[data-seq="2"]')
        await expect(answer).to_contain_text("is online right now")

        await asyncio.to_thread(own_gateway.stop)
        await expect(page.locator("#connection")).to_contain_text("offline", timeout=LIVE_MS)
        text = "Typed while the gateway was down"
        await page.locator("#compose").fill(text)
        await page.locator("#compose").press("Enter")
        pending = page.locator("#messages .message.pending")
        await expect(pending.locator(".message-text")).to_have_text(text)
        assert await pending.get_attribute("data-seq") is None

        await asyncio.to_thread(own_gateway.start)
        confirmed = page.locator('#messages .message[data-seq="3"] .message-text')
        await expect(confirmed).to_have_text(text, timeout=RECONNECT_MS)
        await expect(pending).to_have_count(0)
        await expect(page.locator("#connection")).to_contain_text("online")

        history = await api.history(desk.agent, conversation_id)
        assert [m["sender"]["role"] for m in history] == ["consumer", "system", "consumer"]
        assert [m["text"] for m in history][::2] == ["Before the outage", text]
        # A reload neither resends nor loses it.
        await page.reload()
        await expect(page.locator("#messages .message[data-seq]")).to_have_count(3)
        await expect(page.locator("#messages .message.pending")).to_have_count(0)
        assert await api.history(desk.agent, conversation_id) == history
        assert_clean(watch)
    finally:
        await api.close()


async def test_brand_profile_shows_public_figures(
    browser: Browser, gateway: GatewayProcess, api: Api
) -> None:
    desk = await make_desk(api)
    lea = await api.sign_up("lea")
    brand = (await api.call("GET", f"/v1/brands/{desk.handle}")).json()
    page, watch = await open_app(browser, gateway.http_url)
    await sign_in(page, lea.email)
    await page.goto(f"{gateway.http_url}/app#/b/{desk.handle}")
    profile = page.locator("#brand-profile")
    await expect(profile).to_be_visible()
    await expect(page.locator("#brand-name")).to_contain_text("Acme Inc")
    figures = page.locator("#service-figures")
    median = brand["service"]["median_first_response_s"]
    if median is None:  # a new brand: nothing measured yet, and the page says so
        await expect(figures).to_contain_text("not enough data yet")
    else:
        await expect(figures).to_contain_text("usually answers in ~")
    await expect(page.locator("#follow")).to_have_text(re.compile(r"^Follow(ing)?$"))

    # "Message @handle" opens a chat with the brand.
    await page.locator("#message-brand").click()
    await expect(page).to_have_url(re.compile(rf"#/to/{desk.handle}$"))
    await expect(page.locator("#compose")).to_be_visible()
    assert_clean(watch)


async def test_service_figures_format(browser: Browser, gateway: GatewayProcess, api: Api) -> None:
    """The profile turns the gateway's figures into words: a stubbed brand object."""
    page, watch = await open_app(browser, gateway.http_url)
    brand = {
        "handle": "figures", "name": "Figures Ltd", "verified": True, "description": "x",
        "service": {"median_first_response_s": 420, "csat": 4.6, "rated_cases": 312,
                    "resolved_cases": 400, "window_days": 30},
        "hours": {"time_zone": "Europe/Paris", "weekly": {"mon": [["09:00", "17:00"]]}},
    }  # fmt: skip
    await page.route("**/v1/brands/figures", lambda route: route.fulfill(json=brand, status=200))
    lea = await api.sign_up("lea")
    await sign_in(page, lea.email)
    await page.goto(f"{gateway.http_url}/app#/b/figures")
    figures = page.locator("#service-figures")
    await expect(figures).to_contain_text("usually answers in ~7 min")
    await expect(figures).to_contain_text("4.6 / 5")
    await expect(figures).to_contain_text("312")
    await expect(page.locator("#brand-name")).to_contain_text("Verified")
    await expect(page.locator("#opening-hours")).to_contain_text("Monday")
    await expect(page.locator("#opening-hours")).to_contain_text("09:00–17:00")
    await expect(page.locator("#opening-hours")).to_contain_text("Closed")
    assert_clean(watch)


async def test_follow_toggles(browser: Browser, gateway: GatewayProcess, api: Api) -> None:
    desk = await make_desk(api)
    lea = await api.sign_up("lea")
    page, watch = await open_app(browser, gateway.http_url)
    await sign_in(page, lea.email)
    await page.goto(f"{gateway.http_url}/app#/b/{desk.handle}")
    follow = page.locator("#follow")
    await expect(follow).to_have_text("Follow")
    await follow.click()
    await expect(follow).to_have_text("Following")
    await expect(follow).to_have_attribute("aria-pressed", "true")
    # The gateway took it: Lea has no conversation with the brand, yet its notice reaches her.
    posted = await api.call(
        "POST", f"/v1/brands/{desk.handle}/notices", desk.owner,
        json={"title": "Planned maintenance", "text": "Sunday 02:00-04:00."},
    )  # fmt: skip
    assert posted.status_code == 201, posted.text
    await expect(page.locator("#notice-banner")).to_contain_text(
        "Planned maintenance", timeout=LIVE_MS
    )
    await page.reload()
    await expect(page.locator("#follow")).to_have_text("Following")
    # Another device (a fresh browser profile) knows it too: GET /v1/me says whom Lea follows.
    tablet, tablet_watch = await open_app(browser, gateway.http_url)
    await sign_in(tablet, lea.email)
    await tablet.goto(f"{gateway.http_url}/app#/b/{desk.handle}")
    await expect(tablet.locator("#follow")).to_have_text("Following")
    await page.locator("#follow").click()
    await expect(page.locator("#follow")).to_have_text("Follow")
    await expect(page.locator("#follow-error")).to_be_hidden()
    # ...and learns the change the next time the brand's page opens there.
    await tablet.goto(f"{gateway.http_url}/app#/threads")
    await tablet.goto(f"{gateway.http_url}/app#/b/{desk.handle}")
    await expect(tablet.locator("#follow")).to_have_text("Follow")
    assert_clean(watch)
    assert_clean(tablet_watch)


async def test_rating_after_resolve(browser: Browser, gateway: GatewayProcess, api: Api) -> None:
    desk = await make_desk(api)
    lea = await api.sign_up("lea")
    watcher = await Socket.open(gateway.ws_url, await api.sign_in(lea))  # another device of Lea
    try:
        page, watch = await open_app(browser, gateway.http_url)
        await sign_in(page, lea.email)
        conversation_id = await start_chat(page, desk.handle, "My router blinks red")
        resolved = await api.call(
            "POST", f"/v1/conversations/{conversation_id}/resolve", desk.agent
        )
        assert resolved.status_code == 200, resolved.text
        await expect(page.locator("#chat-status")).to_have_text("resolved", timeout=LIVE_MS)
        await watcher.recv_until("rating_request", conversation_id=conversation_id)
        rating = page.locator("#rating")
        await expect(rating).to_be_visible(timeout=LIVE_MS)
        await expect(page.locator("#rating-submit")).to_be_disabled()
        await rating.locator('.rating-score[data-score="4"]').click()
        await page.locator("#rating-comment").fill("Quick, " + MARKUP)
        await page.locator("#rating-submit").click()
        await expect(page.locator("#rating-thanks")).to_be_visible()
        await expect(rating).to_be_hidden()
        again = await api.call(
            "POST", f"/v1/conversations/{conversation_id}/rating", lea, json={"score": 5}
        )
        assert again.status_code == 409, again.text
        assert again.json()["error"]["code"] == "already_rated"
        assert_clean(watch)
    finally:
        await watcher.close()


async def test_notice_banner(browser: Browser, gateway: GatewayProcess, api: Api) -> None:
    desk = await make_desk(api)
    lea = await api.sign_up("lea")
    page, watch = await open_app(browser, gateway.http_url)
    await sign_in(page, lea.email)
    await start_chat(page, desk.handle, "Is the network down?")
    posted = await api.call(
        "POST", f"/v1/brands/{desk.handle}/notices", desk.owner,
        json={"title": "Outage in Lyon", "text": "Fibre is down; back by 18:00. " + MARKUP},
    )  # fmt: skip
    assert posted.status_code == 201, posted.text
    banner = page.locator("#notice-banner")
    await expect(banner).to_contain_text("Outage in Lyon", timeout=LIVE_MS)
    await expect(banner).to_contain_text(MARKUP)
    await page.locator("#notice-open").click()
    await expect(page.locator("#brand-profile")).to_be_visible()
    await expect(page.locator("#notices .notice").first).to_contain_text("Outage in Lyon")
    await expect(page.locator("#brand-profile img")).to_have_count(0)
    assert_clean(watch)
