"""``GET /api/openapi.json``: the OpenAPI document of API.md (``app/api/docs.py`` shows it).

The document is generated, not written: apispec's MarshmallowPlugin turns the schemas of
``app.api.schemas`` into JSON Schema, and the paths and methods come from the app's URL map.
Each view says what the URL map cannot know (schemas, statuses, security, its own errors) with
`documented`, next to it; the errors' codes and meanings come from their classes
(``app.errors``). The document is built once per app, on first use.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, TypeVar

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, Response, current_app
from marshmallow import Schema

from app.api.http import json_response
from app.api.schemas import CookieSessionSchema, ErrorSchema, TokenPairSchema
from app.errors import (
    CsrfFailed,
    HeaderTooLarge,
    InvalidJson,
    InvalidToken,
    MalformedCredentials,
    MissingToken,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    RotorError,
    StoreUnavailable,
    TokenExpired,
    TokenReused,
    TokenRevoked,
    UnsupportedMediaType,
    UriTooLong,
    ValidationFailed,
)
from app.extensions import get_settings
from config import CSRF_HEADER, CSRF_METHODS

bp = Blueprint("openapi", __name__, url_prefix="/api")

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
_EXTENSION = "rotor.openapi"

# Who may call a view: a kind of credential, each with its security schemes and errors.
ACCESS, REFRESH, METRICS, CLIENT = "access", "refresh", "metrics", "client"

_TOKEN_ERRORS = (MissingToken, InvalidToken, TokenExpired, TokenRevoked)
_VIEW_ATTRIBUTE = "_rotor_openapi"
F = TypeVar("F", bound=Callable[..., Any])

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
    description: str = ""
    status: int = 200
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
    errors: tuple[type[RotorError], ...] = ()  # what the view itself raises
    parameters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def documented(summary: str, description: str = "", **details: Any) -> Callable[[F], F]:
    """Describe a view for the OpenAPI document, beside it (see `Operation` for ``details``):
    put it right under the route decorator."""
    operation = Operation(summary, description, **details)

    def describe(view: F) -> F:
        setattr(view, _VIEW_ATTRIBUTE, operation)
        return view

    return describe


def operation_of(view: Callable[..., Any]) -> Operation | None:
    """The description `documented` gave a view, through any wrapper (the rate limiter's)."""
    found = inspect.unwrap(view, stop=lambda f: hasattr(f, _VIEW_ATTRIBUTE))
    operation: Operation | None = getattr(found, _VIEW_ATTRIBUTE, None)
    return operation


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


def error_codes(operation: Operation, method: str) -> dict[int, list[type[RotorError]]]:
    """Every error status the view can answer, with the errors of each."""
    errors: dict[int, list[type[RotorError]]] = {}

    def add(*classes: type[RotorError]) -> None:
        for cls in classes:
            if cls not in errors.setdefault(cls.status, []):
                errors[cls.status].append(cls)

    if operation.request is not None:
        add(InvalidJson, PayloadTooLarge, UnsupportedMediaType, ValidationFailed)
    if operation.credential in (ACCESS, REFRESH):
        add(MalformedCredentials, *_TOKEN_ERRORS)
    if operation.credential == REFRESH:
        add(TokenReused)
    if _checks_csrf(operation, method):
        add(CsrfFailed)
    if operation.credential == METRICS:
        add(NotFound)
    add(*operation.errors)
    add(UriTooLong, HeaderTooLarge)  # every request: see app.api.http.refuse_oversized_request
    if operation.rate_limited:
        add(RateLimited)
    if operation.store:
        add(StoreUnavailable)
    return dict(sorted(errors.items()))


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
    """The OpenAPI document of ``app``: every rule of its URL map, described by its view."""
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
    limits = {
        "max_body_bytes": settings.max_body_bytes,
        "max_header_bytes": settings.max_header_bytes,
    }
    for endpoint, path, method in documented_rules(app):
        operation = operation_of(app.view_functions[endpoint])
        if operation is None:
            raise LookupError(f"the view {endpoint} has no @documented description")
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
    for status, classes in error_codes(operation, method).items():
        doc["responses"][str(status)] = _error(status, classes, limits)
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


def _error(status: int, classes: list[type[RotorError]], limits: dict[str, int]) -> dict[str, Any]:
    """One error status of a view: what each of its codes means, and the headers its classes
    send (``app.api.errors.error_response``)."""
    text = "; ".join(f"`{cls.code}`: {cls.meaning.format(**limits)}" for cls in classes)
    response: dict[str, Any] = {
        "description": f"{HTTPStatus(status).phrase}. {text}.",
        "content": {JSON: {"schema": "Error"}},
    }
    if status == 401:  # every 401 carries a challenge: Basic for introspection clients
        basic = any(cls.challenge_scheme == "Basic" for cls in classes)
        header = _HEADERS["WWW-Authenticate-Basic" if basic else "WWW-Authenticate"]
        response["headers"] = {"WWW-Authenticate": {**header, "required": True}}
    elif any(cls.bearer_error for cls in classes):
        response["headers"] = {"WWW-Authenticate": _HEADERS["WWW-Authenticate"]}
    elif status in (RateLimited.status, StoreUnavailable.status):
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
@documented(
    "This OpenAPI document",
    "Generated from the request and response schemas the service validates with.",
    response={"type": "object"},
    store=False,
)
def document() -> Response:
    return json_response(openapi_document(current_app))
