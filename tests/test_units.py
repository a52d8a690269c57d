"""Unit tests of the auth room's pure parts: password hashing and token sealing/claims."""

from __future__ import annotations

import jwt
import pytest

from app.auth.passwords import PasswordHasher
from app.auth.tokens import TokenPair, check_claims, seal_pair, token_hash, unseal_pair

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


def test_check_claims_accepts_what_rotor_issues():
    check_claims({"alg": "HS256", "typ": "JWT"}, CLAIMS, "access")
    check_claims({"alg": "HS256"}, {**CLAIMS, "type": "refresh", "gen": 0, "sxp": 3}, "refresh")


@pytest.mark.parametrize(
    ("header", "claims", "token_type"),
    [
        ({"alg": "HS256", "kid": "1"}, CLAIMS, "access"),
        ({"alg": "HS256"}, {**CLAIMS, "type": "refresh"}, "refresh"),  # no gen / sxp
        ({"alg": "HS256"}, CLAIMS, "refresh"),
        ({"alg": "HS256"}, {**CLAIMS, "sid": "../x"}, "access"),
        ({"alg": "HS256"}, {**CLAIMS, "sub": 7}, "access"),
        ({"alg": "HS256"}, {**CLAIMS, "exp": "2"}, "access"),
        ({"alg": "HS256"}, {**CLAIMS, "exp": True}, "access"),
        ({"alg": "HS256"}, {k: v for k, v in CLAIMS.items() if k != "type"}, "access"),
    ],
)
def test_check_claims_refuses_tokens_rotor_never_issues(header, claims, token_type):
    with pytest.raises(jwt.InvalidTokenError):
        check_claims(header, claims, token_type)


def test_password_hasher_round_trip_and_dummy():
    hasher = PasswordHasher(rounds=4)
    stored = hasher.hash("x" * 100)
    assert stored.startswith("$2b$04$")
    assert hasher.verify("x" * 100, stored)
    assert not hasher.verify("x" * 99, stored)
    assert not hasher.verify("x" * 100, None)
