"""What a resource server pays per request to honor logout: the kit versus introspection.

A small local measurement, not a load test: one redis-server of its own, Rotor under gunicorn
(one worker, for /api/auth/introspect), and three resource-server views measured in this
process through Flask's test client, one request at a time:

- ``jwt only``: flask-jwt-extended verifying the token, no revocation check at all (the floor);
- ``kit``: the same plus the kit's session check, the session already known (steady state);
- ``introspection``: no local verification; every request POSTs the token to Rotor's
  /api/auth/introspect over a kept-alive HTTP connection and waits for the answer.

and the kit's session check alone (``SessionWatch.is_live`` in a loop), which the difference
between the first two rows is too noisy to show on a shared machine.

For each: wall time per request (median of the rounds), this process's CPU per request, and
the Redis commands per request (INFO commandstats, less the kit's heartbeat PINGs). The
introspection row's Rotor CPU is not in "CPU": it is a second process doing Rotor's work.

    .venv/bin/python bench/resource_server.py [--requests 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from flask import Flask, jsonify  # noqa: E402
from flask_jwt_extended import JWTManager, get_jwt, jwt_required  # noqa: E402

from bench.introspecting import CLIENT_ID, CLIENT_SECRET  # noqa: E402
from bench.introspecting import create_app as create_introspecting_app  # noqa: E402
from rotor_resource_kit import RotorResourceServer, SessionWatch  # noqa: E402
from tests.servers import Gunicorn, RedisServer, http_call  # noqa: E402

SECRET = "bench-secret-that-is-long-enough-for-hs256-0123456789"


def protected_app(configure: Callable[[Flask], None]) -> Flask:
    app = Flask(__name__)
    configure(app)

    @app.get("/api/protected")
    @jwt_required()
    def protected():
        return jsonify(sub=get_jwt()["sub"], sid=get_jwt()["sid"])

    return app


def jwt_only(app: Flask) -> None:
    app.config.update(JWT_SECRET_KEY=SECRET, JWT_DECODE_AUDIENCE="rotor", JWT_DECODE_ISSUER="rotor")
    JWTManager(app)


def commands(redis_client) -> int:
    stats = redis_client.info("commandstats")
    return sum(
        int(v["calls"]) for k, v in stats.items() if k not in ("cmdstat_ping", "cmdstat_info")
    )


def measure(app: Flask, token: str, requests: int, redis_client) -> tuple[float, float, float]:
    """(wall µs, CPU µs, Redis commands) per request over ``requests`` requests."""
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/protected", headers=headers).status_code == 200  # warm
    before = commands(redis_client)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(requests):
        client.get("/api/protected", headers=headers)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    sent = commands(redis_client) - before
    return wall / requests * 1e6, cpu / requests * 1e6, sent / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="rotor-rs-bench-"))
    redis_server = RedisServer(workdir / "redis").start()
    rotor = Gunicorn(
        {"REDIS_URL": redis_server.url, "JWT_SECRET_KEY": SECRET, "ROTOR_ENV": "production",
         "BCRYPT_ROUNDS": "10", "WEB_CONCURRENCY": "1", "RATELIMIT_ENABLED": "0",
         "INTROSPECTION_CLIENTS": f"{CLIENT_ID}:{CLIENT_SECRET}"},
    ).start(workdir / "gunicorn.log")  # fmt: skip
    watch = SessionWatch(redis_server.url)
    try:
        body = {"email": "bench@example.com", "password": "a long bench passphrase"}
        http_call(f"{rotor.url}/api/auth/register", "POST", body)
        status, _, raw = http_call(f"{rotor.url}/api/auth/login", "POST", body)
        assert status == 200, raw
        token = json.loads(raw)["access_token"]
        assert watch.wait_until_watching()
        apps = {
            "jwt only (no revocation check)": protected_app(jwt_only),
            "kit (session known)": protected_app(
                lambda app: RotorResourceServer(app, watch=watch, secret_key=SECRET)
            ),
            "introspection per request": create_introspecting_app(rotor.port),
        }
        results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in apps}
        probe = redis_server.client()
        for _ in range(args.rounds):  # interleaved, so machine noise hits every row alike
            for name, app in apps.items():
                results[name].append(measure(app, token, args.requests, probe))
        print(f"{args.requests} requests x {args.rounds} rounds, one at a time, in-process")
        print(
            "| resource server | wall µs/req | CPU µs/req (this process) "
            "| Redis commands/req (a script's inner reads included) |"
        )
        print("| --- | ---: | ---: | ---: |")
        for name, rows in results.items():
            wall = statistics.median(r[0] for r in rows)
            cpu = statistics.median(r[1] for r in rows)
            sent = statistics.median(r[2] for r in rows)
            print(f"| {name} | {wall:.0f} | {cpu:.0f} | {sent:.2f} |")
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        calls = 20 * args.requests
        started = time.perf_counter()
        for _ in range(calls):
            watch.is_live(claims["sub"], claims["sid"], claims["jti"])
        check = (time.perf_counter() - started) / calls * 1e6
        print(
            f"the kit's session check alone (SessionWatch.is_live, known session): {check:.1f} µs"
        )
        probe.close()
    finally:
        watch.close()
        rotor.stop()
        redis_server.stop()


if __name__ == "__main__":
    main()
