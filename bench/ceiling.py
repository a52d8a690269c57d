"""The ceiling: the fastest a Flask endpoint can be here. Parse a small JSON, return a small
JSON; nothing else. Served by the same gunicorn settings as Rotor."""

from __future__ import annotations

from flask import Flask, Response, jsonify, request

app = Flask(__name__)


@app.get("/ceiling")
def ceiling_get() -> Response:
    return jsonify(id="0123456789abcdef", email="ceiling@example.com")


@app.post("/ceiling")
def ceiling_post() -> Response:
    body = request.get_json()
    return jsonify(ok=True, fields=len(body))
