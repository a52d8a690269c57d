"""What went wrong, as plain exceptions every room may raise: no Flask, no werkzeug, no Redis.

Each one carries its machine code and HTTP status; the api room (``app/api/errors.py``) turns
them into the one error envelope.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An answer to the client: a machine code, a human message, an HTTP status."""

    def __init__(
        self, code: str, message: str, status: int, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.details = details


class TokenError(ApiError):
    """A refused bearer token: 401 with the RFC 6750 ``WWW-Authenticate`` header."""

    def __init__(self, code: str, message: str, *, presented: bool = True) -> None:
        super().__init__(code, message, 401)
        self.presented = presented


class RateLimited(ApiError):
    """Too many attempts: 429 ``rate_limited``, with ``Retry-After`` in whole seconds."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__("rate_limited", "Too many attempts; try again after Retry-After.", 429)
        self.retry_after_s = retry_after_s


class StoreUnavailable(Exception):
    """Redis did not answer (down, timing out, failing over); the API answers 503."""
