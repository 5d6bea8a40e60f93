"""Acceptance: ``GET /v1/openapi.json`` is an OpenAPI 3.1 document of every HTTP endpoint,
request and response, kept true by tests; ``schemathesis`` run against it on a live server
finds no 5xx and no response that breaks the schema."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
from schemathesis.specs.openapi.definitions import OPENAPI_31
from starlette.routing import Mount, Route
from websockets.sync.client import connect

from gateway.app import ENDPOINTS, create_app, gateway_version
from gateway.http.openapi import openapi_document
from gateway.settings import load_settings
from gateway.websocket import SOCKET_PATH, SocketMiddleware
from tests.clients import Api, Socket, User, unique
from tests.gateway_process import GatewayProcess

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Served but deliberately outside the API document; each entry says why.
UNDOCUMENTED = {
    ("GET", "/v1/openapi.json"): "the document itself",
    ("GET", "/metrics"): "Prometheus text exposition for operators, not part of the API",
    ("GET", "/"): "a redirect to the consumer app",
    ("GET", "/console"): "the brand console's page",
    ("GET", "/app"): "the consumer app's page",
    ("GET", "/sdk/atdesk.js"): "the JavaScript SDK, for the pages",
}
STATIC_MOUNTS = {"/console/static", "/app/static"}
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
# Every check that holds for an honest API; the two generation checks
# (positive_data_acceptance, negative_data_rejection) are left out: the document cannot
# express every semantic rule (an email's shape, reserved handles, a cursor's validity).
CHECKS = ",".join([
    "not_a_server_error", "status_code_conformance", "content_type_conformance",
    "response_schema_conformance", "response_headers_conformance", "unsupported_method",
    "allow_header_conformance", "ignored_auth", "missing_required_header", "use_after_free",
    "ensure_resource_availability",
])  # fmt: skip


def fetch_document(gateway: GatewayProcess) -> dict[str, Any]:
    response = httpx.get(gateway.http_url + "/v1/openapi.json", timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    document: dict[str, Any] = response.json()
    return document


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method.upper(), path, operation


def refs_in(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str):
                yield item
            else:
                yield from refs_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from refs_in(item)


# --- the document: complete and well formed ------------------------------------------


def test_the_document_lists_exactly_the_http_routes_the_app_serves(
    gateway: GatewayProcess, tmp_path: Path
) -> None:
    document = fetch_document(gateway)
    documented = {(method, path) for method, path, _ in operations(document)}
    app = create_app(load_settings({"ATDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"}))
    served: set[tuple[str, str]] = set()
    try:
        for candidate in app.routes:
            if isinstance(candidate, Mount):
                assert candidate.path in STATIC_MOUNTS, candidate
                continue
            assert isinstance(candidate, Route), candidate
            served |= {(method, candidate.path) for method in candidate.methods or ()}
    finally:
        app.state.gateway.db.engine.dispose()
    served -= {(method, path) for method, path in served if method == "HEAD"}  # implied by GET
    # The one socket is served in front of the router (not a route), and nothing else is.
    assert SocketMiddleware in [middleware.cls for middleware in app.user_middleware]
    assert SOCKET_PATH == "/v1/ws"
    for route in UNDOCUMENTED:
        assert route in served, f"{route} is exempted but no longer served: drop the exemption"
    assert documented == served - set(UNDOCUMENTED)
    assert documented == {(endpoint.method, endpoint.path) for endpoint in ENDPOINTS}


def test_the_document_is_valid_openapi_3_1_with_every_request_and_response(
    gateway: GatewayProcess,
) -> None:
    document = fetch_document(gateway)
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"]), document["openapi"]
    errors = [error.message for error in jsonschema_rs.Draft202012Validator(OPENAPI_31)
              .iter_errors(document)]  # fmt: skip
    assert errors == []
    schemas = document["components"]["schemas"]
    for name, schema in schemas.items():
        assert jsonschema_rs.meta.is_valid(schema), name
    for ref in set(refs_in(document)):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    operation_ids = []
    for method, path, operation in operations(document):
        where = f"{method} {path}"
        operation_ids.append(operation["operationId"])
        assert operation["summary"], where
        responses = operation["responses"]
        successes = [status for status in responses if status.startswith("2")]
        assert len(successes) == 1, where
        for status, response in responses.items():
            assert response["description"], (where, status)
            if status == "204":
                assert "content" not in response, where
                continue
            schema = response["content"]["application/json"]["schema"]
            if not status.startswith("2"):
                assert schema == error_ref, (where, status)
        declared = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
        assert declared == set(re.findall(r"{(\w+)}", path)), where
        assert all(p["required"] for p in operation["parameters"] if p["in"] == "path"), where
        if "security" in operation:
            assert operation["security"] == [{"bearer": []}], where
            assert "401" in responses, where
        if "requestBody" in operation:
            assert "schema" in operation["requestBody"]["content"]["application/json"], where
            assert {"400", "422"} <= set(responses), where
    assert len(operation_ids) == len(set(operation_ids))
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer"
    }  # fmt: skip


# --- every endpoint answers as documented --------------------------------------------


class Tour:
    """Calls endpoints and checks each answer against the document: status and body."""

    def __init__(self, api: Api, document: dict[str, Any]) -> None:
        self.api = api
        self.document = document
        self.seen: set[tuple[str, str]] = set()

    async def call(
        self, method: str, template: str, user: User | None = None, *, status: int,
        path: dict[str, str] | None = None, **kwargs: Any,
    ) -> httpx.Response:  # fmt: skip
        response = await self.api.call(method, template.format(**(path or {})), user, **kwargs)
        assert response.status_code == status, (method, template, response.text)
        operation = self.document["paths"][template][method.lower()]
        documented = operation["responses"].get(str(status))
        assert documented is not None, f"{method} {template} answered an undocumented {status}"
        if "content" not in documented:
            assert response.content == b"", response.text
        else:
            assert response.headers["content-type"].startswith("application/json")
            schema = documented["content"]["application/json"]["schema"]
            validator = jsonschema_rs.Draft202012Validator(
                {**schema, "components": self.document["components"]}
            )
            problems = [error.message for error in validator.iter_errors(response.json())]
            assert problems == [], (method, template, status, response.text)
        self.seen.add((method, template))
        return response


async def test_every_endpoint_answers_as_its_document_says(
    gateway: GatewayProcess, api: Api
) -> None:
    document = fetch_document(gateway)
    tour = Tour(api, document)
    await tour.call("GET", "/healthz", status=200)
    await tour.call("GET", "/readyz", status=200)
    email = f"{unique('owner')}@example.com"
    credentials = {"email": email, "password": "correct horse"}
    account = await tour.call(
        "POST", "/v1/accounts", json={**credentials, "display_name": "Owner"}, status=201
    )
    session = await tour.call("POST", "/v1/sessions", json=credentials, status=201)
    owner = User(account.json()["id"], email, "Owner", session.json()["token"])
    agent = await api.sign_up("agent")
    consumer = await api.sign_up("consumer")

    await tour.call("GET", "/v1/me", owner, status=200)
    await tour.call("PATCH", "/v1/me", owner, json={"push_previews": True}, status=200)
    handle = unique("tour")[:30]
    brand = {"handle": handle}
    await tour.call("POST", "/v1/brands", owner, json={**brand, "name": "Tour"}, status=201)
    await tour.call("GET", "/v1/brands", params={"q": handle[:5]}, status=200)
    await tour.call("GET", "/v1/brands/{handle}", path=brand, status=200)
    await tour.call(
        "POST",
        "/v1/brands/{handle}/members",
        owner,
        path=brand,
        json={"email": agent.email, "role": "agent"},
        status=201,
    )

    socket = await Socket.open(gateway.ws_url, consumer)
    ack = await socket.send_message(f"@{handle} hello", to=f"@{handle}")
    await socket.close()
    conversation = {"conversation_id": ack["conversation_id"]}
    await tour.call("GET", "/v1/conversations", owner, status=200)
    await tour.call(
        "GET", "/v1/conversations/{conversation_id}", owner, path=conversation, status=200
    )
    await tour.call(
        "GET",
        "/v1/conversations/{conversation_id}/messages",
        consumer,
        path=conversation,
        status=200,
    )
    await tour.call(
        "POST",
        "/v1/conversations/{conversation_id}/assign",
        owner,
        path=conversation,
        json={"account_id": agent.account_id},
        status=200,
    )
    await tour.call(
        "POST",
        "/v1/conversations/{conversation_id}/resolve",
        agent,
        path=conversation,
        json={"agent_estimate": 4},
        status=200,
    )
    rating = "/v1/conversations/{conversation_id}/rating"
    await tour.call("POST", rating, consumer, path=conversation, json={"score": 4}, status=201)
    await tour.call("POST", rating, consumer, path=conversation, json={"score": 4}, status=409)
    await tour.call("GET", "/v1/brands/{handle}/stats", agent, path=brand, status=200)
    hours = {"time_zone": "Europe/Paris", "weekly": {"mon": [["09:00", "17:00"]]}}
    await tour.call(
        "PATCH", "/v1/brands/{handle}", owner, path=brand, json={"hours": hours}, status=200
    )
    await tour.call("POST", "/v1/brands/{handle}/follow", consumer, path=brand, status=204)
    await tour.call("DELETE", "/v1/brands/{handle}/follow", consumer, path=brand, status=204)
    notice = {"title": "Outage", "text": "We are on it."}
    notices = "/v1/brands/{handle}/notices"
    await tour.call("POST", notices, owner, path=brand, json=notice, status=201)
    await tour.call("GET", notices, path=brand, status=200)
    canned = "/v1/brands/{handle}/canned"
    reply = await tour.call(
        "POST", canned, owner, path=brand, json={"title": "hi", "text": "Hello!"}, status=201
    )
    await tour.call("GET", canned, agent, path=brand, status=200)
    await tour.call(
        "DELETE",
        canned + "/{canned_id}",
        owner,
        path={**brand, "canned_id": reply.json()["id"]},
        status=204,
    )

    device = {"push_token": f"tour-{uuid.uuid4().hex}"}
    await tour.call(
        "POST", "/v1/devices", consumer, json={"platform": "android", **device}, status=201
    )
    await tour.call("GET", "/v1/devices", consumer, status=200)
    await tour.call("DELETE", "/v1/devices/{push_token}", consumer, path=device, status=204)
    await tour.call("GET", "/v1/brands/{handle}/members", agent, path=brand, status=200)
    await tour.call(
        "DELETE",
        "/v1/brands/{handle}/members/{account_id}",
        owner,
        path={**brand, "account_id": agent.account_id},
        status=204,
    )

    # Errors are documented too, in the one error shape.
    await tour.call("GET", "/v1/brands/{handle}", path={"handle": "no_such_brand"}, status=404)
    await tour.call(
        "POST", "/v1/accounts", json={**credentials, "display_name": "Again"}, status=409
    )
    await tour.call(
        "POST", "/v1/sessions", json={**credentials, "password": "wrong horse"}, status=401
    )
    await tour.call(
        "POST", "/v1/brands", owner, json={"handle": handle, "name": "Again"}, status=409
    )
    await tour.call("POST", "/v1/brands", owner, json={"handle": "-", "name": "X"}, status=422)
    await tour.call("POST", "/v1/brands", owner, content=b"{", status=400)
    await tour.call("GET", "/v1/conversations", owner, params={"limit": 0}, status=422)
    await tour.call(
        "GET",
        "/v1/conversations/{conversation_id}",
        agent,
        path={"conversation_id": "c_nope"},
        status=404,
    )
    await tour.call(
        "POST",
        "/v1/conversations/{conversation_id}/resolve",
        consumer,
        path=conversation,
        status=403,
    )
    # Browser sessions: a sign-in without the CSRF proof is refused; signing out works
    # with any session (it also clears the cookie).
    await tour.call("POST", "/v1/web/session", json=credentials, status=403)
    await tour.call("DELETE", "/v1/web/session", await api.sign_in(consumer), status=204)
    await tour.call("DELETE", "/v1/sessions/current", owner, status=204)
    await tour.call("GET", "/v1/me", owner, status=401)

    missing = {(m, p) for m, p, _ in operations(document)} - tour.seen
    assert not missing, f"add a call to the tour for each of {sorted(missing)}"


# --- schemathesis against the live server --------------------------------------------


def _sign_up(http: httpx.Client, name: str) -> tuple[str, str, str]:
    """A new account, signed in: (account id, email, token)."""
    email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"
    body = {"email": email, "password": "correct horse", "display_name": name.title()}
    created = http.post("/v1/accounts", json=body)
    assert created.status_code == 201, created.text
    session = http.post("/v1/sessions", json={"email": email, "password": "correct horse"})
    assert session.status_code == 201, session.text
    return created.json()["id"], email, session.json()["token"]


def _schemathesis(server: GatewayProcess, config: Path, token: str, *options: str) -> None:
    done = subprocess.run(
        [SCHEMATHESIS, "--config-file", str(config), "run", f"{server.http_url}/v1/openapi.json",
         "--checks", CHECKS, "-H", f"Authorization: Bearer {token}", "--workers", "1",
         "--generation-database", "none", "--no-color", "--request-timeout", "30", *options],
        cwd=server.workdir, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    print(done.stdout[-3_000:])  # the summary, for pytest -s
    assert done.returncode == 0, done.stdout[-20_000:] + done.stderr[-5_000:]
    assert "passed" in done.stdout, done.stdout


def test_schemathesis_finds_no_server_error_and_no_response_off_the_schema(
    own_gateway: GatewayProcess,
) -> None:
    own_gateway.start()
    with httpx.Client(base_url=own_gateway.http_url, timeout=30) as http:
        owner_id, owner_email, owner_token = _sign_up(http, "owner")
        agent_id, agent_email, _ = _sign_up(http, "agent")
        consumer_id, consumer_email, consumer_token = _sign_up(http, "consumer")
        _, _, leaver_token = _sign_up(http, "leaver")
        auth = {"Authorization": f"Bearer {owner_token}"}
        brand = http.post("/v1/brands", headers=auth, json={"handle": "acme", "name": "ACME"})
        assert brand.status_code == 201, brand.text
        member = http.post(
            "/v1/brands/acme/members", headers=auth, json={"email": agent_email, "role": "agent"}
        )
        assert member.status_code == 201, member.text
    with connect(own_gateway.ws_url, ping_interval=None) as socket:
        socket.send(json.dumps({"type": "hello", "token": consumer_token}))
        assert json.loads(socket.recv(timeout=10))["type"] == "welcome"
        socket.send(json.dumps(
            {"type": "send", "ref": "r", "client_id": "c1", "to": "@acme", "text": "hello"}
        ))  # fmt: skip
        while (ack := json.loads(socket.recv(timeout=10)))["type"] != "ack":
            pass

    # Real identifiers, so that generated requests reach past "not found" most of the time.
    config = own_gateway.workdir / "schemathesis.toml"
    config.write_text(
        "\n".join([
            "[dictionaries.handles]", 'values = ["acme"]',
            "[dictionaries.conversations]", f'values = ["{ack["conversation_id"]}"]',
            "[dictionaries.accounts]", f'values = ["{agent_id}", "{owner_id}", "{consumer_id}"]',
            "[dictionaries.emails]", f'values = ["{agent_email}", "{consumer_email}"]',
            "[parameters]",
            '"path.handle" = { dictionary = "handles", probability = 0.7 }',
            '"path.conversation_id" = { dictionary = "conversations", probability = 0.7 }',
            '"path.account_id" = { dictionary = "accounts", probability = 0.7 }',
            '"body.email" = { dictionary = "emails", probability = 0.5 }',
        ]) + "\n"
    )  # fmt: skip
    # Signing out kills the token the rest of the run depends on: that operation runs alone,
    # with a token of its own.
    _schemathesis(
        own_gateway, config, owner_token,
        "--max-examples", "25", "--exclude-operation-id", "delete_current_session",
    )  # fmt: skip
    _schemathesis(
        own_gateway, config, leaver_token,
        "--max-examples", "10", "--include-operation-id", "delete_current_session",
    )  # fmt: skip
    log = own_gateway.log()
    assert "Traceback" not in log, log[-5000:]


def test_the_document_is_served_as_generated_from_the_declarations(
    gateway: GatewayProcess,
) -> None:
    """Nothing is written by hand: the server sends what the endpoint declarations make."""
    generated = openapi_document(ENDPOINTS, version=gateway_version())
    assert fetch_document(gateway) == json.loads(json.dumps(generated))
