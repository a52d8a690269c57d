"""Unit tests of the auth room's pure parts: password hashing and token sealing/claims."""

from __future__ import annotations

import time

import jwt
import pytest

from app.auth.passwords import PasswordHasher
from app.auth.tokens import TokenCodec, TokenPair, seal_pair, token_hash, unseal_pair
from app.errors import TokenError

KEY = "unit-test-key-unit-test-key-unit-test-key-unit-test-key-0123456"

PAIR = TokenPair("access.jwt.sig", "refresh.jwt.sig", 1_000, 2_000, "abc123")
CLAIMS = {
    "sub": "u1",
    "sid": "s1",
    "jti": "j-1",
    "iat": 1,
    "exp": 2,
    "type": "access",
    "iss": "rotor",
    "aud": "rotor",
}


def test_sealed_pair_opens_only_with_the_consumed_token():
    sealed = seal_pair(PAIR, "the consumed token")
    assert "refresh.jwt.sig" not in sealed
    assert unseal_pair(sealed, "the consumed token") == PAIR
    assert unseal_pair(sealed, "another token") is None


def test_grace_key_is_not_the_stored_hash():
    import hashlib

    from app.auth.tokens import _grace_key

    assert _grace_key("t") != hashlib.sha256(b"t").digest()
    assert token_hash("t") == hashlib.sha256(b"t").hexdigest()


def _codec() -> TokenCodec:
    return TokenCodec(KEY, "rotor", "rotor")


def _issued() -> dict:
    now = int(time.time())
    pair = _codec().issue_pair(user_id="u1", session_id="s1", generation=3, now=now,
                               access_ttl=60, refresh_deadline=now + 60,
                               absolute_deadline=now + 600)  # fmt: skip
    return {"access": pair.access_token, "refresh": pair.refresh_token}


def test_codec_tokens_are_standard_jwts_pyjwt_verifies():
    tokens = _issued()
    for token_type, token in tokens.items():
        claims = jwt.decode(token, KEY, algorithms=["HS256"], audience="rotor", issuer="rotor")
        assert claims["type"] == token_type
    assert _codec().decode_refresh_token(tokens["refresh"]).generation == 3
    assert _codec().decode_access_token(tokens["access"]).user_id == "u1"


@pytest.mark.parametrize(
    ("change", "headers"),
    [
        ({}, {"kid": "1"}),
        ({"sub": 7}, None),
        ({"exp": "2"}, None),
        ({"exp": True}, None),
        ({"aud": ["rotor"]}, None),
        ({"nbf": 1}, None),
        ({"type": None}, None),
        ({"iat": 2**40}, None),
    ],
)
def test_codec_refuses_tokens_rotor_never_issues(change, headers):
    claims = jwt.decode(_issued()["access"], KEY, algorithms=["HS256"], audience="rotor")
    claims = {k: v for k, v in {**claims, **change}.items() if v is not None}
    forged = jwt.encode(claims, KEY, algorithm="HS256", headers=headers)
    with pytest.raises(TokenError) as refused:
        _codec().decode_access_token(forged)
    assert refused.value.code == "invalid_token"


def test_codec_refuses_the_wrong_type_either_way():
    tokens = _issued()
    with pytest.raises(TokenError):
        _codec().decode_access_token(tokens["refresh"])
    with pytest.raises(TokenError):
        _codec().decode_refresh_token(tokens["access"])


@pytest.mark.parametrize("garbage", ["", ".", "..", "a.b.c", "é.é.é", "x" * 5000])
def test_codec_refuses_garbage(garbage):
    with pytest.raises(TokenError):
        _codec().decode_access_token(garbage)


def test_password_hasher_round_trip_and_dummy():
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
