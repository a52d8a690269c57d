"""Signing keys (app/auth/keys.py): EdDSA, ES256 and RS256 next to HS256, the JWKS, rotation,
and the tokens a key ring must refuse (SECURITY.md items 4-6)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, get_default_algorithms

from app.auth.keys import KeyRing, thumbprint, write_key_pair
from config import ConfigError, PemKey, Settings
from tests.conftest import AuthActions

ASYMMETRIC = ("EdDSA", "ES256", "RS256")
ALGORITHMS = ("HS256", *ASYMMETRIC)
PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k", "oth"}


# -- key material -----------------------------------------------------------------------------


def _new_key(algorithm: str, **options: Any) -> Any:
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == "ES256":
        return ec.generate_private_key(options.get("curve", ec.SECP256R1()))
    return rsa.generate_private_key(public_exponent=65537, key_size=options.get("bits", 2048))


def _pem(key: Any, password: bytes | None = None) -> str:
    encryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


def _public_pem(key: Any) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="session")
def private_keys() -> dict[str, list[Any]]:
    """Two keys per algorithm (an old and a new one), made once: RSA generation is slow."""
    return {algorithm: [_new_key(algorithm) for _ in range(2)] for algorithm in ASYMMETRIC}


def _key_changes(algorithm: str, keys: list[Any]) -> dict[str, Any]:
    """The settings that put Rotor on ``algorithm`` with ``keys`` (the first signs)."""
    if algorithm == "HS256":
        return {}
    pem_keys = tuple(
        PemKey(f"key-{i}", _pem(key) if _is_private(key) else _public_pem(key))
        for i, key in enumerate(keys)
    )
    return {"jwt_algorithm": algorithm, "jwt_signing_keys": pem_keys}


def _is_private(key: Any) -> bool:
    return hasattr(key, "private_bytes")


class PublicOnly:
    """A key given to Rotor as its public PEM only (a retired key whose private half is gone)."""

    def __init__(self, key: Any) -> None:
        self.key = key

    def public_key(self) -> Any:
        return self.key.public_key()


# -- tokens by hand -----------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def _header(token: str) -> dict[str, Any]:
    return jwt.get_unverified_header(token)


def _compact(value: dict[str, Any]) -> str:
    # As PyJWT (under flask-jwt-extended) writes a JOSE header: compact, keys sorted.
    return _b64(json.dumps(value, separators=(",", ":"), sort_keys=True).encode())


def _token(header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    """A JWS in the issuer's own compact JSON, so only what the header says can differ."""
    signing_input = f"{_compact(header)}.{_compact(claims)}"
    return f"{signing_input}.{_b64(sign(signing_input.encode()))}"


def _signer(algorithm: str, key: Any) -> Callable[[bytes], bytes]:
    """Sign with PyJWT's primitive for ``algorithm`` (some outside what Rotor accepts)."""
    primitives = {**get_default_algorithms(), "Ed25519": OKPAlgorithm(),
                  "ES512-on-P256": ECAlgorithm(ECAlgorithm.SHA512)}  # fmt: skip
    return lambda message: primitives[algorithm].sign(message, key)


def _hmac_signer(secret: bytes) -> Callable[[bytes], bytes]:
    """HS256 by hand: PyJWT refuses a PEM as an HMAC secret, an attacker does not."""
    return lambda message: hmac.new(secret, message, hashlib.sha256).digest()


@dataclass
class Keyed:
    """An app on one algorithm, with the private keys it was given."""

    algorithm: str
    auth: AuthActions
    ring: KeyRing
    keys: list[Any]


def _keyed(auth_with: Callable[..., AuthActions], algorithm: str, keys: list[Any]) -> Keyed:
    auth = auth_with(**_key_changes(algorithm, keys))
    ring = auth.app.extensions["rotor.auth"].tokens.keys
    return Keyed(algorithm, auth, ring, keys)


@pytest.fixture(params=ALGORITHMS)
def keyed(request, auth_with, private_keys) -> Keyed:
    """The app on each algorithm in turn (fakeredis: these tests are about tokens)."""
    return _keyed(auth_with, request.param, private_keys.get(request.param, [])[:1])


@pytest.fixture(params=ASYMMETRIC)
def asymmetric(request, auth_with, private_keys) -> Keyed:
    return _keyed(auth_with, request.param, private_keys[request.param][:1])


# -- issuing and verifying ------------------------------------------------------------------


