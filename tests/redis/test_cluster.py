"""Rotor configured for a Redis Cluster (REDIS_CLUSTER=1, REDIS_URL naming one node), on the
session's real local cluster: the connection it builds itself, every script through it, and
the operator loops that must visit every primary (tests/processes/test_cluster_failover.py
kills one).

The rest of the suite runs on this cluster too (the ``cluster`` half of ``real_redis``), with a
client the tests build; here the app builds its own from its settings.
"""

from __future__ import annotations

import pytest
from flask import Flask

from app.auth import operators as ops
from app.store import Store
from app.store.client import DeferredCluster
from tests.conftest import PASSWORD, AppFactory, AuthActions
from tests.servers import LocalCluster, free_port

pytestmark = [pytest.mark.redis, pytest.mark.cluster]


@pytest.fixture
def cluster_app(app_factory: AppFactory, redis_cluster: LocalCluster) -> Flask:
    """An app whose REDIS_URL names a replica: any node is enough to find the cluster."""
    with redis_cluster.client() as admin:
        admin.flushdb()
    replica = redis_cluster.nodes[-1]  # `--cluster create` makes the last nodes replicas
    with replica.client() as node:
        assert node.info("replication")["role"] == "slave"
    return app_factory.app(redis_url=replica.url, redis_cluster=True, ratelimit_enabled=True)


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
    with redis_cluster.client() as routing:
        owners = {
            routing.get_node_from_key(store.keys.session(u["user_id"], u["session_id"])).name
            for u in users
        }
    assert len(owners) >= 2, "twelve users should land on more than one primary"

    assert store.count_sessions() == len(users)
    refs = {ref for page in store.scan_sessions(batch=5) for ref in page}
    assert refs == {(u["user_id"], u["session_id"]) for u in users}

    report = cluster_app.extensions["rotor.auth"].operators.flush_sessions()
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
def test_the_app_starts_while_no_node_answers_and_says_503(app_factory, rate_limits):
    """A worker must boot while the cluster is down (or gunicorn stops for good); the rate
    limiter's storage connects on first use, as the store does."""
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    client = app_factory(redis_url=nowhere, redis_cluster=True, redis_timeout=0.5,
                         ratelimit_enabled=rate_limits).client  # fmt: skip
    for response in (
        client.get("/readyz"),
        client.post("/api/auth/login", json={"email": "a@x.io", "password": PASSWORD}),
        client.post("/api/auth/register", json={"email": "b@x.io", "password": PASSWORD}),
    ):
        assert response.status_code == 503
        assert response.json["error"]["code"] == "store_unavailable"
