"""Logins racing each other and racing a password change, on a real redis-server: many threads
released at once by a Barrier, or two requests interleaved at a chosen point by a hook."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

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


def test_concurrent_correct_logins_never_fail_with_500_and_keep_the_cap(
    settings, real_auth, real_redis, keys
):
    cap = settings.max_sessions_per_user  # 20
    user = real_auth.register()

    responses = _login_all_at_once(real_auth.app, user["email"], CONCURRENT_LOGINS)
    statuses = Counter(response.status_code for response in responses)
    assert set(statuses) <= {200, 503}, statuses
    assert statuses[200] > 0
    for response in responses:
        if response.status_code == 503:
            assert response.json["error"]["code"] == "store_unavailable"
            assert int(response.headers["Retry-After"]) > 0
    index = keys.sessions(user["id"])
    live = [sid for sid in real_redis.zrange(index, 0, -1)
            if real_redis.exists(keys.session(user["id"], sid))]  # fmt: skip
    assert len(live) == real_redis.zcard(index) == cap  # the cap holds, no stray index entry
    stored = set(real_redis.scan_iter(keys.session(user["id"], "*")))
    assert len(stored) == cap


class PausedAfterPasswordCheck:
    """Hooks the password check of one thread (the racer): once its bcrypt check has passed,
    it waits there until the test has done what must happen in between."""

    def __init__(self, monkeypatch, service) -> None:
        self.checked = threading.Event()
        self.resume = threading.Event()
        self.racer: int | None = None
        original = service.hasher.verify

        def verify(password, password_hash, *args, **kwargs):
            valid = original(password, password_hash, *args, **kwargs)
            if threading.get_ident() == self.racer:
                self.checked.set()
                assert self.resume.wait(10), "the test never resumed the racer"
            return valid

        monkeypatch.setattr(service.hasher, "verify", verify)

    def start(self, call) -> dict:
        """Run ``call`` in the racer thread; return once its password check has passed."""
        outcome: dict = {}

        def run() -> None:
            self.racer = threading.get_ident()
            outcome["response"] = call()

        outcome["thread"] = thread = threading.Thread(target=run)
        thread.start()
        assert self.checked.wait(10), "the racer never reached its password check"
        return outcome

    def finish(self, outcome: dict):
        self.resume.set()
        outcome["thread"].join(10)
        return outcome["response"]


@pytest.fixture
def raced(real_auth, monkeypatch):
    app = real_auth.app
    return app, PausedAfterPasswordCheck(monkeypatch, app.extensions["rotor.auth"])


def _change_password(auth: AuthActions, access_token: str, current: str, new: str):
    return auth.post("/api/auth/password", access_token,
                     json={"current_password": current, "new_password": new})  # fmt: skip


def test_a_login_checked_against_the_old_password_cannot_outlive_a_change(raced, real_redis, keys):
    app, pause = raced
    owner = AuthActions(app.test_client())
    user = owner.register()
    pair = owner.login(user["email"])
    racer = AuthActions(app.test_client())

    outcome = pause.start(lambda: racer.client.post(
        "/api/auth/login", json={"email": user["email"], "password": PASSWORD}))  # fmt: skip
    # The old password has passed bcrypt; now the owner changes it before the session opens.
    changed = _change_password(owner, pair["access_token"], PASSWORD, "a brand new passphrase")
    assert changed.status_code == 204
    response = pause.finish(outcome)

    assert response.status_code == 401
    assert response.json["error"]["code"] == "invalid_credentials"
    assert real_redis.zrange(keys.sessions(user["id"]), 0, -1) == [pair["session_id"]]
    assert owner.login(user["email"], "a brand new passphrase")["access_token"]


def test_a_password_change_checked_against_a_replaced_password_is_refused(raced):
    app, pause = raced
    owner = AuthActions(app.test_client())
    user = owner.register()
    first, second = owner.login(user["email"]), owner.login(user["email"])

    racer = AuthActions(app.test_client())
    outcome = pause.start(
        lambda: _change_password(racer, first["access_token"], PASSWORD, "the racer's choice")
    )
    changed = _change_password(owner, second["access_token"], PASSWORD, "the owner's choice")
    assert changed.status_code == 204
    response = pause.finish(outcome)

    assert response.status_code == 403  # its check passed, but against a replaced password
    assert response.json["error"]["code"] == "invalid_credentials"
    owner.login(user["email"], "the owner's choice")
    failed = owner.client.post(
        "/api/auth/login", json={"email": user["email"], "password": "the racer's choice"}
    )
    assert failed.status_code == 401
