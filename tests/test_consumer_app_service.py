"""The consumer app (/app) shows service quality (PROTOCOL 6) and notices (PROTOCOL 7): the
closed desk's one system message, the brand's measured figures, hours and notices, live
notices, the queue position and the rating prompt. Real Chromium on a phone viewport
against a real gateway; brands and agents are driven over HTTP and the socket."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Locator, Page, Route, expect

from tests.browser import DOCS, PHONE, PageWatch, chromium, new_page
from tests.clients import Api, Socket, User, unique
from tests.gateway_process import GatewayProcess

LIVE_MS = 10_000
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def open_app(browser: Browser, base_url: str) -> tuple[Page, PageWatch]:
    watch = PageWatch()
    _, page = await new_page(browser, watch, **PHONE)
    await page.goto(f"{base_url}/app")
    return page, watch


async def sign_in(page: Page, user: User) -> None:
    await page.locator("#signin-email").fill(user.email)
    await page.locator("#signin-password").fill("correct horse")
    await page.locator("#signin-submit").click()
    await expect(page.locator("#connection")).to_contain_text("online", timeout=LIVE_MS)


async def start_chat(page: Page, handle: str, text: str) -> str:
    await page.goto(f"{page.url.split('#')[0]}#/to/{handle}")
    await page.locator("#compose").fill(text)
    await page.locator("#compose").press("Enter")
    await expect(page).to_have_url(re.compile(r"#/c/c_"), timeout=LIVE_MS)
    return page.url.rsplit("/", 1)[1]


async def brand(api: Api, owner: User, handle: str, name: str) -> str:
    """A brand with a readable handle when it is free (the screenshot shows it), else a
    unique one."""
    for candidate in (handle, unique(handle)[:30]):
        made = await api.call("POST", "/v1/brands", owner, json={"handle": candidate, "name": name})
        if made.status_code == 201:
            return candidate
        assert made.status_code == 409, made.text
    raise AssertionError("no free handle")


def assert_clean(watch: PageWatch) -> None:
    assert watch.dialogs == [], watch.dialogs
    assert watch.errors == [], watch.errors


async def fulfill(route: Route, *, body: dict[str, Any]) -> None:
    await route.fulfill(json=body)


def duration(seconds: float) -> str:
    """The app's wording of a median first response (consumer_app/static/app.js)."""
    if seconds < 90:
        return "~1 min"
    if seconds < 3600:
        return f"~{round(seconds / 60)} min"
    if seconds < 86400 * 1.5:
        hours = round(seconds / 360) / 10
        return f"~{hours:g} h"
    return f"~{round(seconds / 86400)} days"


