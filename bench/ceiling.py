"""The ceiling: the fastest a Flask endpoint can be here. Parse a small JSON, return a small
JSON; nothing else. Served by the same gunicorn settings as Rotor.

``/floor`` is the same endpoint plus one Redis round trip: a one-call Lua script through
Rotor's own hot path (``HotScript``: EVALSHA on a connection each worker keeps). That is what
any endpoint that checks something in Redis on every request pays at least; its CPU ratio to
the ceiling is the best such an endpoint can reach on this machine. Rotor makes one such round
trip per ``/me`` and per refresh.
"""

from __future__ import annotations

import functools
import os

import redis
from flask import Flask, Response, jsonify, request

from app.store.client import HotScript

app = Flask(__name__)


@functools.cache
def _floor_script() -> HotScript:
    """EXISTS on a key that is not there: as little work inside Redis as a script call can be.
    Built on first use (only the floor needs REDIS_URL); HotScript connects per process."""
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    return HotScript(client, "return redis.call('EXISTS', KEYS[1])")


@app.get("/ceiling")
def ceiling_get() -> Response:
    return jsonify(id="0123456789abcdef", email="ceiling@example.com")


@app.post("/ceiling")
def ceiling_post() -> Response:
    body = request.get_json()
    return jsonify(ok=True, fields=len(body))


@app.get("/floor")
def floor_get() -> Response:
    _floor_script()(["bench:floor"])
    return jsonify(id="0123456789abcdef", email="ceiling@example.com")


@app.post("/floor")
def floor_post() -> Response:
    body = request.get_json()
    # The token travels to Redis, as a refresh's hash does.
    _floor_script()(["bench:floor"], list(body.values()))
    return jsonify(ok=True, fields=len(body))
