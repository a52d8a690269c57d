"""Unit tests of the auth room's pure parts: password hashing and token sealing/claims."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import replace

import jwt
import pytest
from flask_jwt_extended import decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt import PyJWTError

from app.auth.passwords import PasswordHasher
from app.auth.tokens import TokenPair, seal_pair, token_hash, unseal_pair

KEY = "unit-test-key-unit-test-key-unit-test-key-unit-test-key-0123456"

PAIR = TokenPair("access.jwt.sig", "refresh.jwt.sig", 1_000, 2_000, "abc123")


def test_sealed_pair_opens_only_with_the_consumed_token():
    sealed = seal_pair(PAIR, "the consumed token")
    assert "refresh.jwt.sig" not in sealed
    assert unseal_pair(sealed, "the consumed token", True) == PAIR
    assert unseal_pair(sealed, "another token", False) is None
    cookie_pair = replace(PAIR, for_cookies=True)
    assert unseal_pair(seal_pair(cookie_pair, "t"), "t", False) == cookie_pair


def test_a_pair_sealed_before_pairs_recorded_their_mode_goes_where_the_replay_asks():
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from app.auth.tokens import _grace_key

    fields = json.dumps(["a.b.c", "d.e.f", 1_000, 2_000, "abc123"]).encode()
    sealed = base64.b64encode(
        b"\0" * 12 + AESGCM(_grace_key("t")).encrypt(b"\0" * 12, fields, None)
    )
    assert unseal_pair(sealed.decode(), "t", True).for_cookies is True
    assert unseal_pair(sealed.decode(), "t", False).for_cookies is False


def test_grace_key_is_not_the_stored_hash():
    import hashlib

    from app.auth.tokens import _grace_key

    assert _grace_key("t") != hashlib.sha256(b"t").digest()
    assert token_hash("t") == hashlib.sha256(b"t").hexdigest()


@pytest.fixture
def issued(auth_with):
    """A pair issued by an app's flask-jwt-extended (fakeredis: no server), in its context."""
    app = auth_with(jwt_secret_key=KEY).app
    now = int(time.time())
    with app.app_context():
        pair = app.extensions["rotor.auth"].tokens.issue_pair(
            user_id="u1", session_id="s1", generation=3, now=now, access_expires_at=now + 60,
            refresh_deadline=now + 60, absolute_deadline=now + 600,
        )  # fmt: skip
        yield {"access": pair.access_token, "refresh": pair.refresh_token}


def test_issued_tokens_are_standard_jwts_pyjwt_verifies(issued):
    for token_type, token in issued.items():
        claims = jwt.decode(token, KEY, algorithms=["HS256"], audience="rotor", issuer="rotor")
        assert claims["type"] == token_type
        assert (claims["sub"], claims["sid"]) == ("u1", "s1")
    assert decode_token(issued["refresh"])["gen"] == 3
    assert decode_token(issued["access"])["sub"] == "u1"


@pytest.mark.parametrize(
    ("change", "headers"),
    [
        ({}, {"kid": "1"}),
        ({"sub": 7}, None),
        ({"sid": 7}, None),
        ({"exp": "2"}, None),
        ({"exp": True}, None),
        ({"exp": None}, None),
        ({"jti": None}, None),
        ({"sid": None}, None),
        ({"type": None}, None),
        ({"type": "id"}, None),
        ({"type": ["access"]}, None),
        ({"csrf": 1}, None),
        ({"iat": 2**40}, None),
        ({"nbf": 2**40}, None),
    ],
)
def test_tokens_rotor_never_issues_are_refused(issued, change, headers):
    claims = jwt.decode(issued["access"], KEY, algorithms=["HS256"], audience="rotor")
    claims = {k: v for k, v in {**claims, **change}.items() if v is not None}
    forged = jwt.encode(claims, KEY, algorithm="HS256", headers=headers)
    with pytest.raises((JWTExtendedException, PyJWTError)):
        decode_token(forged)


def test_a_refresh_token_without_its_generation_is_refused(issued):
    claims = jwt.decode(issued["refresh"], KEY, algorithms=["HS256"], audience="rotor")
    for name in ("gen", "sxp"):
        forged = jwt.encode({k: v for k, v in claims.items() if k != name}, KEY)
        with pytest.raises(JWTExtendedException):
            decode_token(forged)


@pytest.mark.parametrize("garbage", ["", ".", "..", "a.b.c", "é.é.é", "x" * 5000])
def test_garbage_is_refused(issued, garbage):
    with pytest.raises((JWTExtendedException, PyJWTError)):
        decode_token(garbage)


def test_password_hasher_accepts_only_the_hashed_password_and_no_record():
    hasher = PasswordHasher(rounds=4)
    stored = hasher.hash("x" * 100)
    assert stored.startswith("$2b$04$")
    assert hasher.verify("x" * 100, stored)
    assert not hasher.verify("x" * 99, stored)
    assert not hasher.verify("x" * 100, None)


@pytest.mark.parametrize("ms", [0, 1_795_925_265_000, 1_795_925_265_698, 1_795_925_265_001])
def test_iso_text_matches_datetime_isoformat(ms):
    from app.api.http import iso, iso_text

    assert iso_text(ms) == iso(ms).isoformat()
