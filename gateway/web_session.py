"""Browser sessions: an HttpOnly cookie instead of a bearer header, and the CSRF rules for it.

A page of ours never sees the session token. What stops another site from riding on the
cookie is, for every state-changing request: SameSite=Strict on the cookie, a double-submit
CSRF token (a readable cookie the page copies into ``X-CSRF-Token``; another site can read
neither the cookie nor set the header without a CORS preflight we never grant), and the
``Origin`` check the socket already does.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

SESSION_COOKIE = "atdesk_session"
CSRF_COOKIE = "atdesk_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_problem(
    *,
    cookies: Mapping[str, str],
    headers: Mapping[str, str],
    origin_ok: bool,
) -> str | None:
    """Why a state-changing browser request must be refused, or None when it may go on."""
    if not origin_ok:
        return "this origin may not use the session"
    expected = cookies.get(CSRF_COOKIE, "")
    given = headers.get(CSRF_HEADER, "")
    if not expected or not given:
        return f"send the {CSRF_COOKIE} cookie's value in the X-CSRF-Token header"
    if not hmac.compare_digest(expected.encode(), given.encode()):
        return "the X-CSRF-Token header does not match the CSRF cookie"
    return None


def origin_allowed(origin: str | None, host: str | None, allowed: Iterable[str]) -> bool:
    """Browsers send Origin; a page from another site must not use a visitor's session."""
    if origin is None:
        return True  # not a browser: native apps and servers send no Origin
    origin = origin.rstrip("/")
    if origin in allowed:
        return True
    return host is not None and urlsplit(origin).netloc == host
