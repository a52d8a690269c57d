"""Faults under load: several clients keep refreshing through two gunicorn instances that share
one Redis while Redis restarts and a worker is SIGKILLed. Afterwards: no 5xx but 503 (and 503
only around the Redis restart), every session alive with exactly one chain head or ended with a
reason, and no key without a TTL except users and the email index."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, SECRET
from tests.servers import Gunicorn, RedisServer, http_call, wait_until

pytestmark = [pytest.mark.redis, pytest.mark.slow]

CLIENTS = 6
RUN_SECONDS = 10.0
RECONNECT_SLACK = 3.0  # seconds after Redis answers again during which a 503 is still fair


def _post(base: str, path: str, body: dict) -> tuple[int, dict]:
    status, _, raw = http_call(base + path, "POST", body)
    return status, json.loads(raw or b"{}")


@dataclass
class Client:
    """One device refreshing its own chain, switching between the two app instances."""

    email: str
    token: str = ""
    statuses: list[tuple[float, int, str]] = field(default_factory=list)
    ended_reason: str | None = None

    def run(self, bases: list[str], stop: threading.Event) -> None:
        while not stop.is_set():
            base = random.choice(bases)
            try:
                status, body = _post(base, "/api/auth/refresh", {"refresh_token": self.token})
            except (urllib.error.URLError, ConnectionError, TimeoutError, HTTPException):
                # The killed worker's connection: no HTTP answer, or one cut off in its body
                # (IncompleteRead). Retry: grace covers it.
                self.statuses.append((time.monotonic(), 0, "connection"))
                continue
            code = body.get("error", {}).get("code", "")
            self.statuses.append((time.monotonic(), status, code))
            if status == 200:
                self.token = body["refresh_token"]
            elif status == 401:
                self.ended_reason = code
                return
            elif status == 503:
                time.sleep(0.05)  # Redis is away: retry the same token


@pytest.fixture
def stack(tmp_path):
    redis_server = RedisServer(tmp_path / "redis").start("--appendonly", "yes")
    env = {"REDIS_URL": redis_server.url, "JWT_SECRET_KEY": SECRET, "ROTOR_ENV": "testing",
           "BCRYPT_ROUNDS": "4", "RATELIMIT_ENABLED": "0", "REDIS_TIMEOUT": "0.5",
           "WEB_CONCURRENCY": "2"}  # fmt: skip
    apps = [Gunicorn(env).start(tmp_path / f"gunicorn-{i}.log") for i in range(2)]
    for app in apps:
        wait_until(lambda a=app: len(_children(a.pid)) == 2, timeout=30)
    yield redis_server, apps
    for app in apps:
        app.stop()
    redis_server.stop()


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def test_refresh_load_survives_redis_restart_worker_kill_and_two_instances(stack, keys):
    redis_server, apps = stack
    bases = [app.url for app in apps]
    clients = []
    for i in range(CLIENTS):
        email = f"fault{i}@example.com"
        assert (
            _post(bases[0], "/api/auth/register", {"email": email, "password": PASSWORD})[0] == 201
        )
        status, pair = _post(bases[1], "/api/auth/login", {"email": email, "password": PASSWORD})
        assert status == 200
        clients.append(Client(email, pair["refresh_token"]))

    stop = threading.Event()
    threads = [threading.Thread(target=c.run, args=(bases, stop)) for c in clients]
    for thread in threads:
        thread.start()
    started = time.monotonic()

    # The fault schedule runs in real time: the servers are other processes.
    time.sleep(2)
    redis_down_at = time.monotonic()
    redis_server.stop()  # SIGTERM: Redis writes its AOF out
    time.sleep(1)
    redis_server.start("--appendonly", "yes")
    redis_up_at = time.monotonic()

    time.sleep(2)
    victim = _children(apps[0].pid)[0]
    os.kill(victim, signal.SIGKILL)  # gunicorn starts another worker

    time.sleep(max(RUN_SECONDS - (time.monotonic() - started), 0))
    stop.set()
    for thread in threads:
        thread.join(timeout=20)

    statuses = [s for c in clients for s in c.statuses]
    assert sum(1 for _, status, _ in statuses if status == 200) > 50  # real load ran
    server_errors = [s for s in statuses if s[1] >= 500 and s[1] != 503]
    assert server_errors == []
    for at, status, code in statuses:
        if status == 503:
            assert code == "store_unavailable"
            assert redis_down_at - 0.1 <= at <= redis_up_at + RECONNECT_SLACK

    store_redis = redis_server.client()
    for c in clients:
        if c.ended_reason is not None:
            assert c.ended_reason in {"token_reused", "token_revoked"}
            continue
        # Alive: the store's chain head is this client's token, so it holds the only live chain.
        claims = json.loads(_b64(c.token.split(".")[1]))
        head = store_redis.hget(keys.session(claims["sub"], claims["sid"]), "rt")
        assert head == hashlib.sha256(c.token.encode()).hexdigest(), c.email
        assert (
            _post(random.choice(bases), "/api/auth/refresh", {"refresh_token": c.token})[0] == 200
        )
    assert sum(c.ended_reason is None for c in clients) >= CLIENTS - 1

    for key in store_redis.scan_iter("*"):
        if key.endswith(":user") or ":email:" in key:
            continue
        assert store_redis.pttl(key) > 0, key
    store_redis.close()


def _b64(segment: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
