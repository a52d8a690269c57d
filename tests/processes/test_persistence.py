"""With append-only persistence, a Redis SHUTDOWN and restart keeps every session; a flush
logs everyone out and revives nothing."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.redis, pytest.mark.slow]

AOF = ("--appendonly", "yes", "--appendfsync", "everysec")


def test_sessions_survive_a_redis_shutdown_and_restart(app_factory, private_server):
    private_server.stop()
    private_server.start(*AOF)
    auth = app_factory(redis_url=private_server.url, redis_timeout=0.5)
    pairs = [auth.register_and_login() for _ in range(3)]
    logged_out = auth.register_and_login()
    auth.post("/api/auth/logout", logged_out["access_token"])

    with private_server.client() as admin:
        admin.shutdown()  # SHUTDOWN writes the AOF out before exiting
    private_server.process.wait(timeout=10)
    private_server.start(*AOF)

    for pair in pairs:
        assert auth.me(pair["access_token"]).status_code == 200
        assert auth.refresh(pair["refresh_token"]).status_code == 200
    assert auth.me(logged_out["access_token"]).status_code == 401  # the denial persisted too


def test_a_full_flush_logs_everyone_out_and_revives_nothing(auth, redis_client):
    pair = auth.register_and_login()
    logged_out = auth.register_and_login()
    auth.post("/api/auth/logout", logged_out["access_token"])
    redis_client.flushall()
    for token in (pair["access_token"], logged_out["access_token"]):
        assert auth.me(token).status_code == 401
    for token in (pair["refresh_token"], logged_out["refresh_token"]):
        assert auth.refresh(token).status_code == 401
