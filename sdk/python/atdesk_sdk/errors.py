"""What can go wrong, as exceptions that carry the contract's stable error codes."""

from __future__ import annotations


class AtdeskError(Exception):
    """Base of every SDK error. ``code`` is the contract's stable snake_case code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ApiError(AtdeskError):
    """The gateway refused an HTTP request; ``status`` is the HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code, message)
        self.status = status


class AuthError(ApiError):
    """Bad credentials, or a token that is missing, expired or revoked.

    The client stops reconnecting when it sees this: sign in again for a new token.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(401, code, message)


class SendRejected(AtdeskError):
    """The gateway refused a message for good (``unknown_brand``, ``too_large``, ...).

    The message is removed from the outbox: sending it again would be refused again.
    """

    def __init__(self, client_id: str, code: str, message: str) -> None:
        super().__init__(code, message)
        self.client_id = client_id


class ClientClosed(AtdeskError):
    """The client was closed while the call waited."""

    def __init__(self, message: str = "the client is closed") -> None:
        super().__init__("client_closed", message)
