"""Access-token validation (SECURITY.md A and B): only tokens Rotor issued, unchanged, pass."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest

from tests.conftest import SECRET


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(token: str) -> dict:
    return jwt.decode(token, SECRET, algorithms=["HS256"], audience="rotor")


def _sign_raw(claims: dict, key: bytes) -> str:
    """HS256 by hand: PyJWT refuses the weak keys an attacker would try."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    signing_input = f"{header}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _forge(claims: dict, *, key: str = SECRET, algorithm: str = "HS256", headers=None) -> str:
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


@pytest.fixture
def session(auth) -> dict:
    return auth.register_and_login()


def test_valid_access_token_reaches_me(auth, session):
    response = auth.me(session["access_token"])
    assert response.status_code == 200
    assert response.json == {
        "id": session["user_id"],
        "email": session["email"],
        "created_at": response.json["created_at"],
    }
    assert response.json["created_at"].endswith("+00:00")


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_unsigned_tokens_are_refused(auth, session, alg):
    claims = _claims(session["access_token"])
    header = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    token = f"{header}.{_b64(json.dumps(claims).encode())}."
    response = auth.me(token)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="rotor", error="invalid_token"'


def test_token_signed_with_another_key_is_refused(auth, session):
    token = _forge(_claims(session["access_token"]), key="another-secret-that-is-32-bytes-long!")
    assert auth.me(token).status_code == 401


@pytest.mark.parametrize("secret", ["", "secret", "password", "changeme"])
def test_tokens_signed_with_weak_secrets_are_refused(auth, session, secret):
    token = _sign_raw(_claims(session["access_token"]), secret.encode())
    assert auth.me(token).status_code == 401


def test_tampered_tokens_are_refused(auth, session):
    token = session["access_token"]
    header, payload, signature = token.split(".")
    claims = _claims(token)
    changed = _b64(json.dumps({**claims, "sub": "someone-else"}).encode())
    for forged in (
        token[:-4],
        f"{header}.{payload}.",
        f"{header}.{changed}.{signature}",
    ):
        assert auth.me(forged).status_code == 401, forged


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_other_hmac_algorithms_with_the_right_secret_are_refused(auth, session, algorithm):
    token = _forge(_claims(session["access_token"]), algorithm=algorithm)
    assert auth.me(token).status_code == 401


@pytest.mark.parametrize(
    "headers",
    [
        {"kid": ""},
        {"kid": "../../dev/null"},
        {"kid": "x' UNION SELECT '1';--"},
        {"jku": "http://attacker.invalid/jwks.json"},
        {"x5u": "http://attacker.invalid/cert.pem"},
        {"jwk": {"kty": "oct", "k": _b64(SECRET.encode())}},
        {"crit": ["x-foo"], "x-foo": 1},
    ],
)
def test_key_selecting_and_critical_headers_are_refused(auth, session, headers):
    token = _forge(_claims(session["access_token"]), headers=headers)
    assert auth.me(token).status_code == 401


@pytest.mark.parametrize("missing", ["exp", "jti", "sid", "type", "sub", "iss", "aud", "iat"])
def test_tokens_missing_a_required_claim_are_refused(auth, session, missing):
    claims = _claims(session["access_token"])
    del claims[missing]
    response = auth.me(_forge(claims))
    assert response.status_code == 401
    assert response.json["error"]["code"] == "invalid_token"


@pytest.mark.parametrize(
    ("claim", "value"), [("iss", "evil"), ("aud", "another-service"), ("type", "id")]
)
def test_wrong_issuer_audience_or_type_is_refused(auth, session, claim, value):
    claims = {**_claims(session["access_token"]), claim: value}
    assert auth.me(_forge(claims)).status_code == 401


def test_expired_and_not_yet_valid_tokens_are_refused(auth, session):
    claims = _claims(session["access_token"])
    expired = auth.me(_forge({**claims, "exp": int(time.time()) - 1}))
    assert expired.status_code == 401
    assert expired.json["error"]["code"] == "token_expired"
    future = auth.me(_forge({**claims, "nbf": int(time.time()) + 3600}))
    assert future.status_code == 401


def test_access_tokens_are_short_lived_and_carry_no_personal_data(session):
    claims = _claims(session["access_token"])
    assert claims["exp"] - claims["iat"] <= 900
    assert session["email"] not in json.dumps(claims)
    # flask-jwt-extended adds two of its own: fresh (false) and csrf (a random value).
    assert set(claims) == {"sub", "sid", "jti", "iat", "exp", "type", "iss", "aud", "fresh",
                           "csrf"}  # fmt: skip


def test_tokens_in_the_query_string_are_ignored(client, session):
    for name in ("access_token", "jwt", "token"):
        response = client.get(f"/api/auth/me?{name}={session['access_token']}")
        assert response.status_code == 401
        assert response.json["error"]["code"] == "missing_token"


@pytest.mark.parametrize(
    ("authorization", "status", "challenge"),
    [
        (None, 401, 'Bearer realm="rotor"'),
        ("Basic dXNlcjpwYXNz", 401, 'Bearer realm="rotor"'),
        ("Bearer", 400, 'Bearer realm="rotor", error="invalid_request"'),
        ("Bearer a b", 400, 'Bearer realm="rotor", error="invalid_request"'),
        ("Bearer garbage", 401, 'Bearer realm="rotor", error="invalid_token"'),
    ],
)
def test_www_authenticate_follows_rfc_6750(client, authorization, status, challenge):
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/api/auth/me", headers=headers)
    assert response.status_code == status
    assert response.headers["WWW-Authenticate"] == challenge
    assert set(response.json["error"]) >= {"code", "message"}


def test_denylist_is_keyed_on_jti_not_the_token_string(auth, session):
    assert auth.post("/api/auth/logout", session["access_token"]).status_code == 204
    header, payload, signature = session["access_token"].split(".")
    # Change the last base64url character's unused low bits: same 256-bit signature.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    variant = signature[:-1] + alphabet[(last & ~0b11) | ((last + 1) & 0b11)]
    assert variant != signature
    assert auth.me(f"{header}.{payload}.{variant}").status_code == 401
