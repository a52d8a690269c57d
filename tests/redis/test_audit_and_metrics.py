"""Operating Rotor: the audit log, request ids, metrics and the eviction-policy check."""

from __future__ import annotations

import io
import json
import logging

import pytest

from app.logs import RequestIdFilter, json_formatter
from tests.conftest import PASSWORD


@pytest.fixture
def audit_lines():
    """The audit log as the JSON lines an operator reads."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("rotor.audit")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    logger.removeHandler(handler)


def test_security_events_are_json_lines_without_secrets(auth_with, audit_lines):
    auth = auth_with(refresh_reuse_grace=0)
    user = auth.register()
    auth.client.post("/api/auth/login", json={"email": user["email"], "password": "wrong one!"})
    pair = auth.login(user["email"], user_agent="phone")

    def refresh(token: str, user_agent: str):
        return auth.client.post("/api/auth/refresh", json={"refresh_token": token},
                                headers={"User-Agent": user_agent})  # fmt: skip

    second = refresh(pair["refresh_token"], "phone").json
    assert refresh(pair["refresh_token"], "thief").status_code == 401  # reuse
    other = auth.login(user["email"])
    new_password = {"current_password": PASSWORD, "new_password": "another passphrase"}
    auth.post("/api/auth/password", other["access_token"], json=new_password)
    auth.post("/api/auth/logout-all", other["access_token"])

    lines = audit_lines()
    events = [(line["event"], line.get("outcome")) for line in lines]
    assert events == [
        ("user_registered", None),
        ("login", "failed"),
        ("login", "ok"),
        ("refresh", "rotated"),
        ("reuse_detected", None),
        ("login", "ok"),
        ("password_changed", "ok"),
        ("logout_all", None),
    ]
    reuse = lines[4]
    assert reuse["level"] == "WARNING"
    assert reuse["user_agent"] == "thief"  # who presented the consumed token
    assert reuse["session_user_agent"] == "phone"  # where the session was last rotated
    assert reuse["ip"] == reuse["session_ip"] == "127.0.0.1"
    assert reuse["generations_behind"] == 1
    assert reuse["token_age_s"] >= 0
    assert lines[1]["reason"] == "bad_password"
    assert all(line["request_id"] for line in lines)
    text = json.dumps(lines)
    for secret in (PASSWORD, "wrong one!", "another passphrase", pair["refresh_token"],
                   pair["access_token"], second["refresh_token"], "$2b$"):  # fmt: skip
        assert secret not in text


def test_audit_refuses_secret_fields():
    from app import audit

    with pytest.raises(ValueError, match="secrets"):
        audit.record("login", password="hunter2")


def test_every_response_carries_a_request_id(client):
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert len(generated) == 32
    mine = client.get("/healthz", headers={"X-Request-ID": "client-trace-0001"})
    assert mine.headers["X-Request-ID"] == "client-trace-0001"
    for hostile in ("<script>alert(1)</script>", "a" * 200, "short"):
        answered = client.get("/healthz", headers={"X-Request-ID": hostile})
        assert answered.headers["X-Request-ID"] != hostile


def test_metrics_are_hidden_without_a_token(client):
    assert client.get("/metrics").status_code == 404


def test_metrics_need_the_configured_token(auth_with):
    auth = auth_with(metrics_token="scrape-me")
    client = auth.client
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 404
    pair = auth.register_and_login()
    auth.refresh(pair["refresh_token"])
    response = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert 'rotor_logins_total{outcome="ok"}' in text
    assert 'rotor_refreshes_total{outcome="rotated"}' in text
    assert (
        'rotor_http_requests_total{endpoint="/api/auth/login",method="POST",status="200"}' in text
    )
    assert "rotor_http_request_duration_seconds_bucket" in text
    assert "rotor_active_sessions 1.0" in text


def test_unknown_methods_share_one_metrics_label(auth_with):
    """Any token is a method to gunicorn: a client must not grow the metrics without bound."""
    client = auth_with(metrics_token="scrape-me").client
    for method in ("BREW", "PROPFIND", "X-ANYTHING"):
        assert client.open("/api/auth/me", method=method).status_code == 405
    text = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"}).get_data(
        as_text=True
    )
    assert 'method="other",status="405"' in text
    assert "BREW" not in text and "PROPFIND" not in text


@pytest.mark.redis
@pytest.mark.slow
def test_readyz_and_startup_warn_about_an_evicting_redis(app_factory, private_server, caplog):
    with private_server.client() as admin:
        admin.config_set("maxmemory-policy", "allkeys-lru")
        client = app_factory(redis_url=private_server.url).client
        assert any("allkeys-lru" in r.getMessage() for r in caplog.records)
        body = client.get("/readyz").json
        assert body["maxmemory_policy"] == "allkeys-lru"
        assert "noeviction" in body["warnings"][0]

        admin.config_set("maxmemory-policy", "noeviction")
        body = client.get("/readyz").json
        assert body == {"status": "ready", "maxmemory_policy": "noeviction"}
