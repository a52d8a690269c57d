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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=3000)
    parser.add_argument("--cprofile", choices=["me", "refresh", "ceiling"])
    args = parser.parse_args()

    server = RedisServer(Path(tempfile.mkdtemp()) / "redis").start()
    settings = Settings(env="testing", jwt_secret_key=SECRET, bcrypt_rounds=4,
                        redis_url=server.url, access_token_ttl=3600).validated()  # fmt: skip
    app = create_app(settings)
    credentials = {"email": "p@example.com", "password": "profile password"}
    _call(app, _environ("POST", "/api/auth/register", json=credentials))
    _, body = _call(app, _environ("POST", "/api/auth/login", json=credentials))
    pair = json.loads(body)

    from bench.ceiling import app as ceiling

    def me() -> None:
        headers = {"Authorization": f"Bearer {pair['token']}"}
        status, _ = _call(app, _environ("GET", "/api/auth/me", headers=headers))
        assert status == 200

    def refresh() -> None:
        body_json = {"refresh_token": pair["refresh_token"]}
        status, body = _call(app, _environ("POST", "/api/auth/refresh", json=body_json))
        assert status == 200, body
        pair.update(json.loads(body))

    def ceiling_post() -> None:
        status, _ = _call(ceiling, _environ("POST", "/ceiling", json={"refresh_token": "x" * 400}))
        assert status == 200

    def ceiling_get() -> None:
        status, _ = _call(ceiling, _environ("GET", "/ceiling"))
        assert status == 200

    scenarios = {"me": me, "refresh": refresh, "ceiling": ceiling_post, "ceiling GET": ceiling_get}
    for name, fn in scenarios.items():
        for _ in range(200):
            fn()
        redis_before = _cpu(server.process.pid)
        start, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(args.n):
            fn()
        wall = (time.perf_counter() - start) / args.n * 1e6
        cpu = (time.process_time() - cpu_start) / args.n * 1e6
        redis_cpu = (_cpu(server.process.pid) - redis_before) / args.n * 1e6
        print(f"{name:12s} wall {wall:7.1f}  app CPU {cpu:7.1f}  redis CPU {redis_cpu:6.1f} µs/req")
    if args.cprofile:
        fn = scenarios[args.cprofile]
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.n):
            fn()
        profile.disable()
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(35)
        print(out.getvalue())
    server.stop()


if __name__ == "__main__":
    main()
