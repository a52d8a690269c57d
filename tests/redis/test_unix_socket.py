"""Redis on the same host over its Unix socket (REDIS_URL=unix:///path): the whole service,
its hot-path scripts and the rate limits work over it."""

from __future__ import annotations

import pytest
from redis.connection import UnixDomainSocketConnection

from tests.servers import RedisServer

pytestmark = pytest.mark.redis


@pytest.fixture
def socket_server(tmp_path):
    """A redis-server of this test's own, listening on a Unix socket too."""
    server = RedisServer(tmp_path / "redis", unix_socket=True).start()
    yield server
    server.stop()


def test_the_service_runs_over_a_unix_socket(app_factory, socket_server, keys):
    auth = app_factory(redis_url=socket_server.unix_url, ratelimit_enabled=False)
    app = auth.app
    pair = auth.register_and_login()
    assert auth.me(pair["access_token"]).status_code == 200
    rotated = auth.refresh(pair["refresh_token"])
    assert rotated.status_code == 200
    assert auth.refresh(pair["refresh_token"]).json == rotated.json  # the grace replay

    store = app.extensions["rotor.store"]
    hot_connection = store._authorize._connection()
    assert isinstance(hot_connection, UnixDomainSocketConnection)
    # The data is in that server: the TCP side of the same process sees the session.
    with socket_server.client() as tcp:
        assert tcp.keys(keys.session_pattern())


def test_rate_limits_count_over_the_unix_socket(app_factory, socket_server):
    auth = app_factory(
        redis_url=socket_server.unix_url, ratelimit_enabled=True, ratelimit_login_account="2/minute"
    )
    email = auth.register()["email"]
    answers = [auth.client.post("/api/auth/login", json={"email": email, "password": "wrong"})
               for _ in range(3)]  # fmt: skip
    assert [a.status_code for a in answers] == [401, 401, 429]
    with socket_server.client() as tcp:
        assert tcp.keys("auth:ratelimit*")
