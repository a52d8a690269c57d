"""Rate limits: failed password checks per account and IP (login and password change, counted
before the check), logins per IP, per session and IP on refresh, per IP on register;
429 ``rate_limited`` with Retry-After; counted in Redis under the key prefix."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import bcrypt
import pytest
from flask_jwt_extended import JWTManager

from tests.conftest import PASSWORD, AuthActions

pytestmark = pytest.mark.redis


@pytest.fixture
def limited(app_factory, real_backend, real_redis):
    """An app with rate limits on, counting in the real Redis (a server or a cluster, flushed
    through ``real_redis``); it connects from its settings, as the limiter does."""

    def build(**limits) -> AuthActions:
        return app_factory(
            ratelimit_enabled=True, redis_url=real_backend.url, redis_cluster=real_backend.cluster,
            **limits,
        )  # fmt: skip

    return build


def _login(auth: AuthActions, email: str, password: str, ip: str = "10.0.0.1"):
    return auth.client.post(
        "/api/auth/login", json={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": ip},
    )  # fmt: skip


def _assert_rate_limited(response) -> None:
    assert response.status_code == 429
    assert response.json["error"]["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) >= 0


def test_failed_logins_are_limited_per_account_and_ip_then_the_window_ends(limited):
    auth = limited(ratelimit_login_account="3 per 1 second")
    user = auth.register()
    for _ in range(3):
        assert _login(auth, user["email"], "wrong password", "10.0.0.1").status_code == 401
    _assert_rate_limited(_login(auth, user["email"], PASSWORD, "10.0.0.1"))
    assert _login(auth, user["email"], PASSWORD, "10.0.0.2").status_code == 200  # the owner
    time.sleep(1.1)  # the window is a Redis TTL: real time is the behaviour
    assert _login(auth, user["email"], PASSWORD, "10.0.0.1").status_code == 200


def test_guessing_from_many_addresses_never_locks_the_owner_out(limited):
    auth = limited(ratelimit_login_account="2/minute;3/hour")  # the brake: 100/hour
    user = auth.register()
    statuses = Counter(
        _login(auth, user["email"], "wrong password", f"10.0.1.{ip}").status_code
        for ip in range(1, 61)  # an attacker rotating addresses, each past its limit
        for _ in range(3)
    )
    # 2 checks for each of the first 50 addresses; then the brake (100/hour) is on and each
    # fresh address gets 1: 110 guesses reached bcrypt instead of 120.
    assert statuses == {401: 110, 429: 70}
    assert _login(auth, user["email"], PASSWORD, "192.0.2.7").status_code == 200


def test_the_brake_across_addresses_spares_an_address_that_has_not_failed(limited):
    auth = limited(ratelimit_login_account="3/minute", ratelimit_login_account_all_ips="5/hour")
    user = auth.register()
    for ip, failures in (("10.0.2.1", 3), ("10.0.2.2", 2)):  # 5 failures: the brake is on
        for _ in range(failures):
            assert _login(auth, user["email"], "wrong password", ip).status_code == 401
    braked = _login(auth, user["email"], PASSWORD, "10.0.2.2")  # failed lately: braked
    _assert_rate_limited(braked)
    assert int(braked.headers["Retry-After"]) <= 60  # until its own minute ends, not the hour
    # A fresh address gets its check (one guess each, while the brake is on)...
    assert _login(auth, user["email"], "wrong password", "10.0.2.3").status_code == 401
    _assert_rate_limited(_login(auth, user["email"], "wrong password", "10.0.2.3"))
    # ...and the owner, whose address has not failed, logs in.
    assert _login(auth, user["email"], PASSWORD, "192.0.2.7").status_code == 200


def test_concurrent_wrong_passwords_reach_bcrypt_at_most_the_limit(limited, monkeypatch):
    auth = limited(ratelimit_login_account="10/minute", ratelimit_login_ip="1000/minute")
    user = auth.register()
    checks: list[int] = []
    checkpw = bcrypt.checkpw
    monkeypatch.setattr(bcrypt, "checkpw", lambda *args: checks.append(1) or checkpw(*args))
    barrier = threading.Barrier(40)

    def guess(i: int):
        guesser = auth.app.test_client()
        barrier.wait()
        return guesser.post(
            "/api/auth/login", json={"email": user["email"], "password": f"wrong {i}"},
            environ_base={"REMOTE_ADDR": "10.0.3.1"},
        )  # fmt: skip

    with ThreadPoolExecutor(40) as pool:
        statuses = Counter(response.status_code for response in pool.map(guess, range(40)))
    assert statuses == {401: 10, 429: 30}
    assert len(checks) == 10


def test_wrong_current_passwords_are_limited_with_failed_logins(limited):
    auth = limited(ratelimit_login_account="3/minute")
    pair = auth.register_and_login()

    def change(current: str, ip: str):
        return auth.client.post(
            "/api/auth/password",
            json={"current_password": current, "new_password": "another long passphrase"},
            headers={"Authorization": f"Bearer {pair['access_token']}"},
            environ_base={"REMOTE_ADDR": ip},
        )

    for _ in range(2):
        assert change("not my password", "10.0.4.1").status_code == 403
    assert _login(auth, pair["email"], "nor this one", "10.0.4.1").status_code == 401
    _assert_rate_limited(change(PASSWORD, "10.0.4.1"))  # one budget: logins and changes
    _assert_rate_limited(_login(auth, pair["email"], PASSWORD, "10.0.4.1"))
    assert change(PASSWORD, "10.0.4.2").status_code == 204


def test_successful_logins_do_not_count_against_the_account(limited):
    auth = limited(ratelimit_login_account="2 per minute")
    user = auth.register()
    for _ in range(4):
        assert _login(auth, user["email"], PASSWORD).status_code == 200
    assert _login(auth, user["email"], "wrong password").status_code == 401
    assert _login(auth, user["email"], PASSWORD).status_code == 200
    assert _login(auth, user["email"], "wrong password").status_code == 401
    _assert_rate_limited(_login(auth, user["email"], PASSWORD))


def test_logins_from_one_ip_are_limited(limited, caplog):
    caplog.set_level(logging.INFO, logger="rotor.audit")
    auth = limited(ratelimit_login_ip="3 per minute")
    emails = [auth.register()["email"] for _ in range(4)]
    for email in emails[:3]:
        assert _login(auth, email, PASSWORD, "10.9.9.9").status_code == 200
    _assert_rate_limited(_login(auth, emails[3], PASSWORD, "10.9.9.9"))
    [event] = [r for r in caplog.records if getattr(r, "event", None) == "rate_limited"]
    assert (event.endpoint, event.ip) == ("auth.login", "10.9.9.9")
    assert _login(auth, emails[3], PASSWORD, "10.9.9.8").status_code == 200


def test_refreshes_of_one_session_are_limited(limited):
    auth = limited(ratelimit_refresh_session="2 per minute")
    pair = auth.register_and_login()
    other = auth.login(pair["email"])
    token = pair["refresh_token"]
    for _ in range(2):
        token = auth.refresh(token).json["refresh_token"]
    _assert_rate_limited(auth.refresh(token))
    assert auth.refresh(other["refresh_token"]).status_code == 200
    assert auth.refresh(token).status_code == 429  # refused before it was consumed


@pytest.mark.parametrize("sent_in", ["body", "authorization header"])
def test_a_limited_refresh_verifies_its_token_once(limited, monkeypatch, sent_in):
    """The limiter's per-session key and the view need the same claims: one verification."""
    auth = limited()
    pair = auth.register_and_login()
    verified: list[str] = []
    original = JWTManager._decode_jwt_from_config  # the library's one way to verify a token

    def counting(self, encoded_token, *args, **kwargs):
        claims = original(self, encoded_token, *args, **kwargs)
        verified.append(claims["type"])
        return claims

    monkeypatch.setattr(JWTManager, "_decode_jwt_from_config", counting)
    if sent_in == "body":
        response = auth.refresh(pair["refresh_token"])
    else:
        response = auth.post("/api/auth/refresh", pair["refresh_token"])
    assert response.status_code == 200
    assert verified == ["refresh"]


