"""Small HTTP helpers shared by the blueprints: JSON bodies, client identity, timestamps."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from flask import Response, request
from flask.json.provider import DefaultJSONProvider
from marshmallow import Schema
from werkzeug.exceptions import RequestHeaderFieldsTooLarge, RequestURITooLarge

from app.errors import InvalidJson, UnsupportedMediaType
from app.extensions import get_settings


def load_json(schema: Schema, *, optional: bool = False) -> dict[str, Any]:
    """The request's JSON object validated by ``schema`` (415/400/422 otherwise)."""
    if optional and not request.content_length and not request.is_json:
        return {}
    if not request.is_json:
        raise UnsupportedMediaType()
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidJson()
    loaded: dict[str, Any] = schema.load(data)
    return loaded


def client_ip() -> str:
    """The peer address (behind a proxy, configure it to pass the real one)."""
    return request.remote_addr or ""


def user_agent() -> str:
    """The client's User-Agent header, as sent."""
    return request.headers.get("User-Agent", "")


def iso(ms: int) -> datetime:
    """A stored millisecond timestamp as an aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def iso_text(ms: int) -> str:
    """A stored millisecond timestamp as ISO 8601 text, exactly as the schemas dump it
    (``datetime.isoformat``), without building a datetime: /me is a hot path."""
    seconds, millis = divmod(ms, 1000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{text}.{millis:03d}000+00:00" if millis else f"{text}+00:00"


def no_store(response: Response) -> Response:
    """Responses that carry tokens must never be cached (RFC 6749 5.1)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


# The bytes Flask's ``jsonify`` writes outside debug mode (create_app turns key sorting off),
# without its per-call lookups of the app's JSON provider: every API response comes here.
_encode_json = json.JSONEncoder(
    ensure_ascii=True, sort_keys=False, separators=(",", ":"), default=DefaultJSONProvider.default
).encode


def json_response(body: Any, status: int = 200) -> Response:
    """A JSON response with a status."""
    return Response(_encode_json(body) + "\n", status, mimetype="application/json")


def refuse_oversized_request() -> None:
    """431/414 as JSON for huge headers or URLs (gunicorn lets them through to us)."""
    limit = get_settings().max_header_bytes
    environ = request.environ
    if len(environ.get("PATH_INFO", "")) + len(environ.get("QUERY_STRING", "")) > limit:
        raise RequestURITooLarge()
    for key, value in environ.items():  # every request: a plain loop, no generator
        if key[:5] == "HTTP_" and len(value) > limit:
            raise RequestHeaderFieldsTooLarge()


def no_content() -> Response:
    """204 with no body and so no Content-Type."""
    response = Response(status=204)
    del response.headers["Content-Type"]
    return response
