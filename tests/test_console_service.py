"""The console's service pages (issue 6) in real Chromium against a real gateway: the
dashboard shows what GET /v1/brands/{handle}/stats answers for a known history, canned
replies are managed and inserted with `/`, and a notice posted from the console is listed
and reaches a consumer's socket live.

The history is built through the real endpoints and socket on a gateway with a controlled
clock (as tests/test_service_quality.py does), spread over three UTC days so the chart has
more than one point; the figures the page shows are compared with the HTTP answer, and
with the numbers the history makes obvious (ratings 4, 5, 5, 3, 4 give a CSAT of 4.2).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser import PageWatch, chromium
from tests.clients import Api, Socket, User
from tests.conftest import run_gateway
from tests.gateway_process import GatewayProcess
from tests.test_console import item, open_console
from tests.test_service_quality import Clock

NOW = datetime.now(UTC).replace(microsecond=0)
# Three days back at 09:00 UTC: each case below stays inside its own UTC day.
DAY_ONE = (NOW - timedelta(days=3)).replace(hour=9, minute=0, second=0)


@pytest.fixture(scope="module")
def clock(tmp_path_factory: pytest.TempPathFactory) -> Clock:
    moving = Clock(tmp_path_factory.mktemp("clock") / "now")
    moving.set(DAY_ONE)
    return moving


@pytest.fixture(scope="module")
def gateway(clock: Clock, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    yield from run_gateway(tmp_path_factory.mktemp("console-service"), clock.env())


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@pytest.fixture
def watch() -> PageWatch:
    return PageWatch()


@pytest.fixture
async def sockets() -> AsyncIterator[list[Socket]]:
    opened: list[Socket] = []
    yield opened
    for socket in opened:
        await socket.close()


async def open_socket(gateway: GatewayProcess, sockets: list[Socket], user: User) -> Socket:
    sockets.append(await Socket.open(gateway.ws_url, user))
    return sockets[-1]


async def ok(api: Api, method: str, path: str, user: User | None, **kwargs: Any) -> Any:
    response = await api.call(method, path, user, **kwargs)
    assert response.status_code in (200, 201, 204), f"{method} {path}: {response.text}"
    return response.json() if response.content else None


async def test_the_dashboard_shows_the_figures_of_a_known_history(
    gateway: GatewayProcess, api: Api, clock: Clock, browser: Browser, watch: PageWatch,
    sockets: list[Socket],
) -> None:  # fmt: skip
    clock.set(max(clock.now, DAY_ONE))
    owner = await api.sign_up("owner")
    handle = await api.create_brand(owner)
    agent = await api.sign_up("priya")
    await api.add_member(owner, handle, agent)
    answerers = {owner.account_id: await open_socket(gateway, sockets, owner),
                 agent.account_id: await open_socket(gateway, sockets, agent)}  # fmt: skip

    # (day, who answers, first response in s, agent's estimate, customer's score, comment)
    history = [
        (0, owner, 60, 4, 4, "quick and kind"),
        (0, owner, 120, 5, 5, "<b>x</b>"),
        (1, agent, 180, 4, 5, "fixed at last"),
        (1, agent, 300, 2, 3, "slow, but it works now\nthanks"),
        (2, owner, 600, 4, 4, None),
    ]
    for k, (day, who, delay, estimate, score, comment) in enumerate(history):
        clock.set(DAY_ONE + timedelta(days=day, hours=k))
        consumer = await api.sign_up(f"customer{k}")
        ack = await (await open_socket(gateway, sockets, consumer)).send_message(
            f"help me with order {k}", to=f"@{handle}"
        )
        conversation_id = ack["conversation_id"]
        clock.advance(delay)
        await answerers[who.account_id].send_message("on it", conversation_id=conversation_id)
        clock.advance(30)
        await ok(api, "POST", f"/v1/conversations/{conversation_id}/resolve", who,
                 json={"agent_estimate": estimate})  # fmt: skip
        clock.advance(60)
        rating = {"score": score} if comment is None else {"score": score, "comment": comment}
        await ok(api, "POST", f"/v1/conversations/{conversation_id}/rating", consumer,
                 json=rating)  # fmt: skip
    clock.set(NOW)

    stats = await ok(api, "GET", f"/v1/brands/{handle}/stats", owner, params={"days": 30})
    figures = stats["figures"]
    assert figures["csat"] == 4.2  # (4 + 5 + 5 + 3 + 4) / 5
    assert figures["median_first_response_s"] == 180
    assert (figures["rated_cases"], figures["resolved_cases"]) == (5, 5)

    page = await open_console(browser, watch, gateway, owner)
    await page.click("#nav-dashboard")
    dashboard = page.locator("#dashboard")
    await expect(dashboard).to_be_visible()

    # The headline figures: what the endpoint says, written for people.
    def headline(key: str) -> Any:
        return page.locator(f'#headline dd[data-figure="{key}"]')

    await expect(headline("csat")).to_have_text("4.2 / 5")
    await expect(headline("median_first_response_s")).to_have_text("3 min")
    await expect(headline("rated_cases")).to_have_text("5")
    await expect(headline("resolved_cases")).to_have_text("5")
    for key in ("csat", "median_first_response_s", "rated_cases", "resolved_cases"):
        assert float(await headline(key).get_attribute("data-value") or "nan") == figures[key]

    # One point per day that has a value, at that day, its value in its <title>.
    await check_chart(page, "#chart-first-response", stats["days"], "median_first_response_s")
    await check_chart(page, "#chart-csat", stats["days"], "csat")
    assert sum(d["csat"] is not None for d in stats["days"]) == 3  # the three days above

    # Per agent: one row each, with the endpoint's counts and estimate accuracy.
    rows = page.locator("#agents .agent-row")
    await expect(rows).to_have_count(len(stats["agents"]))
    assert {a["agent"]["id"] for a in stats["agents"]} >= {owner.account_id, agent.account_id}
    for entry in stats["agents"]:
        row = page.locator(f'#agents .agent-row[data-account-id="{entry["agent"]["id"]}"]')
        await expect(row.locator(".agent-name")).to_contain_text(entry["agent"]["display_name"])
        await expect(row.locator(".agent-resolved")).to_have_text(
            str(entry["figures"]["resolved_cases"])
        )
        await expect(row.locator(".agent-rated")).to_have_text(str(entry["figures"]["rated_cases"]))
        await expect(row.locator(".agent-compared")).to_have_text(
            str(entry["estimates"]["compared_cases"])
        )
        error = entry["estimates"]["mean_absolute_error"]
        await expect(row.locator(".agent-error")).to_have_text(
            "–" if error is None else f"{round(error, 2):g}"
        )
    # The agent's estimates were 4 and 2 for scores 5 and 3: one point off each time.
    priya = next(a for a in stats["agents"] if a["agent"]["id"] == agent.account_id)
    assert priya["estimates"]["mean_absolute_error"] == 1

    # The latest comments beside them, newest first, as text (markup stays text).
    verbatims = page.locator("#verbatims .verbatim")
    await expect(verbatims).to_have_count(len(stats["comments"]))
    assert len(stats["comments"]) == 4
    for k, comment in enumerate(stats["comments"]):
        await expect(verbatims.nth(k).locator(".verbatim-comment")).to_have_text(comment["comment"])
        await expect(verbatims.nth(k).locator(".verbatim-score")).to_contain_text(
            f"{comment['score']}/5"
        )
    await expect(verbatims.locator(".verbatim-comment", has_text="<b>x</b>")).to_have_count(1)
    assert await page.locator("#verbatims b").count() == 0
    assert watch.errors == []
    assert watch.dialogs == []


async def check_chart(page: Page, chart: str, days: list[dict[str, Any]], key: str) -> None:
    valued = [d for d in days if d[key] is not None]
    points = page.locator(f"{chart} .point")
    await expect(points).to_have_count(len(valued))
    for k, day in enumerate(valued):
        point = points.nth(k)
        assert await point.get_attribute("data-date") == day["date"]
        assert float(await point.get_attribute("data-value") or "nan") == day[key]
        await expect(point.locator("title")).to_contain_text(day["date"])


async def test_a_new_brand_has_no_figures_yet(
    gateway: GatewayProcess, api: Api, browser: Browser, watch: PageWatch
) -> None:
    owner = await api.sign_up("owner")
    await api.create_brand(owner)
    page = await open_console(browser, watch, gateway, owner)
    await page.click("#nav-dashboard")
    for key in ("csat", "median_first_response_s"):
        await expect(page.locator(f'#headline dd[data-figure="{key}"]')).to_have_text(
            "not enough data yet"
        )
    await expect(page.locator("#chart-csat .point")).to_have_count(0)
    await expect(page.locator("#chart-csat")).to_contain_text("not enough data yet")
    await expect(page.locator("#verbatims")).to_contain_text("No comments")
    assert watch.errors == []


async def test_canned_replies_are_managed_and_inserted_with_a_slash(
    gateway: GatewayProcess, api: Api, browser: Browser, watch: PageWatch,
    sockets: list[Socket],
) -> None:  # fmt: skip
    owner = await api.sign_up("owner")
    handle = await api.create_brand(owner)
    assert await ok(api, "GET", f"/v1/brands/{handle}/canned", owner) == {"canned": []}
    consumer = await api.sign_up("lea")
    consumer_socket = await open_socket(gateway, sockets, consumer)
    ack = await consumer_socket.send_message("when are you open?", to=f"@{handle}")

    page = await open_console(browser, watch, gateway, owner)
    await page.click("#nav-canned")
    canned = {
        "hours": "We are open 9:00 to 17:00, Monday to Friday.",
        "refund": "Your refund is on its way: <3 to 5 days>.",
        "obsolete": "Not used any more.",
    }
    for title, text in canned.items():
        await page.fill("#canned-title", title)
        await page.fill("#canned-text", text)
        await page.click("#canned-add")
        await expect(page.locator("#canned-list .canned", has_text=title)).to_have_count(1)
    listed = await ok(api, "GET", f"/v1/brands/{handle}/canned", owner)
    assert {(c["title"], c["text"]) for c in listed["canned"]} == set(canned.items())
    ids = {c["title"]: c["id"] for c in listed["canned"]}
    await expect(page.locator(f'#canned-list .canned[data-id="{ids["refund"]}"]')).to_contain_text(
        canned["refund"]
    )

    await page.locator(f'#canned-list .canned[data-id="{ids["obsolete"]}"] .canned-remove').click()
    await expect(page.locator("#canned-list .canned")).to_have_count(2)
    listed = await ok(api, "GET", f"/v1/brands/{handle}/canned", owner)
    assert {c["title"] for c in listed["canned"]} == {"hours", "refund"}

    # In the thread: `/` opens the picker, typing filters it, arrows choose, Enter inserts.
    await page.click("#nav-inbox")
    await item(page, ack["conversation_id"]).click()
    # Opening a thread clears its reply box: type once the thread is there.
    await expect(page.locator("#messages .message-text").first).to_have_text("when are you open?")
    reply = page.locator("#reply")
    options = page.locator("#canned-picker .canned-option")
    await reply.press_sequentially("/")
    await expect(page.locator("#canned-picker")).to_be_visible()
    await expect(options).to_have_count(2)
    await expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    await reply.press("ArrowDown")
    await expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    await reply.press("ArrowUp")
    await expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    await reply.press_sequentially("ref")
    await expect(options).to_have_count(1)
    await expect(options.first).to_contain_text("refund")
    await reply.press("Enter")
    await expect(reply).to_have_value(canned["refund"])
    await expect(page.locator("#canned-picker")).to_be_hidden()
    sent_texts = page.locator("#messages .message-text", has_text="Your refund")
    await expect(sent_texts).to_have_count(0)  # inserted, not sent

    # The agent sends it with a second Enter: it reaches the consumer once, as written.
    await reply.press("Enter")
    await expect(reply).to_have_value("")
    while True:
        frame = await consumer_socket.recv_until("message")
        if frame["message"]["sender"]["id"] == owner.account_id:
            break
    assert frame["message"]["text"] == canned["refund"]
    await expect(sent_texts).to_have_count(1)

    # Escape closes the picker and keeps what was typed; the thread stays open.
    await reply.press_sequentially("/zzz")
    await expect(page.locator("#canned-picker")).to_be_visible()
    await expect(options).to_have_count(0)
    await reply.press("Escape")
    await expect(page.locator("#canned-picker")).to_be_hidden()
    await expect(reply).to_have_value("/zzz")
    await expect(page.locator("#thread")).to_be_visible()
    assert watch.errors == []


async def test_a_notice_is_posted_listed_and_reaches_a_consumer_live(
    gateway: GatewayProcess, api: Api, browser: Browser, watch: PageWatch,
    sockets: list[Socket],
) -> None:  # fmt: skip
    owner = await api.sign_up("owner")
    handle = await api.create_brand(owner)
    assert await ok(api, "GET", f"/v1/brands/{handle}/notices", None) == {"notices": []}
    consumer = await api.sign_up("noor")
    consumer_socket = await open_socket(gateway, sockets, consumer)
    await consumer_socket.send_message("is the network down?", to=f"@{handle}")

    page = await open_console(browser, watch, gateway, owner)
    await page.click("#nav-notices")
    await expect(page.locator("#notices-list")).to_contain_text("No notices yet")
    title, text = "Outage in the north", "Engineers are on it <b>now</b>; next update at 14:00."
    await page.fill("#notice-title", title)
    await page.fill("#notice-text", text)
    await page.click("#notice-post")

    frame = await consumer_socket.recv_until("notice")
    notice = frame["notice"]
    assert (notice["brand"], notice["title"], notice["text"]) == (handle, title, text)

    shown = page.locator(f'#notices-list .notice[data-id="{notice["id"]}"]')
    await expect(shown.locator(".notice-title")).to_have_text(title)
    await expect(shown.locator(".notice-text")).to_have_text(text)
    await expect(page.locator("#notices-list .notice")).to_have_count(1)
    assert await page.locator("#notices-list b").count() == 0
    public = await ok(api, "GET", f"/v1/brands/{handle}/notices", None)
    assert [n["id"] for n in public["notices"]] == [notice["id"]]

    # The history is the gateway's: a reload lists it again.
    await page.reload()
    await expect(page.locator("#notices-list .notice")).to_have_count(1)
    await expect(page.locator("#notices-list .notice-title")).to_have_text(title)
    assert watch.errors == []


async def test_the_inbox_shows_the_queue_and_the_agent_routing_picked(
    gateway: GatewayProcess, api: Api, clock: Clock, browser: Browser, watch: PageWatch,
    sockets: list[Socket],
) -> None:  # fmt: skip
    owner = await api.sign_up("owner")
    handle = await api.create_brand(owner)
    agent = await api.sign_up("priya")
    await api.add_member(owner, handle, agent)
    brand = await ok(api, "PATCH", f"/v1/brands/{handle}", owner, json={"auto_assign": True})
    assert brand["auto_assign"] is True

    # The only agent is offline: both cases wait, in the order they came.
    waiting = []
    for name in ("ada", "bo"):
        clock.advance(1)
        consumer = await api.sign_up(name)
        ack = await (await open_socket(gateway, sockets, consumer)).send_message(
            "anyone there?", to=f"@{handle}"
        )
        waiting.append(ack["conversation_id"])
    for place, conversation_id in enumerate(waiting, start=1):
        read = await ok(api, "GET", f"/v1/conversations/{conversation_id}", owner)
        assert (read["assignee"], read.get("queue_position")) == (None, place)

    page = await open_console(browser, watch, gateway, owner)
    first, second = (item(page, conversation_id) for conversation_id in waiting)
    await expect(first.locator(".inbox-queue")).to_have_text("queue #1")
    await expect(second.locator(".inbox-queue")).to_have_text("queue #2")
    await expect(first.locator(".inbox-assignee")).to_have_text("unassigned")

    # The first leaves the queue: the second moves up, live.
    await ok(api, "POST", f"/v1/conversations/{waiting[0]}/assign", owner,
             json={"account_id": agent.account_id})  # fmt: skip
    await expect(second.locator(".inbox-queue")).to_have_text("queue #1")
    await expect(first.locator(".inbox-queue")).to_have_count(0)
    await expect(first.locator(".inbox-assignee")).to_have_text(agent.display_name)

    # The agent comes online: a new case is routed to them, and the console says so.
    await open_socket(gateway, sockets, agent)
    clock.advance(1)
    consumer = await api.sign_up("cy")
    ack = await (await open_socket(gateway, sockets, consumer)).send_message(
        "hello", to=f"@{handle}"
    )
    routed = item(page, ack["conversation_id"])
    await expect(routed.locator(".inbox-assignee")).to_have_text(agent.display_name)
    await expect(routed.locator(".inbox-queue")).to_have_count(0)
    read = await ok(api, "GET", f"/v1/conversations/{ack['conversation_id']}", owner)
    assert read["assignee"]["id"] == agent.account_id
    assert watch.errors == []