def test_each_algorithm_issues_tokens_that_me_and_refresh_accept(keyed):
    session = keyed.auth.register_and_login()
    for token in (session["access_token"], session["refresh_token"]):
        header = _header(token)
        assert header["alg"] == keyed.algorithm
        if keyed.algorithm == "HS256":  # the header HS256 tokens always had: they still verify
            assert header == {"alg": "HS256", "typ": "JWT"}
        else:
            assert header == {"alg": keyed.algorithm, "typ": "JWT", "kid": keyed.ring.signing.kid}
    assert keyed.auth.me(session["access_token"]).status_code == 200
    refreshed = keyed.auth.refresh(session["refresh_token"])
    assert refreshed.status_code == 200
    assert keyed.auth.me(refreshed.json["access_token"]).status_code == 200


def test_tokens_verify_with_pyjwt_and_the_published_key_set(asymmetric):
    session = asymmetric.auth.register_and_login()
    published = asymmetric.auth.client.get("/.well-known/jwks.json").json
    key = jwt.PyJWKSet.from_dict(published)[_header(session["access_token"])["kid"]]
    claims = jwt.decode(
        session["access_token"], key, algorithms=[asymmetric.algorithm], audience="rotor",
        issuer="rotor",
    )  # fmt: skip
    assert claims["sub"] == session["user_id"]


def test_jwks_publishes_only_public_keys_with_kid_alg_use_and_cache_headers(keyed):
    response = keyed.auth.client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    cache_control = {part.strip() for part in response.headers["Cache-Control"].split(",")}
    assert "public" in cache_control
    assert any(part.startswith("max-age=") and int(part[8:]) > 0 for part in cache_control)
    published = response.json["keys"]
    if keyed.algorithm == "HS256":
        assert published == []  # an HMAC key is a secret
        return
    assert [key["kid"] for key in published] == [keyed.ring.signing.kid]
    for key in published:
        assert not PRIVATE_JWK_MEMBERS & set(key)
        assert set(key) <= {"kty", "crv", "x", "y", "n", "e", "kid", "alg", "use"}
        assert (key["alg"], key["use"]) == (keyed.algorithm, "sig")
        assert key["kid"] == thumbprint(key)
    private_pem = _pem(keyed.keys[0])
    body = response.get_data(as_text=True)
    assert "PRIVATE" not in body and private_pem not in body


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
def test_kid_is_the_rfc_7638_thumbprint_of_the_key(algorithm, private_keys):
    key = private_keys[algorithm][0]
    # PyJWT's own JWK export of the public key, hashed by hand (RFC 7638 3.1).
    jwk = get_default_algorithms()[algorithm].to_jwk(key.public_key(), as_dict=True)
    required = {"OKP": ("crv", "kty", "x"), "EC": ("crv", "kty", "x", "y"),
                "RSA": ("e", "kty", "n")}[jwk["kty"]]  # fmt: skip
    canonical = json.dumps({name: jwk[name] for name in sorted(required)}, separators=(",", ":"))
    expected = _b64(hashlib.sha256(canonical.encode()).digest())
    ring = KeyRing.from_settings(_base().replace(**_key_changes(algorithm, [key])))
    assert ring.signing.kid == expected


def _base() -> Settings:
    return Settings(env="testing", jwt_secret_key="s" * 32, bcrypt_rounds=4).validated()


# -- refused --------------------------------------------------------------------------------


def test_a_token_forged_by_hand_with_rotors_header_and_key_passes(asymmetric):
    """The control for the tests below: the forging helpers make tokens Rotor accepts."""
    session = asymmetric.auth.register_and_login()
    header = {"alg": asymmetric.algorithm, "typ": "JWT", "kid": asymmetric.ring.signing.kid}
    forged = _token(header, _claims(session["access_token"]),
                    _signer(asymmetric.algorithm, asymmetric.keys[0]))  # fmt: skip
    assert forged.split(".")[0] == session["access_token"].split(".")[0]
    assert asymmetric.auth.me(forged).status_code == 200


def test_hs256_token_signed_with_a_published_public_key_is_refused(asymmetric):
    """Key confusion (RFC 8725 2.1): the public key as an HMAC secret, in every form."""
    session = asymmetric.auth.register_and_login()
    claims = _claims(session["access_token"])
    kid = asymmetric.ring.signing.kid
    jwk = asymmetric.auth.client.get("/.well-known/jwks.json").json["keys"][0]
    public_pem = _public_pem(asymmetric.keys[0]).encode()
    for secret in (public_pem, public_pem.strip(), json.dumps(jwk).encode()):
        for header in ({"alg": "HS256", "typ": "JWT"}, {"alg": "HS256", "typ": "JWT", "kid": kid}):
            forged = _token(header, claims, _hmac_signer(secret))
            response = asymmetric.auth.me(forged)
            assert response.status_code == 401, header
            assert response.json["error"]["code"] == "invalid_token"


