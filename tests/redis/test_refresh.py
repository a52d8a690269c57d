"""Rotation, grace replay and reuse detection (API.md "Token semantics")."""

from __future__ import annotations

import threading
import time

import jwt
import pytest

from tests.conftest import SECRET


def _claims(token: str) -> dict:
    return jwt.decode(token, SECRET, algorithms=["HS256"], audience="rotor")


def test_refresh_rotates_to_a_new_pair_and_consumed_token_is_refused(auth_with):
    auth = auth_with(refresh_reuse_grace=0)
    pair = auth.register_and_login()
    response = auth.refresh(pair["refresh_token"])
    assert response.status_code == 200
    new = response.json
    assert new["refresh_token"] != pair["refresh_token"]
    assert new["access_token"] != pair["access_token"]
    assert new["token"] == new["access_token"]
    assert new["token_type"] == "Bearer"
    assert new["session_id"] == pair["session_id"]
    assert response.headers["Cache-Control"] == "no-store"
    assert _claims(new["refresh_token"])["gen"] == _claims(pair["refresh_token"])["gen"] + 1
    assert auth.me(new["access_token"]).status_code == 200

    again = auth.refresh(pair["refresh_token"])
    assert again.status_code == 401
    assert again.json["error"]["code"] == "token_reused"


def test_reused_refresh_token_ends_the_whole_family(auth):
    pair = auth.register_and_login()
    second = auth.refresh(pair["refresh_token"]).json
    third = auth.refresh(second["refresh_token"]).json  # second's successor used: no grace

    reused = auth.refresh(pair["refresh_token"])
    assert reused.status_code == 401
    assert reused.json["error"]["code"] == "token_reused"
    assert 'error="invalid_token"' in reused.headers["WWW-Authenticate"]
    # The thief's and the victim's latest tokens die together, access tokens included.
    assert auth.refresh(third["refresh_token"]).json["error"]["code"] == "token_revoked"
    assert auth.me(third["access_token"]).status_code == 401
    assert auth.me(pair["access_token"]).status_code == 401


def test_reuse_leaves_other_sessions_of_the_user_alive(auth):
    user = auth.register()
    phone = auth.login(user["email"])
    laptop = auth.login(user["email"])
    auth.refresh(phone["refresh_token"])
    auth.refresh(auth.refresh(phone["refresh_token"]).json["refresh_token"])
    assert auth.refresh(phone["refresh_token"]).json["error"]["code"] == "token_reused"
    assert auth.me(laptop["access_token"]).status_code == 200
    assert auth.refresh(laptop["refresh_token"]).status_code == 200


def test_grace_replay_returns_the_same_successor_pair(auth):
    pair = auth.register_and_login()
    first = auth.refresh(pair["refresh_token"])
    replay = auth.refresh(pair["refresh_token"])
    assert replay.status_code == 200
    assert replay.json["access_token"] == first.json["access_token"]
    assert replay.json["refresh_token"] == first.json["refresh_token"]
    assert replay.headers["Cache-Control"] == "no-store"
    # The session is intact: the successor still rotates.
    assert auth.refresh(first.json["refresh_token"]).status_code == 200


def test_grace_replay_is_refused_once_the_successor_was_used(auth):
    pair = auth.register_and_login()
    successor = auth.refresh(pair["refresh_token"]).json
    assert auth.refresh(successor["refresh_token"]).status_code == 200
    late = auth.refresh(pair["refresh_token"])
    assert late.status_code == 401
    assert late.json["error"]["code"] == "token_reused"


@pytest.mark.slow
def test_grace_replay_is_refused_after_the_window(auth_with):
    auth = auth_with(refresh_reuse_grace=1)
    pair = auth.register_and_login()
    successor = auth.refresh(pair["refresh_token"]).json
    time.sleep(1.1)  # the window is the grace hash's Redis TTL: real time is the behaviour
    late = auth.refresh(pair["refresh_token"])
    assert late.json["error"]["code"] == "token_reused"
    assert auth.refresh(successor["refresh_token"]).json["error"]["code"] == "token_revoked"


