"""The library's floor: the least a ``/me`` and a refresh can cost on flask-jwt-extended, for
tokens of Rotor's shape, with one Redis round trip each.

``/me`` is ``@jwt_required()`` whose revocation check is one trivial round trip (the same
one-call script through Rotor's ``HotScript`` as the ceiling's ``/floor``) and answers the
token's identity; ``/refresh`` is ``@jwt_required(refresh=True)`` with the same round trip and
issues a new pair with Rotor's claims (``sid``, ``gen``, ``sxp``, a 22-character ``jti``, an
empty ``csrf``, ``iss``/``aud``, no ``nbf``), so its tokens are as long as Rotor's. No
sessions, no rotation check, no grace seal, no audit, no metrics: what is left is what the
library and Flask cost. Rotor does everything this does and more, so its CPU ratio to the
recipe cannot go above this app's: ``make bench`` shows both in one run.
"""

from __future__ import annotations

import functools
import os
import secrets
import time
from datetime import timedelta
from typing import Any

import redis
from flask import Flask, Response, jsonify, request
from flask_jwt_extended import (
    JWTManager,
    create_access_token,
    create_refresh_token,
    get_jwt,
    jwt_required,
)

from app.store.client import HotScript

ACCESS_TTL = 900  # Rotor's defaults
REFRESH_TTL = 7 * 24 * 3600

app = Flask(__name__)
app.config.update(
    JWT_SECRET_KEY=os.environ["JWT_SECRET_KEY"],
    JWT_ALGORITHM="HS256",
    JWT_DECODE_ALGORITHMS=["HS256"],
    JWT_ENCODE_ISSUER="rotor",
    JWT_DECODE_ISSUER="rotor",
    JWT_ENCODE_AUDIENCE="rotor",
    JWT_DECODE_AUDIENCE="rotor",
    JWT_DECODE_LEEWAY=0,
    JWT_ENCODE_NBF=False,
    JWT_ACCESS_TOKEN_EXPIRES=timedelta(seconds=ACCESS_TTL),
    JWT_REFRESH_TOKEN_EXPIRES=timedelta(seconds=REFRESH_TTL),
    # The refresh token comes in the JSON body, as Rotor's and the recipe's do.
    JWT_TOKEN_LOCATION=["headers", "json"],
    JWT_REFRESH_JSON_KEY="refresh_token",
)
jwt = JWTManager(app)


@functools.cache
def _round_trip() -> HotScript:
    """The ceiling's floor script: EXISTS of a key that is not there, one EVALSHA."""
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    return HotScript(client, "return redis.call('EXISTS', KEYS[1])")


@jwt.token_in_blocklist_loader
def _revoked(_header: dict[str, Any], claims: dict[str, Any]) -> bool:
    return bool(_round_trip()(["bench:library-floor:" + claims["sid"]]))


def _pair(user_id: str, session_id: str, generation: int, deadline: int) -> Response:
    now = int(time.time())
    common = {"sid": session_id, "iat": now, "csrf": ""}
    access = create_access_token(
        user_id,
        additional_claims={**common, "jti": secrets.token_urlsafe(16), "exp": now + ACCESS_TTL},
    )
    refresh = create_refresh_token(
        user_id,
        additional_claims={
            **common,
            "jti": secrets.token_urlsafe(16),
            "exp": now + REFRESH_TTL,
            "gen": generation,
            "sxp": deadline,
        },
    )
    # The fields of Rotor's answer.
    return jsonify(
        access_token=access,
        refresh_token=refresh,
        token_type="Bearer",  # noqa: S106 (not a password)
        expires_in=ACCESS_TTL,
        refresh_expires_in=deadline - now,
    )


@app.post("/api/auth/login")
def login() -> Response:
    # Not measured: it trusts the caller, so the bench can make tokens.
    request.get_json()
    return _pair(secrets.token_hex(8), secrets.token_hex(12), 0, int(time.time()) + 90 * 86400)


@app.post("/api/auth/refresh")
@jwt_required(refresh=True)
def refresh() -> Response:
    claims = get_jwt()
    return _pair(claims["sub"], claims["sid"], claims["gen"] + 1, claims["sxp"])


@app.get("/api/auth/me")
@jwt_required()
def me() -> Response:
    claims = get_jwt()
    return jsonify(id=claims["sub"], session_id=claims["sid"])
