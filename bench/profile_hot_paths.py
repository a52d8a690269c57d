"""Profile Rotor's hot paths in-process: µs per request for /me and /refresh through the WSGI
app (no HTTP server), against a private redis-server. `--cprofile` prints where time goes."""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from werkzeug.test import EnvironBuilder  # noqa: E402

from app import create_app  # noqa: E402
from config import Settings  # noqa: E402
from tests.servers import RedisServer  # noqa: E402

SECRET = "profile-secret-profile-secret-profile-secret-0123456789abcdef"


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _call(app, environ) -> tuple[int, bytes]:
    status: list[str] = []
    body = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
    return int(status[0].split()[0]), body


def _environ(method: str, path: str, **kwargs) -> dict:
    return EnvironBuilder(method=method, path=path, **kwargs).get_environ()


def _with_body(template: dict, body: bytes) -> dict:
    """A copy of a prepared environ with a new JSON body: keeps werkzeug's builder off the clock."""
    return {**template, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=1000, help="requests per scenario and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sort", default="tottime", help="cProfile order (tottime, cumulative)")
    parser.add_argument("--lines", type=int, default=35, help="cProfile lines to print")
    parser.add_argument("--cprofile", choices=["me", "refresh", "ceiling"])
    args = parser.parse_args()

    server = RedisServer(Path(tempfile.mkdtemp()) / "redis").start()
    settings = Settings(env="testing", jwt_secret_key=SECRET, bcrypt_rounds=4,
                        redis_url=server.url, access_token_ttl=3600,
                        ratelimit_enabled=False).validated()  # fmt: skip
    app = create_app(settings)
    credentials = {"email": "p@example.com", "password": "profile password"}
    _call(app, _environ("POST", "/api/auth/register", json=credentials))
    _, body = _call(app, _environ("POST", "/api/auth/login", json=credentials))
    pair = json.loads(body)

    from bench.ceiling import app as ceiling

    bearer = {"Authorization": f"Bearer {pair['token']}"}
    me_environ = _environ("GET", "/api/auth/me", headers=bearer)
    refresh_environ = _environ("POST", "/api/auth/refresh", json={})
    ceiling_post_environ = _environ("POST", "/ceiling", json={})
    ceiling_body = json.dumps({"refresh_token": "x" * 400}).encode()
    ceiling_get_environ = _environ("GET", "/ceiling")

    def me() -> None:
        status, _ = _call(app, dict(me_environ))
        assert status == 200

    def refresh() -> None:
        body = json.dumps({"refresh_token": pair["refresh_token"]}).encode()
        status, body = _call(app, _with_body(refresh_environ, body))
        assert status == 200, body
        pair.update(json.loads(body))

    def ceiling_post() -> None:
        status, _ = _call(ceiling, _with_body(ceiling_post_environ, ceiling_body))
        assert status == 200

    def ceiling_get() -> None:
        status, _ = _call(ceiling, dict(ceiling_get_environ))
        assert status == 200

    scenarios = {"me": me, "refresh": refresh, "ceiling": ceiling_post, "ceiling GET": ceiling_get}
    # Interleaved rounds, best round per scenario: other load on the machine only adds time.
    best: dict[str, tuple[float, float, float]] = {}
    for fn in scenarios.values():
        for _ in range(200):
            fn()
    for _ in range(args.rounds):
        for name, fn in scenarios.items():
            redis_before = _cpu(server.process.pid)
            start, cpu_start = time.perf_counter(), time.process_time()
            for _ in range(args.n):
                fn()
            wall = (time.perf_counter() - start) / args.n * 1e6
            cpu = (time.process_time() - cpu_start) / args.n * 1e6
            redis_cpu = (_cpu(server.process.pid) - redis_before) / args.n * 1e6
            if name not in best or cpu + redis_cpu < sum(best[name][1:]):
                best[name] = (wall, cpu, redis_cpu)
    for name, (wall, cpu, redis_cpu) in best.items():
        print(f"{name:12s} wall {wall:7.1f}  app CPU {cpu:7.1f}  redis CPU {redis_cpu:6.1f} µs/req")
    if args.cprofile:
        fn = scenarios[args.cprofile]
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.n):
            fn()
        profile.disable()
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out).sort_stats(args.sort)
        stats.print_stats(args.lines)
        print(out.getvalue())
    server.stop()


if __name__ == "__main__":
    main()