def test_refresh_accepts_the_token_in_the_authorization_header(auth, client):
    pair = auth.register_and_login()
    response = client.post(
        "/api/auth/refresh", headers={"Authorization": f"Bearer {pair['refresh_token']}"}
    )
    assert response.status_code == 200


def test_refresh_token_sent_twice_is_a_bad_request(auth, client):
    pair = auth.register_and_login()
    response = client.post(
        "/api/auth/refresh",
        json={"refresh_token": pair["refresh_token"]},
        headers={"Authorization": f"Bearer {pair['refresh_token']}"},
    )
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_request"
    # Nothing was consumed.
    assert auth.refresh(pair["refresh_token"]).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 401, "missing_token"),
        ({"refresh_token": "not-a-jwt"}, 401, "invalid_token"),
        ({"refresh_token": 42}, 422, "validation_error"),
        ({"refresh_token": "x", "extra": 1}, 422, "validation_error"),
    ],
)
def test_refresh_with_bad_input_is_refused(client, body, status, code):
    response = client.post("/api/auth/refresh", json=body)
    assert response.status_code == status
    assert response.json["error"]["code"] == code
    if status == 401 and code == "missing_token":
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="rotor"'


def test_access_token_is_refused_where_a_refresh_token_is_expected(auth):
    pair = auth.register_and_login()
    response = auth.refresh(pair["access_token"])
    assert response.status_code == 401
    assert response.json["error"]["code"] == "invalid_token"


def test_refresh_token_is_refused_where_an_access_token_is_expected(auth):
    pair = auth.register_and_login()
    response = auth.me(pair["refresh_token"])
    assert response.status_code == 401
    assert response.json["error"]["code"] == "invalid_token"


def test_refresh_expiry_agrees_with_the_session_deadline(auth_with, redis_client, keys):
    auth = auth_with(refresh_token_ttl=3600, session_max_lifetime=5000)
    pair = auth.register_and_login()
    claims = _claims(pair["refresh_token"])
    assert pair["refresh_expires_in"] == 3600
    assert claims["exp"] - claims["iat"] == 3600
    assert pair["expires_in"] == 900
    key = keys.session(pair["user_id"], pair["session_id"])
    # TTLs are set relative to the app's clock (immune to skew): the request's ms may differ.
    assert abs(redis_client.pexpiretime(key) - claims["exp"] * 1000) <= 1000

    # Near the absolute deadline the idle window is cut short.
    auth = auth_with(refresh_token_ttl=3600, session_max_lifetime=600)
    pair = auth.register_and_login()
    claims = _claims(pair["refresh_token"])
    assert pair["refresh_expires_in"] == 600 == claims["exp"] - claims["iat"]
    rotated = auth.refresh(pair["refresh_token"]).json
    assert _claims(rotated["refresh_token"])["exp"] == claims["exp"]
    assert 0 < rotated["refresh_expires_in"] <= 600


def test_no_access_token_outlives_the_session_deadline(auth_with):
    """A session's last pairs: the access token ends with the session, not 900 s later."""
    auth = auth_with(refresh_token_ttl=3600, session_max_lifetime=600)
    pair = auth.register_and_login()
    access, refresh = _claims(pair["access_token"]), _claims(pair["refresh_token"])
    assert access["exp"] == refresh["exp"] == refresh["sxp"]
    assert access["exp"] - access["iat"] == 600
    assert 0 < pair["expires_in"] <= 600

    rotated = auth.refresh(pair["refresh_token"]).json
    assert _claims(rotated["access_token"])["exp"] == refresh["sxp"]
    assert 0 < rotated["expires_in"] <= 600
    assert rotated["expires_in"] == rotated["refresh_expires_in"]
    assert auth.me(rotated["access_token"]).status_code == 200


