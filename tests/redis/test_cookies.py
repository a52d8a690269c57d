"""Cookie mode for browsers: HttpOnly token cookies, signed double-submit CSRF on every
state-changing request, cleared on logout."""

from __future__ import annotations

import jwt
import pytest

from tests.conftest import PASSWORD, AuthActions

HTTPS = "https://localhost"


@pytest.fixture
def cookie_login(auth) -> tuple[AuthActions, dict]:
    """A client logged in with cookies over HTTPS."""
    user = auth.register()
    response = auth.client.post(
        "/api/auth/login", base_url=HTTPS,
        json={"email": user["email"], "password": PASSWORD, "use_cookies": True},
    )  # fmt: skip
    assert response.status_code == 200
    return auth, {"response": response, **user}


def _cookies(response) -> dict[str, str]:
    """Set-Cookie headers by cookie name."""
    return {h.split("=", 1)[0]: h for h in response.headers.getlist("Set-Cookie")}


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _value(client, name: str, path: str = "/") -> str:
    cookie = client.get_cookie(name, domain="localhost", path=path)
    assert cookie is not None, name
    return cookie.value


def test_cookie_login_sets_hardened_cookies_and_no_tokens_in_the_body(cookie_login):
    _, login = cookie_login
    response = login["response"]
    assert set(response.json) == {"token_type", "expires_in", "refresh_expires_in", "session_id"}
    assert response.headers["Cache-Control"] == "no-store"
    cookies = _cookies(response)
    access = cookies["__Host-access_token_cookie"]
    refresh = cookies["__Secure-refresh_token_cookie"]
    for header in (access, refresh):
        assert "HttpOnly" in header and "Secure" in header and "SameSite=Strict" in header
    assert "Path=/;" in access + ";" and "Domain" not in access
    assert "Path=/api/auth" in refresh
    for name in ("csrf_access_token", "csrf_refresh_token"):
        assert "HttpOnly" not in cookies[name]
        assert "Secure" in cookies[name] and "SameSite=Strict" in cookies[name]


def test_cookie_reads_need_no_csrf_but_writes_do(cookie_login):
    auth, _ = cookie_login
    client = auth.client
    assert client.get("/api/auth/me", base_url=HTTPS).status_code == 200
    sessions = client.get("/api/auth/sessions", base_url=HTTPS).json["sessions"]
    target = f"/api/auth/sessions/{sessions[0]['id']}"
    for headers in ({}, {"X-CSRF-TOKEN": "forged"}):
        response = client.delete(target, base_url=HTTPS, headers=headers)
        assert response.status_code == 403
        assert response.json["error"]["code"] == "csrf_failed"
    assert client.get("/api/auth/me", base_url=HTTPS).status_code == 200  # nothing happened


def test_a_planted_csrf_cookie_does_not_help_an_attacker(cookie_login):
    auth, _ = cookie_login
    client = auth.client
    client.set_cookie("csrf_access_token", "attacker-chosen", domain="localhost")
    response = client.post(
        "/api/auth/logout", base_url=HTTPS, headers={"X-CSRF-TOKEN": "attacker-chosen"}
    )
    assert response.status_code == 403
    assert client.get("/api/auth/me", base_url=HTTPS).status_code == 200


def test_cookie_refresh_needs_the_refresh_csrf_and_rotates_the_cookies(cookie_login):
    auth, _ = cookie_login
    client = auth.client
    old_refresh = _value(client, "__Secure-refresh_token_cookie", "/api/auth")
    refused = client.post("/api/auth/refresh", base_url=HTTPS)
    assert refused.status_code == 403
    csrf = _value(client, "csrf_refresh_token")
    response = client.post("/api/auth/refresh", base_url=HTTPS, headers={"X-CSRF-TOKEN": csrf})
    assert response.status_code == 200
    assert "access_token" not in response.json
    assert _value(client, "__Secure-refresh_token_cookie", "/api/auth") != old_refresh
    assert client.get("/api/auth/me", base_url=HTTPS).status_code == 200


