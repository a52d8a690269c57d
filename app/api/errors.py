"""One error envelope for every non-2xx answer: ``{"error": {"code", "message", "details"?}}``.

The rooms raise the exceptions of ``app.errors``; `init_app` answers them, werkzeug's HTTP
errors, marshmallow's validation errors and the rate limiter's storage errors in that envelope,
and `register` gives flask-jwt-extended loaders that answer its refusals in it too, with RFC
6750's challenges. Every answer is built from an error class's attributes by `error_response`:
no handler looks at a code.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from flask import Flask, Response, jsonify
from flask_jwt_extended import JWTManager
from flask_jwt_extended.exceptions import CSRFError, InvalidHeaderError
from limits.errors import StorageError
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from app import metrics
from app.errors import (
    BadRequest,
    CsrfFailed,
    HeaderTooLarge,
    InternalError,
    InvalidToken,
    MalformedCredentials,
    MethodNotAllowed,
    MissingToken,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    RotorError,
    StoreUnavailable,
    TokenExpired,
    TokenRevoked,
    UnsupportedMediaType,
    UriTooLong,
    ValidationFailed,
)

log = logging.getLogger(__name__)

REALM = 'Bearer realm="rotor"'

# werkzeug's HTTP errors (Flask's routing, body size, Flask-Limiter's 429) by status: our
# class gives the stable code (werkzeug's display names may change), werkzeug the message.
_HTTP_ERRORS: dict[int, type[RotorError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        NotFound,
        MethodNotAllowed,
        PayloadTooLarge,
        UriTooLong,
        UnsupportedMediaType,
        RateLimited,
        HeaderTooLarge,
    )
}


def error_response(error: RotorError | type[RotorError], message: str | None = None) -> Response:
    """The envelope of an error (or of an error class, with its default message), with the
    headers its class asks for."""
    if isinstance(error, RotorError):
        response = _envelope(error.code, message or error.message, error.status, error.details)
    else:
        response = _envelope(error.code, message or error.default_message, error.status)
    if error.bearer_error is not None:
        response.headers["WWW-Authenticate"] = f'{REALM}, error="{error.bearer_error}"'
    elif error.status == 401:  # API.md: every 401 carries a challenge (Bearer, or Basic)
        response.headers["WWW-Authenticate"] = f'{error.challenge_scheme} realm="rotor"'

    if error.retry_after_s is not None:
        response.headers["Retry-After"] = str(error.retry_after_s)
    return response


def _envelope(
    code: str, message: str, status: int, details: dict[str, Any] | None = None
) -> Response:
    """The one place the envelope's shape is written."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    response = jsonify(error=body)
    response.status_code = status
    return response


def _handle_rotor_error(error: RotorError) -> Response:
    return error_response(error)


def _handle_validation_error(error: ValidationError) -> Response:
    messages = error.messages if isinstance(error.messages, dict) else {"_body": error.messages}
    return error_response(ValidationFailed(details=messages))


def _handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    known = _HTTP_ERRORS.get(status)
    code = known.code if known else (error.name or "error").lower().replace(" ", "_")
    # werkzeug's words; Flask-Limiter adds Retry-After to its 429 itself.
    response = _envelope(code, error.description or error.name, status)
    if status == 405 and error.response is None:
        allowed = getattr(error, "valid_methods", None)
        if allowed:
            response.headers["Allow"] = ", ".join(allowed)
    return response


def _handle_store_unavailable(error: StoreUnavailable | StorageError) -> Response:
    log.warning("store unavailable: %s", error)
    metrics.REDIS_ERRORS.inc()
    return error_response(StoreUnavailable)


def _handle_unexpected(error: Exception) -> Response:
    log.exception("unhandled error")
    return error_response(InternalError)


# flask-jwt-extended's loaders. The library hands some of them only a reason string; the
# exception it is handling tells a CSRF failure from a missing token, and a malformed
# Authorization header from an invalid token (Flask calls error handlers inside ``except``).


def _missing_token(_reason: str) -> Response:
    """No token in any place a view reads (or, from the library, a failed CSRF check)."""
    if isinstance(sys.exc_info()[1], CSRFError):
        return error_response(CsrfFailed)
    return error_response(MissingToken)


def _invalid_token(_reason: str) -> Response:
    """Not a token Rotor issued unchanged, the wrong type, or a malformed header (400)."""
    if isinstance(sys.exc_info()[1], InvalidHeaderError):
        return error_response(MalformedCredentials)
    return error_response(InvalidToken)


def _expired_token(_header: dict[str, Any], _claims: dict[str, Any]) -> Response:
    return error_response(TokenExpired)


def _revoked_token(_header: dict[str, Any], _claims: dict[str, Any]) -> Response:
    """The session ended, the user is gone or disabled, or the token was logged out."""
    return error_response(TokenRevoked)


def _stale_token(_header: dict[str, Any], _claims: dict[str, Any]) -> Response:
    return error_response(InvalidToken, "A fresh token is required.")


def _unverified_claims(_header: dict[str, Any], _claims: dict[str, Any]) -> Response:
    return error_response(InvalidToken)


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
    app.register_error_handler(StoreUnavailable, _handle_store_unavailable)
    app.register_error_handler(RotorError, _handle_rotor_error)
    app.register_error_handler(ValidationError, _handle_validation_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    # The rate limiter talks to Redis through its own client (the limits library), whose
    # errors its storage wraps (``app.store.ratelimit``).
    app.register_error_handler(StorageError, _handle_store_unavailable)
    app.register_error_handler(Exception, _handle_unexpected)
