"""With append-only persistence, a Redis SHUTDOWN and restart keeps every session; a flush
logs everyone out and revives nothing."""

from __future__ import annotations

import pytest

from app import create_app
from tests.conftest import AuthActions

pytestmark = [pytest.mark.redis, pytest.mark.slow]

AOF = ("--appendonly", "yes", "--appendfsync", "everysec")


def test_sessions_survive_a_redis_shutdown_and_restart(settings, private_redis):
    private_redis.stop()
    private_redis.start(*AOF)
    app = create_app(settings.replace(redis_url=private_redis.url, redis_timeout=0.5))
    auth = AuthActions(app.test_client())
    pairs = [auth.register_and_login() for _ in range(3)]
    logged_out = auth.register_and_login()
    auth.post("/api/auth/logout", logged_out["access_token"])

    private_redis.client().shutdown()  # SHUTDOWN writes the AOF out before exiting
    private_redis.process.wait(timeout=10)
    private_redis.start(*AOF)

    for pair in pairs:
        assert auth.me(pair["access_token"]).status_code == 200
        assert auth.refresh(pair["refresh_token"]).status_code == 200
    assert auth.me(logged_out["access_token"]).status_code == 401  # the denial persisted too
    app.extensions["rotor.store"].client.close()


def test_a_full_flush_logs_everyone_out_and_revives_nothing(auth, redis_client):
    pair = auth.register_and_login()
    logged_out = auth.register_and_login()
    auth.post("/api/auth/logout", logged_out["access_token"])
    redis_client.flushall()
    for token in (pair["access_token"], logged_out["access_token"]):
        assert auth.me(token).status_code == 401
    for token in (pair["refresh_token"], logged_out["refresh_token"]):
        assert auth.refresh(token).status_code == 401
