"""Resource servers using the kit (rotor_resource_kit), against a real Rotor on a real Redis
and on a real Redis Cluster: every way Rotor, its operators or Redis itself end a session is
refused by the resource server within 100 ms, with no Redis command per request before it."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from flask import Flask, jsonify
from flask.testing import FlaskClient
from flask_jwt_extended import get_jwt, jwt_required

from app import cli
from rotor_resource_kit import RotorResourceServer, SessionWatch
from tests.conftest import PASSWORD, SECRET, AppFactory, AuthActions, RealBackend
from tests.revocation import ACL_USER, commands_sent, readme_acl_rules, wait_for_refusal
from tests.servers import LocalCluster, RedisServer, wait_until

pytestmark = pytest.mark.redis

MAX_SESSIONS = 3
BACKGROUND = ("ping", "cluster", "replconf")  # the kit's heartbeat and topology, replication


def resource_server(watch: SessionWatch, **options: Any) -> Flask:
    """A resource server: Flask, flask-jwt-extended and the kit's few lines."""
    app = Flask(__name__)
    RotorResourceServer(app, watch=watch, **({"secret_key": SECRET} | options))

    @app.get("/api/protected")
    @jwt_required()
    def protected():
        return jsonify(sub=get_jwt()["sub"], sid=get_jwt()["sid"])

    return app


def caller(client: FlaskClient, token: str) -> Callable[[], int]:
    headers = {"Authorization": f"Bearer {token}"}
    return lambda: client.get("/api/protected", headers=headers).status_code


def commands_on(backend: RealBackend) -> int:
    """Commands every node of ``backend`` has run (less the kit's background ones)."""
    servers = backend.nodes if isinstance(backend, LocalCluster) else [backend]
    total = 0
    for server in servers:
        with server.client() as node:
            total += commands_sent(node, ignore=BACKGROUND)
    return total


@dataclass
class Rotor:
    """Rotor's side of a test: its API (``auth``), its CLI and the Redis it runs on."""

    app: Flask
    auth: AuthActions
    backend: RealBackend
    redis: Any

    def cli(self, *args: str) -> None:
        result = self.app.test_cli_runner().invoke(args=list(args))
        assert result.exit_code == 0, result.output

    def redis_cli(self, *args: str) -> None:
        """An operator's command in redis-cli (-c follows a cluster's redirects)."""
        port = str(self.backend.nodes[0].port if self.backend.cluster else self.backend.port)
        command = ["redis-cli", "-p", port, *(["-c"] if self.backend.cluster else []), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=10)
        assert done.returncode == 0 and "ERR" not in done.stdout, done.stdout + done.stderr

    def session_key(self, session: dict) -> str:
        return self.app.extensions["rotor.store"].keys.session(
            session["user_id"], session["session_id"]
        )


def _rotor(
    app_factory: AppFactory, backend: RealBackend, redis_client: Any, **changes: Any
) -> Rotor:
    changes = {"refresh_reuse_grace": 0, "max_sessions_per_user": MAX_SESSIONS, **changes}
    app = app_factory.app(redis_client, **changes)
    cli.init_app(app)
    return Rotor(app, AuthActions(app.test_client()), backend, redis_client)


@pytest.fixture
def rotor(app_factory: AppFactory, real_backend: RealBackend, real_redis: Any) -> Rotor:
    return _rotor(app_factory, real_backend, real_redis)


@pytest.fixture
def watch(real_backend: RealBackend, rotor: Rotor) -> Iterator[SessionWatch]:
    built = SessionWatch(real_backend.url, cluster=real_backend.cluster)
    assert built.wait_until_watching()
    yield built
    built.close()


@pytest.fixture
def resource(watch: SessionWatch) -> FlaskClient:
    return resource_server(watch).test_client()


def _another_device(rotor: Rotor, session: dict) -> dict:
    return rotor.auth.login(session["email"], user_agent="another device")


def _logout(rotor: Rotor, session: dict) -> None:
    assert rotor.auth.post("/api/auth/logout", session["access_token"]).status_code == 204


def _logout_all(rotor: Rotor, session: dict) -> None:
    other = _another_device(rotor, session)
    assert rotor.auth.post("/api/auth/logout-all", other["access_token"]).status_code == 204


def _delete_session(rotor: Rotor, session: dict) -> None:
    other = _another_device(rotor, session)
    path = f"/api/auth/sessions/{session['session_id']}"
    assert rotor.auth.delete(path, other["access_token"]).status_code == 204