async def test_closed_desk_sends_one_system_message(
    browser: Browser, gateway: GatewayProcess, api: Api
) -> None:
    owner = await api.sign_up("owner")
    agent = await api.sign_up("sam")
    handle = await brand(api, owner, "northwind", "Northwind Telecom")
    await api.add_member(owner, handle, agent)
    # Open only on the day after tomorrow (Paris time): closed now, whatever the hour.
    today = datetime.now(PARIS)
    opens = today + timedelta(days=2)
    weekly = {DAYS[opens.weekday()]: [["09:00", "17:00"]]}
    patched = await api.call(
        "PATCH", f"/v1/brands/{handle}", owner,
        # Routed automatically: with nobody online, the case waits in the queue.
        json={"hours": {"time_zone": "Europe/Paris", "weekly": weekly}, "auto_assign": True},
    )  # fmt: skip
    assert patched.status_code == 200, patched.text

    lea = await api.sign_up("lea")
    page, watch = await open_app(browser, gateway.http_url)
    await sign_in(page, lea)
    conversation_id = await start_chat(page, handle, "Hi, my fibre has been down since 8 am.")
    system = page.locator("#messages .message.system")
    await expect(system).to_have_count(1, timeout=LIVE_MS)
    text = system.locator(".message-text")
    await expect(text).to_contain_text("closed")
    await expect(text).to_contain_text(re.compile(r"\banswer\b"))
    await expect(text).to_contain_text(f"{opens:%a %d %b}")
    await expect(text).to_contain_text("09:00")
    # Signed by atdesk, centred: not a bubble of a person of the brand.
    await expect(system).to_have_attribute("data-role", "system")
    await expect(system).not_to_have_class(re.compile(r"\btheirs\b"))
    await expect(system.locator(".message-sender")).to_have_text("Automatic message from atdesk")
    assert await system.evaluate("node => getComputedStyle(node).alignSelf") == "center"
    await expect(page.locator("#chat-brand-sub")).to_contain_text("closed now")

    # One per case: a second message gets none, live or after a reload.
    await page.locator("#compose").fill("It is urgent, I work from home.")
    await page.locator("#compose").press("Enter")
    await expect(page.locator('#messages .message[data-seq="3"]')).to_contain_text("urgent")
    await page.reload()
    await expect(page.locator("#messages .message[data-seq]")).to_have_count(3)
    await expect(system).to_have_count(1)
    history = await api.history(agent, conversation_id)
    assert [m["sender"]["role"] for m in history] == ["consumer", "system", "consumer"]

    # Nobody online: the case waits in the brand's queue, first. The agent who comes in
    # early takes it and answers; the chat now reads like the real thing.
    await expect(page.locator("#queue-position")).to_have_text(re.compile(r"^You are #1 in line"))
    taken = await api.call(
        "POST", f"/v1/conversations/{conversation_id}/assign", agent,
        json={"account_id": agent.account_id},
    )  # fmt: skip
    assert taken.status_code == 200, taken.text
    await expect(page.locator("#queue-position")).to_be_hidden(timeout=LIVE_MS)
    socket = await Socket.open(gateway.ws_url, agent)
    try:
        await socket.send_message(
            "Good morning Lea, Sam here. I can see the outage on your line; a technician "
            "is on the way.",
            conversation_id=conversation_id,
        )
    finally:
        await socket.close()
    await expect(page.locator('#messages .message[data-seq="4"]')).to_contain_text("Sam here")
    await expect(page.locator('#messages .message[data-seq="4"]')).to_have_class(
        re.compile(r"\btheirs\b")
    )
    await page.locator("#compose").blur()
    DOCS.mkdir(exist_ok=True)
    await page.screenshot(path=str(DOCS / "consumer-app.png"))

    # The profile: hours in the brand's time zone, and closed now until the day it opens.
    await page.goto(f"{gateway.http_url}/app#/b/{handle}")
    await expect(page.locator("#hours-summary")).to_have_text(
        f"{opens:%a} 09:00–17:00, Europe/Paris"
    )
    await expect(page.locator("#open-now")).to_have_text(f"Closed now · opens {opens:%a} at 09:00")
    await expect(page.locator("#open-now")).to_have_class(re.compile(r"\bis-closed\b"))
    assert_clean(watch)


