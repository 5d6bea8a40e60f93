"""Settings, read once from the environment at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from gateway.environment import SettingsError as SettingsError  # re-exported: part of this API
from gateway.environment import number
from gateway.push.settings import PushSettings, load_push_settings


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///var/atdesk.sqlite3"
    redis_url: str | None = None
    redis_prefix: str = "atdesk"  # keys and channels; lets several deployments share a Redis
    database_pool_size: int = 10
    allowed_origins: tuple[str, ...] = ()
    # Addresses of the TLS-terminating proxies whose X-Forwarded-For/-Proto are believed:
    # the client's address (sign-in limits) and https (Secure cookies) come from them.
    trusted_proxies: tuple[str, ...] = ()
    hello_timeout_s: float = 10.0
    heartbeat_s: int = 25
    # permessage-deflate on the socket: off by default, measured in bench/RESULTS.md (a
    # deflate context per socket costs memory that chat-sized frames do not win back).
    ws_deflate: bool = False
    session_days: int = 30
    # A human types a few messages a minute; SDK back ends may burst more.
    send_rate_per_s: float = 10.0
    send_burst: int = 50
    frame_rate_per_s: float = 50.0
    frame_burst: int = 200
    login_attempts_per_minute: int = 10
    password_time_cost: int = 3
    password_memory_kib: int = 65536
    push: PushSettings = PushSettings()
    # A notice fan-out that has not moved for this long is taken over by another node.
    notice_lease_s: float = 60.0
    # Tests only: the file the gateway's clock reads (gateway.ids.use_test_clock).
    test_clock_file: Path | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _database_url(raw: str | None) -> str:
    if not raw:
        return Settings.database_url
    try:
        url = make_url(raw)
    except ArgumentError:
        raise SettingsError(
            f"ATDESK_DATABASE_URL={raw!r} is not a database URL "
            "(try sqlite:///var/atdesk.sqlite3 or postgresql://host/db)"
        ) from None
    drivers = {
        "sqlite": "sqlite", "sqlite+pysqlite": "sqlite",
        "postgresql": "postgresql+psycopg", "postgresql+psycopg": "postgresql+psycopg",
    }  # fmt: skip
    if url.drivername not in drivers:
        raise SettingsError(
            f"ATDESK_DATABASE_URL uses {url.drivername!r}; use sqlite:///path or postgresql://..."
        )
    url = url.set(drivername=drivers[url.drivername])
    return url.render_as_string(hide_password=False)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read ``ATDESK_*`` variables; raise SettingsError with one clear line if one is bad."""
    env = os.environ if env is None else env
    origins = tuple(o.strip().rstrip("/") for o in env.get("ATDESK_ALLOWED_ORIGINS", "").split(","))
    for origin in origins:
        if origin and not origin.startswith(("http://", "https://")):
            raise SettingsError(
                f"ATDESK_ALLOWED_ORIGINS has {origin!r}; write origins like https://desk.example.com"
            )
    redis_url = env.get("ATDESK_REDIS_URL") or None
    if redis_url is not None and not redis_url.startswith(("redis://", "rediss://")):
        raise SettingsError(f"ATDESK_REDIS_URL={redis_url!r} must start with redis:// or rediss://")
    return Settings(
        database_url=_database_url(env.get("ATDESK_DATABASE_URL")),
        redis_url=redis_url,
        redis_prefix=env.get("ATDESK_REDIS_PREFIX") or Settings.redis_prefix,
        database_pool_size=int(number(env, "ATDESK_DATABASE_POOL_SIZE", 10, low=1)),
        allowed_origins=tuple(o for o in origins if o),
        trusted_proxies=tuple(
            p.strip() for p in env.get("ATDESK_TRUSTED_PROXIES", "").split(",") if p.strip()
        ),
        send_rate_per_s=number(env, "ATDESK_SEND_RATE", Settings.send_rate_per_s, low=0.1),
        send_burst=int(number(env, "ATDESK_SEND_BURST", Settings.send_burst, low=1)),
        frame_rate_per_s=number(env, "ATDESK_FRAME_RATE", Settings.frame_rate_per_s, low=0.1),
        frame_burst=int(number(env, "ATDESK_FRAME_BURST", Settings.frame_burst, low=1)),
        login_attempts_per_minute=int(number(env, "ATDESK_LOGIN_ATTEMPTS_PER_MINUTE", 10, low=1)),
        password_time_cost=int(number(env, "ATDESK_PASSWORD_TIME_COST", 3, low=1)),
        password_memory_kib=int(number(env, "ATDESK_PASSWORD_MEMORY_KIB", 65536, low=8)),
        hello_timeout_s=number(env, "ATDESK_HELLO_TIMEOUT_S", 10.0, low=0.1),
        ws_deflate=_flag(env, "ATDESK_WS_DEFLATE"),
        push=_push_settings(env),
        notice_lease_s=number(env, "ATDESK_NOTICE_LEASE_S", 60.0, low=0.5),
        test_clock_file=_test_clock_file(env),
    )


def _test_clock_file(env: Mapping[str, str]) -> Path | None:
    raw = env.get("ATDESK_TEST_CLOCK_FILE") or None
    if raw is None:
        return None
    if env.get("ATDESK_TESTING") != "1":
        # A stray variable must never freeze a production clock.
        raise SettingsError(
            "ATDESK_TEST_CLOCK_FILE is for tests only (with ATDESK_TESTING=1); unset it"
        )
    return Path(raw)


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = (env.get(name) or "0").strip().lower()
    if raw not in ("0", "1", "false", "true", "no", "yes", "off", "on"):
        raise SettingsError(f"{name}={raw!r} must be 1 or 0 (true or false)")
    return raw in ("1", "true", "yes", "on")


def _push_settings(env: Mapping[str, str]) -> PushSettings:
    try:
        return load_push_settings(env)
    except ValueError as error:
        raise SettingsError(str(error)) from None


def sqlite_path(database_url: str) -> Path | None:
    """The file behind a SQLite URL, or None for other databases and in-memory SQLite."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)
