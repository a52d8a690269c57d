"""Redis on the same host over its Unix socket (REDIS_URL=unix:///path): the whole service,
its hot-path scripts and the rate limits work over it."""

from __future__ import annotations

import pytest
from redis.connection import UnixDomainSocketConnection

from app import create_app
from app.store import get_store
from tests.conftest import AuthActions
from tests.servers import RedisServer

pytestmark = pytest.mark.redis


@pytest.fixture
def socket_redis(tmp_path):
    server = RedisServer(tmp_path / "redis", unix_socket=True).start()
    yield server
    server.stop()


@pytest.fixture
def make_socket_app(settings, socket_redis):
    """Apps on the socket; everything they connected is closed after the test (sockets left
    to the garbage collector may be finalized before their connection, which warns)."""
    apps = []

    def build(**changes):
        apps.append(create_app(settings.replace(redis_url=socket_redis.unix_url, **changes)))
        return apps[-1]

    yield build
    for app in apps:
        with app.app_context():
            store = get_store()
        store.client.close()
        for limiter in app.extensions.get("limiter", ()):
            limiter.storage.storage.close()


def test_the_service_runs_over_a_unix_socket(make_socket_app, socket_redis):
    app = make_socket_app(ratelimit_enabled=False)
    auth = AuthActions(app.test_client())
    pair = auth.register_and_login()
    assert auth.me(pair["access_token"]).status_code == 200
    rotated = auth.refresh(pair["refresh_token"])
    assert rotated.status_code == 200
    assert auth.refresh(pair["refresh_token"]).json == rotated.json  # the grace replay

    with app.app_context():
        store = get_store()
    hot_connection = store._authorize._connection()
    assert isinstance(hot_connection, UnixDomainSocketConnection)
    # The data is in that server: the TCP side of the same process sees the session.
    with socket_redis.client() as tcp:
        assert tcp.keys("auth:{*}:session:*")


def test_rate_limits_count_over_the_unix_socket(make_socket_app, socket_redis):
    app = make_socket_app(ratelimit_enabled=True, ratelimit_login_account="2/minute")
    auth = AuthActions(app.test_client())
    email = auth.register()["email"]
    answers = [auth.client.post("/api/auth/login", json={"email": email, "password": "wrong"})
               for _ in range(3)]  # fmt: skip
    assert [a.status_code for a in answers] == [401, 401, 429]
    with socket_redis.client() as tcp:
        assert tcp.keys("auth:ratelimit*")