def test_cookie_refreshes_behind_one_ip_are_limited_per_session(limited):
    """Two browsers behind one NAT: each session spends its own refresh budget."""
    auth = limited(ratelimit_refresh_session="2 per minute")
    app = auth.app
    browsers = []
    for _ in range(2):
        browser = app.test_client()
        user = AuthActions(browser).register()
        response = browser.post(
            "/api/auth/login", base_url="https://localhost",
            json={"email": user["email"], "password": PASSWORD, "use_cookies": True},
        )  # fmt: skip
        assert response.status_code == 200
        browsers.append(browser)

    def refresh(browser):
        csrf = browser.get_cookie("csrf_refresh_token", domain="localhost").value
        return browser.post(
            "/api/auth/refresh", base_url="https://localhost", headers={"X-CSRF-TOKEN": csrf},
            environ_base={"REMOTE_ADDR": "198.51.100.7"},
        )  # fmt: skip

    first, second = browsers
    for _ in range(2):
        assert refresh(first).status_code == 200
    _assert_rate_limited(refresh(first))
    assert refresh(second).status_code == 200  # same IP, its own session's budget


def test_registrations_from_one_ip_are_limited(limited):
    auth = limited(ratelimit_register_ip="2 per minute")
    for i in range(2):
        response = auth.client.post(
            "/api/auth/register", json={"email": f"r{i}@x.io", "password": PASSWORD}
        )
        assert response.status_code == 201
    _assert_rate_limited(
        auth.client.post("/api/auth/register", json={"email": "r9@x.io", "password": PASSWORD})
    )


def test_rate_limit_counters_live_under_the_key_prefix(limited, real_redis):
    auth = limited()
    auth.register_and_login()
    stored = list(real_redis.scan_iter("*"))
    assert any(key.startswith("auth:ratelimit") for key in stored)
    assert all(key.startswith("auth:") for key in stored)
    assert all(real_redis.ttl(key) > 0 for key in stored if key.startswith("auth:ratelimit"))


@pytest.mark.slow
def test_limiter_storage_down_answers_503(app_factory, private_server):
    client = app_factory(ratelimit_enabled=True, redis_url=private_server.url,
                         redis_timeout=0.5).client  # fmt: skip
    private_server.stop()
    response = client.post("/api/auth/login", json={"email": "a@x.io", "password": PASSWORD})
    assert response.status_code == 503
    assert response.json["error"]["code"] == "store_unavailable"
