"""The hot paths cost one Redis round trip each: counted at the client, on the real server."""

from __future__ import annotations

import pytest
import redis.connection


@pytest.fixture
def round_trips(monkeypatch):
    """Counts what the client sends to Redis: one send is one round trip (a pipeline too)."""
    sent: list[bytes] = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(command)
        return original(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    return sent


@pytest.mark.redis
def test_refresh_and_authenticated_requests_cost_one_round_trip_each(real_auth, round_trips):
    auth = real_auth
    pair = auth.register_and_login()
    # Warm up: the first call of each script loads it (NOSCRIPT, then SCRIPT LOAD), and each
    # new connection introduces itself (CLIENT SETINFO); the hot path keeps one for itself.
    pair = auth.refresh(pair["refresh_token"]).json
    assert auth.me(pair["access_token"]).status_code == 200
    assert auth.get("/api/auth/sessions", pair["access_token"]).status_code == 200

    for _ in range(3):
        round_trips.clear()
        response = auth.refresh(pair["refresh_token"])
        assert response.status_code == 200
        assert len(round_trips) == 1
        pair = response.json

        for path in ("/api/auth/me", "/api/auth/sessions"):
            round_trips.clear()
            assert auth.get(path, pair["access_token"]).status_code == 200
            expected = 1 if path.endswith("/me") else 3  # authorize + index + records
            assert len(round_trips) == expected, path
