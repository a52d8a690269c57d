"""Rotor's tokens on flask-jwt-extended: issued with ``create_access_token`` /
``create_refresh_token``, verified by the library with the key ring's key, and a successor pair
sealed for grace replays.

The library (PyJWT under it) checks the signature under the one pinned algorithm, ``exp``,
``iat`` (not in the future), ``nbf``, ``iss``, ``aud``, that ``sub`` and ``jti`` are strings,
the canonical base64url of every segment, ``crit``, and the token type a view asks for. Rotor
adds what it lacks in the library's decode key loader, which sees the unverified header and
claims before any key is used (refusing there refuses the token):

- the header must be exactly one the ring writes (``app/auth/keys.py``); that refuses
  ``alg: none``, other algorithms, an unknown ``kid``, ``jku``/``jwk``/``x5u`` and every other
  header trick before a key is chosen, and a ``kid`` is only ever looked up in the ring;
- the claims must include every claim Rotor issues for the token's type (the library would
  take a token without ``exp`` as never expiring, without ``jti`` as unrevokable and without
  ``type`` as an access token), with Rotor's own claims of the right JSON type.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask_jwt_extended import create_access_token, create_refresh_token
from flask_jwt_extended.exceptions import JWTDecodeError

from app.auth.keys import KeyRing

ACCESS_CLAIMS = frozenset({"sub", "sid", "jti", "iat", "exp", "type", "iss", "aud"})
REFRESH_CLAIMS = ACCESS_CLAIMS | {"gen", "sxp"}
REQUIRED_CLAIMS = {"access": ACCESS_CLAIMS, "refresh": REFRESH_CLAIMS}
_INT_CLAIMS = ("iat", "exp", "gen", "sxp")
_GRACE_KEY_LABEL = b"rotor/grace-key/v1\x00"
# Every refresh seals a pair: one shared encoder instead of json.dumps options per call.
_compact_json = json.JSONEncoder(separators=(",", ":")).encode


@dataclass(frozen=True, slots=True)
class TokenPair:
    """An access and a refresh token with their expiry times (seconds since the epoch)."""

    access_token: str
    refresh_token: str
    access_expires_at: int
    refresh_expires_at: int
    session_id: str
    for_cookies: bool = False  # issued to be answered in cookies (its tokens carry CSRF values)


@dataclass(frozen=True, slots=True)
class RefreshClaims:
    """The verified claims of a refresh token that rotation needs."""

    user_id: str
    session_id: str
    generation: int
    absolute_deadline: int
    issued_at: int

    @classmethod
    def of(cls, claims: Mapping[str, Any]) -> RefreshClaims:
        """From claims the library verified (their shape checked by `Tokens.verification_key`)."""
        return cls(claims["sub"], claims["sid"], claims["gen"], claims["sxp"], claims["iat"])


class Tokens:
    """Rotor's side of flask-jwt-extended: its key loaders and the token pair it issues."""

    def __init__(self, keys: KeyRing) -> None:
        self.keys = keys
        self._signing_key = keys.signing.private
        self._signing_header = keys.signing.extra_header

    def signing_key(self, _identity: object) -> Any:
        """The encode key loader: the ring's first key signs every token."""
        return self._signing_key

    def signing_header(self, _identity: object) -> dict[str, str]:
        """The additional headers loader: the signing key's kid (none for HS256)."""
        return dict(self._signing_header)  # a copy: the library updates it in place

    def verification_key(self, header: dict[str, Any], claims: dict[str, Any]) -> Any:
        """The decode key loader: the key for a header Rotor writes, for claims Rotor issues;
        refuses anything else (the library answers ``invalid_token``)."""
        key = self.keys.verification_key(header)
        if key is None:
            raise JWTDecodeError("The token's header is not one this service writes.")
        token_type = claims.get("type")
        required = REQUIRED_CLAIMS.get(token_type) if type(token_type) is str else None
        if required is None or not claims.keys() >= required:
            raise JWTDecodeError("The token lacks a claim this service issues.")
        # The signature will prove Rotor wrote these claims; the type checks guard our code.
        for name in _INT_CLAIMS:
            if name in claims and type(claims[name]) is not int:
                raise JWTDecodeError(f"The {name} claim must be an integer.")
        if type(claims["sid"]) is not str or type(claims.get("csrf", "")) is not str:
            raise JWTDecodeError("The sid and csrf claims must be strings.")
        return key.public

    def issue_pair(
        self,
        *,
        user_id: str,
        session_id: str,
        generation: int,
        now: int,
        access_expires_at: int,
        refresh_deadline: int,
        absolute_deadline: int,
        for_cookies: bool = False,
    ) -> TokenPair:
        """Sign an access token and a refresh token of the given generation.

        ``iat`` and ``exp`` come from Rotor's clock, the instant the session's deadlines in
        Redis are computed from, so the refresh token's ``exp`` is exactly the session's.
        Only a pair ``for_cookies`` gets the library's CSRF values (`_claims_over_the_library`).
        """
        common = _claims_over_the_library(session_id, now, for_cookies)
        access = create_access_token(
            user_id, additional_claims={**common, "jti": _token_id(), "exp": access_expires_at}
        )
        refresh = create_refresh_token(
            user_id,
            additional_claims={
                **common,
                "jti": _token_id(),
                "exp": refresh_deadline,
                "gen": generation,
                "sxp": absolute_deadline,
            },
        )
        return TokenPair(
            access, refresh, access_expires_at, refresh_deadline, session_id, for_cookies
        )


def _claims_over_the_library(session_id: str, now: int, for_cookies: bool) -> dict[str, Any]:
    """Rotor's claims, and its values for two of the library's: every character of a token is
    parsed four times per verification, so tokens carry no more than they need.

    A bearer token's ``csrf`` is empty: only a cookie-mode client echoes the value (the library
    adds a UUID to every token while cookies are a token location), and an empty value never
    passes its double-submit check, so a bearer token planted in a cookie cannot write.
    """
    claims: dict[str, Any] = {"sid": session_id, "iat": now}
    if not for_cookies:
        claims["csrf"] = ""
    return claims


def _token_id() -> str:
    """A ``jti``: 128 random bits in 22 base64url characters (the library's UUID4 has 122 in
    36 characters)."""
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
    fields = (
        pair.access_token,
        pair.refresh_token,
        pair.access_expires_at,
        pair.refresh_expires_at,
        pair.session_id,
        pair.for_cookies,
    )
    plaintext = _compact_json(fields).encode()
    sealed = nonce + AESGCM(_grace_key(consumed_token)).encrypt(nonce, plaintext, None)
    return base64.b64encode(sealed).decode()


def unseal_pair(sealed: str, consumed_token: str, for_cookies: bool) -> TokenPair | None:
    """Decrypt a pair sealed by `seal_pair`; None if it does not open with this token. A pair
    sealed before pairs recorded where they go (every token then had CSRF values) goes where
    ``for_cookies`` says."""
    raw = base64.b64decode(sealed)
    try:
        plaintext = AESGCM(_grace_key(consumed_token)).decrypt(raw[:12], raw[12:], None)
    except InvalidTag:
        return None
    fields = json.loads(plaintext)
    access, refresh, access_expires_at, refresh_expires_at, session_id = fields[:5]
    in_cookies = fields[5] if len(fields) == 6 else for_cookies
    return TokenPair(access, refresh, access_expires_at, refresh_expires_at, session_id, in_cookies)
