"""``GET /api/openapi.json``: the OpenAPI document of API.md (``app/api/docs.py`` shows it).

The document is generated, not written: apispec's MarshmallowPlugin turns the schemas of
``app.api.schemas`` into JSON Schema, and the paths and methods come from the app's URL map.
`OPERATIONS` names, per view, what the URL map cannot know (schemas, statuses, security), and a
test keeps it and the URL map equal. The document is built once per app, on first use.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, Response, current_app
from marshmallow import Schema

from app.api.http import json_response
from app.api.schemas import (
    CookieSessionSchema,
    ErrorSchema,
    HealthSchema,
    IntrospectionRequestSchema,
    IntrospectionSchema,
    JwkSetSchema,
    LoginSchema,
    PasswordChangeSchema,
    ReadinessSchema,
    RefreshSchema,
    RegisterSchema,
    SessionListSchema,
    TokenPairSchema,
    UserSchema,
)
from app.settings import get_settings
from config import CSRF_HEADER, CSRF_METHODS

bp = Blueprint("openapi", __name__, url_prefix="/api")

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
_EXTENSION = "rotor.openapi"

# Who may call a view: a kind of credential, each with its security schemes and errors.
ACCESS, REFRESH, METRICS, CLIENT = "access", "refresh", "metrics", "client"

# What each machine code means, for the descriptions of the error responses.
ERROR_CODES = {
    "invalid_json": "the body is not a JSON object",
    "invalid_request": "a malformed `Authorization` header, or the token sent in more than one "
    "place (on `/introspect`: no `token` form field)",
    "invalid_client": "no HTTP Basic credentials, or not those of a client in "
    "`INTROSPECTION_CLIENTS`",
    "missing_token": "no token was sent",
    "invalid_token": "the token is malformed, forged, of the other type or for another "
    "issuer or audience",
    "token_expired": "the token has expired",
    "token_revoked": "the token's session has ended",
    "token_reused": "an already consumed refresh token: its session ends too",
    "csrf_failed": "a request authenticated by cookie without the matching `X-CSRF-TOKEN`",
    "invalid_credentials": "the email or password is incorrect",
    "email_taken": "an account with this email already exists",
    "session_not_found": "no live session of the caller has this id",
    "not_found": "metrics are disabled, or the token is not `METRICS_TOKEN`; introspection is "
    "disabled (`INTROSPECTION_CLIENTS` unset)",
    "payload_too_large": "the body is larger than {max_body_bytes} bytes",
    "uri_too_long": "the URL is longer than {max_header_bytes} bytes",
    "header_too_large": "a header is longer than {max_header_bytes} bytes",
    "unsupported_media_type": "the body is not `application/json`",
    "validation_error": "a field is missing or invalid; `details` names each one",
    "rate_limited": "too many attempts; try again after `Retry-After` seconds",
    "store_unavailable": "Redis did not answer; try again after `Retry-After` seconds",
}
_TOKEN_ERRORS = ("missing_token", "invalid_token", "token_expired", "token_revoked")

_HEADERS: dict[str, dict[str, Any]] = {
    "WWW-Authenticate": {
        "description": 'The RFC 6750 challenge: `Bearer realm="rotor"`, with '
        '`error="invalid_token"` when a token was refused, `error="invalid_request"` on a 400.',
        "schema": {"type": "string", "pattern": "^Bearer "},
    },
    "WWW-Authenticate-Basic": {
        "description": 'The HTTP Basic challenge: `Basic realm="rotor"`.',
        "schema": {"type": "string", "pattern": "^Basic "},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "Cache-Control": {
        "description": "Responses that carry tokens are never cached.",
        "schema": {"type": "string", "enum": ["no-store"]},
    },
}


@dataclass(frozen=True, slots=True)
class Operation:
    """What the document says about one view; its path and method come from the URL map."""

    summary: str
    description: str
    status: int
    response: type[Schema] | dict[str, Any] | None = None  # the success body, if any
    media_type: str = JSON  # of the success body
    request: type[Schema] | None = None  # a JSON body, loaded with this schema
    form: type[Schema] | None = None  # or a form-encoded body, loaded with this schema
    request_required: bool = True
    credential: str | None = None  # ACCESS, REFRESH, METRICS or CLIENT
    store: bool = True  # reaches Redis: may answer 503
    rate_limited: bool = False
    tokens: bool = False  # answers a token pair, in the body or (cookie mode) in cookies
    clears_cookies: bool = False  # a cookie-mode caller gets its cookies expired
    cache_control: dict[str, Any] | None = None  # the schema of a Cache-Control it always sends
    errors: Mapping[int, tuple[str, ...]] = field(default_factory=dict)  # view-specific codes
    parameters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


# Every view of the app, by endpoint, in the order of API.md.
OPERATIONS: dict[str, Operation] = {
    "auth.register": Operation(
        "Create an account",
        "The email is trimmed and lower-cased. A password is 8 to 1024 characters and not one "
        "of the most common passwords (422 otherwise).",
        201,
        UserSchema,
        request=RegisterSchema,
        rate_limited=True,
        errors={409: ("email_taken",)},
    ),
    "auth.login": Operation(
        "Log in: open a session and get a token pair",
        "An unknown email and a wrong password get the same answer. With `use_cookies` the "
        "tokens come as HttpOnly cookies (cookie mode), and the body leaves them out.",
        200,
        request=LoginSchema,
        rate_limited=True,
        tokens=True,
        errors={401: ("invalid_credentials",)},
    ),
    "auth.refresh": Operation(
        "Rotate a refresh token into a new token pair",
        "The presented refresh token is consumed. Within `REFRESH_REUSE_GRACE` seconds the "
        "just-consumed token answers the same successor pair again; after that it is a reuse "
        "(`token_reused`), which ends the session. Send the token in exactly one place: the "
        "JSON body, `Authorization: Bearer <refresh token>`, or the refresh cookie (with "
        "`X-CSRF-TOKEN`; the answer then comes in cookies too).",
        200,
        request=RefreshSchema,
        request_required=False,
        credential=REFRESH,
        rate_limited=True,
        tokens=True,
    ),
    "auth.logout": Operation(
        "End this session",
        "Its refresh token and every access token of it stop working at once.",
        204,
        credential=ACCESS,
        clears_cookies=True,
    ),
    "auth.logout_all": Operation(
        "End every session of the user", "", 204, credential=ACCESS, clears_cookies=True
    ),
    "auth.list_sessions": Operation(
        "List the caller's live sessions",
        "Newest first; `current` marks the session of the calling token.",
        200,
        SessionListSchema,
        credential=ACCESS,
    ),
    "auth.end_session": Operation(
        "End one of the caller's sessions",
        "Another user's session id answers 404 like an unknown one.",
        204,
        credential=ACCESS,
        errors={404: ("session_not_found",)},
        parameters={
            "session_id": {
                "description": "The `id` of a session from `GET /api/auth/sessions`.",
                "schema": {"type": "string", "pattern": "^[0-9a-f]{1,64}$"},
            }
        },
    ),
    "auth.me": Operation("The caller's account", "", 200, UserSchema, credential=ACCESS),
    "auth.change_password": Operation(
        "Change the password",
        "Every other session of the user ends; this one goes on. The new password follows the "
        "rules of registration. A wrong `current_password` counts against the same limit as a "
        "failed login (429 past it).",
        204,
        request=PasswordChangeSchema,
        credential=ACCESS,
        rate_limited=True,
        errors={403: ("invalid_credentials",)},
    ),
    "auth.introspect": Operation(
        "Introspect a token (RFC 7662), for resource servers",
        "Only a live access token is active: its session alive, its user active, not logged "
        'out. Anything else, refresh tokens included, answers `{"active": false}` and nothing '
        "more. The caller authenticates with HTTP Basic as a client of `INTROSPECTION_CLIENTS`; "
        "without that setting the endpoint answers 404.",
        200,
        IntrospectionSchema,
        form=IntrospectionRequestSchema,
        credential=CLIENT,
        cache_control={"type": "string", "enum": ["no-store"]},
        errors={
            400: ("invalid_request",),
            401: ("invalid_client",),
            404: ("not_found",),
            413: ("payload_too_large",),
        },
    ),
    "ops.healthz": Operation(
        "Liveness", "The process is up; says nothing about Redis.", 200, HealthSchema, store=False
    ),
    "ops.readyz": Operation(
        "Readiness",
        "200 when Redis answers. `warnings` says when Redis may evict Rotor's keys.",
        200,
        ReadinessSchema,
    ),
    "ops.prometheus_metrics": Operation(
        "Prometheus metrics",
        "The Prometheus text format. Without `METRICS_TOKEN` set, or without it as the bearer "
        "token, the answer is 404, as if there were no such page.",
        200,
        {"type": "string"},
        media_type="text/plain",
        credential=METRICS,
    ),
    "jwks.jwks": Operation(
        "The public keys that verify Rotor's tokens (JWKS)",
        "For resource servers that verify access tokens themselves. Verifiers may cache it "
        "for `Cache-Control`'s max-age; a new key is published here before it signs.",
        200,
        JwkSetSchema,
        store=False,
        cache_control={"type": "string", "pattern": "^public, max-age=[0-9]+$"},
    ),
    "openapi.document": Operation(
        "This OpenAPI document",
        "Generated from the request and response schemas the service validates with.",
        200,
        {"type": "object"},
        store=False,
    ),
    "docs.viewer": Operation(
        "A readable view of this document",
        "Swagger UI, served from this origin (no external assets), rendering `/api/openapi.json`.",
        200,
        {"type": "string"},
        media_type="text/html",
        store=False,
    ),
}

# Blueprints outside the API: the cookie-mode demo page, registered in development and tests only.
UNDOCUMENTED_BLUEPRINTS = frozenset({"demo"})
# The viewer's own files (its page, ``docs.viewer``, is documented).
UNDOCUMENTED_ENDPOINTS = frozenset({"static", "docs.static", "docs.swagger_ui_asset"})

_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_IMPLICIT_METHODS = frozenset({"HEAD", "OPTIONS"})


def documented_rules(app: Flask) -> list[tuple[str, str, str]]:
    """``(endpoint, OpenAPI path, method)`` of every rule the document must show."""
    return [
        (rule.endpoint, openapi_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in UNDOCUMENTED_ENDPOINTS
        and rule.endpoint.partition(".")[0] not in UNDOCUMENTED_BLUEPRINTS
        for method in sorted((rule.methods or set()) - _IMPLICIT_METHODS)
    ]


def openapi_path(rule: str) -> str:
    """A werkzeug rule as an OpenAPI path: ``/s/<int:sid>`` -> ``/s/{sid}``."""
    return _CONVERTER.sub(r"{\1}", rule)


def _checks_csrf(operation: Operation, method: str) -> bool:
    """Cookie-authenticated requests that change state must echo the CSRF cookie."""
    return operation.credential == REFRESH or (
        operation.credential == ACCESS and method.upper() in CSRF_METHODS
    )


def security_requirements(operation: Operation, method: str) -> list[dict[str, list[str]]]:
    """The alternatives that authorize a call (``{}``: none is needed to be answered)."""
    csrf: dict[str, list[str]] = {"csrfHeader": []} if _checks_csrf(operation, method) else {}
    if operation.credential == ACCESS:
        return [{"accessToken": []}, {"accessCookie": [], **csrf}]
    if operation.credential == REFRESH:  # or in the JSON body
        return [{"refreshToken": []}, {"refreshCookie": [], **csrf}, {}]
    if operation.credential == METRICS:  # without it, the answer is the 404
        return [{"metricsToken": []}, {}]
    if operation.credential == CLIENT:
        return [{"introspectionClient": []}]
    return []


def error_codes(operation: Operation, method: str) -> dict[int, list[str]]:
    """Every error status the view can answer, with the codes of each."""
    codes: dict[int, list[str]] = {}

    def add(status: int, *names: str) -> None:
        codes.setdefault(status, []).extend(n for n in names if n not in codes.get(status, []))

    if operation.request is not None:
        add(400, "invalid_json")
        add(413, "payload_too_large")
        add(415, "unsupported_media_type")
        add(422, "validation_error")
    if operation.credential in (ACCESS, REFRESH):
        add(400, "invalid_request")
        add(401, *_TOKEN_ERRORS)
    if operation.credential == REFRESH:
        add(401, "token_reused")
    if _checks_csrf(operation, method):
        add(403, "csrf_failed")
    if operation.credential == METRICS:
        add(404, "not_found")
    for status, names in operation.errors.items():
        add(status, *names)
    add(414, "uri_too_long")  # every request: see app.api.http.refuse_oversized_request
    add(431, "header_too_large")
    if operation.rate_limited:
        add(429, "rate_limited")
    if operation.store:
        add(503, "store_unavailable")
    return dict(sorted(codes.items()))


def _security_schemes() -> dict[str, dict[str, Any]]:
    """The schemes, with this app's cookie names (they depend on COOKIE_SECURE)."""
    names = get_settings().cookie_names
    bearer = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    return {
        "accessToken": {**bearer, "description": "An access token, short-lived."},
        "accessCookie": {
            "type": "apiKey",
            "in": "cookie",
            "name": names.access,
            "description": "Cookie mode: the access token in the HttpOnly cookie that "
            "`/api/auth/login` with `use_cookies` set.",
        },
        "refreshToken": {
            **bearer,
            "description": "A refresh token, on `/api/auth/refresh` only (or in its JSON body). "
            "Good exactly once: a refresh consumes it.",
        },
        "refreshCookie": {
            "type": "apiKey",
            "in": "cookie",
            "name": names.refresh,
            "description": "Cookie mode: the refresh token in its HttpOnly cookie, sent to "
            "`/api/auth` only.",
        },
        "csrfHeader": {
            "type": "apiKey",
            "in": "header",
            "name": CSRF_HEADER,
            "description": f"Cookie mode, on requests that change state: the value of the "
            f"script-readable `{names.access_csrf}` cookie (`{names.refresh_csrf}` on "
            "`/api/auth/refresh`).",
        },
        "metricsToken": {
            "type": "http",
            "scheme": "bearer",
            "description": "The operator's `METRICS_TOKEN` (not a JWT).",
        },
        "introspectionClient": {
            "type": "http",
            "scheme": "basic",
            "description": "A resource server's client id and secret from `INTROSPECTION_CLIENTS`.",
        },
    }


