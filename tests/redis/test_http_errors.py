"""Every non-2xx answer is the JSON envelope, whatever a client sends."""

from __future__ import annotations

import pytest


def _assert_envelope(response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.is_json
    assert response.json["error"]["code"] == code
    assert response.json["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("get", "/nope", 404, "not_found"),
        ("get", "/api/auth/login", 405, "method_not_allowed"),
        ("put", "/api/auth/me", 405, "method_not_allowed"),
    ],
)
def test_routing_errors_are_json(client, method, path, status, code):
    _assert_envelope(getattr(client, method)(path), status, code)


def test_body_that_is_not_json_is_415(client):
    response = client.post("/api/auth/login", data="email=a", content_type="text/plain")
    _assert_envelope(response, 415, "unsupported_media_type")


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", "null", '"string"'])
def test_malformed_or_non_object_json_is_400(client, body):
    response = client.post("/api/auth/login", data=body, content_type="application/json")
    _assert_envelope(response, 400, "invalid_json")


def test_oversized_body_is_413(client):
    body = '{"email": "a@example.com", "password": "' + "x" * (1024 * 1024) + '"}'
    response = client.post("/api/auth/register", data=body, content_type="application/json")
    _assert_envelope(response, 413, "payload_too_large")


def test_oversized_header_is_431(client):
    response = client.get("/api/auth/me", headers={"Authorization": "Bearer " + "x" * 65536})
    _assert_envelope(response, 431, "header_too_large")


def test_oversized_url_is_414(client):
    response = client.get("/api/auth/me?q=" + "x" * 65536)
    _assert_envelope(response, 414, "uri_too_long")


def test_unexpected_errors_are_a_generic_500(app, client, monkeypatch):
    from app.auth import AuthService

    def explode(self, *args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(AuthService, "register", explode)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.post(
        "/api/auth/register", json={"email": "a@example.com", "password": "long enough"}
    )
    _assert_envelope(response, 500, "internal_error")
    assert "secret internals" not in response.get_data(as_text=True)


def test_healthz_is_up(client):
    assert client.get("/healthz").json == {"status": "ok"}


def test_readyz_is_ready_when_redis_answers(client):
    assert client.get("/readyz").status_code == 200


def test_hand_built_hot_responses_match_their_schemas(auth):
    from app.api.schemas import TokenPairSchema

    registered = auth.register()  # dumped by UserSchema
    pair = auth.login(registered["email"])
    assert TokenPairSchema().dump(pair) == pair
    me = auth.me(pair["access_token"]).json  # built by hand
    assert me == {k: registered[k] for k in ("id", "email", "created_at")}


def test_no_content_answers_carry_no_content_type(auth):
    pair = auth.register_and_login()
    response = auth.post("/api/auth/logout", pair["access_token"])
    assert response.status_code == 204
    assert "Content-Type" not in response.headers
    assert response.get_data() == b""


def test_every_401_carries_a_bearer_challenge(client, auth):
    user = auth.register()
    wrong = client.post("/api/auth/login", json={"email": user["email"], "password": "nope nope"})
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"] == 'Bearer realm="rotor"'