def _password_change(rotor: Rotor, session: dict) -> None:
    other = _another_device(rotor, session)
    body = {"current_password": PASSWORD, "new_password": "another long passphrase 42"}
    response = rotor.auth.post("/api/auth/password", other["access_token"], json=body)
    assert response.status_code == 204


def _reuse(rotor: Rotor, session: dict) -> None:
    assert rotor.auth.refresh(session["refresh_token"]).status_code == 200
    reused = rotor.auth.refresh(session["refresh_token"])
    assert reused.json["error"]["code"] == "token_reused"


def _eviction(rotor: Rotor, session: dict) -> None:
    for _ in range(MAX_SESSIONS):
        _another_device(rotor, session)


ENDINGS: list[tuple[str, Callable[[Rotor, dict], None]]] = [
    ("logout", _logout),
    ("logout-all", _logout_all),
    ("DELETE /sessions/<id>", _delete_session),
    ("password change", _password_change),
    ("refresh token reuse", _reuse),
    ("eviction at the session cap", _eviction),
    (
        "CLI sessions revoke",
        lambda r, s: r.cli("sessions", "revoke", s["email"], "--session", s["session_id"]),
    ),
    ("CLI sessions revoke --all", lambda r, s: r.cli("sessions", "revoke", s["email"], "--all")),
    ("CLI users disable", lambda r, s: r.cli("users", "disable", s["email"])),
    ("redis-cli DEL", lambda r, s: r.redis_cli("DEL", r.session_key(s))),
    ("FLUSHDB", lambda r, s: r.redis.flushdb()),
]


@pytest.mark.parametrize(("path", "end"), ENDINGS, ids=[path for path, _ in ENDINGS])
def test_every_way_rotor_ends_a_session_is_refused_within_100_ms(
    rotor, resource, real_backend, path, end
):
    session = rotor.auth.register_and_login()
    call = caller(resource, session["access_token"])
    assert call() == 200
    before = commands_on(real_backend)
    assert [call() for _ in range(3)] == [200] * 3
    assert commands_on(real_backend) == before  # served from memory until the news comes
    end(rotor, session)
    wait_for_refusal(call, f"{path} ({'cluster' if real_backend.cluster else 'single'})")


@pytest.mark.slow
def test_a_session_whose_ttl_runs_out_is_refused_when_it_expires(
    app_factory, real_backend, real_redis, resource
):
    rotor = _rotor(app_factory, real_backend, real_redis, refresh_token_ttl=1)
    session = rotor.auth.register_and_login()
    call = caller(resource, session["access_token"])
    assert call() == 200
    deadline_ms = int(rotor.redis.hget(rotor.session_key(session), "exp"))
    expires_at = time.monotonic() + (deadline_ms / 1000 - time.time())
    before = commands_on(real_backend)
    while time.monotonic() < expires_at - 0.05:
        assert call() == 200
        time.sleep(0.01)  # the session key's Redis TTL runs out: real time is the behaviour
    assert commands_on(real_backend) == before
    wait_for_refusal(call, "session TTL ran out", since=expires_at)


def test_200_requests_of_sessions_on_every_primary_send_no_redis_command(
    rotor, resource, real_backend
):
    sessions = [rotor.auth.register_and_login() for _ in range(6)]
    if real_backend.cluster:  # users until every primary holds some of the sessions
        with real_backend.client() as routing:
            owners = {routing.get_node_from_key(rotor.session_key(s)).name for s in sessions}
            while len(owners) < 3:
                sessions.append(rotor.auth.register_and_login())
                owners.add(routing.get_node_from_key(rotor.session_key(sessions[-1])).name)
    calls = [caller(resource, session["access_token"]) for session in sessions]
    assert [call() for call in calls] == [200] * len(calls)  # each session's first request
    before = commands_on(real_backend)
    statuses = [calls[i % len(calls)]() for i in range(200)]
    assert statuses == [200] * 200
    assert commands_on(real_backend) == before
    for session, call in zip(sessions, calls, strict=True):
        _logout(rotor, session)
        wait_for_refusal(call, f"logout, each primary ({real_backend.cluster and 'cluster'})")


