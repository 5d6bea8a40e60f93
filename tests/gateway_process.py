"""A real gateway: ``atdesk serve`` in a child process on a free port of 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import psycopg

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


# ATDESK_TEST_BACKEND=postgres runs every gateway of the suite on PostgreSQL and the Redis
# bus (each gateway in a database and key prefix of its own); the default is SQLite.
BACKEND = os.environ.get("ATDESK_TEST_BACKEND", "sqlite")
POSTGRES_ADMIN_URL = os.environ.get(
    "ATDESK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1/postgres"
)
REDIS_URL = os.environ.get("ATDESK_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _postgres_admin(statement: str) -> None:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
        connection.execute(statement)  # type: ignore[arg-type]


@contextlib.contextmanager
def throwaway_postgres_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for SQLAlchemy (its URL), dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    _postgres_admin(f'CREATE DATABASE "{name}"')
    try:
        base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace(
            "postgresql://", "postgresql+psycopg://"
        )
        yield f"{base}/{name}"
    finally:
        _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class GatewayProcess:
    """Start, stop, kill and restart one gateway; its database lives in ``workdir``."""

    def __init__(
        self,
        workdir: Path,
        env: dict[str, str] | None = None,
        *,
        backend: str = BACKEND,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.workdir = workdir
        self.extra_args = tuple(extra_args)  # more `atdesk serve` arguments, e.g. --demo
        self.port = free_port()
        backend_env = {"ATDESK_DATABASE_URL": f"sqlite:///{workdir / 'atdesk.sqlite3'}"}
        self.postgres_database: str | None = None
        self._owns_database = True
        if backend == "postgres":
            self.postgres_database = f"atdesk_t_{uuid.uuid4().hex[:16]}"
            _postgres_admin(f'CREATE DATABASE "{self.postgres_database}"')
            admin_url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
            backend_env = {
                "ATDESK_DATABASE_URL": f"{admin_url}/{self.postgres_database}",
                "ATDESK_REDIS_URL": REDIS_URL,
                "ATDESK_REDIS_PREFIX": self.postgres_database,
            }
        self.env = {**os.environ, **TEST_ENV, **backend_env, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "gateway.log"
        self._migrated = False

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/ws"

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None
        if self.postgres_database is not None and not self._migrated:
            subprocess.run(
                [sys.executable, "-m", "gateway.cli", "migrate"],
                cwd=self.workdir, env=self.env, check=True, capture_output=True,
            )  # fmt: skip
            self._migrated = True
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "serve", "--port", str(self.port),
                 "--log-level", "warning", *self.extra_args],
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

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` run directly on this gateway's database, whichever it is."""
        if self.postgres_database is None:
            with sqlite3.connect(self.workdir / "atdesk.sqlite3") as db:
                return db.execute(sql).fetchall()
        with psycopg.connect(self.env["ATDESK_DATABASE_URL"]) as connection:
            return connection.execute(sql).fetchall()  # type: ignore[arg-type]

    def sibling(self, workdir: Path, env: dict[str, str] | None = None) -> GatewayProcess:
        """Another node of the same system: same database, same Redis bus, its own port."""
        assert self.postgres_database is not None, "nodes share PostgreSQL and Redis"
        node = GatewayProcess(workdir, {**self.env, **(env or {})}, backend="sqlite")
        node.postgres_database = self.postgres_database
        node._owns_database = False
        node._migrated = True
        return node

    def destroy(self) -> None:
        """Stop, and drop the PostgreSQL database if there is one."""
        self.stop()
        if self.postgres_database is not None and self._owns_database:
            _postgres_admin(f'DROP DATABASE IF EXISTS "{self.postgres_database}" WITH (FORCE)')
