"""Issuing and reading Rotor's JWTs, and sealing a successor pair for grace replays.

flask-jwt-extended signs and verifies (HS256 pinned, ``iss`` and ``aud`` set and checked); this
module adds what it does not: every claim Rotor relies on is required, header tricks are
refused, and a refresh token's hash is what Redis keeps.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass
from typing import Any

import jwt as pyjwt
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token

from app.errors import TokenError

ACCESS_CLAIMS = ("sub", "sid", "jti", "iat", "exp", "type", "iss", "aud")
REFRESH_CLAIMS = (*ACCESS_CLAIMS, "gen", "sxp")
ALLOWED_HEADERS = frozenset({"alg", "typ"})
TOKEN_TYPES = frozenset({"access", "refresh"})
_STRING_CLAIMS = ("sub", "sid", "jti")
_INT_CLAIMS = ("iat", "exp", "gen", "sxp")
# Ids end up in Redis key names: only ever the plain characters Rotor itself generates.
_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_GRACE_KEY_LABEL = b"rotor/grace-key/v1\x00"


@dataclass(frozen=True, slots=True)
class TokenPair:
    """An access and a refresh token with their expiry times (seconds since the epoch)."""

    access_token: str
    refresh_token: str
    access_expires_at: int
    refresh_expires_at: int
    session_id: str


@dataclass(frozen=True, slots=True)
class RefreshClaims:
    """The verified claims of a refresh token that rotation needs."""

    user_id: str
    session_id: str
    generation: int
    absolute_deadline: int


def check_claims(header: dict[str, Any], claims: dict[str, Any]) -> None:
    """Refuse tokens Rotor never issues, before the signature is checked.

    flask-jwt-extended would treat a token without ``type`` as an access token and a missing
    ``jti`` as None; a ``kid``/``jku``/``jwk``/``x5u``/``crit`` header means someone wants us to
    pick a key or extension we never use. Raises PyJWT's InvalidTokenError (answered 401).
    """
    if not ALLOWED_HEADERS.issuperset(header):
        raise pyjwt.InvalidTokenError("unexpected JOSE header parameter")
    token_type = claims.get("type")
    if token_type not in TOKEN_TYPES:
        raise pyjwt.InvalidTokenError("missing or unknown token type")
    required = REFRESH_CLAIMS if token_type == "refresh" else ACCESS_CLAIMS
    for name in required:
        if name not in claims:
            raise pyjwt.InvalidTokenError(f"missing claim {name}")
    for name in _STRING_CLAIMS:
        value = claims[name]
        if not isinstance(value, str) or not _ID_PATTERN.fullmatch(value):
            raise pyjwt.InvalidTokenError(f"malformed claim {name}")
    for name in _INT_CLAIMS:
        if name in claims and (type(claims[name]) is not int):
            raise pyjwt.InvalidTokenError(f"malformed claim {name}")


def issue_pair(
    *,
    user_id: str,
    session_id: str,
    generation: int,
    now: int,
    access_ttl: int,
    refresh_deadline: int,
    absolute_deadline: int,
) -> TokenPair:
    """Sign a new access token and a refresh token of the given generation."""
    access_expires_at = now + access_ttl
    access_token = create_access_token(
        identity=user_id,
        expires_delta=False,
        additional_claims={"sid": session_id, "iat": now, "exp": access_expires_at},
    )
    refresh_token = create_refresh_token(
        identity=user_id,
        expires_delta=False,
        additional_claims={
            "sid": session_id,
            "gen": generation,
            "sxp": absolute_deadline,
            "iat": now,
            "exp": refresh_deadline,
        },
    )
    return TokenPair(access_token, refresh_token, access_expires_at, refresh_deadline, session_id)


def decode_refresh_token(encoded: str) -> RefreshClaims:
    """Verify a refresh token's signature, claims and type; raise TokenError otherwise."""
    try:
        claims = decode_token(encoded)
    except pyjwt.ExpiredSignatureError:
        raise TokenError("token_expired", "The refresh token has expired.") from None
    except Exception:
        # PyJWT, flask-jwt-extended and check_claims all say "not a token we issued".
        raise TokenError("invalid_token", "The refresh token is invalid.") from None
    if claims["type"] != "refresh":
        raise TokenError("invalid_token", "A refresh token is required here.")
    return RefreshClaims(claims["sub"], claims["sid"], claims["gen"], claims["sxp"])


def token_hash(encoded: str) -> str:
    """The SHA-256 (hex) of a token: what Redis keeps instead of the token."""
    return hashlib.sha256(encoded.encode()).hexdigest()


def _grace_key(consumed_token: str) -> bytes:
    # Domain-separated from token_hash: the stored hash must not be the decryption key.
    return hashlib.sha256(_GRACE_KEY_LABEL + consumed_token.encode()).digest()


def seal_pair(pair: TokenPair, consumed_token: str) -> str:
    """Encrypt a successor pair under a key only the consumed token's holder can derive.

    Redis keeps the result for the grace window; a dump of Redis alone yields no usable token.
    """
    nonce = os.urandom(12)
    plaintext = json.dumps(asdict(pair), separators=(",", ":")).encode()
    sealed = nonce + AESGCM(_grace_key(consumed_token)).encrypt(nonce, plaintext, None)
    return base64.b64encode(sealed).decode()


def unseal_pair(sealed: str, consumed_token: str) -> TokenPair | None:
    """Decrypt a pair sealed by `seal_pair`; None if it does not open with this token."""
    raw = base64.b64decode(sealed)
    try:
        plaintext = AESGCM(_grace_key(consumed_token)).decrypt(raw[:12], raw[12:], None)
    except InvalidTag:
        return None
    return TokenPair(**json.loads(plaintext))
