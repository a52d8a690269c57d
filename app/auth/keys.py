"""Rotor's signing keys: loaded and checked once at startup, one exact JOSE header per key.

HS256 has one key, JWT_SECRET_KEY, under the header Rotor has always written (no ``kid``: a
token issued before key pairs existed still verifies). EdDSA, ES256 and RS256 take a list of
PEM keys: the first signs, every one verifies, each under its own header
``{"alg","typ","kid"}``, where ``kid`` is the key's RFC 7638 thumbprint. flask-jwt-extended signs
and verifies; its key loaders (``app.auth.tokens``) ask the ring for the key, and the ring
answers only for a header that is exactly one of its own, so nothing a token says about keys
(``kid``, ``jku``, ``jwk``, ``x5u``, another ``alg``) is ever trusted and a key the header does
not name exactly is never tried. Keys are prepared here once (PyJWT's ``prepare_key``), so
signing and verifying never parse a PEM.

The public halves make the JWKS (``/.well-known/jwks.json``); the private halves never leave
this module and the key loaders.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from jwt.algorithms import HMACAlgorithm, get_default_algorithms
from jwt.exceptions import InvalidKeyError
from jwt.utils import base64url_encode

from config import ConfigError, PemKey, Settings

ASYMMETRIC_ALGORITHMS = ("EdDSA", "ES256", "RS256")
MIN_RSA_BITS = 2048
# The public members of each key type (RFC 7518 6, RFC 8037 2): all a JWKS entry may carry.
_PUBLIC_MEMBERS = {"OKP": ("crv", "x"), "EC": ("crv", "x", "y"), "RSA": ("n", "e")}
# RFC 7638 3.2: the members a thumbprint hashes.
_THUMBPRINT_MEMBERS = {"OKP": ("crv", "kty", "x"), "EC": ("crv", "kty", "x", "y"),
                       "RSA": ("e", "kty", "n")}  # fmt: skip
_NEEDS = {
    "EdDSA": "an Ed25519 or Ed448 key",
    "ES256": "an EC key on the P-256 curve",
    "RS256": f"an RSA key of at least {MIN_RSA_BITS} bits",
}


@dataclass(frozen=True, slots=True, eq=False)
class SigningKey:
    """One key with its algorithm and the exact JOSE header of the tokens it signs."""

    kid: str | None  # None only for HS256, whose header has always had no kid
    algorithm: str
    source: str  # a file path or an environment variable name, never key material
    header: dict[str, str]  # the whole JOSE header of its tokens, as PyJWT writes it
    private: Any  # the prepared signing key; None for a verify-only public key
    public: Any  # the prepared verifying key (the HMAC secret for HS256)
    jwk: dict[str, str] | None  # the public JWK with kid, alg and use; None for HS256

    @property
    def can_sign(self) -> bool:
        return self.private is not None

    @property
    def extra_header(self) -> dict[str, str]:
        """What a signer adds to PyJWT's own ``alg`` and ``typ``: the kid, if any."""
        return {} if self.kid is None else {"kid": self.kid}


class KeyRing:
    """The loaded keys, the signing one first, and the JWKS of their public halves."""

    def __init__(self, keys: Sequence[SigningKey]) -> None:
        if not keys or not keys[0].can_sign:
            raise ConfigError("the first signing key must be a private key: it signs")
        self.keys = tuple(keys)
        self.signing = keys[0]
        self.algorithm = keys[0].algorithm
        self.by_kid = {key.kid: key for key in keys}
        self.jwks: dict[str, list[dict[str, str]]] = {
            "keys": [key.jwk for key in keys if key.jwk is not None]
        }

    @classmethod
    def for_secret(cls, secret: str) -> KeyRing:
        """HS256 with one secret, under Rotor's original header (no kid)."""
        key = HMACAlgorithm(HMACAlgorithm.SHA256).prepare_key(secret.encode())  # not a PEM
        header = _jose_header("HS256", None)
        return cls([SigningKey(None, "HS256", "JWT_SECRET_KEY", header, key, key, None)])

    def verification_key(self, header: dict[str, Any]) -> SigningKey | None:
        """The key whose tokens carry exactly this header; None for any other header."""
        kid = header.get("kid")
        key = self.by_kid.get(kid) if kid is None or type(kid) is str else None
        return key if key is not None and header == key.header else None

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        """The ring the settings describe; ConfigError names the key that cannot be used."""
        if settings.jwt_algorithm == "HS256":
            return cls.for_secret(settings.jwt_secret_key)
        keys: list[SigningKey] = []
        for position, pem_key in enumerate(settings.jwt_signing_keys):
            key = load_key(pem_key, settings.jwt_algorithm, signs=position == 0)
            twin = next((known for known in keys if known.kid == key.kid), None)
            if twin is not None:
                raise ConfigError(f"signing key {key.source} is the same key as {twin.source}")
            keys.append(key)
        return cls(keys)


