"""Rotor's JWTs: signing and verifying (PyJWT, HS256 pinned), and sealing a successor pair for
grace replays.

Every token is parsed once per request: `TokenCodec.decode` verifies the signature, the time
claims, ``iss`` and ``aud``, requires every claim Rotor relies on, refuses header parameters
Rotor never sets (``kid``, ``jku``, ``jwk``, ``x5u``, ``crit``...) and checks the token type.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
from dataclasses import asdict, dataclass
from typing import Any

import jwt as pyjwt
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.errors import TokenError

ALGORITHM = "HS256"
ACCESS_CLAIMS = ("sub", "sid", "jti", "iat", "exp", "type", "iss", "aud")
REFRESH_CLAIMS = (*ACCESS_CLAIMS, "gen", "sxp")
ALLOWED_HEADERS = frozenset({"alg", "typ"})
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
class AccessClaims:
    """The verified claims of an access token that authorization needs."""

    user_id: str
    session_id: str
    token_id: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class RefreshClaims:
    """The verified claims of a refresh token that rotation needs."""

    user_id: str
    session_id: str
    generation: int
    absolute_deadline: int


def check_claims(header: dict[str, Any], claims: dict[str, Any], token_type: str) -> None:
    """Refuse anything Rotor never issues; raises PyJWT's InvalidTokenError."""
    if not ALLOWED_HEADERS.issuperset(header):
        raise pyjwt.InvalidTokenError("unexpected JOSE header parameter")
    if claims.get("type") != token_type:
        raise pyjwt.InvalidTokenError(f"a {token_type} token is required")
    for name in REFRESH_CLAIMS if token_type == "refresh" else ACCESS_CLAIMS:
        if name not in claims:
            raise pyjwt.InvalidTokenError(f"missing claim {name}")
    for name in _STRING_CLAIMS:
        value = claims[name]
        if not isinstance(value, str) or not _ID_PATTERN.fullmatch(value):
            raise pyjwt.InvalidTokenError(f"malformed claim {name}")
    for name in _INT_CLAIMS:
        if name in claims and type(claims[name]) is not int:
            raise pyjwt.InvalidTokenError(f"malformed claim {name}")


class TokenCodec:
    """Signs and verifies Rotor's tokens with one key, one algorithm, one issuer/audience."""

    def __init__(self, secret: str, issuer: str, audience: str) -> None:
        self._key = secret.encode()
        self._issuer = issuer
        self._audience = audience
        self._jwt = pyjwt.PyJWT()
        self._algorithms = [ALGORITHM]
        self._options: Any = {"require": ["exp", "iat", "iss", "aud", "sub", "jti"]}

    def issue_pair(
        self,
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
        common = {"sub": user_id, "sid": session_id, "iat": now, "iss": self._issuer,
                  "aud": self._audience}  # fmt: skip
        access_expires_at = now + access_ttl
        access_token = self._encode(
            {**common, "jti": _token_id(), "type": "access", "exp": access_expires_at}
        )
        refresh_token = self._encode(
            {**common, "jti": _token_id(), "type": "refresh", "exp": refresh_deadline,
             "gen": generation, "sxp": absolute_deadline}
        )  # fmt: skip
        return TokenPair(
            access_token, refresh_token, access_expires_at, refresh_deadline, session_id
        )

    def decode_access_token(self, encoded: str) -> AccessClaims:
        """Verify an access token; raise TokenError (401) otherwise."""
        claims = self._decode(encoded, "access")
        return AccessClaims(claims["sub"], claims["sid"], claims["jti"], claims["exp"])

    def decode_refresh_token(self, encoded: str) -> RefreshClaims:
        """Verify a refresh token; raise TokenError (401) otherwise."""
        claims = self._decode(encoded, "refresh")
        return RefreshClaims(claims["sub"], claims["sid"], claims["gen"], claims["sxp"])

    def _encode(self, claims: dict[str, Any]) -> str:
        return pyjwt.encode(claims, self._key, algorithm=ALGORITHM)

    def _decode(self, encoded: str, token_type: str) -> dict[str, Any]:
        try:
            decoded = self._jwt.decode_complete(
                encoded,
                self._key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                options=self._options,
            )
            claims: dict[str, Any] = decoded["payload"]
            check_claims(decoded["header"], claims, token_type)
        except pyjwt.ExpiredSignatureError:
            raise TokenError("token_expired", "The token has expired.") from None
        except pyjwt.PyJWTError:
            raise TokenError("invalid_token", "The token is invalid.") from None
        return claims


def _token_id() -> str:
    return secrets.token_urlsafe(16)


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