async def test_profile_shows_measured_figures_and_notices(
    browser: Browser, gateway: GatewayProcess, api: Api
) -> None:
    owner, agent, handle = await api.desk("figures", agent="sam")
    # Five rated cases: the public figures stop being null.
    desk = await Socket.open(gateway.ws_url, agent)
    try:
        for score in (5, 4, 5, 3, 4):
            consumer = await api.sign_up("customer")
            socket = await Socket.open(gateway.ws_url, consumer)
            try:
                ack = await socket.send_message("Hello?", to=f"@{handle}")
            finally:
                await socket.close()
            conversation_id = ack["conversation_id"]
            await desk.send_message("Hello, how can I help?", conversation_id=conversation_id)
            resolved = await api.call(
                "POST", f"/v1/conversations/{conversation_id}/resolve", agent,
                json={"agent_estimate": score},
            )  # fmt: skip
            assert resolved.status_code == 200, resolved.text
            rated = await api.call(
                "POST", f"/v1/conversations/{conversation_id}/rating", consumer,
                json={"score": score},
            )  # fmt: skip
            assert rated.status_code == 201, rated.text
    finally:
        await desk.close()
    for title in ("Billing delays", "Outage in Lyon"):
        posted = await api.call(
            "POST", f"/v1/brands/{handle}/notices", owner, json={"title": title, "text": "."}
        )
        assert posted.status_code == 201, posted.text
    service: dict[str, Any] = (await api.call("GET", f"/v1/brands/{handle}")).json()["service"]
    assert None not in service.values(), service
    listed = (await api.call("GET", f"/v1/brands/{handle}/notices")).json()["notices"]

    lea = await api.sign_up("lea")
    page, watch = await open_app(browser, gateway.http_url)
    await sign_in(page, lea)
    await page.goto(f"{gateway.http_url}/app#/b/{handle}")

    def value(name: str) -> Locator:
        return page.locator(f'#service-figures [data-figure="{name}"] .figure-value')

    await expect(value("median_first_response_s")).to_have_text(
        f"usually answers in {duration(service['median_first_response_s'])}"
    )
    await expect(value("csat")).to_have_text(f"{service['csat']:.1f} / 5")
    await expect(value("rated_cases")).to_have_text(str(service["rated_cases"]))
    await expect(value("resolved_cases")).to_have_text(str(service["resolved_cases"]))
    await expect(page.locator("#window-days")).to_have_text(str(service["window_days"]))
    titles = page.locator("#notices .notice .notice-title")
    await expect(titles).to_have_text([notice["title"] for notice in listed])
    await expect(page.locator("#hours-section")).to_be_hidden()  # no hours set

    # Following, a live notice shows as a banner and heads the list on screen.
    await page.locator("#follow").click()
    await expect(page.locator("#follow")).to_have_text("Following")
    posted = await api.call(
        "POST", f"/v1/brands/{handle}/notices", owner,
        json={"title": "Back to normal", "text": "Lyon is fixed."},
    )  # fmt: skip
    assert posted.status_code == 201, posted.text
    banner = page.locator("#notice-banner")
    await expect(banner).to_contain_text("Back to normal", timeout=LIVE_MS)
    await expect(banner).to_contain_text(f"@{handle}")
    await expect(titles).to_have_text(
        ["Back to normal", *(notice["title"] for notice in listed)], timeout=LIVE_MS
    )
    assert_clean(watch)


async def test_rating_prompt_survives_reload_and_already_rated_is_friendly(
    browser: Browser, gateway: GatewayProcess, api: Api
) -> None:
    owner, agent, handle = await api.desk("rated", agent="sam")
    lea = await api.sign_up("lea")
    page, watch = await open_app(browser, gateway.http_url)
    await sign_in(page, lea)
    conversation_id = await start_chat(page, handle, "Where is my refund?")
    resolved = await api.call("POST", f"/v1/conversations/{conversation_id}/resolve", agent)
    assert resolved.status_code == 200, resolved.text
    rating = page.locator("#rating")
    await expect(rating).to_be_visible(timeout=LIVE_MS)
    await page.reload()
    await expect(page.locator("#chat-status")).to_have_text("resolved")
    await expect(rating).to_be_visible()
    # The prompt is the gateway's word (the conversation's `rating`), not this device's
    # memory: a fresh browser profile (another device) is asked too.
    tablet, tablet_watch = await open_app(browser, gateway.http_url)
    await sign_in(tablet, lea)
    await tablet.goto(f"{gateway.http_url}/app#/c/{conversation_id}")
    await expect(tablet.locator("#rating")).to_be_visible(timeout=LIVE_MS)
    # Rated from another device meanwhile: the prompt goes away here, live.
    other = await api.call(
        "POST", f"/v1/conversations/{conversation_id}/rating", lea, json={"score": 2}
    )
    assert other.status_code == 201, other.text
    await expect(rating).to_be_hidden(timeout=LIVE_MS)
    await expect(tablet.locator("#rating")).to_be_hidden(timeout=LIVE_MS)
    await expect(page.locator("#rating-error")).to_be_hidden()
    assert_clean(tablet_watch)
    await page.reload()
    await expect(page.locator("#chat-status")).to_have_text("resolved")
    await expect(page.locator('#messages .message[data-seq="1"]')).to_be_visible()
    await expect(rating).to_be_hidden()
    assert_clean(watch)


