"""Logins racing each other and racing a password change, on a real redis-server: many threads
released at once by a Barrier, or two requests interleaved at a chosen point by a hook."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from app import create_app
from tests.conftest import PASSWORD, AuthActions

pytestmark = pytest.mark.redis

CONCURRENT_LOGINS = 200


@pytest.fixture
def real_backend(redis_server):
    """One redis-server: hundreds of threads against the Cluster too would only be slower."""
    return redis_server


def _login_all_at_once(app, email: str, count: int, password: str = PASSWORD) -> list:
    """``count`` logins released together; each thread its own client, as separate callers."""
    barrier = threading.Barrier(count)

    def login(_: int):
        client = app.test_client()
        barrier.wait()
        return client.post("/api/auth/login", json={"email": email, "password": password})

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(login, range(count)))


def test_concurrent_correct_logins_never_fail_with_500_and_keep_the_cap(settings, real_redis):
    cap = settings.max_sessions_per_user  # 20
    app = create_app(settings, redis_client=real_redis)
    user = AuthActions(app.test_client()).register()

    responses = _login_all_at_once(app, user["email"], CONCURRENT_LOGINS)
    statuses = Counter(response.status_code for response in responses)
    assert set(statuses) <= {200, 503}, statuses
    assert statuses[200] > 0
    for response in responses:
        if response.status_code == 503:
            assert response.json["error"]["code"] == "store_unavailable"
            assert int(response.headers["Retry-After"]) > 0
    index = f"auth:{{{user['id']}}}:sessions"
    live = [sid for sid in real_redis.zrange(index, 0, -1)
            if real_redis.exists(f"auth:{{{user['id']}}}:session:{sid}")]  # fmt: skip
    assert len(live) == real_redis.zcard(index) == cap  # the cap holds, no stray index entry
    stored = set(real_redis.scan_iter(f"auth:{{{user['id']}}}:session:*"))
    assert len(stored) == cap