def load_key(pem_key: PemKey, algorithm: str, *, signs: bool) -> SigningKey:
    """One PEM key for ``algorithm``, checked: its type and size, private if it ``signs``.

    A key after the first may be a public key: it verifies the tokens it signed while it was
    current, and its private half can already be destroyed.
    """
    where = f"signing key {pem_key.source}"
    loaded = _load_pem(pem_key.pem.encode(), where)
    private = loaded if _is_private(loaded) else None
    public = loaded.public_key() if private is not None else loaded
    if signs and private is None:
        raise ConfigError(
            f"{where} is a public key, but the first key signs: put a private key first"
        )
    if not _fits(public, algorithm):
        raise ConfigError(
            f"{where} is {_describe(public)}; JWT_ALGORITHM={algorithm} needs {_NEEDS[algorithm]}"
        )
    jws = get_default_algorithms()[algorithm]
    try:  # PyJWT's own checks on the key objects (family, curve)
        prepared_private = jws.prepare_key(private) if private is not None else None
        prepared_public = jws.prepare_key(public)
    except InvalidKeyError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    members = jws.to_jwk(prepared_public, as_dict=True)
    kty = members["kty"]
    kid = thumbprint({"kty": kty, **{name: members[name] for name in _PUBLIC_MEMBERS[kty]}})
    jwk = {"kty": kty, **{name: members[name] for name in _PUBLIC_MEMBERS[kty]},
           "kid": kid, "alg": algorithm, "use": "sig"}  # fmt: skip
    header = _jose_header(algorithm, kid)
    return SigningKey(
        kid, algorithm, pem_key.source, header, prepared_private, prepared_public, jwk
    )


def thumbprint(jwk: dict[str, str]) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url): a kid derived from the key itself."""
    required = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(required, sort_keys=True, separators=(",", ":")).encode()
    return base64url_encode(hashlib.sha256(canonical).digest()).decode()


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    """A key pair written by `write_key_pair`."""

    kid: str
    algorithm: str
    private_path: Path
    public_path: Path


def write_key_pair(algorithm: str, out_dir: Path) -> GeneratedKey:
    """Generate a key for ``algorithm`` and write it as PKCS#8 PEM (mode 0600, never
    overwriting a file) with its public key next to it; the kid is the key's thumbprint."""
    private_key = _generate(algorithm)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key = load_key(PemKey("generated", pem.decode()), algorithm, signs=True)
    assert key.kid is not None
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"rotor-{algorithm.lower()}-{key.kid}"
    private_path, public_path = out_dir / f"{stem}.pem", out_dir / f"{stem}.pub.pem"
    # O_EXCL: never replace a key; 0o600 from the first byte, whatever the umask says.
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    public_path.write_bytes(
        private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return GeneratedKey(key.kid, algorithm, private_path, public_path)


def _generate(algorithm: str) -> Any:
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"no key pairs for {algorithm}")


def _jose_header(algorithm: str, kid: str | None) -> dict[str, str]:
    """The header PyJWT writes for this key: its ``typ`` and ``alg``, and the kid if any."""
    header = {"alg": algorithm, "typ": "JWT"}
    return header if kid is None else {**header, "kid": kid}


def _load_pem(data: bytes, where: str) -> Any:
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise ConfigError(
            f"{where} is encrypted; Rotor reads unencrypted PEM (protect the file instead, "
            "mode 0600)"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        pass
    try:
        return serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigError(f"{where} is not a PEM private or public key") from None


def _is_private(key: Any) -> bool:
    return isinstance(
        key,
        ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey | ec.EllipticCurvePrivateKey
        | rsa.RSAPrivateKey,
    )  # fmt: skip


def _fits(public: Any, algorithm: str) -> bool:
    if algorithm == "EdDSA":
        return isinstance(public, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey)
    if algorithm == "ES256":
        return isinstance(public, ec.EllipticCurvePublicKey) and isinstance(
            public.curve, ec.SECP256R1
        )
    return isinstance(public, rsa.RSAPublicKey) and public.key_size >= MIN_RSA_BITS


def _describe(public: Any) -> str:
    if isinstance(public, rsa.RSAPublicKey):
        return f"a {public.key_size}-bit RSA key"
    if isinstance(public, ec.EllipticCurvePublicKey):
        return f"an EC key on {public.curve.name}"
    if isinstance(public, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return "an EdDSA key"
    return f"a {type(public).__name__.removeprefix('_')} key"
