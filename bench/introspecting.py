"""A resource server that asks Rotor about every token instead of verifying it: the usual
alternative to the kit (RFC 7662 introspection per request), measured next to it.

``create_app(rotor_port)`` for an in-process measurement (bench/resource_server.py); ``app``
for gunicorn (``make bench``), configured by ``ROTOR_PORT`` and ``INTROSPECTION_CLIENT``
(``id:secret``). Each process keeps one HTTP connection to Rotor, opened on first use (after
gunicorn forks its workers).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
from urllib.parse import quote

from flask import Flask, Response, jsonify, request

CLIENT_ID, CLIENT_SECRET = "bench-rs", "bench-rs-secret-0123456789"


def create_app(rotor_port: int, client: str = f"{CLIENT_ID}:{CLIENT_SECRET}") -> Flask:
    app = Flask(__name__)
    credentials = base64.b64encode(client.encode()).decode()
    connections: list[http.client.HTTPConnection] = []

    def rotor() -> http.client.HTTPConnection:
        if not connections:
            connections.append(http.client.HTTPConnection("127.0.0.1", rotor_port, timeout=5))
        return connections[0]

    @app.get("/api/protected")
    def protected() -> tuple[Response, int] | Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        connection = rotor()
        connection.request(
            "POST",
            "/api/auth/introspect",
            body=f"token={quote(token)}",
            headers={
                "Authorization": f"Basic {credentials}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        answer = json.loads(connection.getresponse().read())
        if not answer["active"]:
            return jsonify(error={"code": "token_revoked", "message": "Not active."}), 401
        return jsonify(sub=answer["sub"], sid=answer["sid"])

    return app


if "ROTOR_PORT" in os.environ:
    app = create_app(int(os.environ["ROTOR_PORT"]), os.environ["INTROSPECTION_CLIENT"])
