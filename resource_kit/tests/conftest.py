"""Fixtures for the kit's own tests: a real redis-server of their own, Rotor-shaped tokens and
session keys written exactly as the key layout contract says, and a resource server using the
kit (a Flask app with flask-jwt-extended)."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
import redis
from flask import Flask, jsonify
from flask_jwt_extended import get_jwt, jwt_required

from rotor_resource_kit import RotorKeys, RotorResourceServer, SessionWatch
from tests import revocation
from tests.servers import RedisServer

SECRET = "kit-test-secret-long-enough-even-for-hs512-0123456789abcdefghijklm"
KEYS = RotorKeys("auth:")


def mint(uid: str, sid: str, /, *, secret: str = SECRET, ttl: int = 900, **changes: Any) -> str:
    """An access token shaped as Rotor issues it (``changes``: claims to set, None drops)."""
    now = int(time.time())
    claims = {"sub": uid, "sid": sid, "jti": secrets.token_urlsafe(16), "iat": now,
              "exp": now + ttl, "type": "access", "iss": "rotor", "aud": "rotor",
              **changes}  # fmt: skip
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(claims, secret, algorithm="HS256")


def open_session(client: Any, ttl_ms: int = 600_000) -> tuple[str, str]:
    """A user and a live session in Redis, written as Rotor writes them: (uid, sid)."""
    uid, sid = uuid.uuid4().hex[:16], uuid.uuid4().hex[:24]
    client.hset(KEYS.user(uid), mapping={"email": f"{uid}@example.com", "created": 1})
    client.hset(KEYS.session(uid, sid), mapping={"rt": "x", "gen": 0})
    client.pexpire(KEYS.session(uid, sid), ttl_ms)
    return uid, sid


def resource_server(watch: SessionWatch) -> Flask:
    """The few lines a resource server adds, plus one protected view."""
    app = Flask(__name__)
    RotorResourceServer(app, watch=watch, secret_key=SECRET)

    @app.get("/api/protected")
    @jwt_required()
    def protected():
        claims = get_jwt()
        return jsonify(sub=claims["sub"], sid=claims["sid"])

    return app


class Caller:
    """GET /api/protected on a resource server with one token: the status."""

    def __init__(self, app: Flask, token: str) -> None:
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"}

    def __call__(self) -> int:
        return self.client.get("/api/protected", headers=self.headers).status_code


@pytest.fixture(scope="session")
def kit_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the kit's tests, on a free port."""
    server = RedisServer(tmp_path_factory.mktemp("kit-redis")).start()
    yield server
    server.stop()


@pytest.fixture
def admin(kit_redis: RedisServer) -> Iterator[redis.Redis]:
    """Rotor's side: a client with every right, the database flushed before the test."""
    client = kit_redis.client()
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def make_watch() -> Iterator[Callable[..., SessionWatch]]:
    """Build watches that are closed after the test."""
    watches: list[SessionWatch] = []

    def build(url: str, **options: Any) -> SessionWatch:
        watch = SessionWatch(url, **options)
        watches.append(watch)
        return watch

    yield build
    for watch in watches:
        watch.close()


@pytest.fixture
def watch(kit_redis: RedisServer, make_watch, admin) -> SessionWatch:
    """A watch on the kit's redis-server, its connections up."""
    built = make_watch(kit_redis.url)
    assert built.wait_until_watching()
    return built


def pytest_terminal_summary(terminalreporter: Any) -> None:
    line = revocation.summary()
    if line:
        terminalreporter.write_line(line)
