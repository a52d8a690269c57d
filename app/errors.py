"""What went wrong, as plain exceptions named for it: no Flask, no werkzeug, no Redis.

Every room may raise them. Each class carries its machine code, its HTTP status, the message
a client reads and what the code means (the API reference's error table is built from these
classes, `error_classes`); the api room (``app/api/errors.py``) turns any of them into the one
error envelope, reading only these attributes.
"""

from __future__ import annotations

from typing import Any, ClassVar


class RotorError(Exception):
    """Something a client is told: a stable machine code, an HTTP status, a message.

    ``bearer_error`` is the RFC 6750 ``error`` of the ``WWW-Authenticate`` challenge (None:
    the bare challenge, which every 401 carries, in ``challenge_scheme``); ``retry_after_s`` is
    sent as ``Retry-After``.
    """

    code: ClassVar[str]
    status: ClassVar[int]
    default_message: ClassVar[str]
    meaning: ClassVar[str]  # for the API reference; may name {max_body_bytes}, {max_header_bytes}
    bearer_error: ClassVar[str | None] = None
    challenge_scheme: ClassVar[str] = "Bearer"
    retry_after_s: int | None = None

    def __init__(self, message: str | None = None, details: dict[str, Any] | None = None) -> None:
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)


# -- the request itself ----------------------------------------------------------------------


class BadRequest(RotorError):
    code, status = "bad_request", 400
    default_message = "The request is malformed."
    meaning = "the request is malformed"


class InvalidJson(RotorError):
    code, status = "invalid_json", 400
    default_message = "The body must be a JSON object."
    meaning = "the body is not a JSON object"


class UnsupportedMediaType(RotorError):
    code, status = "unsupported_media_type", 415
    default_message = "Send a JSON body (application/json)."
    meaning = "the body is not `application/json`"


class ValidationFailed(RotorError):
    """``details`` names each field that is missing or invalid, with why."""

    code, status = "validation_error", 422
    default_message = "The request body is invalid."
    meaning = "a field is missing or invalid; `details` names each one"


class PayloadTooLarge(RotorError):
    code, status = "payload_too_large", 413
    default_message = "The body is too large."
    meaning = "the body is larger than {max_body_bytes} bytes"


class UriTooLong(RotorError):
    code, status = "uri_too_long", 414
    default_message = "The URL is too long."
    meaning = "the URL is longer than {max_header_bytes} bytes"


class HeaderTooLarge(RotorError):
    code, status = "header_too_large", 431
    default_message = "A header is too large."
    meaning = "a header is longer than {max_header_bytes} bytes"


class NotFound(RotorError):
    code, status = "not_found", 404
    default_message = "Not found."
    meaning = (
        "metrics are disabled, or the token is not `METRICS_TOKEN`; introspection is disabled "
        "(`INTROSPECTION_CLIENTS` unset)"
    )


class MethodNotAllowed(RotorError):
    code, status = "method_not_allowed", 405
    default_message = "The method is not allowed here."
    meaning = "the path does not take this method; `Allow` lists those it takes"


# -- credentials -----------------------------------------------------------------------------


class MalformedCredentials(RotorError):
    """A malformed ``Authorization`` header, or a token sent in more than one place."""

    code, status = "invalid_request", 400
    default_message = "The Authorization header must be 'Bearer <token>'."
    meaning = "a malformed `Authorization` header, or the token sent in more than one place"
    bearer_error = "invalid_request"


class MissingToken(RotorError):
    code, status = "missing_token", 401
    default_message = "A bearer token is required."
    meaning = "no token was sent"


class InvalidToken(RotorError):
    code, status = "invalid_token", 401
    default_message = "The token is invalid."
    meaning = "the token is malformed, forged, of the other type or for another issuer or audience"
    bearer_error = "invalid_token"


class TokenExpired(RotorError):
    code, status = "token_expired", 401
    default_message = "The token has expired."
    meaning = "the token has expired"
    bearer_error = "invalid_token"


class TokenRevoked(RotorError):
    """The session ended, the user is gone or disabled, or the token was logged out."""

    code, status = "token_revoked", 401
    default_message = "The token's session has ended."
    meaning = "the token's session has ended"
    bearer_error = "invalid_token"


class TokenReused(RotorError):
    """A consumed refresh token came back after the grace window: its session ends."""

    code, status = "token_reused", 401
    default_message = "The refresh token was already used."
    meaning = "an already consumed refresh token: its session ends too"
    bearer_error = "invalid_token"


class CsrfFailed(RotorError):
    code, status = "csrf_failed", 403
    default_message = "Send the X-CSRF-TOKEN header with the value of the CSRF cookie."
    meaning = "a request authenticated by cookie without the matching `X-CSRF-TOKEN`"


class InvalidCredentials(RotorError):
    """A login's email or password is wrong (one answer for both, API.md)."""

    code, status = "invalid_credentials", 401
    default_message = "The email or password is incorrect."
    meaning = "the email or password is incorrect"


class InvalidClient(RotorError):
    """An introspection call without the HTTP Basic credentials of a configured client."""

    code, status = "invalid_client", 401
    default_message = "Authenticate with HTTP Basic as a client of INTROSPECTION_CLIENTS."
    meaning = "no HTTP Basic credentials, or not those of a client in `INTROSPECTION_CLIENTS`"
    challenge_scheme = "Basic"


class IntrospectionTokenMissing(RotorError):
    """An introspection call without its ``token`` form field (RFC 7662 ``invalid_request``;
    no Bearer challenge: the caller is a client, not a bearer)."""

    code, status = "invalid_request", 400
    default_message = "Send the token as the form field 'token' (RFC 7662)."
    meaning = "no `token` form field"


class WrongCurrentPassword(InvalidCredentials):
    """A password change whose current password is wrong: the caller is authenticated, so
    403, with the login's code and words."""

    status = 403


# -- accounts and sessions -------------------------------------------------------------------


class EmailTaken(RotorError):
    code, status = "email_taken", 409
    default_message = "An account with this email already exists."
    meaning = "an account with this email already exists"


class SessionNotFound(RotorError):
    code, status = "session_not_found", 404
    default_message = "No such session."
    meaning = "no live session of the caller has this id"


# -- limits and outages ----------------------------------------------------------------------


class RateLimited(RotorError):
    """Too many attempts; ``Retry-After`` says, in whole seconds, when to try again."""

    code, status = "rate_limited", 429
    default_message = "Too many attempts; try again after Retry-After."
    meaning = "too many attempts; try again after `Retry-After` seconds"

    def __init__(self, retry_after_s: int | None = None, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class StoreUnavailable(RotorError):
    """Redis did not answer (down, timing out, failing over). The store raises it for every
    redis-py error (``raise ... from exc``) with what happened for the log; the client reads
    only the default message."""

    code, status = "store_unavailable", 503
    default_message = "The session store is unavailable; try again shortly."
    meaning = "Redis did not answer; try again after `Retry-After` seconds"
    retry_after_s = 1

    def __init__(self, cause: str = "") -> None:
        super().__init__()
        self.cause = cause  # for logs and operators, never for the client

    def __str__(self) -> str:
        return self.cause or self.message


class InternalError(RotorError):
    code, status = "internal_error", 500
    default_message = "Something went wrong on our side."
    meaning = "a fault of the service (it is logged)"


def error_classes() -> list[type[RotorError]]:
    """Every error a client can be answered with, each class once."""
    found: list[type[RotorError]] = []
    pending = list(RotorError.__subclasses__())
    while pending:
        cls = pending.pop(0)
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found
