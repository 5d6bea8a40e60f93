"""Errors that are the caller's fault, with the stable codes of PROTOCOL.md."""

from __future__ import annotations


class ApiError(Exception):
    """An error with a stable snake_case ``code`` that is safe to show the caller."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def invalid_input(message: str) -> ApiError:
    return ApiError(422, "invalid_input", message)


def not_found(message: str = "no such conversation") -> ApiError:
    return ApiError(404, "not_found", message)


def unauthenticated(message: str = "sign in first: send a valid bearer token") -> ApiError:
    return ApiError(401, "unauthenticated", message)


def forbidden(message: str) -> ApiError:
    return ApiError(403, "forbidden", message)