def test_cookie_logout_with_csrf_ends_the_session_and_clears_cookies(cookie_login):
    auth, _ = cookie_login
    client = auth.client
    access = _value(client, "__Host-access_token_cookie")
    csrf = _value(client, "csrf_access_token")
    response = client.post("/api/auth/logout", base_url=HTTPS, headers={"X-CSRF-TOKEN": csrf})
    assert response.status_code == 204
    cleared = _cookies(response)
    assert {"__Host-access_token_cookie", "__Secure-refresh_token_cookie", "csrf_access_token",
            "csrf_refresh_token"} <= set(cleared)  # fmt: skip
    assert all("Max-Age=0" in header or "Expires=Thu, 01 Jan 1970" in header
               for header in cleared.values())  # fmt: skip
    assert auth.me(access).status_code == 401  # the token itself is dead, not just forgotten


def test_a_token_in_both_header_and_cookie_is_a_bad_request(cookie_login):
    auth, _ = cookie_login
    access = _value(auth.client, "__Host-access_token_cookie")
    response = auth.client.get(
        "/api/auth/me", base_url=HTTPS, headers={"Authorization": f"Bearer {access}"}
    )
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_request"


def test_insecure_cookies_for_local_http(auth_with):
    auth = auth_with(cookie_secure=False)
    user = auth.register()
    response = auth.client.post(
        "/api/auth/login",
        json={"email": user["email"], "password": PASSWORD, "use_cookies": True},
    )
    cookies = _cookies(response)
    assert "access_token_cookie" in cookies and "refresh_token_cookie" in cookies
    assert all("Secure" not in header for header in cookies.values())
    assert auth.client.get("/api/auth/me").status_code == 200


def test_only_cookie_mode_tokens_carry_a_csrf_value(cookie_login, auth):
    """A bearer token's csrf claim is empty: planted in a cookie it reads (as any cookie does
    without CSRF) but never writes, whatever X-CSRF-TOKEN says."""
    cookie_claims = _claims(_value(auth.client, "__Host-access_token_cookie"))
    assert len(cookie_claims["csrf"]) >= 22
    bearer = auth.register_and_login()
    assert _claims(bearer["access_token"])["csrf"] == ""
    assert _claims(bearer["refresh_token"])["csrf"] == ""
    planted = auth.client.application.test_client()
    planted.set_cookie("__Host-access_token_cookie", bearer["access_token"], domain="localhost")
    for csrf in ("", " ", "null"):
        response = planted.post("/api/auth/logout", base_url=HTTPS, headers={"X-CSRF-TOKEN": csrf})
        assert response.status_code == 403
    bearer_client = AuthActions(auth.client.application.test_client())
    assert bearer_client.me(bearer["access_token"]).status_code == 200  # nothing was ended


def test_a_grace_replay_is_answered_where_the_pair_first_was(auth):
    """The same answer again: a retry that now asks for cookies gets the pair in the body, as
    the request it repeats did (the pair's tokens carry no CSRF values to set)."""
    pair = auth.register_and_login()
    first = auth.refresh(pair["refresh_token"]).json
    replay = auth.client.post(
        "/api/auth/refresh", base_url=HTTPS,
        json={"refresh_token": pair["refresh_token"], "use_cookies": True},
    )  # fmt: skip
    assert replay.status_code == 200
    assert replay.json["refresh_token"] == first["refresh_token"]
    assert not replay.headers.getlist("Set-Cookie")


def test_bearer_clients_are_unaffected_by_cookie_mode(auth):
    pair = auth.register_and_login()
    assert "refresh_token" in pair
    assert auth.post("/api/auth/logout", pair["access_token"]).status_code == 204


def test_cors_allows_only_the_configured_origins_with_credentials(auth_with):
    client = auth_with(cors_origins=("https://app.example.com",)).client
    allowed = client.options(
        "/api/auth/me",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-CSRF-TOKEN",
        },
    )
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert allowed.headers["Access-Control-Allow-Credentials"] == "true"
    assert "x-csrf-token" in allowed.headers["Access-Control-Allow-Headers"].lower()
    evil = client.get("/api/auth/me", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in evil.headers


def test_without_cors_origins_there_are_no_cors_headers(client):
    response = client.get("/api/auth/me", headers={"Origin": "https://app.example.com"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_a_wildcard_origin_is_refused_at_startup():
    from config import ConfigError, Settings

    with pytest.raises(ConfigError, match="CORS_ORIGINS"):
        Settings.from_env({"JWT_SECRET_KEY": "s" * 32, "CORS_ORIGINS": "*"})
