"""Password hashing (argon2id) and bearer tokens (random, stored only as a hash)."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from gateway.settings import Settings


class Passwords:
    def __init__(self, settings: Settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.password_time_cost,
            memory_cost=settings.password_memory_kib,
            parallelism=1,
            type=Type.ID,
        )
        # Verifying against this when the email is unknown makes both failures cost the same.
        self._decoy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash or self._decoy_hash, password) and bool(
                stored_hash
            )
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)


def new_token() -> str:
    """256 bits from the OS's CSPRNG, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    # A fast hash is right here: tokens carry 256 bits of entropy, unlike passwords.
    return hashlib.sha256(token.encode()).hexdigest()
