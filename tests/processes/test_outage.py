"""Redis down: 503 ``store_unavailable`` everywhere it is needed, never a token; back up:
the same app recovers without a restart."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def test_service_answers_503_while_redis_is_down_and_recovers(app_factory, private_server):
    auth = app_factory(redis_url=private_server.url, redis_timeout=0.5)
    pair = auth.register_and_login()

    private_server.stop()
    calls = {
        "me": lambda: auth.me(pair["access_token"]),
        "refresh": lambda: auth.refresh(pair["refresh_token"]),
        "login": lambda: auth.client.post(
            "/api/auth/login", json={"email": pair["email"], "password": PASSWORD}
        ),
        "register": lambda: auth.client.post(
            "/api/auth/register", json={"email": "late@example.com", "password": PASSWORD}
        ),
        "logout": lambda: auth.post("/api/auth/logout", pair["access_token"]),
        "readyz": lambda: auth.client.get("/readyz"),
    }
    for name, call in calls.items():
        response = call()
        assert response.status_code == 503, name
        assert response.json["error"]["code"] == "store_unavailable", name
        body = response.get_data(as_text=True)
        assert "access_token" not in body and "Traceback" not in body, name
    assert auth.client.get("/healthz").status_code == 200

    private_server.start()  # same port, empty: the server kept nothing
    assert auth.client.get("/readyz").status_code == 200
    # The data is gone with the server, so the old session fails closed...
    assert auth.me(pair["access_token"]).status_code == 401
    # ...and the service works again without a restart.
    fresh = auth.register_and_login()
    assert auth.me(fresh["access_token"]).status_code == 200
    assert auth.refresh(fresh["refresh_token"]).status_code == 200
