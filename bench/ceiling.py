"""The ceiling: the fastest a Flask endpoint can be here. Parse a small JSON, return a small
JSON; nothing else. Served by the same gunicorn settings as Rotor.

``/floor`` is the same endpoint plus one Redis round trip (a one-call Lua script on a
connection each worker keeps to itself, the cheapest way redis-py offers): what any endpoint
that checks something in Redis on every request pays at least. Its CPU ratio to the ceiling is
the best such an endpoint can reach on this machine; Rotor makes one such round trip per
``/me`` and per refresh.
"""

from __future__ import annotations

import os
from typing import Any

import redis
from flask import Flask, Response, jsonify, request

app = Flask(__name__)

# EXISTS on a key that is not there: as little work inside Redis as a script call can be.
_SCRIPT = "return redis.call('EXISTS', KEYS[1])"
_connection: tuple[int, Any, str] | None = None  # (pid, connection, script sha)


def _one_round_trip(*args: str) -> Any:
    global _connection
    if _connection is None or _connection[0] != os.getpid():  # each forked worker its own
        client = redis.Redis.from_url(os.environ["REDIS_URL"])
        sha = client.script_load(_SCRIPT)
        pool = client.connection_pool
        _connection = (os.getpid(), pool.connection_class(**pool.connection_kwargs), sha)
    _, connection, sha = _connection
    connection.send_command("EVALSHA", sha, 1, "bench:floor", *args)
    return connection.read_response()


@app.get("/ceiling")
def ceiling_get() -> Response:
    return jsonify(id="0123456789abcdef", email="ceiling@example.com")


@app.post("/ceiling")
def ceiling_post() -> Response:
    body = request.get_json()
    return jsonify(ok=True, fields=len(body))


@app.get("/floor")
def floor_get() -> Response:
    _one_round_trip()
    return jsonify(id="0123456789abcdef", email="ceiling@example.com")


@app.post("/floor")
def floor_post() -> Response:
    body = request.get_json()
    _one_round_trip(*body.values())  # the token travels to Redis, as a refresh's hash does
    return jsonify(ok=True, fields=len(body))
