"""The resource-server example's endpoint with flask-jwt-extended alone: configured for Rotor's
access tokens as the kit configures it (headers only, ``sub`` identity, issuer, audience, no
leeway, HS256), ``@jwt_required()``, and no revocation check at all.

What verifying a Rotor access token with the library costs by itself: the resource-server kit's
row of ``make bench`` can be no cheaper than this one. Configured by ``JWT_SECRET_KEY``.
"""

from __future__ import annotations

import os

from flask import Flask, Response, jsonify
from flask_jwt_extended import JWTManager, get_jwt, jwt_required


def create_app(secret_key: str) -> Flask:
    app = Flask(__name__)
    app.config.update(JWT_SECRET_KEY=secret_key, JWT_TOKEN_LOCATION=["headers"],
                      JWT_IDENTITY_CLAIM="sub", JWT_DECODE_ISSUER="rotor",
                      JWT_DECODE_AUDIENCE="rotor", JWT_DECODE_LEEWAY=0,
                      JWT_ALGORITHM="HS256", JWT_DECODE_ALGORITHMS=["HS256"])  # fmt: skip
    JWTManager(app)

    @app.get("/api/protected")
    @jwt_required()
    def protected() -> Response:
        claims = get_jwt()
        return jsonify(sub=claims["sub"], sid=claims["sid"])

    return app


app = create_app(os.environ["JWT_SECRET_KEY"])
