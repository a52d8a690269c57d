"""The JSON Web Key Set: the public keys that verify Rotor's tokens, for resource servers.

Only public members leave Rotor (``app.auth.keys`` builds each entry from an allow list:
kty, crv, x, y, n, e, plus kid, alg and use). With HS256 the set is empty: an HMAC key is a
secret and is never published.
"""

from __future__ import annotations

from flask import Blueprint, Response

from app.api.http import json_response
from app.api.openapi import documented
from app.api.schemas import JwkSetSchema
from app.extensions import get_auth

bp = Blueprint("jwks", __name__)

# Verifiers may cache the set this long; a new key is published (verify-only, last in
# JWT_SIGNING_KEYS) at least this long before it starts signing. See README, key rotation.
JWKS_MAX_AGE = 300


@bp.get("/.well-known/jwks.json")
@documented(
    "The public keys that verify Rotor's tokens (JWKS)",
    "For resource servers that verify access tokens themselves. Verifiers may cache it for "
    "`Cache-Control`'s max-age; a new key is published here before it signs.",
    response=JwkSetSchema,
    store=False,
    cache_control={"type": "string", "pattern": "^public, max-age=[0-9]+$"},
)
def jwks() -> Response:
    """The public signing keys, current and previous, each with kid, alg and use=sig."""
    response = json_response(get_auth().tokens.keys.jwks)
    response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE}"
    return response
