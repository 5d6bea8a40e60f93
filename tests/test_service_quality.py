"""PROTOCOL 6 against a real gateway with a controlled clock: a known history of cases,
and every figure checked exactly (medians of odd and even counts, means, nulls below 5
cases, the edge of the 30-day window, reopened cases, per agent and per day).

How time is controlled: the gateway runs with ``ATDESK_TESTING=1`` and
``ATDESK_TEST_CLOCK_FILE``, a file holding the time every stored timestamp takes (refused
without ATDESK_TESTING, so it cannot freeze a production clock). The history is made
through the real endpoints and socket, so the figures kept at commit time are what is
tested; backdating rows in the database would test a history the gateway never built.
The file is written before the gateway starts and the clock only moves forward: on the
Redis bus a node ignores messages older than its start.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.clients import Api, Socket, User
from tests.conftest import run_gateway
from tests.gateway_process import GatewayProcess

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.now = T0
        self.set(T0)

    def set(self, moment: datetime) -> None:
        self.now = moment
        self.path.write_text(moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"))

    def advance(self, seconds: float) -> datetime:
        self.set(self.now + timedelta(seconds=seconds))
        return self.now

    def env(self) -> dict[str, str]:
        """A gateway's settings to read its time from this clock."""
        return {"ATDESK_TESTING": "1", "ATDESK_TEST_CLOCK_FILE": str(self.path)}


@pytest.fixture(scope="module")
def clock(tmp_path_factory: pytest.TempPathFactory) -> Clock:
    return Clock(tmp_path_factory.mktemp("clock") / "now")


