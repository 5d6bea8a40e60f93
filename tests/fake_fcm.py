"""A local stand-in for FCM's HTTP v1 endpoint and Google's OAuth token endpoint.

Only the far end of the network is fake: the gateway runs the real firebase-admin code
(message encoding, OAuth with a signed JWT, httpx, error parsing) against this server.
Answers can be scripted per push token, and answers can be held back until released.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

PROJECT_ID = "atdesk-test"
ACCESS_TOKEN = "fake-access-token"
_FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any] | str
    delay_s: float = 0.0  # answer this late (to make the gateway time out)


def fcm_error(
    status: int,
    grpc_status: str,
    message: str,
    fcm_code: str | None = None,
    extra_details: list[dict[str, Any]] | None = None,
) -> Answer:
    details: list[dict[str, Any]] = []
    if fcm_code is not None:
        details.append({"@type": _FCM_ERROR, "errorCode": fcm_code})
    details += extra_details or []
    return Answer(
        status,
        {"error": {"code": status, "message": message, "status": grpc_status, "details": details}},
    )


# The answers FCM gives, as its documentation shows them.
UNREGISTERED = fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
INVALID_TOKEN = fcm_error(
    400,
    "INVALID_ARGUMENT",
    "The registration token is not a valid FCM registration token",
    "INVALID_ARGUMENT",
    [
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [
                {
                    "field": "message.token",
                    "description": "The registration token is not a valid FCM token",
                }
            ],
        }
    ],
)
SENDER_ID_MISMATCH = fcm_error(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH")
UNAVAILABLE = fcm_error(503, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE")
BAD_GATEWAY = Answer(502, "<html><body>502 Bad Gateway</body></html>")


@dataclass
class Received:
    token: str
    message: dict[str, Any]
    status: int | None = None  # None until answered


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    scripts: dict[str, list[Answer]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    token_requests: int = 0
    bad_auth: int = 0
    released: threading.Event = field(default_factory=threading.Event)
    names: itertools.count[int] = field(default_factory=itertools.count)


class _Server(ThreadingHTTPServer):
    # firebase-admin opens up to 100 connections at once; the default backlog of 5 would
    # refuse some of them, which is not what FCM does.
    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None  # a client that hung up (after a timeout) is not the test's concern


class FakeFcm:
    def __init__(self) -> None:
        self.state = _State()
        self.state.released.set()
        self.server = _Server(("127.0.0.1", 0), _handler(self.state))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.state.released.set()
        self.server.shutdown()
        self.server.server_close()

    def write_service_account(self, directory: Path) -> Path:
        """A service-account file with a fresh key, whose token_uri is this server."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        path = directory / "service-account.json"
        path.write_text(
            json.dumps(
                {
                    "type": "service_account",
                    "project_id": PROJECT_ID,
                    "private_key_id": "test-key",
                    "private_key": pem,
                    "client_email": f"push@{PROJECT_ID}.iam.gserviceaccount.com",
                    "client_id": "1",
                    "token_uri": f"{self.url}/token",
                }
            )
        )
        return path

    # --- scripting -------------------------------------------------------------------------

    def script(self, token: str, *answers: Answer) -> None:
        """Answer the next pushes to ``token`` with ``answers``, then with success."""
        with self.state.lock:
            self.state.scripts[token] = list(answers)

    def hold(self) -> None:
        """Receive pushes but answer none until ``release``."""
        self.state.released.clear()

    def release(self) -> None:
        self.state.released.set()

    # --- what it saw -----------------------------------------------------------------------

    def received(self, token: str | None = None) -> list[Received]:
        with self.state.lock:
            return [r for r in self.state.received if token is None or r.token == token]

    def delivered(self, token: str) -> list[dict[str, Any]]:
        """The messages to ``token`` that were answered with success, in order received."""
        return [r.message for r in self.received(token) if r.status == 200]

    @property
    def token_requests(self) -> int:
        return self.state.token_requests

    @property
    def bad_auth(self) -> int:
        return self.state.bad_auth

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"fake FCM: condition not met in {timeout} s")
            await asyncio.sleep(0.02)


def _handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects of FCM

        def log_message(self, format: str, *args: Any) -> None:
            return None

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", "0")))
            if self.path == "/token":
                with state.lock:
                    state.token_requests += 1
                self._reply(
                    200, {"access_token": ACCESS_TOKEN, "expires_in": 3600, "token_type": "Bearer"}
                )
                return
            if self.path != f"/v1/projects/{PROJECT_ID}/messages:send":
                self._reply(404, {"error": {"code": 404, "message": "no such path"}})
                return
            if self.headers.get("authorization") != f"Bearer {ACCESS_TOKEN}":
                with state.lock:
                    state.bad_auth += 1
                self._reply(
                    401,
                    {
                        "error": {
                            "code": 401,
                            "message": "bad credentials",
                            "status": "UNAUTHENTICATED",
                        }
                    },
                )
                return
            message = json.loads(raw)["message"]
            received = Received(token=message["token"], message=message)
            with state.lock:
                state.received.append(received)
                script = state.scripts.get(received.token)
                answer = script.pop(0) if script else None
                name = next(state.names)
            state.released.wait()
            if answer is None:
                answer = Answer(200, {"name": f"projects/{PROJECT_ID}/messages/{name}"})
            if answer.delay_s:
                time.sleep(answer.delay_s)
            # 0: answered only after the gateway had stopped waiting, so not delivered.
            received.status = 0 if answer.delay_s else answer.status
            try:
                self._reply(answer.status, answer.body)
            except OSError:
                pass  # the gateway gave up waiting (that is what a delay tests)

        def _reply(self, status: int, body: dict[str, Any] | str) -> None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header(
                "content-type", "text/html" if isinstance(body, str) else "application/json"
            )
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
