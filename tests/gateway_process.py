"""A real gateway: ``atdesk serve`` in a child process on a free port of 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

# Fast password hashing keeps a suite that signs up hundreds of accounts quick; production
# parameters are the library's defaults. Limits are high so tests measure behaviour, not
# rate limiting, except where a test sets its own.
TEST_ENV = {
    "ATDESK_PASSWORD_TIME_COST": "1",
    "ATDESK_PASSWORD_MEMORY_KIB": "8192",
    "ATDESK_SEND_RATE": "100000",
    "ATDESK_SEND_BURST": "100000",
    "ATDESK_FRAME_RATE": "100000",
    "ATDESK_FRAME_BURST": "100000",
    "ATDESK_LOGIN_ATTEMPTS_PER_MINUTE": "1000",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class GatewayProcess:
    """Start, stop, kill and restart one gateway; its database lives in ``workdir``."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.env = {
            **os.environ,
            **TEST_ENV,
            "ATDESK_DATABASE_URL": f"sqlite:///{workdir / 'atdesk.sqlite3'}",
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "gateway.log"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/ws"

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "serve", "--port", str(self.port),
                 "--log-level", "warning"],
                cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited at start:\n{self.log()}")
            try:
                if httpx.get(self.http_url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"gateway did not start:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
