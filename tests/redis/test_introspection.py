"""POST /api/auth/introspect (RFC 7662): HTTP Basic clients of INTROSPECTION_CLIENTS learn
whether a token is a live access token, with one Redis round trip; anything else is inactive."""

from __future__ import annotations

import base64
import json
import time

import pytest
import redis.connection
from flask import Flask

from tests.conftest import AuthActions
from tests.servers import free_port

CLIENT_ID, CLIENT_SECRET = "orders-api", "orders-api-secret-0123456789"
OTHER = ("billing-api", "billing-api-secret-9876543210")


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


CLIENT = basic(CLIENT_ID, CLIENT_SECRET)


@pytest.fixture
def app(auth_with) -> Flask:
    return auth_with(introspection_clients=((CLIENT_ID, CLIENT_SECRET), OTHER)).app


def introspect(auth: AuthActions, token: str | None, headers=CLIENT, **form: str):
    data = {**({"token": token} if token is not None else {}), **form}
    return auth.client.post("/api/auth/introspect", data=data, headers=headers)


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_a_live_access_token_is_active_with_its_claims(auth):
    pair = auth.register_and_login()
    for headers in (CLIENT, basic(*OTHER)):
        response = introspect(auth, pair["access_token"], headers=headers)
        assert response.status_code == 200
        claims = _claims(pair["access_token"])
        assert response.json == {
            "active": True,
            "sub": pair["user_id"],
            "sid": pair["session_id"],
            "jti": claims["jti"],
            "exp": claims["exp"],
            "iat": claims["iat"],
            "iss": "rotor",
            "aud": "rotor",
            "token_type": "access_token",
        }
        assert response.headers["Cache-Control"] == "no-store"


def _expired_access_token(app: Flask, pair: dict) -> str:
    past = int(time.time()) - 3600
    with app.app_context():
        issued = app.extensions["rotor.auth"].tokens.issue_pair(
            user_id=pair["user_id"], session_id=pair["session_id"], generation=0, now=past,
            access_expires_at=past + 60, refresh_deadline=past + 120,
            absolute_deadline=past + 120,
        )  # fmt: skip
    return issued.access_token


INACTIVE = [
    ("garbage", lambda app, auth, pair: "not-a-token"),
    ("empty-ish", lambda app, auth, pair: "..."),
    ("refresh token", lambda app, auth, pair: pair["refresh_token"]),
    ("forged signature", lambda app, auth, pair: pair["access_token"][:-4] + "AAAA"),
    ("expired", lambda app, auth, pair: _expired_access_token(app, pair)),
]


@pytest.mark.parametrize(("case", "make"), INACTIVE, ids=[case for case, _ in INACTIVE])
def test_anything_but_a_live_access_token_is_inactive_and_nothing_more(app, auth, case, make):
    pair = auth.register_and_login()
    response = introspect(auth, make(app, auth, pair))
    assert response.status_code == 200
    assert response.json == {"active": False}
    assert response.headers["Cache-Control"] == "no-store"


ENDED = [
    ("logout", lambda app, auth, pair: auth.post("/api/auth/logout", pair["access_token"])),
    (
        "logout-all elsewhere",
        lambda app, auth, pair: auth.post(
            "/api/auth/logout-all", auth.login(pair["email"])["access_token"]
        ),
    ),
    (
        "user disabled",
        lambda app, auth, pair: app.extensions["rotor.store"].set_user_disabled(
            pair["user_id"], True
        ),
    ),
]


@pytest.mark.parametrize(("case", "end"), ENDED, ids=[case for case, _ in ENDED])
def test_an_access_token_of_an_ended_session_is_inactive(app, auth, case, end):
    pair = auth.register_and_login()
    assert introspect(auth, pair["access_token"]).json["active"] is True
    end(app, auth, pair)
    assert introspect(auth, pair["access_token"]).json == {"active": False}


def test_the_hint_changes_nothing(auth):
    pair = auth.register_and_login()
    hinted = introspect(auth, pair["refresh_token"], token_type_hint="refresh_token")
    assert hinted.json == {"active": False}
    hinted = introspect(auth, pair["access_token"], token_type_hint="refresh_token")
    assert hinted.json["active"] is True


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic(CLIENT_ID, "orders-api-secret-0123456788"),
        basic("nobody", CLIENT_SECRET),
        basic(CLIENT_ID, ""),
        basic(OTHER[0], CLIENT_SECRET),
        {"Authorization": f"Bearer {CLIENT_SECRET}"},
        {"Authorization": "Basic !!!"},
    ],
    ids=[
        "none",
        "wrong secret",
        "unknown id",
        "empty secret",
        "another's secret",
        "bearer",
        "malformed",
    ],
)
def test_no_or_wrong_client_credentials_get_401_with_a_basic_challenge(auth, headers):
    pair = auth.register_and_login()
    response = introspect(auth, pair["access_token"], headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="rotor"'
    assert response.json["error"]["code"] == "invalid_client"
    assert "active" not in response.get_data(as_text=True)


def test_without_a_token_the_request_is_invalid(auth):
    for data in ({}, {"token": ""}, {"token_type_hint": "access_token"}):
        response = auth.client.post("/api/auth/introspect", data=data, headers=CLIENT)
        assert response.status_code == 400
        assert response.json["error"]["code"] == "invalid_request"
    as_json = auth.client.post("/api/auth/introspect", json={"token": "x"}, headers=CLIENT)
    assert as_json.status_code == 400


def test_without_introspection_clients_the_endpoint_does_not_exist(auth_with):
    client = auth_with().client
    response = client.post("/api/auth/introspect", data={"token": "x"}, headers=CLIENT)
    unknown = client.post("/api/auth/no-such-endpoint", data={"token": "x"}, headers=CLIENT)
    assert response.status_code == unknown.status_code == 404
    assert response.json == unknown.json


def test_redis_down_answers_503_and_never_active(app_factory):
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    clients = ((CLIENT_ID, CLIENT_SECRET),)
    app = app_factory.app(redis_url=nowhere, redis_timeout=0.2, introspection_clients=clients)
    now = int(time.time())
    with app.app_context():
        token = app.extensions["rotor.auth"].tokens.issue_pair(
            user_id="u", session_id="s", generation=0, now=now, access_expires_at=now + 60,
            refresh_deadline=now + 60, absolute_deadline=now + 60,
        ).access_token  # fmt: skip
    response = app.test_client().post("/api/auth/introspect", data={"token": token}, headers=CLIENT)
    assert response.status_code == 503
    assert response.json["error"]["code"] == "store_unavailable"


@pytest.mark.redis
def test_introspection_costs_one_redis_round_trip(app_factory, real_redis, monkeypatch):
    auth = app_factory(real_redis, introspection_clients=((CLIENT_ID, CLIENT_SECRET),))
    pair = auth.register_and_login()
    assert introspect(auth, pair["access_token"]).json["active"] is True  # warm: script loaded
    sent: list[bytes] = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(command)
        return original(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    for _ in range(3):
        sent.clear()
        assert introspect(auth, pair["access_token"]).json["active"] is True
        assert len(sent) == 1
