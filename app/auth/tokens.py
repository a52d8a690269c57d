"""Rotor's JWTs: signing and verifying (one exact header per key), and sealing a successor
pair for grace replays.

Rotor is the only issuer of its tokens and it writes exactly one JOSE header per key it holds
(``app/auth/keys.py``: HS256 has one key and one header; EdDSA, ES256 and RS256 one header
``{"alg","typ","kid"}`` per loaded key, the first key signing). Verification leans on that (it is
the hot path of every request, see bench/NOTES.md):

- the header segment must be byte-for-byte one Rotor writes, and it alone picks the key; that
  refuses ``alg: none``, other algorithms, an unknown ``kid``, ``jku``/``jwk``/``x5u``/``crit``
  and every other header trick at once, and a ``kid`` is never looked up as such;
- the signature is checked with the key prepared at startup (HMAC: recomputed with the
  stdlib's HMAC and compared in constant time in its canonical base64url form;
  EdDSA/ECDSA/RSA: verified by PyJWT's algorithm object, and only its canonical base64url
  spelling is accepted);
- the claim set must be exactly the one Rotor issues for that token type, with ``iss``, ``aud``,
  ``exp`` and ``iat`` checked (no leeway), so a token of the wrong type or with extra or missing
  claims is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from jwt.utils import base64url_decode, base64url_encode

from app.auth.keys import KeyRing
from app.errors import TokenError

ACCESS_CLAIMS = frozenset({"sub", "sid", "jti", "iat", "exp", "type", "iss", "aud"})
REFRESH_CLAIMS = ACCESS_CLAIMS | {"gen", "sxp"}
# Tokens for cookie clients also carry ``csrf``: the value the X-CSRF-TOKEN header must echo
# (signed double submit: the value is bound to the token by its signature).
CLAIMS_BY_TYPE = {
    "access": (ACCESS_CLAIMS, ACCESS_CLAIMS | {"csrf"}),
    "refresh": (REFRESH_CLAIMS, REFRESH_CLAIMS | {"csrf"}),
}
_INT_CLAIMS = ("iat", "exp", "gen", "sxp")
_GRACE_KEY_LABEL = b"rotor/grace-key/v1\x00"
# json.dumps builds a new encoder whenever it is given options; every refresh encodes three
# times (two tokens and the grace seal), so they share one.
_compact_json = json.JSONEncoder(separators=(",", ":")).encode


@dataclass(frozen=True, slots=True)
class TokenPair:
    """An access and a refresh token with their expiry times (seconds since the epoch)."""

    access_token: str
    refresh_token: str
    access_expires_at: int
    refresh_expires_at: int
    session_id: str
    access_csrf: str | None = None
    refresh_csrf: str | None = None


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """The verified claims of an access token that authorization needs."""

    user_id: str
    session_id: str
    token_id: str
    expires_at: int
    csrf: str | None


@dataclass(frozen=True, slots=True)
class RefreshClaims:
    """The verified claims of a refresh token that rotation needs."""

    user_id: str
    session_id: str
    generation: int
    absolute_deadline: int
    issued_at: int
    csrf: str | None


class TokenCodec:
    """Signs Rotor's tokens with the ring's signing key and verifies them with the key their
    exact header names; one algorithm, one issuer/audience. ``keys`` is a KeyRing, or an
    HS256 secret."""

    def __init__(self, keys: KeyRing | str, issuer: str, audience: str) -> None:
        self._issuer = issuer
        self._audience = audience
        self.keys = KeyRing.for_secret(keys) if isinstance(keys, str) else keys
        self._signing_key = self.keys.signing
        self._header_segment = self._signing_key.header + b"."
        self._key_by_header = self.keys.by_header
        self._last_refresh = threading.local()

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
        csrf: bool = False,
    ) -> TokenPair:
        """Sign a new access token and a refresh token of the given generation (with CSRF
        values when the pair is meant for cookies)."""
        common = {"sub": user_id, "sid": session_id, "iat": now, "iss": self._issuer,
                  "aud": self._audience}  # fmt: skip
        access_expires_at = now + access_ttl
        access = {**common, "jti": _token_id(), "type": "access", "exp": access_expires_at}
        refresh = {**common, "jti": _token_id(), "type": "refresh", "exp": refresh_deadline,
                   "gen": generation, "sxp": absolute_deadline}  # fmt: skip
        access_csrf = refresh_csrf = None
        if csrf:
            access["csrf"] = access_csrf = _token_id()
            refresh["csrf"] = refresh_csrf = _token_id()
        return TokenPair(
            self._encode(access), self._encode(refresh), access_expires_at, refresh_deadline,
            session_id, access_csrf, refresh_csrf,
        )  # fmt: skip

    def decode_access_token(self, encoded: str) -> AccessClaims:
        """Verify an access token; raise TokenError (401) otherwise."""
        claims = self._verify(encoded, "access")
        return AccessClaims(
            claims["sub"], claims["sid"], claims["jti"], claims["exp"], claims.get("csrf")
        )

    def decode_refresh_token(self, encoded: str) -> RefreshClaims:
        """Verify a refresh token; raise TokenError (401) otherwise.

        A refresh needs the claims twice (the rate limiter's per-session key, then the view,
        both reading the same parsed body or cookie): each thread remembers the last token
        object it verified, with its claims, until the token expires; an EdDSA or ES256 check
        costs ~0.1 ms. Matched by identity, never by comparing its text with another token
        (that would time a secret).
        """
        last = getattr(self._last_refresh, "value", None)
        if last is not None and last[0] is encoded and last[1] > time.time():
            return last[2]
        claims = self._verify(encoded, "refresh")
        decoded = RefreshClaims(
            claims["sub"], claims["sid"], claims["gen"], claims["sxp"], claims["iat"],
            claims.get("csrf"),
        )  # fmt: skip
        self._last_refresh.value = (encoded, claims["exp"], decoded)
        return decoded

    def _encode(self, claims: dict[str, Any]) -> str:
        """JWS compact serialization (RFC 7515 7.1) of the claims under Rotor's header."""
        payload = _compact_json(claims).encode()
        signing_input = self._header_segment + base64url_encode(payload)
        return (signing_input + b"." + self._signing_key.sign(signing_input)).decode()

    def _verify(self, encoded: str, token_type: str) -> dict[str, Any]:
        try:
            token = encoded.encode("ascii")
        except UnicodeEncodeError:
            raise _invalid() from None
        signing_input, _, signature = token.rpartition(b".")
        header, _, payload = signing_input.partition(b".")
        # The exact header picks the key; nothing in it is parsed, let alone trusted.
        key = self._key_by_header.get(header)
        if key is None or b"." in payload or not key.verifies(signing_input, signature):
            raise _invalid()
        try:
            claims = json.loads(base64url_decode(payload).decode())  # str: no encoding sniffing
        except (ValueError, binascii.Error):
            raise _invalid() from None
        if not isinstance(claims, dict) or claims.keys() not in CLAIMS_BY_TYPE[token_type]:
            raise _invalid()
        if claims["type"] != token_type or claims["iss"] != self._issuer:
            raise _invalid()
        if claims["aud"] != self._audience:
            raise _invalid()
        # The signature proves Rotor wrote these claims; the type checks guard our own code.
        for name in _INT_CLAIMS:
            if name in claims and type(claims[name]) is not int:
                raise _invalid()
        if not (type(claims["sub"]) is type(claims["sid"]) is type(claims["jti"]) is str):
            raise _invalid()
        if type(claims.get("csrf", "")) is not str:
            raise _invalid()
        now = time.time()
        if claims["iat"] > now + 1:  # issued in the future: not by this clock
            raise _invalid()
        if claims["exp"] <= now:
            raise TokenError("token_expired", "The token has expired.")
        return claims


def _invalid() -> TokenError:
    # Built only when a token is refused: verification is on every request's path.
    return TokenError("invalid_token", "The token is invalid.")


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
    fields = (pair.access_token, pair.refresh_token, pair.access_expires_at,
              pair.refresh_expires_at, pair.session_id, pair.access_csrf,
              pair.refresh_csrf)  # fmt: skip
    plaintext = _compact_json(fields).encode()
    sealed = nonce + AESGCM(_grace_key(consumed_token)).encrypt(nonce, plaintext, None)
    return base64.b64encode(sealed).decode()


def unseal_pair(sealed: str, consumed_token: str) -> TokenPair | None:
    """Decrypt a pair sealed by `seal_pair`; None if it does not open with this token."""
    raw = base64.b64decode(sealed)
    try:
        plaintext = AESGCM(_grace_key(consumed_token)).decrypt(raw[:12], raw[12:], None)
    except InvalidTag:
        return None
    return TokenPair(*json.loads(plaintext))


def csrf_matches(expected: str | None, presented: str | None) -> bool:
    """The signed double-submit check: the header echoes the token's own ``csrf`` claim."""
    if not expected or not presented:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())
