"""Fixtures every folder shares: settings, the Redis backends (fakeredis, a real redis-server
and a real Redis Cluster, started by the session on free ports), the one app factory, and an
`auth` helper that speaks the API like a client would.

Names say what a fixture is: ``*_server`` / ``redis_cluster`` / ``real_backend`` are processes,
``redis_client`` / ``real_redis`` are Redis clients, ``client`` is always the HTTP test client.
The folders say what their tests need: ``unit/`` no server (its conftest puts ``redis_client`` on
fakeredis only), ``redis/`` a real Redis, ``processes/`` more processes (gunicorn, Sentinel,
Chromium, a Redis stopped and started)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fakeredis
import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.store.keys import KeySpace
from config import Settings
from tests.servers import LocalCluster, RedisServer

SECRET = "test-secret-key-that-is-long-enough-for-hs512-0123456789abcdefgh"
PASSWORD = "correct horse battery"
_emails = itertools.count(1)

# The real backends every `redis` test runs on: one redis-server, and a Redis Cluster of three
# primaries with a replica each. `-m "not cluster"` skips the cluster half.
REAL_BACKENDS = [
    pytest.param("single", marks=pytest.mark.redis),
    pytest.param("cluster", marks=[pytest.mark.redis, pytest.mark.cluster]),
]
RealBackend = RedisServer | LocalCluster


# -- Redis ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server for the whole session, on a free port."""
    try:
        server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """One real Redis Cluster (3 primaries, 3 replicas) for the whole session, on free ports;
    started by the first test that needs it."""
    try:
        cluster = LocalCluster(tmp_path_factory.mktemp("redis-cluster")).start()
    except (RuntimeError, TimeoutError) as exc:
        pytest.fail(str(exc), pytrace=False)
    yield cluster
    cluster.stop()


def _backend(request: pytest.FixtureRequest, name: str) -> RealBackend:
    server: RealBackend = request.getfixturevalue(
        "redis_cluster" if name == "cluster" else "redis_server"
    )
    return server


def _flushed_client(request: pytest.FixtureRequest, backend: RealBackend) -> Any:
    """A client of ``backend``, every primary flushed, closed after the test."""
    redis_client = backend.client()
    redis_client.flushdb()  # on a cluster redis-py sends it to every primary
    request.addfinalizer(redis_client.close)
    return redis_client


@pytest.fixture(params=REAL_BACKENDS)
def real_backend(request: pytest.FixtureRequest) -> RealBackend:
    """The real Redis of this test: the session's redis-server, then the session's cluster.
    Both have ``url``, ``cluster`` and ``client()``. A module that must run on one server only
    overrides this fixture with ``redis_server``."""
    return _backend(request, request.param)


@pytest.fixture
def real_redis(request: pytest.FixtureRequest, real_backend: RealBackend) -> Any:
    """A client of the real backend, flushed before each test."""
    return _flushed_client(request, real_backend)


@pytest.fixture(params=["fake", *REAL_BACKENDS])
def redis_client(request: pytest.FixtureRequest) -> Any:
    """Each test that asks for it (or for an app on it) runs three times: on fakeredis, on the
    real server and on the real cluster. tests/unit/ keeps the fakeredis run only."""
    if request.param == "fake":
        return fakeredis.FakeRedis(decode_responses=True)
    return _flushed_client(request, _backend(request, request.param))


@pytest.fixture
def private_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, for stopping, restarting or reconfiguring it."""
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


# -- settings, keys, apps ---------------------------------------------------------------------


@pytest.fixture
def settings() -> Settings:
    return Settings(
        env="testing",
        jwt_secret_key=SECRET,
        bcrypt_rounds=4,
        refresh_reuse_grace=10,
        ratelimit_enabled=False,  # tests/redis/test_rate_limits.py turns them on
    ).validated()


@pytest.fixture
def keys(settings: Settings) -> KeySpace:
    """Key names under the test settings' prefix: tests name Redis keys the way the store does."""
    return KeySpace(settings.redis_key_prefix)