def test_unknown_kid_is_refused(asymmetric):
    session = asymmetric.auth.register_and_login()
    claims = _claims(session["access_token"])
    attacker = _new_key(asymmetric.algorithm)
    attacker_kid = thumbprint(
        get_default_algorithms()[asymmetric.algorithm].to_jwk(attacker.public_key(), as_dict=True)
    )
    for kid in (attacker_kid, "", "unknown", "../../dev/null", "x' UNION SELECT '1';--"):
        header = {"alg": asymmetric.algorithm, "typ": "JWT", "kid": kid}
        forged = _token(header, claims, _signer(asymmetric.algorithm, attacker))
        assert asymmetric.auth.me(forged).status_code == 401, kid


@pytest.mark.parametrize("member", ["jwk", "jku", "x5u"])
def test_key_named_in_the_header_is_never_used(asymmetric, member):
    """An attacker's key embedded or linked, signed by the attacker; and Rotor's own valid
    signature under a header that merely adds the member."""
    session = asymmetric.auth.register_and_login()
    claims = _claims(session["access_token"])
    algorithm = asymmetric.algorithm
    attacker = _new_key(algorithm)
    attacker_jwk = get_default_algorithms()[algorithm].to_jwk(attacker.public_key(), as_dict=True)
    value = attacker_jwk if member == "jwk" else "http://attacker.invalid/keys"
    real_kid = asymmetric.ring.signing.kid
    for kid, key in ((thumbprint(attacker_jwk), attacker), (real_kid, attacker),
                     (real_kid, asymmetric.keys[0])):  # fmt: skip
        header = {"alg": algorithm, "typ": "JWT", "kid": kid, member: value}
        forged = _token(header, claims, _signer(algorithm, key))
        assert asymmetric.auth.me(forged).status_code == 401, (member, kid)


# The same key under another algorithm name, and another key type under the key's kid.
_OTHER_ALGORITHMS = {
    "EdDSA": [("Ed25519", None), ("ES256", "ES256"), ("RS256", "RS256")],
    "ES256": [("ES512-on-P256", None), ("EdDSA", "EdDSA"), ("RS256", "RS256")],
    "RS256": [("PS256", None), ("RS512", None), ("EdDSA", "EdDSA"), ("ES256", "ES256")],
}


def test_token_whose_alg_differs_from_its_keys_is_refused(asymmetric, private_keys):
    session = asymmetric.auth.register_and_login()
    claims = _claims(session["access_token"])
    kid = asymmetric.ring.signing.kid
    for primitive, other_key_type in _OTHER_ALGORITHMS[asymmetric.algorithm]:
        key = private_keys[other_key_type][0] if other_key_type else asymmetric.keys[0]
        alg = primitive.removesuffix("-on-P256")
        forged = _token({"alg": alg, "typ": "JWT", "kid": kid}, claims, _signer(primitive, key))
        assert asymmetric.auth.me(forged).status_code == 401, primitive
    for alg in ("none", "HS512"):
        forged = _token({"alg": alg, "typ": "JWT", "kid": kid}, claims, lambda _: b"")
        assert asymmetric.auth.me(forged).status_code == 401, alg


def test_tampered_truncated_and_re_encoded_signatures_are_refused(asymmetric):
    token = asymmetric.auth.register_and_login()["access_token"]
    header, payload, signature = token.split(".")
    changed = _b64(json.dumps({**_claims(token), "sub": "someone-else"}).encode())
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    re_encoded = signature[:-1] + alphabet[(last & ~0b11) | ((last + 1) & 0b11)]
    assert base64.urlsafe_b64decode(re_encoded + "==") == base64.urlsafe_b64decode(signature + "==")
    for forged in (
        f"{header}.{changed}.{signature}",
        f"{header}.{payload}.{re_encoded}",
        f"{header}.{payload}.{signature[:-4]}",
        f"{header}.{payload}.",
        f"{header}.{payload}.AAAA",
        f"{header}.{payload}.{signature}.{signature}",
        f"{header}.{payload}.{signature}!",
    ):
        assert asymmetric.auth.me(forged).status_code == 401, forged


