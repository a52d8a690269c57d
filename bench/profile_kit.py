"""Profile the resource-server kit in-process: CPU per request of examples/resource_server's
protected endpoint through the WSGI app (no HTTP server), next to the ceiling's GET and to the
same endpoint with flask-jwt-extended alone (no revocation check), against a private
redis-server and a real Rotor access token.

    .venv/bin/python bench/profile_kit.py [-n 2000] [--rounds 7]
    .venv/bin/python bench/profile_kit.py --cprofile kit        # where the time goes
    valgrind --tool=callgrind .venv/bin/python bench/profile_kit.py --only kit -n 0
    valgrind --tool=callgrind .venv/bin/python bench/profile_kit.py --only kit -n 2000
    # instructions per request: the difference of the two totals, divided by 2000
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from flask import Flask  # noqa: E402
from werkzeug.test import EnvironBuilder  # noqa: E402

from app import create_app  # noqa: E402
from config import Settings  # noqa: E402
from tests.servers import RedisServer  # noqa: E402

SECRET = "profile-secret-profile-secret-profile-secret-0123456789abcdef"


def _call(app: Flask, environ: dict) -> int:
    status: list[str] = []
    b"".join(app(environ, lambda s, h, e=None: status.append(s)))
    return int(status[0].split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="requests per scenario and round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--only", choices=["ceiling", "jwt", "kit"], help="one scenario, once")
    parser.add_argument("--cprofile", choices=["ceiling", "jwt", "kit"])
    parser.add_argument("--sort", default="tottime", help="cProfile order (tottime, cumulative)")
    parser.add_argument("--lines", type=int, default=40)
    args = parser.parse_args()

    server = RedisServer(Path(tempfile.mkdtemp()) / "redis").start()
    settings = Settings(env="testing", jwt_secret_key=SECRET, bcrypt_rounds=4,
                        redis_url=server.url, access_token_ttl=3600,
                        ratelimit_enabled=False).validated()  # fmt: skip
    rotor = create_app(settings)
    credentials = {"email": "p@example.com", "password": "profile password"}
    with rotor.test_client() as client:
        client.post("/api/auth/register", json=credentials)
        token = client.post("/api/auth/login", json=credentials).json["access_token"]

    os.environ.update(REDIS_URL=server.url, JWT_SECRET_KEY=SECRET)
    from bench.ceiling import app as ceiling
    from bench.jwt_only import app as jwt_only
    from examples.resource_server.app import app as kit

    kit.extensions["rotor_resource_kit"].watch.wait_until_watching()
    bearer = EnvironBuilder(path="/api/protected", headers={"Authorization": f"Bearer {token}"})
    protected_environ = bearer.get_environ()
    ceiling_environ = EnvironBuilder(path="/ceiling").get_environ()
    apps = {"ceiling": (ceiling, ceiling_environ), "jwt": (jwt_only, protected_environ),
            "kit": (kit, protected_environ)}  # fmt: skip

    def scenario(name: str) -> Callable[[], None]:
        app, environ = apps[name]

        def call() -> None:
            assert _call(app, dict(environ)) == 200

        return call

    if args.only:
        call = scenario(args.only)
        call()  # the session known, the routes warm
        for _ in range(args.n):
            call()
        server.stop()
        return

    print(f"token: {len(token)} chars; {args.n} requests x {args.rounds} rounds, best round")
    scenarios = {name: scenario(name) for name in apps}
    best: dict[str, float] = {}
    for call in scenarios.values():
        for _ in range(200):
            call()
    for _ in range(args.rounds):  # interleaved: other load on the machine only adds time
        for name, call in scenarios.items():
            started = time.process_time()
            for _ in range(args.n):
                call()
            cpu = (time.process_time() - started) / args.n * 1e6
            best[name] = min(best.get(name, cpu), cpu)
    for name, cpu in best.items():
        print(f"{name:8s} CPU {cpu:6.1f} µs/req   ceiling/this {best['ceiling'] / cpu:.2f}")
    if args.cprofile:
        call = scenarios[args.cprofile]
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.n):
            call()
        profile.disable()
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(args.sort).print_stats(args.lines)
        print(out.getvalue())
    server.stop()


if __name__ == "__main__":
    main()
