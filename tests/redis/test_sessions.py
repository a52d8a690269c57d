"""Sessions: listing, ending one, logout, logout-all, password change, the per-user limit."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD


def test_sessions_lists_only_the_callers_sessions_newest_first(auth):
    user = auth.register()
    first = auth.login(user["email"], user_agent="phone")
    second = auth.login(user["email"], user_agent="laptop")
    auth.register_and_login()  # someone else
    response = auth.get("/api/auth/sessions", second["access_token"])
    assert response.status_code == 200
    sessions = response.json["sessions"]
    assert [s["id"] for s in sessions] == [second["session_id"], first["session_id"]]
    assert [s["current"] for s in sessions] == [True, False]
    assert [s["user_agent"] for s in sessions] == ["laptop", "phone"]
    assert set(sessions[0]) == {
        "id",
        "created_at",
        "last_used_at",
        "expires_at",
        "user_agent",
        "ip",
        "current",
    }
    body = response.get_data(as_text=True)
    assert first["refresh_token"] not in body and first["access_token"] not in body


def test_last_used_moves_on_refresh(auth):
    pair = auth.register_and_login()
    before = auth.get("/api/auth/sessions", pair["access_token"]).json["sessions"][0]
    new = auth.refresh(pair["refresh_token"]).json
    after = auth.get("/api/auth/sessions", new["access_token"]).json["sessions"][0]
    assert after["last_used_at"] >= before["last_used_at"]
    assert after["created_at"] == before["created_at"]


def test_ending_a_session_kills_its_tokens_at_once(auth):
    user = auth.register()
    phone = auth.login(user["email"])
    laptop = auth.login(user["email"])
    response = auth.delete(f"/api/auth/sessions/{phone['session_id']}", laptop["access_token"])
    assert response.status_code == 204
    assert auth.me(phone["access_token"]).json["error"]["code"] == "token_revoked"
    assert auth.refresh(phone["refresh_token"]).json["error"]["code"] == "token_revoked"
    assert auth.me(laptop["access_token"]).status_code == 200


@pytest.mark.parametrize("session_id", ["another-users", "0" * 24, "zz", "x" * 80])
def test_ending_someone_elses_or_unknown_session_is_not_found(auth, session_id):
    mine = auth.register_and_login()
    theirs = auth.register_and_login()
    target = theirs["session_id"] if session_id == "another-users" else session_id
    response = auth.delete(f"/api/auth/sessions/{target}", mine["access_token"])
    assert response.status_code == 404
    assert response.json["error"]["code"] == "session_not_found"
    assert auth.me(theirs["access_token"]).status_code == 200


def test_logout_ends_the_session_and_its_access_token(auth, redis_client, keys):
    pair = auth.register_and_login()
    assert auth.post("/api/auth/logout", pair["access_token"]).status_code == 204
    assert auth.me(pair["access_token"]).status_code == 401
    assert auth.refresh(pair["refresh_token"]).json["error"]["code"] == "token_revoked"
    denied = redis_client.keys(keys.denied(pair["user_id"], "*"))
    assert len(denied) == 1
    assert 0 < redis_client.ttl(denied[0]) <= 900


def test_logout_via_get_is_not_allowed(auth):
    pair = auth.register_and_login()
    response = auth.get("/api/auth/logout", pair["access_token"])
    assert response.status_code == 405
    assert response.json["error"]["code"] == "method_not_allowed"


def test_logout_all_ends_every_session_of_the_user_only(auth):
    user = auth.register()
    device_a = auth.login(user["email"])
    device_b = auth.login(user["email"])
    other = auth.register_and_login()
    assert auth.post("/api/auth/logout-all", device_a["access_token"]).status_code == 204
    for device in (device_a, device_b):
        assert auth.me(device["access_token"]).status_code == 401
        assert auth.refresh(device["refresh_token"]).status_code == 401
    assert auth.me(other["access_token"]).status_code == 200
    assert auth.refresh(other["refresh_token"]).status_code == 200


def test_password_change_ends_other_sessions_and_keeps_this_one(auth, client):
    user = auth.register()
    here = auth.login(user["email"])
    elsewhere = auth.login(user["email"])
    response = auth.post(
        "/api/auth/password",
        here["access_token"],
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
    )
    assert response.status_code == 204
    assert auth.me(here["access_token"]).status_code == 200
    assert auth.refresh(here["refresh_token"]).status_code == 200
    assert auth.me(elsewhere["access_token"]).status_code == 401
    assert auth.refresh(elsewhere["refresh_token"]).status_code == 401
    old = client.post("/api/auth/login", json={"email": user["email"], "password": PASSWORD})
    assert old.status_code == 401
    auth.login(user["email"], "a brand new passphrase")


def test_password_change_needs_the_current_password(auth):
    user = auth.register()
    here = auth.login(user["email"])
    elsewhere = auth.login(user["email"])
    response = auth.post(
        "/api/auth/password",
        here["access_token"],
        json={"current_password": "not my password", "new_password": "a brand new passphrase"},
    )
    assert response.status_code == 403
    assert response.json["error"]["code"] == "invalid_credentials"
    assert auth.me(elsewhere["access_token"]).status_code == 200
    auth.login(user["email"], PASSWORD)


def test_password_change_validates_the_new_password(auth):
    pair = auth.register_and_login()
    response = auth.post(
        "/api/auth/password",
        pair["access_token"],
        json={"current_password": PASSWORD, "new_password": "short"},
    )
    assert response.status_code == 422
    assert "new_password" in response.json["error"]["details"]


def test_login_beyond_the_limit_evicts_the_oldest_session(auth_with):
    auth = auth_with(max_sessions_per_user=3)
    user = auth.register()
    logins = [auth.login(user["email"], user_agent=f"device {i}") for i in range(4)]
    assert auth.me(logins[0]["access_token"]).json["error"]["code"] == "token_revoked"
    assert auth.refresh(logins[0]["refresh_token"]).status_code == 401
    for pair in logins[1:]:
        assert auth.me(pair["access_token"]).status_code == 200
    sessions = auth.get("/api/auth/sessions", logins[3]["access_token"]).json["sessions"]
    assert [s["user_agent"] for s in sessions] == ["device 3", "device 2", "device 1"]


def test_expired_index_entries_do_not_count_against_the_limit(auth_with, redis_client, keys):
    auth = auth_with(max_sessions_per_user=2)
    user = auth.register()
    first = auth.login(user["email"])
    # The session key expired (an operator's delete looks the same): its index entry lingers.
    redis_client.delete(keys.session(user["id"], first["session_id"]))
    second = auth.login(user["email"])
    third = auth.login(user["email"])
    assert auth.me(second["access_token"]).status_code == 200
    assert auth.me(third["access_token"]).status_code == 200
    assert redis_client.zcard(keys.sessions(user["id"])) == 2


@pytest.mark.parametrize(("trusted_proxies", "expected_ip"), [(0, "10.0.0.9"), (1, "203.0.113.5")])
def test_client_address_comes_from_trusted_proxies_only(auth_with, trusted_proxies, expected_ip):
    auth = auth_with(trusted_proxies=trusted_proxies)
    user = auth.register()
    response = auth.client.post(
        "/api/auth/login", json={"email": user["email"], "password": PASSWORD},
        headers={"X-Forwarded-For": "203.0.113.5"}, environ_base={"REMOTE_ADDR": "10.0.0.9"},
    )  # fmt: skip
    sessions = auth.get("/api/auth/sessions", response.json["access_token"]).json["sessions"]
    assert sessions[0]["ip"] == expected_ip