# -- rotation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["EdDSA", "RS256"])
def test_rotation_keeps_old_tokens_until_the_old_key_is_removed(algorithm, auth_with, private_keys):
    """The README procedure: publish, switch, wait, remove. Three deployments, one Redis."""
    old, new = private_keys[algorithm]

    def deploy(*keys: Any) -> Keyed:
        return _keyed(auth_with, algorithm, list(keys))

    before = deploy(old)
    old_kid = before.ring.signing.kid
    first, second = before.auth.register_and_login(), before.auth.register_and_login()

    published = deploy(old, new)  # step 1: the new key is published, the old one still signs
    assert [k["kid"] for k in published.auth.client.get("/.well-known/jwks.json").json["keys"]] == [
        old_kid,
        published.ring.keys[1].kid,
    ]

    switched = deploy(new, old)  # step 2: the new key signs; the old one only verifies
    new_kid = switched.ring.signing.kid
    assert new_kid != old_kid
    assert switched.auth.me(first["access_token"]).status_code == 200
    rotated = switched.auth.refresh(first["refresh_token"])
    assert rotated.status_code == 200
    assert _header(rotated.json["access_token"])["kid"] == new_kid
    assert _header(rotated.json["refresh_token"])["kid"] == new_kid
    assert switched.auth.me(rotated.json["access_token"]).status_code == 200

    retired = deploy(new, PublicOnly(old))  # the old private key may go before its tokens do
    assert retired.auth.me(second["access_token"]).status_code == 200
    retired_kids = [
        k["kid"] for k in retired.auth.client.get("/.well-known/jwks.json").json["keys"]
    ]
    assert retired_kids == [new_kid, old_kid]

    removed = deploy(new)  # step 3: after the old key's tokens have expired, it goes
    assert removed.auth.me(second["access_token"]).status_code == 401
    refused = removed.auth.refresh(second["refresh_token"])
    assert refused.status_code == 401
    assert refused.json["error"]["code"] == "invalid_token"
    assert removed.auth.me(rotated.json["access_token"]).status_code == 200
    assert removed.auth.refresh(rotated.json["refresh_token"]).status_code == 200
    jwks = removed.auth.client.get("/.well-known/jwks.json").json["keys"]
    assert [k["kid"] for k in jwks] == [new_kid]


# -- configuration ---------------------------------------------------------------------------


def _load(environ: dict[str, str]) -> KeyRing:
    return KeyRing.from_settings(Settings.from_env({"ROTOR_ENV": "testing", **environ}))


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_keys_load_from_files_in_order_and_the_first_signs(tmp_path, private_keys):
    old, new = private_keys["EdDSA"]
    paths = [_write(tmp_path, "new.pem", _pem(new)), _write(tmp_path, "old.pem", _pem(old))]
    ring = _load({"JWT_ALGORITHM": "EdDSA", "JWT_SIGNING_KEYS": f" {paths[0]} , {paths[1]} "})
    assert [key.source for key in ring.keys] == paths
    assert ring.signing is ring.keys[0] and ring.signing.can_sign
    assert len({key.kid for key in ring.keys}) == 2


def test_keys_load_from_numbered_variables_by_ascending_number(private_keys):
    first, second = private_keys["ES256"]
    one_line = _pem(second).strip().replace("\n", "\\n")  # as a .env file holds it
    ring = _load({"JWT_ALGORITHM": "ES256", "JWT_PRIVATE_KEY_10": _public_pem(_new_key("ES256")),
                  "JWT_PRIVATE_KEY_2": one_line, "JWT_PRIVATE_KEY_1": _pem(first)})  # fmt: skip
    assert [key.source for key in ring.keys] == [
        "JWT_PRIVATE_KEY_1",
        "JWT_PRIVATE_KEY_2",
        "JWT_PRIVATE_KEY_10",
    ]


def test_settings_never_show_key_material(tmp_path, private_keys):
    pem = _pem(private_keys["RS256"][0])
    settings = Settings.from_env(
        {"JWT_ALGORITHM": "RS256", "JWT_SIGNING_KEYS": _write(tmp_path, "k.pem", pem)}
    )
    body = pem.splitlines()[1]
    assert body not in repr(settings)
    assert body not in json.dumps(settings.public_summary(), default=str)
    assert settings.public_summary()["jwt_signing_keys"] == [str(tmp_path / "k.pem")]


def test_key_pairs_need_no_jwt_secret_key(tmp_path, private_keys):
    path = _write(tmp_path, "k.pem", _pem(private_keys["EdDSA"][0]))
    settings = Settings.from_env({"JWT_ALGORITHM": "EdDSA", "JWT_SIGNING_KEYS": path})
    assert settings.jwt_algorithm == "EdDSA" and len(settings.jwt_secret_key) >= 32