def test_an_idle_session_expires_with_its_refresh_token(
    auth_with, redis_client, keys, time_machine
):
    auth = auth_with(refresh_token_ttl=1)
    pair = auth.register_and_login()
    # Redis drops the session within the idle TTL: its key's own TTL (Redis keeps real time).
    assert 0 < redis_client.pttl(keys.session(pair["user_id"], pair["session_id"])) <= 1000
    time_machine.move_to(_claims(pair["refresh_token"])["exp"] + 1)
    response = auth.refresh(pair["refresh_token"])
    assert response.status_code == 401
    assert response.json["error"]["code"] == "token_expired"


def test_rotation_cannot_extend_a_session_past_its_absolute_lifetime(auth_with, time_machine):
    auth = auth_with(refresh_token_ttl=60, session_max_lifetime=2)
    time_machine.move_to(time.time(), tick=False)  # the clock moves only when the test says
    pair = auth.register_and_login()
    token = pair["refresh_token"]
    deadline = _claims(token)["sxp"]
    while time.time() < deadline - 0.3:
        response = auth.refresh(token)
        assert response.status_code == 200
        assert _claims(response.json["refresh_token"])["exp"] <= deadline
        token = response.json["refresh_token"]
        time_machine.shift(0.2)
    time_machine.shift(max(deadline - time.time(), 0) + 0.05)
    assert auth.refresh(token).json["error"]["code"] == "token_expired"


def _race(auth, token: str, threads: int = 16) -> list:
    barrier = threading.Barrier(threads)
    results: list = [None] * threads

    def refresh(i: int) -> None:
        barrier.wait()
        results[i] = auth.refresh(token)

    workers = [threading.Thread(target=refresh, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return results


@pytest.mark.redis
def test_concurrent_refreshes_without_grace_have_one_winner(app_factory, real_redis):
    auth = app_factory(real_redis, refresh_reuse_grace=0)
    pair = auth.register_and_login()
    results = _race(auth, pair["refresh_token"])
    winners = [r for r in results if r.status_code == 200]
    assert len(winners) == 1
    assert {r.json["error"]["code"] for r in results if r.status_code != 200} <= {
        "token_reused",
        "token_revoked",
    }
    # Presenting a consumed token ended the family: no live chain survives the race.
    assert auth.refresh(winners[0].json["refresh_token"]).status_code == 401


@pytest.mark.redis
def test_concurrent_refreshes_in_grace_all_get_the_same_successor(app_factory, real_redis):
    auth = app_factory(real_redis, refresh_reuse_grace=10)
    pair = auth.register_and_login()
    results = _race(auth, pair["refresh_token"])
    assert [r.status_code for r in results] == [200] * 16
    assert len({r.json["refresh_token"] for r in results}) == 1
    assert len({r.json["access_token"] for r in results}) == 1
    # That one successor is the live chain.
    assert auth.refresh(results[0].json["refresh_token"]).status_code == 200


@pytest.mark.parametrize(
    ("policy", "reused_session_alive", "other_session_alive"),
    [
        ("revoke_session", False, True),
        ("revoke_user", False, False),
        ("alert_only", True, True),
    ],
)
def test_reuse_policy_decides_what_reuse_ends(
    auth_with, caplog, policy, reused_session_alive, other_session_alive
):
    auth = auth_with(reuse_policy=policy, refresh_reuse_grace=0)
    user = auth.register()
    phone = auth.login(user["email"])
    laptop = auth.login(user["email"])
    successor = auth.refresh(phone["refresh_token"]).json

    reused = auth.refresh(phone["refresh_token"])
    assert reused.status_code == 401
    assert reused.json["error"]["code"] == "token_reused"
    assert (auth.me(successor["access_token"]).status_code == 200) is reused_session_alive
    assert (auth.me(laptop["access_token"]).status_code == 200) is other_session_alive
    [event] = [r for r in caplog.records if getattr(r, "event", None) == "reuse_detected"]
    assert event.policy == policy
    assert event.session_id == phone["session_id"]
    assert phone["refresh_token"] not in caplog.text
