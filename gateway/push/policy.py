"""What an FCM answer means for a push and its token: pure rules, no I/O.

firebase-admin already retries 500 and 503 a few times within one request. What reaches
here has failed that too, or is a failure it does not retry (other 5xx, 429, timeouts,
lost connections): those are tried again later, with exponential back-off, a few times.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Verdict(enum.Enum):
    SENT = "sent"
    RETRY = "retry"  # transient: try the same push again later
    PRUNE = "prune"  # the token is dead: delete it
    FAIL = "fail"  # give up on this push, keep the token


@dataclass(frozen=True)
class Failure:
    """Why FCM did not take one message, as far as its answer tells."""

    status: int | None  # HTTP status; None when no answer came (timeout, lost connection)
    code: str  # the platform code: UNAVAILABLE, INVALID_ARGUMENT, DEADLINE_EXCEEDED, ...
    fcm_code: str | None = None  # FcmError.errorCode in the body: UNREGISTERED, ...
    token_rejected: bool = False  # the answer names the registration token as the bad field
    retry_after_s: float | None = None
    message: str = ""


_TRANSIENT_CODES = frozenset(
    {"UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"}
)


def verdict(failure: Failure | None) -> Verdict:
    """SENT for no failure; else whether to retry, drop the token, or give up."""
    if failure is None:
        return Verdict.SENT
    if failure.fcm_code == "UNREGISTERED":
        return Verdict.PRUNE
    if failure.code == "INVALID_ARGUMENT" or failure.fcm_code == "INVALID_ARGUMENT":
        # Only a token FCM calls malformed is dropped; a bad payload is our bug, not the
        # device's, and deleting the token would silence that phone for good.
        return Verdict.PRUNE if failure.token_rejected else Verdict.FAIL
    if failure.status is None or failure.status >= 500 or failure.status == 429:
        return Verdict.RETRY
    if failure.code in _TRANSIENT_CODES or failure.fcm_code in _TRANSIENT_CODES:
        return Verdict.RETRY
    return Verdict.FAIL


def token_rejected(message: str, field_violations: list[str]) -> bool:
    """Whether an INVALID_ARGUMENT answer is about the registration token itself."""
    return "message.token" in field_violations or "registration token" in message.lower()


def retry_delay_s(
    attempt: int, *, base_s: float, cap_s: float = 300.0, jitter: float = 0.0,
    retry_after_s: float | None = None,
) -> float:  # fmt: skip
    """Seconds to wait before try ``attempt + 1``, after ``attempt`` tries (1, 2, ...) failed.

    Doubles from ``base_s`` up to ``cap_s``; ``jitter`` in [0, 1) spreads the waits of pushes
    that failed together over the upper half of that step. A Retry-After from FCM is a floor.
    """
    step = min(cap_s, base_s * 2.0 ** (attempt - 1))
    delay = step * (0.5 + 0.5 * jitter)
    if retry_after_s is not None:
        delay = max(delay, min(cap_s, retry_after_s))
    return delay


def should_retry(verdict: Verdict, *, attempt: int, max_attempts: int) -> bool:
    return verdict is Verdict.RETRY and attempt < max_attempts
