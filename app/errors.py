"""One error envelope for every non-2xx answer: ``{"error": {"code", "message", "details"?}}``.

`ApiError` is what the rules raise; `init_app` maps it, werkzeug's HTTP errors, marshmallow's
validation errors and store outages to that envelope, and `register` gives flask-jwt-extended
loaders that answer its refusals in the same envelope, with RFC 6750's challenges.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import redis
from flask import Flask, Response, jsonify
from flask_jwt_extended import JWTManager
from flask_jwt_extended.exceptions import CSRFError, InvalidHeaderError
from marshmallow import ValidationError
from redis.exceptions import RedisClusterException
from werkzeug.exceptions import HTTPException

from app import metrics
from app.store import StoreUnavailable

log = logging.getLogger(__name__)

REALM = 'Bearer realm="rotor"'

# Stable machine codes for werkzeug's HTTP errors (its display names may change).
HTTP_ERROR_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    429: "rate_limited",
    431: "header_too_large",
}


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


def error_response(
    code: str,
    message: str,
    status: int,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Build the envelope; the one place its shape is written."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    response = jsonify(error=body)
    response.status_code = status
    if headers:
        response.headers.update(headers)
    return response


def token_error_response(code: str, message: str, *, presented: bool) -> Response:
    """401 for a bearer token; ``error="invalid_token"`` only when a token was sent."""
    challenge = f'{REALM}, error="invalid_token"' if presented else REALM
    return error_response(code, message, 401, headers={"WWW-Authenticate": challenge})


def invalid_request_response(message: str) -> Response:
    """400 for a malformed credential (RFC 6750 ``invalid_request``)."""
    return error_response(
        "invalid_request",
        message,
        400,
        headers={"WWW-Authenticate": f'{REALM}, error="invalid_request"'},
    )


def csrf_failed_response() -> Response:
    """403 for a cookie-authenticated request without the matching CSRF header."""
    return error_response(
        "csrf_failed", "Send the X-CSRF-TOKEN header with the value of the CSRF cookie.", 403
    )


def _handle_api_error(error: ApiError) -> Response:
    if isinstance(error, TokenError):
        return token_error_response(error.code, error.message, presented=error.presented)
    if error.code == "invalid_request":
        return invalid_request_response(error.message)
    # API.md: every 401 carries a Bearer challenge (login's invalid_credentials included).
    headers = {"WWW-Authenticate": REALM} if error.status == 401 else None
    if isinstance(error, RateLimited):
        headers = {"Retry-After": str(error.retry_after_s)}
    return error_response(error.code, error.message, error.status, error.details, headers)


def _handle_validation_error(error: ValidationError) -> Response:
    messages = error.messages if isinstance(error.messages, dict) else {"_body": error.messages}
    return error_response("validation_error", "The request body is invalid.", 422, messages)


def _handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    code = HTTP_ERROR_CODES.get(status) or (error.name or "error").lower().replace(" ", "_")
    response = error_response(code, error.description or error.name, status)
    if status == 405 and error.response is None:
        allowed = getattr(error, "valid_methods", None)
        if allowed:
            response.headers["Allow"] = ", ".join(allowed)
    return response


def _handle_store_unavailable(
    error: StoreUnavailable | redis.RedisError | RedisClusterException,
) -> Response:
    log.warning("store unavailable: %s", error)
    metrics.REDIS_ERRORS.inc()
    return error_response(
        "store_unavailable",
        "The session store is unavailable; try again shortly.",
        503,
        headers={"Retry-After": "1"},
    )


def _handle_unexpected(error: Exception) -> Response:
    log.exception("unhandled error")
    return error_response("internal_error", "Something went wrong on our side.", 500)


# flask-jwt-extended's loaders. The library hands some of them only a reason string; the
# exception it is handling tells a CSRF failure from a missing token, and a malformed
# Authorization header from an invalid token (Flask calls error handlers inside ``except``).


def _missing_token(_reason: str) -> Response:
    """No token in any place a view reads (or, from the library, a failed CSRF check)."""
    if isinstance(sys.exc_info()[1], CSRFError):
        return csrf_failed_response()
    return token_error_response("missing_token", "A bearer token is required.", presented=False)


def _invalid_token(_reason: str) -> Response:
    """Not a token Rotor issued unchanged, the wrong type, or a malformed header (400)."""
    if isinstance(sys.exc_info()[1], InvalidHeaderError):
        return invalid_request_response("The Authorization header must be 'Bearer <token>'.")
    return token_error_response("invalid_token", "The token is invalid.", presented=True)


def _expired_token(_header: dict[str, Any], _claims: dict[str, Any]) -> Response:
    return token_error_response("token_expired", "The token has expired.", presented=True)


def _revoked_token(_header: dict[str, Any], _claims: dict[str, Any]) -> Response:
    """The session ended, the user is gone or disabled, or the token was logged out."""
    return token_error_response("token_revoked", "The token's session has ended.", presented=True)


def _stale_token(_header: dict[str, Any], _claims: dict[str, Any]) -> Response:
    return token_error_response("invalid_token", "A fresh token is required.", presented=True)


def _unverified_claims(_header: dict[str, Any], _claims: dict[str, Any]) -> Response:
    return token_error_response("invalid_token", "The token is invalid.", presented=True)


def register(jwt: JWTManager) -> None:
    """Answer every refusal of flask-jwt-extended in the envelope (its defaults answer 422
    for an invalid token and bodies of their own)."""
    jwt.unauthorized_loader(_missing_token)
    jwt.invalid_token_loader(_invalid_token)
    jwt.expired_token_loader(_expired_token)
    jwt.revoked_token_loader(_revoked_token)
    jwt.user_lookup_error_loader(_revoked_token)
    jwt.needs_fresh_token_loader(_stale_token)
    jwt.token_verification_failed_loader(_unverified_claims)


def init_app(app: Flask) -> None:
    """Register the handlers, most specific first."""
    app.register_error_handler(ApiError, _handle_api_error)
    app.register_error_handler(ValidationError, _handle_validation_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(StoreUnavailable, _handle_store_unavailable)
    # The rate limiter talks to Redis through its own client (the limits library).
    app.register_error_handler(redis.RedisError, _handle_store_unavailable)
    app.register_error_handler(RedisClusterException, _handle_store_unavailable)
    app.register_error_handler(Exception, _handle_unexpected)
