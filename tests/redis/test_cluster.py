"""Rotor configured for a Redis Cluster (REDIS_CLUSTER=1, REDIS_URL naming one node), on the
session's real local cluster: the connection it builds itself, every script through it, and
the operator loops that must visit every primary.

The rest of the suite runs on this cluster too (the ``cluster`` half of ``real_redis``), with a
client the tests build; here the app builds its own from its settings.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from app import create_app
from app.auth import operators as ops
from app.store import Store
from app.store.client import DeferredCluster
from config import Settings
from tests.conftest import PASSWORD, AuthActions
from tests.servers import LocalCluster, RedisServer, free_port, wait_until

pytestmark = [pytest.mark.redis, pytest.mark.cluster]


@pytest.fixture
def cluster_app(settings: Settings, redis_cluster: LocalCluster) -> Iterator[Flask]:
    """An app whose REDIS_URL names a replica: any node is enough to find the cluster."""
    with redis_cluster.client() as client:
        client.flushdb()
    replica = redis_cluster.nodes[-1]  # `--cluster create` makes the last nodes replicas
    with replica.client() as node:
        assert node.info("replication")["role"] == "slave"
    app = create_app(
        settings.replace(redis_url=replica.url, redis_cluster=True, ratelimit_enabled=True)
    )
    yield app
    app.extensions["rotor.store"].client.close()


def _store(app: Flask) -> Store:
    store: Store = app.extensions["rotor.store"]
    return store


def test_settings_connect_through_any_node_and_every_script_runs(cluster_app):
    assert isinstance(_store(cluster_app).client, DeferredCluster)
    auth = AuthActions(cluster_app.test_client())
    pair = auth.register_and_login()  # create_session
    assert auth.me(pair["access_token"]).status_code == 200  # authorize
    rotated = auth.refresh(pair["refresh_token"])  # rotate
    assert rotated.status_code == 200
    assert auth.refresh(pair["refresh_token"]).json == rotated.json  # grace replay
    second = auth.login(pair["email"])
    listed = auth.get("/api/auth/sessions", second["access_token"]).json  # the pipeline
    assert {s["id"] for s in listed["sessions"]} == {pair["session_id"], second["session_id"]}
    assert auth.post("/api/auth/logout", second["access_token"]).status_code == 204  # end
    assert auth.me(second["access_token"]).status_code == 401
    assert cluster_app.test_client().get("/readyz").json["status"] == "ready"


def test_operator_loops_visit_every_primary(cluster_app, redis_cluster):
    auth = AuthActions(cluster_app.test_client())
    store = _store(cluster_app)
    users = [auth.register_and_login() for _ in range(12)]
    with redis_cluster.client() as client:
        owners = {
            client.get_node_from_key(store.keys.session(u["user_id"], u["session_id"])).name
            for u in users
        }
    assert len(owners) >= 2, "twelve users should land on more than one primary"

    assert store.count_sessions() == len(users)
    refs = {ref for page in store.scan_sessions(batch=5) for ref in page}
    assert refs == {(u["user_id"], u["session_id"]) for u in users}

    report = ops.flush_sessions(cluster_app.extensions["rotor.auth"])
    assert report == ops.FlushReport(scanned=12, ended=12, dry_run=False)
    assert store.count_sessions() == 0
    assert all(auth.me(u["access_token"]).status_code == 401 for u in users)


def test_an_evicting_node_anywhere_in_the_cluster_is_reported(cluster_app, redis_cluster):
    with redis_cluster.nodes[-1].client() as node:  # a replica: it may become a primary
        node.config_set("maxmemory-policy", "allkeys-lru")
        try:
            body = cluster_app.test_client().get("/readyz").json
        finally:
            node.config_set("maxmemory-policy", "noeviction")
    assert body["maxmemory_policy"] == "allkeys-lru"
    assert "noeviction" in body["warnings"][0]


@pytest.mark.parametrize("rate_limits", [False, True], ids=["no-rate-limits", "rate-limits"])
def test_the_app_starts_while_no_node_answers_and_says_503(settings, rate_limits):
    """A worker must boot while the cluster is down (or gunicorn stops for good); the rate
    limiter's storage connects on first use, as the store does."""
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    app = create_app(settings.replace(redis_url=nowhere, redis_cluster=True, redis_timeout=0.5,
                                      ratelimit_enabled=rate_limits))  # fmt: skip
    client = app.test_client()
    for response in (
        client.get("/readyz"),
        client.post("/api/auth/login", json={"email": "a@x.io", "password": PASSWORD}),
        client.post("/api/auth/register", json={"email": "b@x.io", "password": PASSWORD}),
    ):
        assert response.status_code == 503
        assert response.json["error"]["code"] == "store_unavailable"


def _in_sync(primary: RedisServer) -> bool:
    """True once the primary's replica has acknowledged every write it was sent."""
    with primary.client() as client:
        info = client.info("replication")
    return info.get("slave0", {}).get("offset") == info["master_repl_offset"]


@pytest.mark.slow
def test_a_dead_primary_answers_503_until_its_replica_takes_over(settings, tmp_path: Path):
    cluster = LocalCluster(tmp_path / "cluster", node_timeout_ms=1000).start()
    try:
        app = create_app(
            settings.replace(redis_url=cluster.url, redis_cluster=True, redis_timeout=0.5)
        )
        auth = AuthActions(app.test_client())
        pairs = [auth.register_and_login() for _ in range(9)]
        store = _store(app)
        with cluster.client() as routing:
            owner = routing.get_node_from_key(
                store.keys.session(pairs[0]["user_id"], pairs[0]["session_id"])
            )
        victim = next(node for node in cluster.nodes if node.port == owner.port)
        wait_until(lambda: _in_sync(victim))
        victim.kill()
        killed_at = time.monotonic()

        statuses: list[int] = []
        while time.monotonic() < killed_at + 30:
            answers = [auth.refresh(pair["refresh_token"]) for pair in pairs]
            for i, answer in enumerate(answers):
                statuses.append(answer.status_code)
                assert answer.status_code in (200, 503), answer.json
                if answer.status_code == 503:
                    assert answer.json["error"]["code"] == "store_unavailable"
                    assert "eyJ" not in answer.get_data(as_text=True)
                else:
                    pairs[i] = {**pairs[i], **answer.json}
            if all(answer.status_code == 200 for answer in answers):
                break
            time.sleep(0.05)
        assert 503 in statuses, "sessions on the dead primary must answer 503 first"
        assert statuses[-len(pairs) :] == [200] * len(pairs), "no failover within 30 s"
        assert auth.client.get("/readyz").status_code == 200
        store.client.close()
    finally:
        cluster.stop()