def _bad_keys(tmp: Path) -> list[tuple[dict[str, str], str]]:
    def pem_file(name: str, text: str) -> str:
        return _write(tmp, name, text)

    ed, ec256 = _new_key("EdDSA"), _new_key("ES256")
    return [
        ({"JWT_ALGORITHM": "HS512"}, "JWT_ALGORITHM must be one of HS256, EdDSA, ES256, RS256"),
        ({"JWT_ALGORITHM": "EdDSA"}, "JWT_ALGORITHM=EdDSA needs a signing key"),
        ({"JWT_ALGORITHM": "RS256", "JWT_SIGNING_KEYS": " , "}, "needs a signing key"),
        (
            {"JWT_SECRET_KEY": "s" * 32, "JWT_SIGNING_KEYS": pem_file("ed.pem", _pem(ed))},
            "JWT_ALGORITHM is HS256",
        ),
        (
            {
                "JWT_ALGORITHM": "EdDSA",
                "JWT_SIGNING_KEYS": pem_file("e.pem", _pem(ed)),
                "JWT_PRIVATE_KEY_1": _pem(ed),
            },
            "not both",
        ),
        (
            {"JWT_ALGORITHM": "EdDSA", "JWT_SIGNING_KEYS": str(tmp / "missing.pem")},
            "cannot read .*missing.pem: No such file",
        ),
        (
            {"JWT_ALGORITHM": "EdDSA", "JWT_SIGNING_KEYS": pem_file("ec.pem", _pem(ec256))},
            "is an EC key on secp256r1; JWT_ALGORITHM=EdDSA needs an Ed25519 or Ed448 key",
        ),
        (
            {
                "JWT_ALGORITHM": "ES256",
                "JWT_PRIVATE_KEY_1": _pem(_new_key("ES256", curve=ec.SECP384R1())),
            },
            "JWT_PRIVATE_KEY_1 is an EC key on secp384r1; .* needs an EC key on the P-256",
        ),
        (
            {"JWT_ALGORITHM": "RS256", "JWT_PRIVATE_KEY_1": _pem(_new_key("RS256", bits=1024))},
            "is a 1024-bit RSA key; JWT_ALGORITHM=RS256 needs an RSA key of at least 2048 bits",
        ),
        ({"JWT_ALGORITHM": "RS256", "JWT_PRIVATE_KEY_1": _pem(ed)}, "is an EdDSA key"),
        ({"JWT_ALGORITHM": "EdDSA", "JWT_PRIVATE_KEY_1": "not a key"}, "is not a PEM"),
        (
            {"JWT_ALGORITHM": "EdDSA", "JWT_PRIVATE_KEY_1": _pem(ed, password=b"pw")},
            "is encrypted",
        ),
        (
            {"JWT_ALGORITHM": "EdDSA", "JWT_PRIVATE_KEY_1": _public_pem(ed)},
            "is a public key, but the first key signs",
        ),
        (
            {
                "JWT_ALGORITHM": "EdDSA",
                "JWT_PRIVATE_KEY_1": _pem(ed),
                "JWT_PRIVATE_KEY_2": _public_pem(ed),
            },
            "JWT_PRIVATE_KEY_2 is the same key as JWT_PRIVATE_KEY_1",
        ),
    ]


def test_unusable_keys_stop_startup_with_a_clear_message(tmp_path):
    for environ, message in _bad_keys(tmp_path):
        with pytest.raises(ConfigError, match=message):
            _load(environ)


@pytest.mark.slow
def test_wsgi_reports_an_unusable_key_in_one_line(tmp_path):
    import subprocess
    import sys

    from tests.servers import REPO

    env = {"PATH": os.environ.get("PATH", ""), "JWT_ALGORITHM": "RS256",
           "JWT_PRIVATE_KEY_1": _pem(_new_key("EdDSA"))}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", "import wsgi"], cwd=REPO, env=env, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "rotor: configuration error: signing key JWT_PRIVATE_KEY_1 is an EdDSA key; "
        "JWT_ALGORITHM=RS256 needs an RSA key of at least 2048 bits"
    )


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
def test_written_key_pair_is_private_and_loads_with_the_printed_kid(tmp_path, algorithm):
    generated = write_key_pair(algorithm, tmp_path / "keys")
    assert stat.S_IMODE(os.stat(generated.private_path).st_mode) == 0o600
    assert "PRIVATE KEY" not in generated.public_path.read_text()
    ring = _load({"JWT_ALGORITHM": algorithm, "JWT_SIGNING_KEYS": str(generated.private_path)})
    assert ring.signing.kid == generated.kid
    public = _load(
        {"JWT_ALGORITHM": algorithm,
         "JWT_SIGNING_KEYS": f"{write_key_pair(algorithm, tmp_path).private_path},"
                             f"{generated.public_path}"}
    )  # fmt: skip
    assert public.keys[1].kid == generated.kid and not public.keys[1].can_sign
