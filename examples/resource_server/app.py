"""A resource server for Rotor's access tokens: Flask + flask-jwt-extended + the kit.

Configured by the environment only: ``JWT_SECRET_KEY`` (Rotor's HS256 secret) or
``ROTOR_JWKS_URL`` (Rotor's ``/.well-known/jwks.json``), ``REDIS_URL`` (Rotor's Redis, as a
read-only user), ``JWT_ISSUER`` and ``JWT_AUDIENCE`` (Rotor's, default ``rotor``). From the
repository root::

    pip install -r examples/resource_server/requirements.txt
    gunicorn -w 2 examples.resource_server.app:app
"""

from __future__ import annotations

from flask import Flask, Response, jsonify
from flask_jwt_extended import get_jwt, jwt_required

from rotor_resource_kit import RotorResourceServer


def create_app() -> Flask:
    """The API: one protected endpoint."""
    app = Flask(__name__)
    RotorResourceServer.from_env(app)

    @app.get("/api/protected")
    @jwt_required()
    def protected() -> Response:
        claims = get_jwt()
        return jsonify(sub=claims["sub"], sid=claims["sid"])

    return app


app = create_app()
