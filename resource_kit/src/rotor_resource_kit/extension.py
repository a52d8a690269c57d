"""The Flask side: flask-jwt-extended verifies Rotor's access tokens; the kit tells it which
sessions have ended, and answers every refusal in Rotor's error envelope."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import jwt
from flask import Flask, Response, jsonify
from flask_jwt_extended import JWTManager
from flask_jwt_extended.exceptions import InvalidHeaderError

from rotor_resource_kit.watch import SessionWatch, StoreUnavailable

# Rotor's access-token claims: a token without one of them is not Rotor's access token.
REQUIRED_CLAIMS = frozenset(("sub", "sid", "jti", "iat", "exp", "type", "iss", "aud"))
KEY_PAIR_ALGORITHMS = ("EdDSA", "ES256", "RS256")
REALM = 'Bearer realm="rotor"'


class KeySetUnavailable(Exception):
    """Rotor's JWKS could not be fetched: the token can be neither accepted nor refused."""


class RotorResourceServer:
    """Verify Rotor's access tokens in a Flask app with flask-jwt-extended, refusing tokens
    whose session has ended.

    Give ``secret_key`` (Rotor's HS256 ``JWT_SECRET_KEY``) or ``jwks_url`` (Rotor's
    ``/.well-known/jwks.json``, for EdDSA/ES256/RS256), and ``watch`` (or ``redis_url``).
    Views then use flask-jwt-extended's own ``@jwt_required()`` and ``get_jwt()``.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        redis_url: str | None = None,
        watch: SessionWatch | None = None,
        secret_key: str | None = None,
        jwks_url: str | None = None,
        issuer: str = "rotor",
        audience: str = "rotor",
        key_prefix: str = "auth:",
        cluster: bool = False,
    ) -> None:
        if (secret_key is None) == (jwks_url is None):
            raise ValueError("give exactly one of secret_key (HS256) and jwks_url")
        if watch is None:
            if redis_url is None:
                raise ValueError("give redis_url (or a SessionWatch)")
            watch = SessionWatch(redis_url, key_prefix=key_prefix, cluster=cluster)
        self.watch = watch
        self.secret_key = secret_key
        self.issuer = issuer
        self.audience = audience
        self.jwks = jwt.PyJWKClient(jwks_url, lifespan=300) if jwks_url else None
        self.jwt = JWTManager()
        if app is not None:
            self.init_app(app)

    @classmethod
    def from_env(cls, app: Flask | None = None, environ: Mapping[str, str] = os.environ) -> Any:
        """Configured like Rotor: ``JWT_SECRET_KEY`` or ``ROTOR_JWKS_URL``, ``REDIS_URL``,
        ``JWT_ISSUER``, ``JWT_AUDIENCE`` (and ``REDIS_KEY_PREFIX``, ``REDIS_CLUSTER=1``)."""
        redis_url = environ.get("REDIS_URL")
        if not redis_url:
            raise ValueError("REDIS_URL is required: the kit learns of ended sessions from Redis")
        return cls(
            app,
            redis_url=redis_url,
            secret_key=environ.get("JWT_SECRET_KEY") or None,
            jwks_url=environ.get("ROTOR_JWKS_URL") or None,
            issuer=environ.get("JWT_ISSUER", "rotor"),
            audience=environ.get("JWT_AUDIENCE", "rotor"),
            key_prefix=environ.get("REDIS_KEY_PREFIX", "auth:"),
            cluster=environ.get("REDIS_CLUSTER", "0") == "1",
        )

    def init_app(self, app: Flask) -> None:
        """Configure flask-jwt-extended for Rotor's access tokens and register the loaders."""
        app.config.update(
            JWT_TOKEN_LOCATION=["headers"],  # never the query string, no cookies
            JWT_IDENTITY_CLAIM="sub",
            JWT_DECODE_ISSUER=self.issuer,
            JWT_DECODE_AUDIENCE=self.audience,
            JWT_DECODE_LEEWAY=0,
        )
        if self.jwks is None:
            app.config.update(JWT_SECRET_KEY=self.secret_key, JWT_ALGORITHM="HS256",
                              JWT_DECODE_ALGORITHMS=["HS256"])  # fmt: skip
        else:
            app.config.update(JWT_ALGORITHM=KEY_PAIR_ALGORITHMS[0],
                              JWT_DECODE_ALGORITHMS=list(KEY_PAIR_ALGORITHMS))  # fmt: skip
        manager = self.jwt
        manager.decode_key_loader(self._verification_key)
        manager.token_in_blocklist_loader(self._session_ended)
        manager.unauthorized_loader(
            lambda _reason: _refusal("missing_token", "A bearer token is required.", False)
        )
        manager.invalid_token_loader(lambda _reason: _invalid("The token is invalid."))
        manager.expired_token_loader(
            lambda _h, _d: _refusal("token_expired", "The token has expired.", True)
        )
        manager.revoked_token_loader(
            lambda _h, _d: _refusal("token_revoked", "The token's session has ended.", True)
        )
        manager.init_app(app)
        # After init_app, so ours replace flask-jwt-extended's handlers for these.
        app.register_error_handler(InvalidHeaderError, _invalid_request)
        app.register_error_handler(StoreUnavailable, _unavailable)
        app.register_error_handler(KeySetUnavailable, _unavailable)
        app.extensions["rotor_resource_kit"] = self
        self.watch.start()

    def _session_ended(self, _header: dict[str, Any], claims: dict[str, Any]) -> bool:
        """flask-jwt-extended's blocklist question, answered from the watch."""
        sub, sid, jti = claims["sub"], claims["sid"], claims["jti"]
        if not (isinstance(sub, str) and isinstance(sid, str) and isinstance(jti, str)):
            raise jwt.InvalidTokenError("sub, sid and jti must be strings")
        return not self.watch.is_live(sub, sid, jti)

    def _verification_key(self, header: dict[str, Any], claims: dict[str, Any]) -> Any:
        """The key that verifies this token, once its (not yet verified) claims look like a
        Rotor access token: flask-jwt-extended would fill in a missing ``type`` ("access")
        and ``jti`` (None), so this is where their absence is still visible. With a JWKS: the
        key the ``kid`` names, for the algorithm that key is for only."""
        if not _has_required_claims(claims):
            raise jwt.InvalidTokenError("not a Rotor access token")
        if self.jwks is None:
            return self.secret_key
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise jwt.InvalidTokenError("no kid")
        try:
            key = self.jwks.get_signing_key(kid)
        except jwt.PyJWKClientConnectionError as exc:
            raise KeySetUnavailable(str(exc)) from exc
        except jwt.PyJWKClientError as exc:
            raise jwt.InvalidTokenError("unknown kid") from exc
        if header.get("alg") != key.algorithm_name:
            raise jwt.InvalidTokenError("the key is for another algorithm")
        return key.key


def _has_required_claims(claims: dict[str, Any]) -> bool:
    return claims.keys() >= REQUIRED_CLAIMS and claims["type"] == "access"


def _envelope(code: str, message: str, status: int, headers: dict[str, str]) -> Response:
    response = jsonify(error={"code": code, "message": message})
    response.status_code = status
    response.headers.update(headers)
    return response


def _refusal(code: str, message: str, presented: bool) -> Response:
    """Rotor's 401: ``error="invalid_token"`` only when a token was sent (RFC 6750)."""
    challenge = f'{REALM}, error="invalid_token"' if presented else REALM
    return _envelope(code, message, 401, {"WWW-Authenticate": challenge})


def _invalid(message: str) -> Response:
    return _refusal("invalid_token", message, True)


def _invalid_request(_error: Exception) -> Response:
    return _envelope(
        "invalid_request",
        "The Authorization header must be 'Bearer <token>'.",
        400,
        {"WWW-Authenticate": f'{REALM}, error="invalid_request"'},
    )


def _unavailable(_error: Exception) -> Response:
    return _envelope(
        "store_unavailable",
        "The session store is unavailable; try again shortly.",
        503,
        {"Retry-After": "1"},
    )