async def test_queue_position_while_nobody_is_online(
    browser: Browser, gateway: GatewayProcess, api: Api
) -> None:
    owner, agent, handle = await api.desk("queue", agent="sam")
    routed = await api.call("PATCH", f"/v1/brands/{handle}", owner, json={"auto_assign": True})
    assert routed.status_code == 200, routed.text
    # No member of the brand is online: cases wait in its queue, oldest first.
    ahead = await Socket.open(gateway.ws_url, await api.sign_up("first"))
    try:
        first = (await ahead.send_message("Me first", to=f"@{handle}"))["conversation_id"]
    finally:
        await ahead.close()
    lea = await api.sign_up("lea")
    page, watch = await open_app(browser, gateway.http_url)
    await sign_in(page, lea)
    conversation_id = await start_chat(page, handle, "Anyone there?")
    fetched = (await api.call("GET", f"/v1/conversations/{conversation_id}", lea)).json()
    assert fetched["queue_position"] == 2, fetched
    queue = page.locator("#queue-position")
    await expect(queue).to_have_text("You are #2 in line")

    async def assign(conversation: str) -> None:
        assigned = await api.call(
            "POST", f"/v1/conversations/{conversation}/assign", agent,
            json={"account_id": agent.account_id},
        )  # fmt: skip
        assert assigned.status_code == 200, assigned.text

    # The case ahead is taken: Lea moves up, live...
    await assign(first)
    await expect(queue).to_have_text("You are #1 in line · you are next", timeout=LIVE_MS)
    # ...and hers is taken: the line is gone, live.
    await assign(conversation_id)
    await expect(queue).to_be_hidden(timeout=LIVE_MS)
    assert_clean(watch)


async def test_hours_read_in_the_brand_time_zone(
    browser: Browser, gateway: GatewayProcess, api: Api
) -> None:
    """Open or closed now, from the hours on the brand's own wall clock (stubbed brands).
    The zone is one whose date differs from UTC's at this moment, so reading the browser's
    clock instead of the brand's shows."""
    utc = datetime.now(UTC)
    zone = "Pacific/Kiritimati" if utc.hour >= 10 else "Pacific/Pago_Pago"  # UTC+14, UTC-11
    there = utc.astimezone(ZoneInfo(zone))
    assert there.date() != utc.date()
    today, tomorrow = DAYS[there.weekday()], DAYS[(there.weekday() + 1) % 7]
    schedules = {
        "allday": {today: [["00:00", "24:00"]]},
        "tomorrow": {tomorrow: [["08:30", "12:00"], ["14:00", "18:00"]]},
        "weekdays": {day: [["09:00", "17:00"]] for day in DAYS[:5]},
    }

    def stub(handle: str) -> dict[str, Any]:
        return {
            "handle": handle, "name": handle.title(), "verified": False, "description": "",
            "service": {"median_first_response_s": None, "csat": None, "rated_cases": None,
                        "resolved_cases": None, "window_days": 30},
            "hours": {"time_zone": zone, "weekly": schedules[handle]},
        }  # fmt: skip

    page, watch = await open_app(browser, gateway.http_url)
    for handle in schedules:
        await page.route(f"**/v1/brands/{handle}", partial(fulfill, body=stub(handle)))
    await sign_in(page, await api.sign_up("lea"))
    open_now = page.locator("#open-now")

    await page.goto(f"{gateway.http_url}/app#/b/allday")
    await expect(open_now).to_have_text("Open now · until midnight")
    await expect(open_now).to_have_class(re.compile(r"\bis-open\b"))

    await page.goto(f"{gateway.http_url}/app#/b/tomorrow")
    await expect(open_now).to_have_text("Closed now · opens tomorrow at 08:30")
    await expect(page.locator("#hours-summary")).to_have_text(
        f"{there + timedelta(days=1):%a} 08:30–12:00, 14:00–18:00, {zone}"
    )

    await page.goto(f"{gateway.http_url}/app#/b/weekdays")
    await expect(page.locator("#hours-summary")).to_have_text(f"Mon–Fri 09:00–17:00, {zone}")
    await expect(page.locator("#opening-hours dt")).to_have_text(
        ["Monday–Friday", "Saturday–Sunday"]
    )
    await expect(page.locator("#opening-hours dd")).to_have_text(["09:00–17:00", "Closed"])
    assert_clean(watch)
