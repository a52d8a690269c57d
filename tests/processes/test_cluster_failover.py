"""A Redis Cluster primary killed under Rotor: the sessions it held answer 503
``store_unavailable`` (never a 500, never a token) until its replica takes over, then the same
app serves them again. A cluster of this test's own, with a short node timeout."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.store import Store
from tests.conftest import AppFactory
from tests.servers import LocalCluster, RedisServer, wait_until

pytestmark = [pytest.mark.redis, pytest.mark.cluster, pytest.mark.slow]


def _in_sync(primary: RedisServer) -> bool:
    """True once the primary's replica has acknowledged every write it was sent."""
    with primary.client() as node:
        info = node.info("replication")
    return info.get("slave0", {}).get("offset") == info["master_repl_offset"]


def test_a_dead_primary_answers_503_until_its_replica_takes_over(
    app_factory: AppFactory, tmp_path: Path
):
    cluster = LocalCluster(tmp_path / "cluster", node_timeout_ms=1000).start()
    try:
        auth = app_factory(redis_url=cluster.url, redis_cluster=True, redis_timeout=0.5)
        pairs = [auth.register_and_login() for _ in range(9)]
        store: Store = auth.app.extensions["rotor.store"]
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
            time.sleep(0.05)  # the failover takes real seconds, in other processes
        assert 503 in statuses, "sessions on the dead primary must answer 503 first"
        assert statuses[-len(pairs) :] == [200] * len(pairs), "no failover within 30 s"
        assert auth.client.get("/readyz").status_code == 200
    finally:
        cluster.stop()