@pytest.fixture(scope="module")
def gateway(clock: Clock, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    yield from run_gateway(tmp_path_factory.mktemp("service"), clock.env())


async def service_of(api: Api, handle: str) -> dict[str, Any]:
    response = await api.call("GET", f"/v1/brands/{handle}")
    assert response.status_code == 200, response.text
    service: dict[str, Any] = response.json()["service"]
    return service


NULLS = {"median_first_response_s": None, "csat": None, "rated_cases": None,
         "resolved_cases": None, "window_days": 30}  # fmt: skip


async def resolve(api: Api, agent: User, conversation_id: str, estimate: int | None) -> None:
    body = {} if estimate is None else {"agent_estimate": estimate}
    response = await api.call(
        "POST", f"/v1/conversations/{conversation_id}/resolve", agent, json=body
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "resolved"


async def rate(
    api: Api, consumer: User, conversation_id: str, score: int, comment: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"score": score}
    if comment is not None:
        body["comment"] = comment
    response = await api.call(
        "POST", f"/v1/conversations/{conversation_id}/rating", consumer, json=body
    )
    assert response.status_code == 201, response.text
    rating: dict[str, Any] = response.json()
    return rating


async def test_a_known_history_gives_exact_figures(
    api: Api, gateway: GatewayProcess, clock: Clock
) -> None:
    clock.set(T0)
    owner = await api.sign_up("owner")
    ana, ben = await api.sign_up("ana"), await api.sign_up("ben")
    handle = await api.create_brand(owner, "metrics")
    await api.add_member(owner, handle, ana)
    await api.add_member(owner, handle, ben)
    consumers = [await api.sign_up(f"c{k}") for k in range(6)]
    desks = {
        "ana": await Socket.open(gateway.ws_url, ana),
        "ben": await Socket.open(gateway.ws_url, ben),
    }
    agents = {"ana": ana, "ben": ben}
    # case k: (first response after s, who answers and resolves, estimate, score, comment)
    plan = [
        (60, "ana", 5, 5, "quick and kind"),
        (120, "ana", 4, 4, None),
        (180, "ana", 4, 3, None),
        (240, "ben", 3, 5, None),
        (300, "ben", 2, 2, "took a while"),
        (600, "ben", None, None, None),
    ]
    conversations: list[str] = []
    first_response_at: list[datetime] = []
    resolved_at: list[datetime] = []
    for k, (delay, who, estimate, score, comment) in enumerate(plan):
        clock.set(T0 + timedelta(hours=k + 1))
        phone = await Socket.open(gateway.ws_url, consumers[k])
        ack = await phone.send_message("my order never came", to=f"@{handle}")
        conversation_id = ack["conversation_id"]
        conversations.append(conversation_id)
        clock.advance(delay / 2)
        await phone.send_message("hello?", conversation_id=conversation_id)  # not a new case
        clock.advance(delay / 2)
        first_response_at.append(clock.now)
        await desks[who].send_message("Looking into it", conversation_id=conversation_id)
        clock.advance(30)
        await desks[who].send_message("Found it", conversation_id=conversation_id)  # not first
        clock.advance(30)
        await resolve(api, agents[who], conversation_id, estimate)
        resolved_at.append(clock.now)
        frame = await phone.recv_until("rating_request")
        assert frame == {"type": "rating_request", "conversation_id": conversation_id, "case": 1}
        await phone.close()
        if k == 3:  # four cases: too few to judge
            assert await service_of(api, handle) == NULLS
        if score is not None:
            clock.advance(60)
            await rate(api, consumers[k], conversation_id, score, comment)

    # Reopen: the first consumer writes again; case 2 starts now, not at case 1.
    clock.set(T0 + timedelta(hours=7))
    phone = await Socket.open(gateway.ws_url, consumers[0])
    ack = await phone.send_message("it broke again", conversation_id=conversations[0])
    await phone.close()
    conversation = (await api.call("GET", f"/v1/conversations/{conversations[0]}", ana)).json()
    assert (conversation["status"], conversation["case"]) == ("open", 2)
    clock.advance(1000)
    await desks["ana"].send_message("On it", conversation_id=conversations[0])
    reopen_answered_at = clock.now
    clock.advance(5)

    # First responses: 60 120 180 240 300 600 1000 -> 240; scores 5 4 3 5 2 -> 3.8.
    assert await service_of(api, handle) == {
        "median_first_response_s": 240.0, "csat": 3.8, "rated_cases": 5,
        "resolved_cases": 6, "window_days": 30,
    }  # fmt: skip

    stats = (await api.call("GET", f"/v1/brands/{handle}/stats", ben)).json()
    assert stats["figures"] == {
        "median_first_response_s": 240.0, "csat": 3.8, "rated_cases": 5, "resolved_cases": 6,
    }  # fmt: skip
    # Estimates against scores: 5/5 4/4 4/3 3/5 2/2 -> |d| 0 0 1 2 0, d 0 0 1 -2 0.
    assert stats["estimates"] == {
        "compared_cases": 5, "mean_absolute_error": 0.6, "exact_share": 0.6, "bias": -0.2,
    }  # fmt: skip
    by_agent = {agent["agent"]["id"]: agent for agent in stats["agents"]}
    assert by_agent[ana.account_id] == {
        "agent": {"id": ana.account_id, "display_name": "Ana"},
        # 60 120 180 and the reopened case's 1000 -> (120 + 180) / 2
        "figures": {"median_first_response_s": 150.0, "csat": 4.0, "rated_cases": 3,
                    "resolved_cases": 3},
        "estimates": {"compared_cases": 3, "mean_absolute_error": 0.333, "exact_share": 0.667,
                      "bias": 0.333},
    }  # fmt: skip
    assert by_agent[ben.account_id] == {
        "agent": {"id": ben.account_id, "display_name": "Ben"},
        "figures": {"median_first_response_s": 300.0, "csat": 3.5, "rated_cases": 2,
                    "resolved_cases": 3},
        "estimates": {"compared_cases": 2, "mean_absolute_error": 1.0, "exact_share": 0.5,
                      "bias": -1.0},
    }  # fmt: skip
    assert set(by_agent) == {ana.account_id, ben.account_id}
    assert stats["window_days"] == 30
    days = stats["days"]
    assert len(days) == 31 and days[0]["date"] == "2026-01-30" and days[-1]["date"] == "2026-03-01"
    assert days[-1] == {
        "date": "2026-03-01", "median_first_response_s": 240.0, "csat": 3.8,
        "resolved_cases": 6, "rated_cases": 5,
    }  # fmt: skip
    assert all(
        day == {"date": day["date"], "median_first_response_s": None, "csat": None,
                "resolved_cases": 0, "rated_cases": 0}
        for day in days[:-1]
    )  # fmt: skip
    assert [(c["score"], c["comment"], c["case"], c["agent"]["id"]) for c in stats["comments"]] == [
        (2, "took a while", 1, ben.account_id),
        (5, "quick and kind", 1, ana.account_id),
    ]
    assert stats["comments"][0]["conversation_id"] == conversations[4]

    # The window's edge: a case counts while its moment is at most 30 days old.
    clock.set(first_response_at[0] + timedelta(days=30))
    assert (await service_of(api, handle))["median_first_response_s"] == 240.0
    clock.advance(0.001)  # case 1's first response leaves: 120 180 240 300 600 1000
    assert await service_of(api, handle) == {
        "median_first_response_s": 270.0, "csat": 3.8, "rated_cases": 5,
        "resolved_cases": 6, "window_days": 30,
    }  # fmt: skip
    clock.set(resolved_at[0] + timedelta(days=30, milliseconds=1))
    # Case 1's resolution leaves too: 5 resolved, 4 rated (too few for a CSAT).
    assert await service_of(api, handle) == {
        "median_first_response_s": 270.0, "csat": None, "rated_cases": None,
        "resolved_cases": 5, "window_days": 30,
    }  # fmt: skip
    clock.set(reopen_answered_at + timedelta(days=31))
    assert await service_of(api, handle) == NULLS
    for socket in desks.values():
        await socket.close()


async def test_rating_rules(api: Api, gateway: GatewayProcess, clock: Clock) -> None:
    clock.set(clock.now + timedelta(days=60))  # fresh sessions: the clock only moves on
    owner, lea, stranger = [await api.sign_up(name) for name in ("owner", "lea", "stranger")]
    handle = await api.create_brand(owner, "rates")
    phone = await Socket.open(gateway.ws_url, lea)
    conversation_id = (await phone.send_message("hi", to=f"@{handle}"))["conversation_id"]
    path = f"/v1/conversations/{conversation_id}/rating"

    async def attempt(user: User, body: dict[str, Any]) -> tuple[int, str | None]:
        response = await api.call("POST", path, user, json=body)
        return response.status_code, response.json().get("error", {}).get("code")

    assert await attempt(lea, {"score": 4}) == (409, "not_resolved")
    await resolve(api, owner, conversation_id, None)
    assert await attempt(owner, {"score": 5}) == (403, "forbidden")
    assert await attempt(stranger, {"score": 5}) == (404, "not_found")
    for bad in (
        {"score": 0},
        {"score": 6},
        {"score": "5"},
        {},
        {"score": 3, "comment": "x" * 2001},
    ):
        assert await attempt(lea, bad) == (422, "invalid_input")
    rating = await rate(api, lea, conversation_id, 4, "  fine  ")
    assert rating["case"] == 1 and rating["score"] == 4 and rating["comment"] == "fine"
    assert rating["created_at"].endswith("Z")
    assert await attempt(lea, {"score": 5}) == (409, "already_rated")
    # A new case that is open: the latest resolved case (1) is rated already.
    await phone.send_message("one more thing", conversation_id=conversation_id)
    assert await attempt(lea, {"score": 5}) == (409, "already_rated")
    await resolve(api, owner, conversation_id, 3)
    assert (await rate(api, lea, conversation_id, 5))["case"] == 2
    await phone.close()


async def test_stats_are_for_members_and_take_a_window(
    api: Api, gateway: GatewayProcess, clock: Clock
) -> None:
    owner, agent, stranger = [await api.sign_up(name) for name in ("owner", "agent", "x")]
    handle = await api.create_brand(owner, "quiet")
    await api.add_member(owner, handle, agent)
    for user in (owner, agent):
        response = await api.call("GET", f"/v1/brands/{handle}/stats?days=7", user)
        assert response.status_code == 200, response.text
        stats = response.json()
        assert stats["window_days"] == 7 and len(stats["days"]) in (7, 8)
        assert stats["figures"] == {"median_first_response_s": None, "csat": None,
                                    "rated_cases": 0, "resolved_cases": 0}  # fmt: skip
        assert stats["agents"] == [] and stats["comments"] == []
    response = await api.call("GET", f"/v1/brands/{handle}/stats", stranger)
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    assert (await api.call("GET", f"/v1/brands/{handle}/stats")).status_code == 401
    for days in ("0", "366", "x"):
        response = await api.call("GET", f"/v1/brands/{handle}/stats?days={days}", owner)
        assert response.status_code == 422
    response = await api.call("GET", "/v1/brands/nosuchbrand1/stats", owner)
    assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_brand"


# --- opening hours and the one automatic message per case ----------------------------

WEEKDAYS = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


async def set_hours(api: Api, user: User, handle: str, hours: Any) -> Any:
    return await api.call("PATCH", f"/v1/brands/{handle}", user, json={"hours": hours})


async def test_hours_are_set_by_owners_and_admins_and_shown_publicly(
    api: Api, clock: Clock
) -> None:
    owner, admin, agent, stranger = [
        await api.sign_up(name) for name in ("owner", "admin", "agent", "x")
    ]
    handle = await api.create_brand(owner, "hours")
    await api.add_member(owner, handle, admin, "admin")
    await api.add_member(owner, handle, agent)
    assert (await api.call("GET", f"/v1/brands/{handle}")).json()["hours"] is None
    hours = {"time_zone": "Europe/Paris", "weekly": WEEKDAYS}
    for user, status in ((agent, 403), (stranger, 403), (admin, 200), (owner, 200)):
        assert (await set_hours(api, user, handle, hours)).status_code == status
    shown = (await api.call("GET", f"/v1/brands/{handle}")).json()["hours"]
    assert shown == {"time_zone": "Europe/Paris", "weekly": {**WEEKDAYS, "sat": [], "sun": []}}
    found = (await api.call("GET", "/v1/brands", params={"q": handle})).json()["brands"]
    assert found[0]["hours"] == shown
    problems = [
        ({"time_zone": "Mars/Olympus", "weekly": {}}, "invalid_hours", "IANA time zone"),
        ({"time_zone": "UTC", "weekly": {"tue": [["17:00", "09:00"]]}}, "invalid_hours",
         "end 09:00 must be after the start 17:00"),
        ({"time_zone": "UTC", "weekly": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}},
         "invalid_hours", "overlap"),
        ({"time_zone": "UTC", "weekly": {"monday": []}}, "invalid_input", "monday"),
        ({"time_zone": "UTC", "weekly": {"mon": [["9h", "17:00"]]}}, "invalid_input", "regex"),
    ]  # fmt: skip
    for bad, code, words in problems:
        response = await set_hours(api, owner, handle, bad)
        assert response.status_code == 422, response.text
        assert (
            response.json()["error"]["code"] == code
            and words in response.json()["error"]["message"]
        ), response.text
    renamed = await api.call("PATCH", f"/v1/brands/{handle}", owner, json={"name": "Hours Co"})
    assert renamed.json()["name"] == "Hours Co" and renamed.json()["hours"] == shown
    cleared = await set_hours(api, owner, handle, None)
    assert cleared.status_code == 200 and cleared.json()["hours"] is None


async def send_answered(
    socket: Socket, text: str, **where: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Send; the ack and the gateway's own answer, which comes before the ack."""
    before_ack: list[dict[str, Any]] = []
    ack = await socket.send_message(text, skipped=before_ack, **where)
    [answer] = [
        frame["message"]
        for frame in before_ack
        if frame["type"] == "message" and frame["message"]["sender"]["role"] == "system"
    ]
    return ack, answer


async def roles_of(api: Api, user: User, conversation_id: str) -> list[str]:
    return [m["sender"]["role"] for m in await api.history(user, conversation_id)]


async def test_a_closed_desk_answers_once_per_case_with_the_next_opening(
    api: Api, gateway: GatewayProcess, clock: Clock
) -> None:
    # Friday 27 March 2026, 18:30 in Paris; the clocks go forward on Sunday.
    clock.set(datetime(2026, 3, 27, 17, 30, tzinfo=UTC))
    owner, agent, lea = [await api.sign_up(name) for name in ("owner", "agent", "lea")]
    handle = await api.create_brand(owner, "paris")
    await api.add_member(owner, handle, agent)
    paris = {"time_zone": "Europe/Paris", "weekly": WEEKDAYS}
    assert (await set_hours(api, owner, handle, paris)).status_code == 200
    desk = await Socket.open(gateway.ws_url, agent)  # a member is online: the desk is closed
    phone = await Socket.open(gateway.ws_url, lea)
    ack, auto = await send_answered(phone, "my line is dead", to=f"@{handle}")
    conversation_id = ack["conversation_id"]
    assert ack["seq"] == 1
    assert auto["seq"] == 2
    assert auto["sender"] == {"id": "a_system", "role": "system", "display_name": "atdesk"}
    assert f"@{handle} is closed now" in auto["text"]
    assert "Mon 30 Mar at 09:00 (Europe/Paris)" in auto["text"], auto["text"]
    assert "first answered" not in auto["text"]  # no median below 5 answered cases
    assert auto["created_at"] == "2026-03-27T17:30:00.000Z"
    await phone.send_message("hello?", conversation_id=conversation_id)
    await phone.send_message("anyone?", conversation_id=conversation_id)
    clock.set(datetime(2026, 3, 30, 7, 5, tzinfo=UTC))  # Monday 09:05, summer time
    await desk.send_message("Good morning!", conversation_id=conversation_id)
    await resolve(api, agent, conversation_id, None)
    # Saturday 24 October, before the clocks go back: case 2 gets its own message.
    clock.set(datetime(2026, 10, 24, 10, 0, tzinfo=UTC))
    lea = await api.sign_in(lea)
    agent = await api.sign_in(agent)
    await phone.close()
    phone = await Socket.open(gateway.ws_url, lea)
    ack, auto = await send_answered(phone, "again", conversation_id=conversation_id)
    assert auto["seq"] == ack["seq"] + 1 == 7
    assert "Mon 26 Oct at 09:00 (Europe/Paris)" in auto["text"]
    assert await roles_of(api, lea, conversation_id) == [
        "consumer", "system", "consumer", "consumer", "agent", "consumer", "system",
    ]  # fmt: skip
    conversation = (await api.call("GET", f"/v1/conversations/{conversation_id}", lea)).json()
    assert (conversation["status"], conversation["case"]) == ("open", 2)
    await phone.close()
    await desk.close()


async def test_an_open_desk_answers_only_when_no_member_is_online(
    api: Api, gateway: GatewayProcess, clock: Clock
) -> None:
    clock.set(datetime(2026, 11, 2, 10, 0, tzinfo=UTC))  # Monday 11:00 in Paris
    owner, agent, lea, max_ = [await api.sign_up(n) for n in ("owner", "agent", "lea", "max")]
    handle = await api.create_brand(owner, "staffed")
    await api.add_member(owner, handle, agent)
    hours = {"time_zone": "Europe/Paris", "weekly": WEEKDAYS}
    assert (await set_hours(api, owner, handle, hours)).status_code == 200
    # Nobody online: one honest message, no fake human.
    phone = await Socket.open(gateway.ws_url, lea)
    ack, auto = await send_answered(phone, "hi", to=f"@{handle}")
    assert auto["seq"] == 2
    assert auto["text"] == (
        f"@{handle} is open, but no one is online right now. A person will answer as soon as "
        "one is back."
    )
    # The agent is online: no message; their answer is the next one.
    desk = await Socket.open(gateway.ws_url, agent)
    other = await Socket.open(gateway.ws_url, max_)
    ack = await other.send_message("hi", to=f"@{handle}")
    await desk.recv_until("message")
    await desk.send_message("Hello Max", conversation_id=ack["conversation_id"])
    assert await roles_of(api, max_, ack["conversation_id"]) == ["consumer", "agent"]
    for socket in (phone, desk, other):
        await socket.close()


async def test_a_brand_without_hours_answers_once_per_case_when_nobody_is_online(
    api: Api, gateway: GatewayProcess
) -> None:
    _, agent, handle = await api.desk("nohours")
    lea, max_ = await api.sign_up("lea"), await api.sign_up("max")
    phone = await Socket.open(gateway.ws_url, lea)
    ack, auto = await send_answered(phone, "hi", to=f"@{handle}")
    conversation_id = ack["conversation_id"]
    assert (ack["seq"], auto["seq"]) == (1, 2)
    assert auto["sender"] == {"id": "a_system", "role": "system", "display_name": "atdesk"}
    assert auto["text"] == (
        f"No one at @{handle} is online right now. A person will answer as soon as one is back."
    )
    # One per case: writing again while nobody is online gets no second one.
    await phone.send_message("hello?", conversation_id=conversation_id)
    assert await roles_of(api, lea, conversation_id) == ["consumer", "system", "consumer"]

    # A member online: a new case gets no automatic answer; the member's is the next one.
    desk = await Socket.open(gateway.ws_url, agent)
    other = await Socket.open(gateway.ws_url, max_)
    opened = await other.send_message("hi", to=f"@{handle}")
    await desk.send_message("Hello Max", conversation_id=opened["conversation_id"])
    assert await roles_of(api, max_, opened["conversation_id"]) == ["consumer", "agent"]

    await desk.close()
    for socket in (phone, other):
        await socket.close()