def test_the_readme_read_only_user_is_enough_and_cannot_write(rotor, real_backend):
    password = "rs-password-0123456789"
    nodes = real_backend.nodes if isinstance(real_backend, LocalCluster) else [real_backend]
    rules = readme_acl_rules(password, cluster=real_backend.cluster)
    for node in nodes:
        with node.client() as admin:
            admin.execute_command("ACL", "SETUSER", ACL_USER, "reset", *rules)
    url = real_backend.url.replace("redis://", f"redis://{ACL_USER}:{password}@")
    watch = SessionWatch(url, cluster=real_backend.cluster)
    try:
        assert watch.wait_until_watching()
        session = rotor.auth.register_and_login()
        call = caller(resource_server(watch).test_client(), session["access_token"])
        assert call() == 200
        before = commands_on(real_backend)
        assert [call() for _ in range(20)] == [200] * 20
        assert commands_on(real_backend) == before
        _logout(rotor, session)
        wait_for_refusal(
            call, f"logout as the read-only user ({real_backend.cluster and 'cluster'})"
        )
        other = rotor.auth.register_and_login()
        user_key = rotor.app.extensions["rotor.store"].keys.user(other["user_id"])
        as_resource_server = (
            redis.RedisCluster.from_url(url, decode_responses=True)
            if real_backend.cluster
            else redis.Redis.from_url(url, decode_responses=True)
        )
        with as_resource_server:
            assert as_resource_server.hmget(user_key, "email") == [other["email"]]
            for write in (
                lambda: as_resource_server.delete(user_key),
                lambda: as_resource_server.hset(user_key, "disabled", "0"),
                lambda: as_resource_server.set(user_key.replace(":user", ":denied:x"), "1"),
            ):
                with pytest.raises(redis.exceptions.NoPermissionError):
                    write()
        assert rotor.redis.hget(user_key, "email") == other["email"]
    finally:
        watch.close()
        for node in nodes:
            with node.client() as admin:
                admin.acl_deluser(ACL_USER)


def _in_sync(primary: RedisServer) -> bool:
    with primary.client() as node:
        info = node.info("replication")
    return info.get("slave0", {}).get("offset") == info["master_repl_offset"]


@pytest.mark.slow
@pytest.mark.cluster
def test_after_a_failover_the_new_primary_is_watched(app_factory, tmp_path):
    cluster = LocalCluster(tmp_path / "cluster", node_timeout_ms=1000).start()
    watch = None
    try:
        routing = cluster.client()
        rotor = _rotor(app_factory, cluster, None, redis_url=cluster.url, redis_cluster=True,
                       redis_timeout=0.5)  # fmt: skip
        rotor.redis = rotor.app.extensions["rotor.store"].client
        watch = SessionWatch(cluster.url, cluster=True, timeout=0.5)
        assert watch.wait_until_watching()
        resource = resource_server(watch).test_client()
        sessions = [rotor.auth.register_and_login() for _ in range(6)]
        calls = [caller(resource, session["access_token"]) for session in sessions]
        assert [call() for call in calls] == [200] * len(calls)
        owner = routing.get_node_from_key(rotor.session_key(sessions[0]))
        victim = next(node for node in cluster.nodes if node.port == owner.port)
        for node in cluster.nodes:
            if node.port == owner.port:
                wait_until(lambda node=node: _in_sync(node))
        victim.kill()
        statuses: list[int] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status = calls[0]()
            statuses.append(status)
            assert status in (200, 503)
            if status == 200 and 503 in statuses and watch.wait_until_watching(timeout=0):
                break
            time.sleep(0.02)  # the failover runs in real time, in the cluster's processes
        assert 503 in statuses, "while its primary is down, a session's state is unknown: 503"
        assert statuses[-1] == 200, "no failover within 30 s"
        assert watch.wait_until_watching()
        assert [call() for call in calls] == [200] * len(calls)
        before = sum(
            commands_sent(node.client(), ignore=BACKGROUND)
            for node in cluster.nodes
            if node.process
        )
        assert [call() for call in calls] == [200] * len(calls)
        after = sum(
            commands_sent(node.client(), ignore=BACKGROUND)
            for node in cluster.nodes
            if node.process
        )
        assert after == before  # served from memory again, the new primary's included
        for session, call in zip(sessions, calls, strict=True):
            _logout(rotor, session)
            wait_for_refusal(call, "logout after a failover (cluster)")
        routing.close()
    finally:
        if watch is not None:
            watch.close()
        cluster.stop()
