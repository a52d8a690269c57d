"""What the kit's flask-jwt-extended setup accepts and refuses, in Rotor's error envelope."""

from __future__ import annotations

import jwt
import pytest
from conftest import SECRET, mint, open_session, resource_server

pytestmark = [pytest.mark.redis]

INVALID = 'Bearer realm="rotor", error="invalid_token"'


@pytest.fixture
def app(watch):
    return resource_server(watch)


@pytest.fixture
def live(admin) -> tuple[str, str]:
    return open_session(admin)


def _get(app, authorization: str | None):
    headers = {"Authorization": authorization} if authorization is not None else {}
    return app.test_client().get("/api/protected", headers=headers)


def test_a_live_access_token_gets_its_sub_and_sid(app, live):
    response = _get(app, f"Bearer {mint(*live)}")
    assert response.status_code == 200
    assert response.json == {"sub": live[0], "sid": live[1]}


@pytest.mark.parametrize(
    ("authorization", "code"),
    [(None, "missing_token"), ("Basic dXNlcjpwYXNz", "missing_token")],
)
def test_no_bearer_token_is_401_without_an_error_attribute(app, authorization, code):
    response = _get(app, authorization)
    assert response.status_code == 401
    assert response.json == {"error": {"code": code, "message": "A bearer token is required."}}
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="rotor"'


def test_a_bearer_header_without_a_token_is_400_invalid_request(app):
    response = _get(app, "Bearer")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_request"


REFUSED = [
    ("garbage", lambda uid, sid: "not.a.token"),
    ("other secret", lambda uid, sid: mint(uid, sid, secret="another-secret-" * 4)),
    ("refresh token", lambda uid, sid: mint(uid, sid, type="refresh")),
    ("no type", lambda uid, sid: mint(uid, sid, type=None)),
    ("no jti", lambda uid, sid: mint(uid, sid, jti=None)),
    ("no sid", lambda uid, sid: mint(uid, sid, sid=None)),
    ("jti not a string", lambda uid, sid: mint(uid, sid, jti=7)),
    ("wrong audience", lambda uid, sid: mint(uid, sid, aud="someone-else")),
    ("wrong issuer", lambda uid, sid: mint(uid, sid, iss="someone-else")),
    ("HS512", lambda uid, sid: jwt.encode(_claims(uid, sid), SECRET, algorithm="HS512")),
    ("alg none", lambda uid, sid: jwt.encode(_claims(uid, sid), None, algorithm="none")),
]


def _claims(uid: str, sid: str) -> dict:
    return jwt.decode(mint(uid, sid), SECRET, algorithms=["HS256"], audience="rotor")


@pytest.mark.parametrize(("case", "make"), REFUSED, ids=[case for case, _ in REFUSED])
def test_a_token_that_is_not_a_valid_rotor_access_token_is_401_invalid_token(app, live, case, make):
    response = _get(app, f"Bearer {make(*live)}")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "invalid_token"
    assert response.headers["WWW-Authenticate"] == INVALID


def test_an_expired_token_is_401_token_expired(app, live):
    response = _get(app, f"Bearer {mint(*live, ttl=-10)}")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "token_expired"
    assert response.headers["WWW-Authenticate"] == INVALID


def test_a_token_of_an_ended_session_is_401_token_revoked(app):
    response = _get(app, f"Bearer {mint('nobody', 'no-session')}")
    assert response.status_code == 401
    assert response.json == {
        "error": {"code": "token_revoked", "message": "The token's session has ended."}
    }
    assert response.headers["WWW-Authenticate"] == INVALID


def test_tokens_are_never_read_from_the_query_string(app, live):
    response = app.test_client().get(f"/api/protected?jwt={mint(*live)}")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "missing_token"
