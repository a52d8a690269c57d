"""The recipe: what a Flask team writes itself with flask-jwt-extended and Redis.

flask-jwt-extended's documented Redis blocklist example ("Blocklist and Token Revoking"),
extended the obvious way to rotate refresh tokens: ``/refresh`` is
``@jwt_required(refresh=True)``, blocklists the presented refresh token's ``jti`` with
``SET ... EX`` and returns a new pair; ``/me`` is ``@jwt_required()`` and returns the identity
and an email claim. Two Redis round trips per refresh (the blocklist check, the SET), one per
``/me``; no atomicity (two racing refreshes both win), no reuse detection, no sessions, no
audit. ``make bench`` runs it under the same gunicorn settings as Rotor to compare against.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import redis
from flask import Flask, Response, jsonify, request
from flask_jwt_extended import (
    JWTManager,
    create_access_token,
    create_refresh_token,
    get_jwt,
    get_jwt_identity,
    jwt_required,
)

ACCESS_EXPIRES = timedelta(hours=1)
REFRESH_EXPIRES = timedelta(days=7)

app = Flask(__name__)
app.config["JWT_SECRET_KEY"] = os.environ["JWT_SECRET_KEY"]
app.config["JWT_ACCESS_TOKEN_EXPIRES"] = ACCESS_EXPIRES
app.config["JWT_REFRESH_TOKEN_EXPIRES"] = REFRESH_EXPIRES
# The refresh token comes in the JSON body as Rotor's does, so one wrk script drives both.
app.config["JWT_TOKEN_LOCATION"] = ["headers", "json"]
app.config["JWT_REFRESH_JSON_KEY"] = "refresh_token"
jwt = JWTManager(app)

jwt_redis_blocklist = redis.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)


@jwt.token_in_blocklist_loader
def check_if_token_is_revoked(jwt_header: dict[str, Any], jwt_payload: dict[str, Any]) -> bool:
    return jwt_redis_blocklist.get(jwt_payload["jti"]) is not None


def _pair(identity: str, email: str) -> Response:
    claims = {"email": email}
    return jsonify(
        access_token=create_access_token(identity, additional_claims=claims),
        refresh_token=create_refresh_token(identity, additional_claims=claims),
    )


@app.post("/api/auth/login")
def login() -> Response:
    # The recipe's login is not measured: it trusts the email, so the bench can make tokens.
    email = request.get_json()["email"]
    return _pair(email, email)


@app.post("/api/auth/refresh")
@jwt_required(refresh=True)
def refresh() -> Response:
    token = get_jwt()
    jwt_redis_blocklist.set(token["jti"], "", ex=REFRESH_EXPIRES)
    return _pair(get_jwt_identity(), token["email"])


@app.get("/api/auth/me")
@jwt_required()
def me() -> Response:
    return jsonify(id=get_jwt_identity(), email=get_jwt()["email"])
