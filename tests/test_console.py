"""The brand console (/console) in real Chromium against a real gateway: sign in, the live
inbox, a conversation (reply, typing, read, assign, resolve), members, profile, and message
text that stays text."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser import DOCS, LAPTOP, PageWatch, chromium, new_page
from tests.clients import Api, Socket, User, unique
from tests.gateway_process import GatewayProcess

PASSWORD = "correct horse"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@pytest.fixture
def watch() -> PageWatch:
    return PageWatch()


Connect = Callable[[User], Awaitable[Socket]]


@pytest.fixture
async def connect(gateway: GatewayProcess) -> AsyncIterator[Connect]:
    """Open consumer sockets that are closed after the test."""
    opened: list[Socket] = []

    async def open_socket(user: User) -> Socket:
        opened.append(await Socket.open(gateway.ws_url, user))
        return opened[-1]

    yield open_socket
    for socket in opened:
        await socket.close()


async def open_console(
    browser: Browser, watch: PageWatch, gateway: GatewayProcess, user: User
) -> Page:
    """A laptop-sized console, signed in as ``user`` through the sign-in form, socket live."""
    _, page = await new_page(browser, watch, **LAPTOP)
    await page.goto(gateway.http_url + "/console")
    await page.fill("#signin-email", user.email)
    await page.fill("#signin-password", PASSWORD)
    await page.click("#signin-submit")
    await expect(page.locator("#connection")).to_have_text("connected")
    return page


def item(page: Page, conversation_id: str) -> Any:
    return page.locator(f'.inbox-item[data-conversation-id="{conversation_id}"]')


async def message_with_text(socket: Socket, text: str) -> dict[str, Any]:
    while True:
        frame = await socket.recv_until("message")
        if frame["message"]["text"] == text:
            return frame["message"]


async def desk(api: Api) -> tuple[User, str]:
    owner = await api.sign_up("owner")
    return owner, await api.create_brand(owner)


async def test_a_wrong_password_shows_an_error(
    gateway: GatewayProcess, api: Api, browser: Browser, watch: PageWatch
) -> None:
    owner, _ = await desk(api)
    _, page = await new_page(browser, watch, **LAPTOP)
    await page.goto(gateway.http_url + "/console")
    await page.fill("#signin-email", owner.email)
    await page.fill("#signin-password", "not the password")
    await page.click("#signin-submit")
    await expect(page.locator("#signin-error")).to_be_visible()
    await expect(page.locator("#signin-error")).to_contain_text("Wrong email or password")
    await expect(page.locator("#app-view")).to_be_hidden()

    await page.fill("#signin-password", PASSWORD)
    await page.click("#signin-submit")
    await expect(page.locator("#signin-error")).to_be_hidden()
    await expect(page.locator("#brand-picker")).to_be_visible()
    assert watch.errors == []


async def test_sign_out_ends_the_session(
    gateway: GatewayProcess, api: Api, browser: Browser, watch: PageWatch
) -> None:
    owner, handle = await desk(api)
    page = await open_console(browser, watch, gateway, owner)
    await expect(page.locator("#brand-picker")).to_have_value(handle)
    await page.click("#signout")
    await expect(page.locator("#signin-email")).to_be_visible()
    await page.reload()  # the HttpOnly cookie is gone, not just hidden
    await expect(page.locator("#signin-email")).to_be_visible()
    await expect(page.locator("#app-view")).to_be_hidden()


async def test_inbox_is_live_and_a_thread_is_answered_assigned_and_resolved(
    gateway: GatewayProcess, api: Api, browser: Browser, watch: PageWatch, connect: Connect
) -> None:
    owner, handle = await desk(api)
    consumer = await api.sign_up("lea")
    consumer_socket = await connect(consumer)
    first = await consumer_socket.send_message("my order 123 has not arrived", to=f"@{handle}")
    conversation_id = first["conversation_id"]

    page = await open_console(browser, watch, gateway, owner)
    row = item(page, conversation_id)
    await expect(row.locator(".inbox-consumer")).to_have_text(consumer.display_name)
    await expect(row.locator(".inbox-status")).to_have_text("open")
    unread = row.locator(".inbox-unread")
    await expect(unread).to_be_visible()
    before = int(await unread.inner_text())

    # A new message shows in the inbox within a second, without reload.
    await consumer_socket.send_message("hello? anyone?", conversation_id=conversation_id)
    await expect(unread).to_have_text(str(before + 1), timeout=1_000)
    await expect(row.locator(".inbox-preview")).to_have_text("hello? anyone?")

    # Opening it shows the whole history, marks it read, and the consumer is told.
    await row.click()
    await expect(page).to_have_url(re.compile(f"#/c/{conversation_id}$"))
    await expect(page.locator("#thread-status")).to_have_text("open")
    texts = page.locator("#messages .message[data-seq] .message-text")
    await expect(texts.filter(has_text="my order 123 has not arrived")).to_have_count(1)
    await expect(texts.filter(has_text="hello? anyone?")).to_have_count(1)
    await expect(unread).to_be_hidden()
    read = await consumer_socket.recv_until("read", account_id=owner.account_id)
    assert read["seq"] >= 2

    # Live in the open thread too, with the consumer's typing shown.
    await consumer_socket.send_json({"type": "typing", "conversation_id": conversation_id})
    await expect(page.locator("#typing")).to_be_visible()
    await expect(page.locator("#typing")).to_contain_text(consumer.display_name)
    await consumer_socket.send_message("it was due monday", conversation_id=conversation_id)
    await expect(texts.last).to_have_text("it was due monday", timeout=1_000)
    await expect(page.locator("#typing")).to_be_hidden()

    # Enter sends; Shift+Enter is a new line; typing reaches the consumer.
    await page.locator("#reply").press_sequentially("Sorry about that,")
    typing = await consumer_socket.recv_until("typing", conversation_id=conversation_id)
    assert typing["account_id"] == owner.account_id
    await page.locator("#reply").press("Shift+Enter")
    await page.locator("#reply").press_sequentially("let me check.")
    await page.locator("#reply").press("Enter")
    reply = await message_with_text(consumer_socket, "Sorry about that,\nlet me check.")
    assert reply["sender"] == {"id": owner.account_id, "role": "agent", "display_name": "Owner"}
    await expect(page.locator("#reply")).to_have_value("")
    sent = page.locator(f'#messages .message[data-seq="{reply["seq"]}"]')
    await expect(sent.locator(".message-sender")).to_have_text("Owner")

    # The consumer reads it: "seen" on the agent's message.
    await consumer_socket.send_json(
        {"type": "read", "conversation_id": conversation_id, "seq": reply["seq"]}
    )
    await expect(sent.locator(".message-seen")).to_be_visible()

    # Unassigned, then to me: the filters follow.
    await page.select_option("#assign-select", "")
    await page.click("#filter-unassigned")
    await expect(row).to_be_visible()
    await page.click("#assign-me")
    await expect(page.locator("#assign-select")).to_have_value(owner.account_id)
    await expect(row).to_be_hidden()
    await page.click("#filter-mine")
    await expect(row).to_be_visible()
    await page.click("#filter-all-assignees")

    # Resolve with an estimate: it leaves "open" for "resolved".
    await page.select_option("#estimate", "4")
    await page.click("#resolve")
    await expect(page.locator("#thread-status")).to_have_text("resolved")
    await expect(row).to_be_hidden()
    await page.click("#filter-resolved")
    await expect(row.locator(".inbox-status")).to_have_text("resolved")
    estimates = gateway.query(
        f"SELECT agent_estimate FROM cases WHERE conversation_id = '{conversation_id}'"
    )
    assert estimates == [(4,)]

    # The consumer writes again: a new case, back in "open", live.
    await consumer_socket.send_message("one more thing", conversation_id=conversation_id)
    await expect(page.locator("#thread-status")).to_have_text("open")
    await expect(page.locator("#messages .case-divider")).to_contain_text(["Case 2 opened"])
    await page.click("#filter-open")
    await expect(row.locator(".inbox-status")).to_have_text("open")
    assert watch.errors == []
    assert watch.dialogs == []


async def test_a_new_conversation_appears_without_reload(
    gateway: GatewayProcess, api: Api, browser: Browser, watch: PageWatch, connect: Connect
) -> None:
    owner, handle = await desk(api)
    page = await open_console(browser, watch, gateway, owner)
    await expect(page.locator("#inbox-empty")).to_be_visible()

    consumer = await api.sign_up("noor")
    consumer_socket = await connect(consumer)
    ack = await consumer_socket.send_message("is the shop open today?", to=f"@{handle}")
    row = item(page, ack["conversation_id"])
    await expect(row.locator(".inbox-consumer")).to_have_text("Noor", timeout=1_000)
    await expect(row.locator(".inbox-unread")).to_be_visible()
    assert watch.errors == []


async def test_markup_in_a_message_is_shown_as_text(
    gateway: GatewayProcess, api: Api, browser: Browser, watch: PageWatch, connect: Connect
) -> None:
    owner, handle = await desk(api)
    consumer = await api.sign_up("mallory")
    consumer_socket = await connect(consumer)
    attack = "<img src=x onerror=alert(1)>"
    ack = await consumer_socket.send_message(attack, to=f"@{handle}")

    page = await open_console(browser, watch, gateway, owner)
    row = item(page, ack["conversation_id"])
    await expect(row.locator(".inbox-preview")).to_have_text(attack)
    await row.click()
    shown = page.locator(f'#messages .message[data-seq="{ack["seq"]}"] .message-text')
    await expect(shown).to_have_text(attack)
    await consumer_socket.send_message(
        '<script>alert("live")</script><b onmouseover=alert(2)>x</b>',
        conversation_id=ack["conversation_id"],
    )
    await expect(page.locator("#messages .message-text").last).to_have_text(
        '<script>alert("live")</script><b onmouseover=alert(2)>x</b>'
    )
    assert await page.locator("#app-view img, #app-view script, #messages b").count() == 0
    await page.locator("#messages .message-text").last.hover()
    assert watch.dialogs == []
    assert watch.errors == []


async def test_members_are_added_changed_and_removed(
    gateway: GatewayProcess, api: Api, browser: Browser, watch: PageWatch
) -> None:
    owner, handle = await desk(api)
    colleague = await api.sign_up("sam")
    page = await open_console(browser, watch, gateway, owner)
    await page.click("#nav-members")
    await expect(page).to_have_url(re.compile("#/members$"))
    await expect(
        page.locator(f'#members .member[data-account-id="{owner.account_id}"]')
    ).to_contain_text("owner")

    await page.fill("#member-email", f"nobody-{unique('x')}@example.com")
    await page.click("#member-add")
    await expect(page.locator("#member-error")).to_contain_text("sign up first")

    await page.fill("#member-email", colleague.email)
    await page.select_option("#member-role", "agent")
    await page.click("#member-add")
    row = page.locator(f'#members .member[data-account-id="{colleague.account_id}"]')
    await expect(row).to_contain_text(colleague.email)
    await expect(row.locator("select")).to_have_value("agent")
    await expect(page.locator("#member-error")).to_be_hidden()

    async def roles() -> dict[str, str]:
        listed = await api.call("GET", f"/v1/brands/{handle}/members", owner)
        assert listed.status_code == 200, listed.text
        return {m["account_id"]: m["role"] for m in listed.json()["members"]}

    assert (await roles())[colleague.account_id] == "agent"
    await row.locator("select").select_option("admin")
    await expect(row.locator("select")).to_have_value("admin")
    await eventually(lambda: roles(), lambda found: found.get(colleague.account_id) == "admin")

    await row.locator(".member-remove").click()
    await expect(row).to_have_count(0)
    assert colleague.account_id not in await roles()
    assert watch.errors == []


async def eventually(
    probe: Callable[[], Awaitable[Any]], holds: Callable[[Any], bool], timeout: float = 5
) -> None:
    """Poll the gateway until ``holds(await probe())`` (a browser's change is asynchronous)."""
    async with asyncio.timeout(timeout):
        while not holds(found := await probe()):
            await asyncio.sleep(0.05)
    assert holds(found)


async def test_profile_shows_figures_and_saves_hours(
    gateway: GatewayProcess, api: Api, browser: Browser, watch: PageWatch
) -> None:
    owner, handle = await desk(api)
    page = await open_console(browser, watch, gateway, owner)
    await page.click("#nav-profile")
    await expect(page.locator("#profile-name")).to_have_value(re.compile("Inc$"))
    await expect(page.locator("#service-figures")).to_contain_text("not enough data yet")

    await page.fill("#profile-name", "Acme Rockets")
    await page.fill("#profile-description", "Rockets, delivered.")
    await page.fill("#profile-timezone", "Europe/Paris")
    await page.check("#hours-sat-open")
    await page.fill("#hours-sat-from", "10:00")
    await page.fill("#hours-sat-to", "14:00")
    await page.uncheck("#hours-fri-open")
    await page.click("#profile-save")
    outcome = page.locator("#profile-ok:visible, #profile-error:visible")
    await expect(outcome).to_have_count(1)

    saved = await api.call("GET", f"/v1/brands/{handle}")
    if saved.json()["name"] == "Acme Rockets":
        await expect(page.locator("#profile-ok")).to_have_text("Saved.")
        brand = saved.json()
        assert brand["description"] == "Rockets, delivered."
        assert brand["hours"]["time_zone"] == "Europe/Paris"
        assert brand["hours"]["weekly"]["sat"] == [["10:00", "14:00"]]
        assert brand["hours"]["weekly"]["fri"] == []
        assert brand["hours"]["weekly"]["mon"] == [["09:00", "17:00"]]
    else:  # a gateway without PATCH /v1/brands/{handle}: the failure is said, not hidden
        await expect(page.locator("#profile-error")).to_contain_text("Not saved")

    await page.fill("#profile-timezone", "Mars/Olympus")
    await page.click("#profile-save")
    await expect(page.locator("#profile-error")).to_contain_text("IANA")
    assert watch.errors == []


async def test_screenshot_of_the_inbox(
    gateway: GatewayProcess, api: Api, browser: Browser, watch: PageWatch, connect: Connect
) -> None:
    owner = await sign_up_named(api, "Marc Dubois")
    handle = unique("northwind")[:30]
    created = await api.call(
        "POST", "/v1/brands", owner, json={"handle": handle, "name": "Northwind Telecom"}
    )
    assert created.status_code == 201, created.text
    agent = await sign_up_named(api, "Priya Shah")
    await api.add_member(owner, handle, agent)
    threads = [
        ("Lea Martin", ["Hi! My order #4821 still says 'preparing' after 6 days."]),
        ("Jonas Weber", ["The router keeps dropping wifi every evening.", "Restarted it twice."]),
        ("Amara Okafor", ["Can I change the delivery address for tomorrow?"]),
        ("Kenji Sato", ["I was charged twice for March, see attached reference 55-210."]),
        ("Sofia Rossi", ["Thanks, that fixed it!"]),
    ]
    conversations = []
    for name, texts in threads:
        consumer = await sign_up_named(api, name)
        socket = await connect(consumer)
        ack = await socket.send_message(texts[0], to=f"@{handle}")
        for text in texts[1:]:
            await socket.send_message(text, conversation_id=ack["conversation_id"])
        conversations.append(ack["conversation_id"])
    agent_socket = await connect(agent)
    await agent_socket.send_message(
        "Glad to hear it, Sofia. Have a good day!", conversation_id=conversations[4]
    )
    await api.call("POST", f"/v1/conversations/{conversations[2]}/assign", owner,
                   json={"account_id": agent.account_id})  # fmt: skip

    page = await open_console(browser, watch, gateway, owner)
    await expect(page.locator("#inbox .inbox-item")).to_have_count(len(threads))
    await item(page, conversations[1]).click()
    await expect(page.locator("#messages .message-text").last).to_have_text("Restarted it twice.")
    await page.click("#assign-me")
    await expect(page.locator("#assign-select")).to_have_value(owner.account_id)
    await page.fill("#reply", "Sorry to hear that, Jonas. Which router model do you have?")
    await page.press("#reply", "Enter")
    await expect(page.locator("#reply")).to_have_value("")
    await expect(page.locator("#messages .message[data-seq] .message-text").last).to_have_text(
        "Sorry to hear that, Jonas. Which router model do you have?"
    )
    await page.locator("#reply").blur()
    DOCS.mkdir(exist_ok=True)
    await page.screenshot(path=str(DOCS / "console-inbox.png"))
    assert (DOCS / "console-inbox.png").stat().st_size > 10_000
    assert watch.errors == []


async def sign_up_named(api: Api, display_name: str) -> User:
    email = f"{unique(display_name.split()[0].lower())}@example.com"
    created = await api.call(
        "POST", "/v1/accounts",
        json={"email": email, "password": PASSWORD, "display_name": display_name},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    session = await api.call("POST", "/v1/sessions", json={"email": email, "password": PASSWORD})
    assert session.status_code == 201, session.text
    return User(created.json()["id"], email, display_name, session.json()["token"])
