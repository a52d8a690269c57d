"""Profile Rotor's hot paths in-process: µs per request for /me and /refresh through the WSGI
app (no HTTP server), against a private redis-server, next to the recipe's (bench/recipe.py),
the library floor's (bench/library_floor.py) and the ceiling's. `--cprofile` prints where time
goes; `--count` serves a fixed number of requests of one scenario and exits, for instruction
counts under callgrind (run it with N and with 0, and divide the difference by N).

As deployed under gunicorn (gunicorn.conf.py): Prometheus in multiprocess mode (samples in
memory-mapped files), JSON log lines (here to /dev/null), the app's objects frozen for gc.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import logging
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
# Read by prometheus_client when first imported, as gunicorn.conf.py sets it.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="rotor-profile-"))

from werkzeug.test import EnvironBuilder  # noqa: E402

from app import create_app  # noqa: E402
from app.logs import json_formatter, skip_unused_record_fields  # noqa: E402
from bench.without import PARTS, leave_out  # noqa: E402
from config import Settings  # noqa: E402
from tests.servers import RedisServer  # noqa: E402

SECRET = "profile-secret-profile-secret-profile-secret-0123456789abcdef"
SCENARIOS = (
    "me",
    "refresh",
    "recipe me",
    "recipe refresh",
    "library me",
    "library refresh",
    "ceiling",
    "ceiling GET",
)


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


def _log_as_deployed() -> None:
    """Every line formatted as gunicorn_logconfig does, written to /dev/null."""
    skip_unused_record_fields()
    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as we do
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def _print_redis_commands(server: RedisServer, requests: int) -> None:
    """What redis-server did per request: calls and µs inside it per command, bytes in."""
    client = server.client()
    for name, stats in client.info("commandstats").items():
        calls = stats["calls"] / requests
        print(f"redis {name:22s} {calls:4.2f} calls/req {stats['usec_per_call']:6.2f} µs/call")
    net = client.info("stats")
    print(
        f"redis bytes in {net['total_net_input_bytes'] / requests:7.0f}/req, out "
        f"{net['total_net_output_bytes'] / requests:7.0f}/req"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=1000, help="requests per scenario and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sort", default="tottime", help="cProfile order (tottime, cumulative)")
    parser.add_argument("--lines", type=int, default=35, help="cProfile lines to print")
    parser.add_argument("--cprofile", choices=SCENARIOS)
    parser.add_argument(
        "--count",
        nargs=2,
        metavar=("SCENARIO", "N"),
        help="serve N requests of SCENARIO after the warm-up, and exit",
    )
    parser.add_argument(
        "--without",
        nargs="*",
        default=[],
        choices=PARTS,
        help="leave out parts of Rotor's own work, to measure what each costs",
    )
    args = parser.parse_args()

    _log_as_deployed()
    server = RedisServer(Path(tempfile.mkdtemp()) / "redis").start()
    settings = Settings(
        env="testing",
        jwt_secret_key=SECRET,
        bcrypt_rounds=4,
        redis_url=server.url,
        access_token_ttl=3600,
        ratelimit_enabled=False,
        refresh_reuse_grace=0 if "grace" in args.without else 10,
    ).validated()
    app = leave_out(create_app(settings), args.without)
    # Emails as bench/run.py makes them: the recipe carries its user's email in every token.
    stamp = time.time_ns()
    credentials = {"email": f"load0-{stamp}@bench.example", "password": "profile password"}
    _call(app, _environ("POST", "/api/auth/register", json=credentials))
    _, body = _call(app, _environ("POST", "/api/auth/login", json=credentials))
    pair = json.loads(body)

    os.environ.update(JWT_SECRET_KEY=SECRET, REDIS_URL=server.url)
    from bench.ceiling import app as ceiling
    from bench.library_floor import app as library
    from bench.recipe import app as recipe

    recipe_login = {"email": f"recipe0-{stamp}@bench.example"}
    _, body = _call(recipe, _environ("POST", "/api/auth/login", json=recipe_login))
    recipe_pair = json.loads(body)
    _, body = _call(library, _environ("POST", "/api/auth/login", json=recipe_login))
    library_pair = json.loads(body)

    refresh_environ = _environ("POST", "/api/auth/refresh", json={})
    ceiling_post_environ = _environ("POST", "/ceiling", json={})
    ceiling_body = json.dumps({"refresh_token": "x" * 400}).encode()
    ceiling_get_environ = _environ("GET", "/ceiling")

    def hot_paths(wsgi_app, pair: dict) -> tuple[Callable[[], None], Callable[[], None]]:
        """``/me`` with the pair's access token, and a refresh that chains its refresh token."""
        me_environ = _environ(
            "GET", "/api/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
        )

        def me() -> None:
            status, _ = _call(wsgi_app, dict(me_environ))
            assert status == 200

        def refresh() -> None:
            body = json.dumps({"refresh_token": pair["refresh_token"]}).encode()
            status, body = _call(wsgi_app, _with_body(refresh_environ, body))
            assert status == 200, body
            pair.update(json.loads(body))

        return me, refresh

    def ceiling_post() -> None:
        status, _ = _call(ceiling, _with_body(ceiling_post_environ, ceiling_body))
        assert status == 200

    def ceiling_get() -> None:
        status, _ = _call(ceiling, dict(ceiling_get_environ))
        assert status == 200

    scenarios = dict(
        zip(
            SCENARIOS,
            (
                *hot_paths(app, pair),
                *hot_paths(recipe, recipe_pair),
                *hot_paths(library, library_pair),
                ceiling_post,
                ceiling_get,
            ),
            strict=True,
        )
    )
    warm = [scenarios[args.count[0]]] if args.count else scenarios.values()
    for fn in warm:
        for _ in range(200):
            fn()
    gc.freeze()  # as post_worker_init in gunicorn.conf.py
    if args.count:
        fn, count = scenarios[args.count[0]], int(args.count[1])
        server.client().config_resetstat()
        for _ in range(count):
            fn()
        if count:
            _print_redis_commands(server, count)
        server.stop()
        return
    # Interleaved rounds, best round per scenario: other load on the machine only adds time.
    best: dict[str, tuple[float, float, float]] = {}
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
        print(f"{name:15s} wall {wall:7.1f}  app CPU {cpu:7.1f}  redis CPU {redis_cpu:6.1f} µs/req")
    for path in ("me", "refresh"):
        rotor, recipe_cost = sum(best[path][1:]), sum(best[f"recipe {path}"][1:])
        library_cost = sum(best[f"library {path}"][1:])
        print(
            f"{path}: recipe/Rotor CPU ratio {recipe_cost / rotor:.2f}, "
            f"recipe/library floor {recipe_cost / library_cost:.2f}"
        )
    if args.cprofile:
        fn = scenarios[args.cprofile]
        profile = cProfile.Profile(time.process_time)  # CPU: waits for Redis are not ours
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
