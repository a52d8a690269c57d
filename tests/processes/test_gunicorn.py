"""Rotor as deployed: under gunicorn, several workers, one real Redis."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import PASSWORD, SECRET
from tests.servers import REPO, Gunicorn, RedisServer, http_call

pytestmark = [pytest.mark.redis, pytest.mark.slow]


_call = http_call


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    redis_server = RedisServer(tmp_path_factory.mktemp("gunicorn-redis")).start()
    server = Gunicorn(
        {
            "REDIS_URL": redis_server.url,
            "JWT_SECRET_KEY": SECRET,
            "ROTOR_ENV": "production",
            "BCRYPT_ROUNDS": "10",
            "WEB_CONCURRENCY": "2",
            "METRICS_TOKEN": "scrape-token",
        }
    )
    server.log_path = tmp_path_factory.mktemp("gunicorn-log") / "gunicorn.log"
    server.start(server.log_path)
    yield server
    server.stop()
    redis_server.stop()


def test_login_refresh_and_me_work_across_workers(served):
    base = served.url + "/api/auth"
    status, _, _ = _call(base + "/register", "POST", {"email": "g@x.io", "password": PASSWORD})
    assert status == 201
    status, headers, body = _call(
        base + "/login", "POST", {"email": "g@x.io", "password": PASSWORD}
    )
    assert status == 200
    assert headers["Cache-Control"] == "no-store"
    pair = json.loads(body)
    for _ in range(4):  # alternate workers: state lives in Redis only
        status, _, body = _call(base + "/refresh", "POST", {"refresh_token": pair["refresh_token"]})
        assert status == 200
        pair = json.loads(body)
        status, _, _ = _call(base + "/me", headers={"Authorization": f"Bearer {pair['token']}"})
        assert status == 200


@pytest.mark.parametrize(
    ("path", "headers", "status", "code"),
    [
        ("/api/auth/me", {"Authorization": "Bearer " + "x" * 65536}, 431, "header_too_large"),
        ("/api/auth/me?t=" + "x" * 65536, {}, 414, "uri_too_long"),
        ("/nope", {}, 404, "not_found"),
    ],
)
def test_oversized_and_unknown_requests_get_the_json_envelope(served, path, headers, status, code):
    got, response_headers, body = _call(served.url + path, headers=headers)
    assert got == status
    assert response_headers["Content-Type"] == "application/json"
    assert json.loads(body)["error"]["code"] == code


def test_several_workers_without_redis_refuse_to_start():
    server = Gunicorn({"REDIS_URL": "", "ROTOR_ENV": "development"}, "--workers", "2")
    result = subprocess.run(
        server.command(),
        cwd=REPO,
        env={k: v for k, v in server.env.items() if k != "REDIS_URL"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "workers need a shared Redis: set REDIS_URL" in result.stderr


def test_production_without_a_secret_stops_startup():
    env = {"ROTOR_ENV": "production", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "JWT_SECRET_KEY is not set" in result.stderr


def test_metrics_add_up_across_workers(served):
    for _ in range(30):
        assert _call(served.url + "/healthz")[0] == 200
    headers = {"Authorization": "Bearer scrape-token"}
    status, response_headers, body = _call(served.url + "/metrics", headers=headers)
    assert status == 200
    assert response_headers["Content-Type"].startswith("text/plain")
    line = 'rotor_http_requests_total{endpoint="/healthz",method="GET",status="200"}'
    [sample] = [row for row in body.decode().splitlines() if row.startswith(line)]
    assert float(sample.split()[-1]) == 30.0  # both workers' requests, not one worker's


def test_logs_are_json_lines(served):
    assert _call(served.url + "/api/auth/me")[0] == 401
    lines = served.log_path.read_text().splitlines()
    assert len(lines) > 3
    records = [json.loads(line) for line in lines]  # every line, gunicorn's own included
    assert {"ts", "level", "logger", "message"} <= set(records[0])
    assert any(r["logger"] == "gunicorn.error" for r in records)
    assert any(r["logger"] == "rotor" and r["message"] == "rotor ready" for r in records)