def build_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of ``app``: every rule of its URL map with its `OPERATIONS` entry."""
    spec = APISpec(
        title="Rotor",
        version=API_VERSION,
        openapi_version=OPENAPI_VERSION,
        plugins=[MarshmallowPlugin()],
        info={
            "description": "Short-lived access tokens, rotating refresh tokens and real "
            "sessions. Every body is JSON, and every error, for every status, is the `Error` "
            'envelope `{"error": {"code", "message", "details"?}}`. Every 401 carries '
            "`WWW-Authenticate: Bearer`; `code` says why."
        },
    )
    for name, scheme in _security_schemes().items():
        spec.components.security_scheme(name, scheme)
    spec.components.schema("Error", schema=ErrorSchema)
    settings = get_settings()
    limits = {"max_body_bytes": settings.max_body_bytes,
              "max_header_bytes": settings.max_header_bytes}  # fmt: skip
    by_endpoint: dict[str, list[tuple[str, str]]] = {}
    for endpoint, path, method in documented_rules(app):
        by_endpoint.setdefault(endpoint, []).append((path, method))
    for endpoint, operation in OPERATIONS.items():
        for path, method in by_endpoint.get(endpoint, []):
            spec.path(
                path=path,
                operations={method: _operation(endpoint, method, operation, limits)},
                parameters=_path_parameters(path, operation),
            )
    document = spec.to_dict()
    return {"openapi": document.pop("openapi"), **document}


def _operation(
    endpoint: str, method: str, operation: Operation, limits: dict[str, int]
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "operationId": endpoint.replace(".", "_"),
        "tags": [endpoint.partition(".")[0]],
        "summary": operation.summary,
        "responses": {str(operation.status): _success(operation)},
    }
    if operation.description:
        doc["description"] = operation.description
    if operation.request is not None:
        doc["requestBody"] = {
            "required": operation.request_required,
            "content": {JSON: {"schema": operation.request}},
        }
    elif operation.form is not None:
        doc["requestBody"] = {"required": True, "content": {FORM: {"schema": operation.form}}}
    security = security_requirements(operation, method)
    if security:
        doc["security"] = security
    for status, names in error_codes(operation, method).items():
        meanings = {name: ERROR_CODES[name].format(**limits) for name in names}
        doc["responses"][str(status)] = _error(status, meanings, operation)
    return doc


def _success(operation: Operation) -> dict[str, Any]:
    response: dict[str, Any] = {"description": HTTPStatus(operation.status).phrase}
    body = operation.response
    if operation.tokens:  # the pair in the body, or in cookie mode the rest of it
        body = {"oneOf": [TokenPairSchema, CookieSessionSchema]}
        response["headers"] = {
            "Cache-Control": {**_HEADERS["Cache-Control"], "required": True},
            "Set-Cookie": {
                "description": "Cookie mode: the token cookies and their CSRF cookies.",
                "schema": {"type": "string"},
            },
        }
    elif operation.cache_control is not None:
        response["headers"] = {
            "Cache-Control": {"schema": operation.cache_control, "required": True}
        }
    elif operation.clears_cookies:
        response["headers"] = {
            "Set-Cookie": {
                "description": "Cookie mode: the token cookies, expired.",
                "schema": {"type": "string"},
            }
        }
    if body is not None:
        response["content"] = {operation.media_type: {"schema": body}}
    return response


def _error(status: int, meanings: dict[str, str], operation: Operation) -> dict[str, Any]:
    text = "; ".join(f"`{code}`: {meaning}" for code, meaning in meanings.items())
    response: dict[str, Any] = {
        "description": f"{HTTPStatus(status).phrase}. {text}.",
        "content": {JSON: {"schema": "Error"}},
    }
    if operation.credential == CLIENT:
        if status == 401:
            basic = _HEADERS["WWW-Authenticate-Basic"]
            response["headers"] = {"WWW-Authenticate": {**basic, "required": True}}
        elif status == 503:
            response["headers"] = {"Retry-After": {**_HEADERS["Retry-After"], "required": True}}
    elif status == 401:
        response["headers"] = {
            "WWW-Authenticate": {**_HEADERS["WWW-Authenticate"], "required": True}
        }
    elif status == 400 and "invalid_request" in meanings:
        response["headers"] = {"WWW-Authenticate": _HEADERS["WWW-Authenticate"]}
    elif status in (429, 503):
        response["headers"] = {"Retry-After": {**_HEADERS["Retry-After"], "required": True}}
    return response


def _path_parameters(path: str, operation: Operation) -> list[dict[str, Any]]:
    names = re.findall(r"{([^}]+)}", path)
    return [
        {"name": name, "in": "path", "required": True, **operation.parameters[name]}
        for name in names
    ]


def openapi_document(app: Flask) -> dict[str, Any]:
    """The app's document, built on first use (the URL map is complete by then)."""
    document: dict[str, Any] | None = app.extensions.get(_EXTENSION)
    if document is None:
        document = app.extensions[_EXTENSION] = build_document(app)
    return document


@bp.get("/openapi.json")
def document() -> Response:
    return json_response(openapi_document(current_app))
