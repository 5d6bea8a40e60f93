"""Push settings, read from the environment with the others (see gateway/settings.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway.environment import number


@dataclass(frozen=True)
class PushSettings:
    # The service-account JSON that signs requests to FCM; None: push is disabled.
    credentials_path: Path | None = None
    project_id: str | None = None
    # Tests only: FCM's base URL replaced by a local fake (see gateway/push/fcm.py).
    endpoint: str | None = None
    queue_size: int = 10_000
    timeout_s: float = 10.0
    max_attempts: int = 5
    retry_base_s: float = 1.0

    @property
    def enabled(self) -> bool:
        return self.credentials_path is not None


def load_push_settings(env: Mapping[str, str]) -> PushSettings:
    """Read the push settings; raise ValueError with one line naming the bad one."""
    testing = env.get("ATDESK_TESTING") == "1"
    if env.get("FIREBASE_AUTH_EMULATOR_HOST") and not testing:
        # With it set, firebase-admin verifies no ID token signature at all.
        raise ValueError(
            "FIREBASE_AUTH_EMULATOR_HOST is set, which makes firebase-admin accept unsigned "
            "tokens; unset it (it is for tests only)"
        )
    endpoint = env.get("ATDESK_FCM_ENDPOINT") or None
    if endpoint is not None and not testing:
        # A stray variable must not send every notification to some other host.
        raise ValueError("ATDESK_FCM_ENDPOINT is for tests only (with ATDESK_TESTING=1); unset it")
    if endpoint is not None and not endpoint.startswith(("http://", "https://")):
        raise ValueError(f"ATDESK_FCM_ENDPOINT={endpoint!r} must be an http(s) URL")
    variable = "ATDESK_FCM_CREDENTIALS" if env.get("ATDESK_FCM_CREDENTIALS") else None
    if variable is None and env.get("GOOGLE_APPLICATION_CREDENTIALS"):
        variable = "GOOGLE_APPLICATION_CREDENTIALS"
    path = None if variable is None else Path(env[variable])
    project_id = None if variable is None or path is None else _project_of(variable, path)
    return PushSettings(
        credentials_path=path,
        project_id=project_id,
        endpoint=endpoint.rstrip("/") if endpoint else None,
        queue_size=int(number(env, "ATDESK_PUSH_QUEUE_SIZE", 10_000, low=1)),
        timeout_s=number(env, "ATDESK_PUSH_TIMEOUT_S", 10.0, low=0.1),
        max_attempts=int(number(env, "ATDESK_PUSH_MAX_ATTEMPTS", 5, low=1)),
        retry_base_s=number(env, "ATDESK_PUSH_RETRY_BASE_S", 1.0, low=0.01),
    )


def _project_of(variable: str, path: Path) -> str:
    """The project of a service-account file, checked now so a bad file stops the start."""
    try:
        info = json.loads(path.read_text())
    except OSError as error:
        raise ValueError(f"{variable}={str(path)!r}: cannot read it ({error.strerror})") from None
    except ValueError:
        raise ValueError(f"{variable}={str(path)!r} is not JSON") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ValueError(f"{variable}={str(path)!r} is not a service-account key file")
    missing = [k for k in ("project_id", "private_key", "client_email") if not info.get(k)]
    if missing:
        raise ValueError(f"{variable}={str(path)!r} lacks {', '.join(missing)}")
    return str(info["project_id"])
