"""No secret in any log line: a real gunicorn (access log on) in front of a password-protected
redis-server, a session of requests that carry tokens and passwords in bodies, headers, cookies
and query strings, then every line of the log (the app's and gunicorn's) searched for each."""

from __future__ import annotations

import json
import re
import secrets
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import redis

from tests.conftest import PASSWORD, SECRET
from tests.servers import Gunicorn, RedisServer, http_call, wait_until

pytestmark = [pytest.mark.redis, pytest.mark.slow]

NEW_PASSWORD = "a second long passphrase"
WRONG_PASSWORD = "not the password at all"


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


class Session:
    """Requests of one client, remembering every secret it sent or received."""

    def __init__(self, url: str, secrets_used: set[str]) -> None:
        self.url = url
        self.secrets = secrets_used

    def call(self, method: str, path: str, body: dict | None = None, headers=None):
        status, response_headers, raw = http_call(self.url + path, method, body, headers)
        answer = json.loads(raw) if raw and raw.startswith(b"{") else {}
        for name in ("access_token", "refresh_token", "token"):
            if isinstance(answer.get(name), str):
                self.secrets.add(answer[name])
        for header in response_headers.get_all("Set-Cookie") or []:
            for morsel in SimpleCookie(header).values():
                if morsel.value:
                    self.secrets.add(morsel.value)
        return status, response_headers, answer


@pytest.fixture
def logged(tmp_path: Path):
    """gunicorn with the access log on, in front of a redis-server that wants a password given
    in REDIS_URL's query string; yields the server, its log file and the secrets it holds."""
    redis_password = secrets.token_urlsafe(24)
    redis_server = RedisServer(tmp_path / "redis").spawn("--requirepass", redis_password)
    with redis_server.client(password=redis_password, socket_timeout=0.5) as probe:
        wait_until(lambda: _answers(probe))
    held = {
        "redis": redis_password,
        "jwt": SECRET,
        "pepper": secrets.token_urlsafe(40),
        "metrics": secrets.token_urlsafe(24),
    }
    server = Gunicorn(
        {
            "REDIS_URL": f"redis://127.0.0.1:{redis_server.port}/0?password={redis_password}",
            "JWT_SECRET_KEY": held["jwt"],
            "PASSWORD_PEPPER": held["pepper"],
            "METRICS_TOKEN": held["metrics"],
            "ROTOR_ENV": "production",
            "BCRYPT_ROUNDS": "10",
            "WEB_CONCURRENCY": "1",
            "GUNICORN_ACCESSLOG": "-",
            "COOKIE_SECURE": "0",
            "LOG_LEVEL": "DEBUG",
        }
    )
    log_path = tmp_path / "gunicorn.log"
    server.start(log_path)
    yield server, log_path, held
    server.stop()
    redis_server.stop()


def _run_a_session(client: Session, held: dict[str, str]) -> None:
    email = "logged@example.com"
    credentials = {"email": email, "password": PASSWORD}
    assert client.call("POST", "/api/auth/register", credentials)[0] == 201
    status, _, pair = client.call("POST", "/api/auth/login", credentials)
    assert status == 200
    access, refresh = pair["access_token"], pair["refresh_token"]
    bearer = {"Authorization": f"Bearer {access}"}

    assert client.call("GET", "/api/auth/me", headers=bearer)[0] == 200
    for query in (f"access_token={access}", f"jwt={access}&password={quote(PASSWORD)}"):
        assert client.call("GET", f"/api/auth/me?{query}")[0] == 401  # never read from URLs
    referer = {"Referer": f"https://app.example/cb?token={access}#refresh={refresh}", **bearer}
    assert client.call("GET", "/api/auth/sessions", headers=referer)[0] == 200
    status, _, rotated = client.call(
        "POST", f"/api/auth/refresh?refresh_token={refresh}", {"refresh_token": refresh}
    )
    assert status == 200
    assert client.call("POST", "/api/auth/refresh", {"refresh_token": refresh})[0] == 200  # grace
    assert client.call(
        "POST", "/api/auth/refresh", headers={"Authorization": f"Bearer {rotated['refresh_token']}"}
    )[0] == 200  # fmt: skip
    # A reuse: the consumed token after the successor moved on (a WARNING line).
    assert client.call("POST", "/api/auth/refresh", {"refresh_token": refresh})[0] == 401
    wrong = {"email": email, "password": WRONG_PASSWORD}
    assert (
        client.call("POST", f"/api/auth/login?password={quote_plus(WRONG_PASSWORD)}", wrong)[0]
        == 401
    )

    status, headers, _ = client.call(
        "POST", "/api/auth/login", {**credentials, "use_cookies": True}
    )
    assert status == 200
    jar = SimpleCookie()
    for header in headers.get_all("Set-Cookie"):
        jar.load(header)
    cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in jar.items())
    csrf = jar["csrf_access_token"].value
    cookies = {"Cookie": cookie, "X-CSRF-TOKEN": csrf}
    assert client.call("GET", "/api/auth/me", headers=cookies)[0] == 200

    status, _, fresh = client.call("POST", "/api/auth/login", credentials)
    change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    headers = {"Authorization": f"Bearer {fresh['access_token']}"}
    wrong_change = {"current_password": WRONG_PASSWORD, "new_password": NEW_PASSWORD}
    assert client.call("POST", "/api/auth/password", wrong_change, headers)[0] == 403
    assert client.call("POST", "/api/auth/password", change, headers)[0] == 204
    assert (
        client.call("POST", "/api/auth/login", {"email": email, "password": NEW_PASSWORD})[0] == 200
    )

    metrics = {"Authorization": f"Bearer {held['metrics']}"}
    assert client.call("GET", f"/metrics?token={held['metrics']}", headers=metrics)[0] == 200
    assert client.call("POST", "/api/auth/logout", headers=headers)[0] == 204


def test_no_secret_reaches_any_log_line(logged):
    server, log_path, held = logged
    used: set[str] = set()
    _run_a_session(Session(server.url, used), held)
    server.stop()  # every line written and flushed

    lines = log_path.read_text().splitlines()
    records = [json.loads(line) for line in lines]
    access = [r["message"] for r in records if r["logger"] == "gunicorn.access"]
    assert any("GET /api/auth/me " in line for line in access)  # the access log was on
    assert any(r.get("event") == "reuse_detected" for r in records)
    [ready] = [r for r in records if r["message"] == "rotor ready"]
    assert ready["settings"]["redis_url"].endswith("/0?password=***")

    plain = {*used, *held.values(), PASSWORD, NEW_PASSWORD, WRONG_PASSWORD}
    searched = plain | {quote(secret) for secret in plain} | {quote_plus(s) for s in plain}
    assert len(used) >= 10  # tokens and cookies of the session were collected
    for line in lines:
        for secret in searched:
            assert secret not in line, f"a secret ({len(secret)} chars) in: {line[:160]}"
        assert not re.search(r"\$2[aby]\$\d\d\$", line), f"a bcrypt hash in: {line[:160]}"