class AuthActions:
    """A client author's view of the API: register, log in, refresh, call with a token."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    @property
    def app(self) -> Flask:
        return self.client.application

    def register(self, email: str | None = None, password: str = PASSWORD) -> dict[str, Any]:
        if email is None:
            email = f"user{next(_emails)}@example.com"
        response = self.client.post(
            "/api/auth/register", json={"email": email, "password": password}
        )
        assert response.status_code == 201, response.json
        return {**response.json, "password": password}

    def login(self, email: str, password: str = PASSWORD, user_agent: str = "pytest") -> dict:
        response = self.client.post(
            "/api/auth/login",
            json={"email": email, "password": password},
            headers={"User-Agent": user_agent},
        )
        assert response.status_code == 200, response.json
        return response.json

    def register_and_login(self) -> dict[str, Any]:
        user = self.register()
        return {**self.login(user["email"]), "email": user["email"], "user_id": user["id"]}

    def refresh(self, refresh_token: str):
        return self.client.post("/api/auth/refresh", json={"refresh_token": refresh_token})

    def get(self, path: str, access_token: str):
        return self.client.get(path, headers={"Authorization": f"Bearer {access_token}"})

    def post(self, path: str, access_token: str, **kwargs: Any):
        return self.client.post(path, headers={"Authorization": f"Bearer {access_token}"}, **kwargs)

    def delete(self, path: str, access_token: str):
        return self.client.delete(path, headers={"Authorization": f"Bearer {access_token}"})

    def me(self, access_token: str):
        return self.get("/api/auth/me", access_token)


class AppFactory:
    """The one place tests build an app: the test settings with some changed, on a Redis client
    the test owns (``redis_client=``), or connecting by itself from the settings
    (``redis_url=``, ``redis_sentinels=``...), in which case every connection it opened is
    closed after the test (a socket left to the garbage collector warns, which is an error)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._self_connected: list[Flask] = []

    def app(self, redis_client: Any = None, **changes: Any) -> Flask:
        """An app with ``changes`` applied to the test settings."""
        app = create_app(self.settings.replace(**changes), redis_client=redis_client)
        if redis_client is None:
            self._self_connected.append(app)
        return app

    def __call__(self, redis_client: Any = None, **changes: Any) -> AuthActions:
        """The `auth` helper (``.app``, ``.client``) of such an app."""
        return AuthActions(self.app(redis_client, **changes).test_client())

    def close(self) -> None:
        for app in self._self_connected:
            app.extensions["rotor.store"].client.close()
            for limiter in app.extensions.get("limiter", ()):
                limiter.storage.storage.close()


@pytest.fixture
def app_factory(settings: Settings) -> Iterator[AppFactory]:
    """``app_factory(real_redis, refresh_reuse_grace=0)``, ``app_factory(redis_url=...)``,
    ``app_factory.app(...)`` for the Flask app alone."""
    factory = AppFactory(settings)
    yield factory
    factory.close()


@pytest.fixture
def auth_with(app_factory: AppFactory, redis_client: Any):
    """``auth_with(max_sessions_per_user=3)``: an app on this test's Redis with some settings
    changed, and its `auth` helper (``.app``, ``.client``)."""

    def build(**changes: Any) -> AuthActions:
        return app_factory(redis_client, **changes)

    return build


@pytest.fixture
def app(app_factory: AppFactory, redis_client: Any) -> Flask:
    """The test app: the test settings on this test's Redis. A module that overrides it
    (``auth_with(...).app``) changes ``client`` and ``auth`` with it."""
    return app_factory.app(redis_client)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """The HTTP test client of ``app``."""
    return app.test_client()


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    """The `auth` helper on ``client`` (same cookies)."""
    return AuthActions(client)


@pytest.fixture
def real_auth(app_factory: AppFactory, real_redis: redis.Redis) -> AuthActions:
    """An `auth` helper whose app talks to the real backend only."""
    return app_factory(real_redis)
