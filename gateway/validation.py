"""Rules for what users type: handles, emails, names, passwords, message text."""

from __future__ import annotations

import re

from gateway.errors import ApiError, invalid_input

HANDLE_PATTERN = re.compile(r"[a-z0-9_]{2,30}")
EMAIL_PATTERN = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
RESERVED_HANDLES = frozenset(
    {
        "abuse", "admin", "administrator", "api", "app", "atdesk", "billing", "console",
        "help", "helpdesk", "info", "me", "mod", "moderator", "null", "official", "postmaster",
        "root", "security", "staff", "support", "system", "undefined", "webmaster", "www",
    }
)  # fmt: skip
MAX_TEXT_CHARS = 4000
MAX_DISPLAY_NAME_CHARS = 64


def normalize_handle(raw: str) -> str:
    """The canonical handle for ``raw`` (``@ACME`` -> ``acme``), or ``invalid_handle``."""
    handle = raw.strip().removeprefix("@").lower()
    if not HANDLE_PATTERN.fullmatch(handle):
        raise ApiError(422, "invalid_handle", "a handle is 2 to 30 characters of a-z, 0-9 and _")
    if handle in RESERVED_HANDLES:
        raise ApiError(422, "invalid_handle", f"the handle @{handle} is reserved")
    return handle


def lookup_handle(raw: str) -> str | None:
    """The handle ``raw`` names (``@Acme`` -> ``acme``), or None if it cannot be one."""
    handle = raw.strip().removeprefix("@").lower()
    return handle if HANDLE_PATTERN.fullmatch(handle) else None


def _refuse_nul(value: str, field: str) -> None:
    # PostgreSQL cannot store U+0000 in text; refusing it everywhere keeps both backends alike.
    if "\x00" in value:
        raise invalid_input(f"{field} must not contain U+0000")


def normalize_email(raw: str) -> str:
    email = raw.strip().lower()
    _refuse_nul(email, "email")
    if len(email) > 254 or not EMAIL_PATTERN.fullmatch(email):
        raise invalid_input("email must look like name@example.com")
    return email


def normalize_display_name(raw: str) -> str:
    name = raw.strip()
    _refuse_nul(name, "display_name")
    if not 1 <= len(name) <= MAX_DISPLAY_NAME_CHARS:
        raise invalid_input(
            f"display_name must be 1 to {MAX_DISPLAY_NAME_CHARS} characters after trimming"
        )
    return name


def check_password(password: str) -> None:
    if not 8 <= len(password) <= 256:
        raise invalid_input("password must be 8 to 256 characters")


def normalize_brand_name(raw: str) -> str:
    name = raw.strip()
    _refuse_nul(name, "name")
    if not 1 <= len(name) <= 80:
        raise invalid_input("name must be 1 to 80 characters after trimming")
    return name


def normalize_description(raw: str | None) -> str:
    description = (raw or "").strip()
    _refuse_nul(description, "description")
    if len(description) > 1000:
        raise invalid_input("description must be at most 1000 characters")
    return description


def message_text_problem(raw: str) -> tuple[str, str] | None:
    """Why ``raw`` cannot be a message, as ``(code, message)``; None if it can."""
    text = raw.strip()
    if not text:
        return ("invalid_frame", "text must not be empty")
    if "\x00" in text:
        return ("invalid_frame", "text must not contain U+0000")
    if len(text) > MAX_TEXT_CHARS:
        return ("too_large", f"text is {len(text)} characters; at most {MAX_TEXT_CHARS}")
    return None
