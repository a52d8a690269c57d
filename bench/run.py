"""`make bench`: Rotor next to the fastest Flask endpoint this machine can serve, and next to
the recipe a Flask team would write itself.

Starts its own redis-server and, under the same gunicorn settings, Rotor, the ceiling app
(bench/ceiling.py) and the recipe (bench/recipe.py: flask-jwt-extended's documented Redis
blocklist, extended to rotate refresh tokens); drives them with wrk, interleaved round by round,
and reports requests/s, p50/p99, non-2xx counts and ratios to the baselines of the same run:
requests/s, and CPU time per request summed over every server process (bench/measure.py). The
"+ Redis" rows are the ceiling plus one Redis round trip (the floor of any endpoint that asks
Redis something per request); the "library floor" rows (bench/library_floor.py) are the least
a /me and a refresh cost on flask-jwt-extended with tokens of Rotor's shape and one round trip,
what Rotor's ratio to the recipe cannot exceed; the "(core)" rows are Rotor without its audit
line, tracing and grace window (bench/rotor_core.py). When examples/resource_server is there, the
resource-server rows measure its protected endpoint with the kit (local verification, no round
trip), with flask-jwt-extended alone (no revocation check: bench/jwt_only.py) and with
per-request introspection against Rotor.

It also counts Redis round trips per request (top-level MONITOR entries; a script's inner calls
are not round trips), Redis memory per session, refresh p99 with 1,000 vs 1,000,000 sessions
stored, and login throughput against the bcrypt bound (workers / one bcrypt check).

With ``--algorithms HS256,EdDSA,ES256,RS256`` (or BENCH_ALGORITHMS) it also runs me and refresh
against one Rotor per signing algorithm, interleaved round by round, and reports them side by
side; the default, HS256 alone, skips that table.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import redis

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.auth.keys import write_key_pair  # noqa: E402
from app.auth.tokens import token_hash  # noqa: E402
from app.store import Store  # noqa: E402
from bench.introspecting import CLIENT_ID, CLIENT_SECRET  # noqa: E402
from bench.measure import Load, Run, busy_processes, process_tree, wrk  # noqa: E402
from bench.report import (  # noqa: E402
    CORE,
    FLOOR,
    LIBRARY_FLOOR,
    UNIX,
    markdown,
    medians,
    summarize,
)
from tests.servers import Gunicorn, RedisServer, wait_until  # noqa: E402

SECRET = "bench-secret-bench-secret-bench-secret-bench-secret-0123456789ab"
PASSWORD = "bench password that is long enough"
ALGORITHMS = ("HS256", "EdDSA", "ES256", "RS256")
SKIPPABLE = (
    "login",
    "memory",
    "scale",
    "monitor",
    "unix",
    "floor",
    "recipe",
    "library",
    "core",
    "resource",
)
RESOURCE_SERVER_APP = "examples.resource_server.app:app"

Credentials = Callable[[], Path | None]


# -- talking to the servers -------------------------------------------------------------------


def call(port: int, method: str, path: str, body: dict | None = None, token: str | None = None):
    """One JSON request; raise on a non-2xx answer (setting up a run must not fail quietly)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection.request(method, path, json.dumps(body) if body is not None else None, headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    if response.status >= 300:
        raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
    return json.loads(data) if data else None


def login_pairs(port: int, count: int, tag: str, *, register: bool = True) -> list[dict]:
    """``count`` fresh sessions: new accounts (registered unless the server has no accounts,
    as the recipe), each logged in once."""
    emails = [f"{tag}{i}-{time.time_ns()}@bench.example" for i in range(count)]
    credentials = [{"email": email, "password": PASSWORD} for email in emails]
    if register:
        for body in credentials:
            call(port, "POST", "/api/auth/register", body)
    return [call(port, "POST", "/api/auth/login", body) for body in credentials]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


# -- the servers of a run ---------------------------------------------------------------------


@dataclass
class Bench:
    """One run's redis-server, work directory and settings, and the servers it started."""

    args: argparse.Namespace
    workdir: Path
    redis_server: RedisServer
    servers: ExitStack = field(default_factory=ExitStack)

    @property
    def load(self) -> Load:
        return Load(duration=self.args.duration, connections=self.args.connections)

    @property
    def gunicorn_args(self) -> tuple[str, ...]:
        return ("--workers", str(self.args.workers), "--worker-class", "sync")

    def rotor_env(self, **overrides: str) -> dict[str, str]:
        """Rotor as deployed (metrics and audit on), rate limits off, long-lived access tokens
        (the me scenario reuses them across rounds)."""
        return {
            "REDIS_URL": self.redis_server.url,
            "JWT_SECRET_KEY": SECRET,
            "ROTOR_ENV": "production",
            "BCRYPT_ROUNDS": "10",
            "RATELIMIT_ENABLED": "0",
            "ACCESS_TOKEN_TTL": "3600",
            **overrides,
        }

    def start(self, name: str, env: dict[str, str], app: str = "wsgi:app") -> Gunicorn:
        """A server under the run's gunicorn settings, stopped when the run ends; returns once
        every worker is up (workers fork after the port listens). gunicorn.conf.py checks
        Rotor's settings for every app it serves: each gets a valid secret and this Redis."""
        env = {"JWT_SECRET_KEY": SECRET, "REDIS_URL": self.redis_server.url, **env}
        server = Gunicorn(env, *self.gunicorn_args, app=app).start(self.workdir / f"{name}.log")
        self.servers.callback(server.stop)
        wait_until(lambda: len(process_tree(server.pid)) > self.args.workers, timeout=30)
        return server

    def pids(self, *servers: Gunicorn) -> list[int]:
        """The processes whose CPU a scenario counts: its servers and redis-server."""
        return [*(server.pid for server in servers), self.redis_server.process.pid]

    def skips(self, part: str) -> bool:
        return part in self.args.skip


@contextmanager
def bench_run(args: argparse.Namespace) -> Iterator[Bench]:
    """A run's redis-server and work directory, and every server started in it, cleaned up
    however the run ends."""
    workdir = Path(tempfile.mkdtemp(prefix="rotor-bench-"))
    redis_server = RedisServer(workdir / "redis", unix_socket=True).start()
    bench = Bench(args, workdir, redis_server)
    try:
        with bench.servers:
            yield bench
    finally:
        redis_server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# -- the interleaved scenarios ----------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """One row of the table: wrk against one server, with the credentials it needs."""

    name: str
    url: str
    script: str | None
    pids: list[int]
    credentials: Credentials = lambda: None


def access_tokens(bench: Bench, server: Gunicorn, tag: str, *, register: bool = True) -> Path:
    """A file of access tokens, one per connection, for every round (they live an hour)."""
    pairs = login_pairs(server.port, bench.args.connections, tag, register=register)
    return write_lines(bench.workdir / f"access-{tag}.txt", [p["access_token"] for p in pairs])


def fresh_refresh_tokens(
    bench: Bench, server: Gunicorn, tag: str, *, register: bool = True
) -> Credentials:
    """Credentials that log in new sessions before each run: a run moves every chain on."""

    def credentials() -> Path:
        pairs = login_pairs(server.port, bench.args.connections, tag, register=register)
        lines = [p["refresh_token"] for p in pairs]
        return write_lines(bench.workdir / f"refresh-{tag}.txt", lines)

    return credentials


def hot_path_scenarios(
    bench: Bench,
    server: Gunicorn,
    tag: str,
    *,
    prefix: str = "",
    suffix: str = "",
    register: bool = True,
) -> list[Scenario]:
    """The two hot paths of Rotor or a baseline: ``/me`` and a refresh. ``tag`` names the
    server's accounts and token files (one per server); ``register`` is False for a baseline
    whose login trusts the caller."""
    me = access_tokens(bench, server, tag, register=register)
    pids = bench.pids(server)
    return [
        Scenario(f"{prefix}me{suffix}", server.url, "me.lua", pids, lambda: me),
        Scenario(
            f"{prefix}refresh{suffix}",
            server.url,
            "refresh.lua",
            pids,
            fresh_refresh_tokens(bench, server, tag, register=register),
        ),
    ]


def baseline_scenarios(bench: Bench) -> list[Scenario]:
    """The ceiling (and the floor: the ceiling plus one round trip), the recipe and the
    library's floor (bench/library_floor.py)."""
    ceiling = bench.start("ceiling", {"REDIS_URL": bench.redis_server.url}, "bench.ceiling:app")
    pids = bench.pids(ceiling)
    scenarios = [
        Scenario("ceiling GET", ceiling.url + "/ceiling", None, pids),
        Scenario("ceiling POST", ceiling.url + "/ceiling", "ceiling_post.lua", pids),
    ]
    if not bench.skips("floor"):
        scenarios += [
            Scenario(f"ceiling GET {FLOOR}", ceiling.url + "/floor", None, pids),
            Scenario(f"ceiling POST {FLOOR}", ceiling.url + "/floor", "ceiling_post.lua", pids),
        ]
    baselines = (("recipe", "recipe", "recipe"), ("library", "library_floor", LIBRARY_FLOOR))
    for part, module, label in baselines:
        if not bench.skips(part):
            env = {"REDIS_URL": bench.redis_server.url, "JWT_SECRET_KEY": SECRET}
            server = bench.start(part, env, f"bench.{module}:app")
            scenarios += hot_path_scenarios(bench, server, part, prefix=f"{label} ", register=False)
    return scenarios


def resource_server_scenarios(bench: Bench) -> list[Scenario]:
    """A resource server's protected endpoint (examples/resource_server) for Rotor's access
    tokens: with the kit (verified locally, revocation from Redis's invalidation channel, no
    round trip once a session is known), with flask-jwt-extended alone and no revocation check
    (bench/jwt_only.py: what the kit's row cannot go below), and asking Rotor's introspection on
    every request (bench/introspecting.py; its CPU counts Rotor's work too)."""
    client = f"{CLIENT_ID}:{CLIENT_SECRET}"
    rotor = bench.start("rotor-introspection", bench.rotor_env(INTROSPECTION_CLIENTS=client))
    tokens = access_tokens(bench, rotor, "resource")
    kit = bench.start(
        "resource-kit",
        {"REDIS_URL": bench.redis_server.url, "JWT_SECRET_KEY": SECRET},
        RESOURCE_SERVER_APP,
    )
    jwt_only = bench.start(
        "resource-jwt-only",
        {"REDIS_URL": bench.redis_server.url, "JWT_SECRET_KEY": SECRET},  # gunicorn.conf asks
        "bench.jwt_only:app",
    )
    introspecting = bench.start(
        "resource-introspection",
        {
            "REDIS_URL": bench.redis_server.url,
            "ROTOR_PORT": str(rotor.port),
            "INTROSPECTION_CLIENT": client,
        },
        "bench.introspecting:app",
    )
    return [
        Scenario(
            "resource server (kit)", kit.url, "protected.lua", bench.pids(kit), lambda: tokens
        ),
        Scenario(
            "resource server (flask-jwt-extended only)",
            jwt_only.url,
            "protected.lua",
            bench.pids(jwt_only),
            lambda: tokens,
        ),
        Scenario(
            "resource server (introspection)",
            introspecting.url,
            "protected.lua",
            bench.pids(introspecting, rotor),
            lambda: tokens,
        ),
    ]


def run_interleaved(bench: Bench, scenarios: list[Scenario]) -> list[Run]:
    """Every scenario once per round, in order, for the configured number of rounds: each
    row's neighbours ran under the same conditions."""
    runs = []
    for _ in range(bench.args.rounds):
        for scenario in scenarios:
            runs.append(
                wrk(
                    scenario.name,
                    scenario.url,
                    scenario.script,
                    server_pids=scenario.pids,
                    load=bench.load,
                    tokens=scenario.credentials(),
                )
            )
    return runs


def hot_paths(bench: Bench) -> list[Run]:
    """The main table: Rotor's hot paths next to the ceiling, the floor and the recipe."""
    rotor = bench.start("rotor", bench.rotor_env())
    scenarios = [*baseline_scenarios(bench), *hot_path_scenarios(bench, rotor, "load")]
    if not bench.skips("resource"):
        scenarios += resource_server_scenarios(bench)
    if not bench.skips("core"):
        # Rotor without its audit line, tracing and grace window (bench/rotor_core.py).
        core_env = bench.rotor_env(REFRESH_REUSE_GRACE="0")
        core = bench.start("rotor-core", core_env, "bench.rotor_core:app")
        scenarios += hot_path_scenarios(bench, core, "core", suffix=f" {CORE}")
    if not bench.skips("unix"):
        # The same Rotor reaching the same Redis over its Unix socket, as on a single host.
        rotor_unix = bench.start(
            "rotor-unix", bench.rotor_env(REDIS_URL=bench.redis_server.unix_url)
        )
        scenarios += hot_path_scenarios(bench, rotor_unix, "unix", suffix=f" {UNIX}")
    return run_interleaved(bench, order_rows(scenarios))


def order_rows(scenarios: list[Scenario]) -> list[Scenario]:
    """GETs first, then POSTs: each row near the baselines it is compared with."""
    posts = ("POST", "refresh")
    return sorted(scenarios, key=lambda s: any(word in s.name for word in posts))


# -- the other measurements -------------------------------------------------------------------


def by_algorithm(bench: Bench) -> dict[str, dict[str, Any]]:
    """me and refresh against one Rotor per signing algorithm (a fresh key pair each, in the
    run's temp dir), interleaved round by round like the main table."""
    scenarios: dict[str, list[Scenario]] = {}
    for algorithm in bench.args.algorithms:
        env = bench.rotor_env(
            JWT_ALGORITHM=algorithm, REDIS_KEY_PREFIX=f"bench-{algorithm.lower()}:"
        )
        if algorithm != "HS256":
            key = write_key_pair(algorithm, bench.workdir / "keys")
            env["JWT_SIGNING_KEYS"] = str(key.private_path)
        server = bench.start(f"rotor-{algorithm}", env)
        scenarios[algorithm] = [
            Scenario(f"{s.name} {algorithm}", s.url, s.script, s.pids, s.credentials)
            for s in hot_path_scenarios(bench, server, f"load-{algorithm.lower()}")
        ]
    runs = run_interleaved(bench, [s for group in scenarios.values() for s in group])
    return {
        algorithm: {
            kind: medians([r for r in runs if r.scenario == f"{kind} {algorithm}"])
            for kind in ("me", "refresh")
        }
        for algorithm in scenarios
    }


def count_round_trips(bench: Bench, rotor: Gunicorn, n: int = 100) -> dict[str, float]:
    """Top-level commands Redis saw per refresh and per /me (MONITOR; script calls excluded),
    in steady state: a connection idle for 30 s first sends a health-check PING (redis-py's
    ``health_check_interval``), which a server under load never pays."""
    port = rotor.port
    sessions = login_pairs(port, 8, "monitor")

    def warm(pair: dict) -> dict:
        for _ in range(8):
            pair = call(port, "POST", "/api/auth/refresh", {"refresh_token": pair["refresh_token"]})
            call(port, "GET", "/api/auth/me", token=pair["access_token"])
        return pair

    # Warm every worker's script cache and connections first: sequential requests can all land
    # on one worker, so several clients at once.
    with ThreadPoolExecutor(len(sessions)) as pool:
        pair, *_ = pool.map(warm, sessions)
    requests: dict[str, Callable[[], None]] = {
        "refresh": lambda: pair.update(
            call(port, "POST", "/api/auth/refresh", {"refresh_token": pair["refresh_token"]})
        ),
        "me": lambda: call(port, "GET", "/api/auth/me", token=pair["access_token"]),
    }
    counts = {name: monitored_commands(bench, name, send, n) for name, send in requests.items()}
    per_request = {name: commands / n for name, (commands, _) in counts.items()}
    return per_request | {f"{name} PING": pings / n for name, (_, pings) in counts.items()}


def monitored_commands(
    bench: Bench, name: str, send: Callable[[], None], n: int
) -> tuple[int, int]:
    """How many top-level commands Redis received while ``send`` ran ``n`` times, PINGs apart:
    no request sends one, but the other servers of the run share this redis-server (the kit's
    channel pings every second) and redis-py pings a connection idle for 30 s."""
    log = bench.workdir / f"monitor-{name}.log"
    with open(log, "w") as out:
        monitor = subprocess.Popen(
            ["redis-cli", "-p", str(bench.redis_server.port), "monitor"], stdout=out
        )
        time.sleep(0.3)
        for _ in range(n):
            send()
        time.sleep(0.3)
        monitor.terminate()
        monitor.wait()
    lines = [line for line in log.read_text().splitlines() if line[:1].isdigit()]
    commands = [line for line in lines if " lua] " not in line]
    pings = [line for line in commands if line.upper().endswith('] "PING"')]
    return len(commands) - len(pings), len(pings)


def preload_sessions(store: Store, users: int, per_user: int, tag: str) -> None:
    """Create users and sessions through the store, pipelined (no HTTP, no bcrypt)."""
    now_ms = int(time.time() * 1000)
    deadline, absolute = now_ms + 7 * 86_400_000, now_ms + 30 * 86_400_000
    keys = store.keys
    pipe = store.client.pipeline(transaction=False)
    for u in range(users):
        uid = f"{tag}{u:08d}"
        pipe.hset(
            keys.user(uid), mapping={"email": f"{uid}@bench.example", "pw": "x", "created": now_ms}
        )
        known: list[str] = []
        for s in range(per_user):
            sid = f"{u:08x}{s:04x}{tag}"[:24]
            store.seed_session(
                pipe,
                uid,
                sid,
                token_hash(sid),
                known=known,
                now_ms=now_ms,
                deadline_ms=deadline,
                absolute_ms=absolute,
                ip="203.0.113.7",
                user_agent="Mozilla/5.0 (bench) Rotor/1.0",
                limit=20,
                password_epoch=0,  # a preloaded user never changed its password
            )
            known.append(sid)
        if u % 500 == 499:
            pipe.execute()
    pipe.execute()


def memory_per_session(
    bench: Bench, sessions: int = 100_000, per_user: int = 5
) -> tuple[float, float]:
    """used_memory delta per session, after the users existed (a fresh redis-server); then what
    the resource-server kit's revocation channel adds: Redis's tracking table once a tracking
    reader has read, as the kit does, each session's keys with one access token each."""
    server = RedisServer(bench.workdir / "memory").start()
    try:
        client = server.client()
        store = Store(client, "auth:")
        users = sessions // per_user
        preload_sessions(store, users, 0, "m")  # the users alone
        users_only = client.info("memory")["used_memory"]
        preload_sessions(store, users, per_user, "m")  # same users (unchanged), now with sessions
        with_sessions = client.info("memory")["used_memory"]
        # Two plain connections, as the kit keeps (a client's pipeline would take another).
        channel, reader = redis.Connection(port=server.port), redis.Connection(port=server.port)
        channel.send_command("CLIENT", "ID")
        reader.send_command("CLIENT", "TRACKING", "ON", "REDIRECT", channel.read_response())
        reader.read_response()
        for u in range(users):
            uid = f"m{u:08d}"
            commands = []
            for s in range(per_user):
                sid = f"{u:08x}{s:04x}m"[:24]
                # The kit's first read of a session (rotor_resource_kit): PTTL, EXISTS, HMGET.
                commands += [
                    ("PTTL", store.keys.session(uid, sid)),
                    ("EXISTS", store.keys.denied(uid, secrets.token_urlsafe(16))),
                    ("HMGET", store.keys.user(uid), "email", "disabled"),
                ]
            reader.send_packed_command(reader.pack_commands(commands))
            for _ in commands:
                reader.read_response()
        tracked = client.info("memory")["used_memory"]
        if client.info("stats")["tracking_total_keys"] == 0:
            raise RuntimeError("the tracking reader tracked nothing")
        for connection in (reader, channel):
            connection.disconnect()
        client.close()
        return (with_sessions - users_only) / sessions, (tracked - with_sessions) / sessions
    finally:
        server.stop()


def refresh_at_scale(bench: Bench, rotor: Gunicorn) -> tuple[dict[str, Any], list[Run]]:
    """Refresh p99 with 1,000 sessions stored, then with ``--big``: after a warm-up (Redis
    finishes rehashing its freshly grown keyspace), the median of three runs at each size."""
    client = bench.redis_server.client()
    store = Store(client, "auth:")
    results, all_runs = {}, []
    for total in (1_000, bench.args.big):
        client.flushdb()
        preload_sessions(store, total // 5, 5, "s")
        credentials = fresh_refresh_tokens(bench, rotor, "scale")
        warm_up = Load(duration=2, connections=bench.args.connections)
        runs = [
            wrk(
                f"refresh@{total}",
                rotor.url,
                "refresh.lua",
                server_pids=bench.pids(rotor),
                load=warm_up if attempt == 0 else bench.load,
                tokens=credentials(),
            )
            for attempt in range(4)
        ]
        all_runs += runs
        results[str(total)] = medians(runs[1:]) | {"keys": client.dbsize()}
    client.flushdb()
    client.close()
    return results, all_runs


def login_throughput(bench: Bench) -> tuple[dict[str, Any], Run]:
    """Login throughput at the configured bcrypt cost, against workers / one bcrypt check."""
    rounds = bench.args.bcrypt_rounds
    rotor = bench.start("rotor-login", bench.rotor_env(BCRYPT_ROUNDS=str(rounds)))
    emails = [f"login{i}-{time.time_ns()}@bench.example" for i in range(bench.args.workers * 2)]
    for email in emails:
        call(rotor.port, "POST", "/api/auth/register", {"email": email, "password": PASSWORD})
    lines = write_lines(bench.workdir / "accounts.txt", [f"{e} {PASSWORD}" for e in emails])
    run = wrk(
        "login",
        rotor.url,
        "login.lua",
        server_pids=[rotor.pid],
        tokens=lines,
        load=Load(max(bench.args.duration, 10), bench.args.workers * 2),
    )
    hashed = bcrypt.hashpw(b"x" * 44, bcrypt.gensalt(rounds))
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        bcrypt.checkpw(b"x" * 44, hashed)
        timings.append(time.perf_counter() - start)
    bound = bench.args.workers / statistics.median(timings)
    return {
        "rps": run.rps,
        "p50_ms": run.p50_ms,
        "p99_ms": run.p99_ms,
        "bcrypt_bound_rps": bound,
        "ratio": run.rps / bound,
        "non_2xx": run.non_2xx,
        "bcrypt_rounds": rounds,
    }, run


# -- the run ----------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--workers", type=int, default=int(env("BENCH_WORKERS", 2)))
    parser.add_argument("--duration", type=int, default=int(env("BENCH_DURATION", 8)))
    parser.add_argument("--rounds", type=int, default=int(env("BENCH_ROUNDS", 3)))
    parser.add_argument("--connections", type=int, default=int(env("BENCH_CONNECTIONS", 4)))
    parser.add_argument("--bcrypt-rounds", type=int, default=12)
    parser.add_argument(
        "--big",
        type=int,
        default=int(env("BENCH_BIG", 1_000_000)),
        help="sessions stored for the refresh p99 comparison",
    )
    parser.add_argument("--skip", nargs="*", default=[], choices=SKIPPABLE)
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "latest.json")
    parser.add_argument(
        "--algorithms",
        type=algorithm_list,
        default=env("BENCH_ALGORITHMS", "HS256"),
        help="signing algorithms for the per-algorithm me/refresh table, "
        "comma-separated (HS256 alone skips the table)",
    )
    return parser.parse_args()


def algorithm_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in ALGORITHMS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"algorithms are among {', '.join(ALGORITHMS)}")
    return names


def measure(bench: Bench, report: dict[str, Any]) -> list[Run]:
    """Every measurement the arguments ask for, into ``report``; the wrk runs they made."""
    runs = hot_paths(bench)
    report["scenarios"] = summarize(runs)
    if bench.args.algorithms != ["HS256"]:
        report["algorithms"] = by_algorithm(bench)
    rotor = bench.start("rotor-extra", bench.rotor_env())
    if not bench.skips("monitor"):
        report["redis_round_trips_per_request"] = count_round_trips(bench, rotor)
    if not bench.skips("scale"):
        report["refresh_p99_by_sessions"], scale_runs = refresh_at_scale(bench, rotor)
        runs += scale_runs
    if not bench.skips("memory"):
        per_session, tracking = memory_per_session(bench)
        report["redis_bytes_per_session"] = round(per_session, 1)
        report["tracking_bytes_per_session"] = round(tracking, 1)
    if not bench.skips("login"):
        report["login"], login_run = login_throughput(bench)
        runs.append(login_run)
    return runs


def main() -> int:
    args = parse_args()
    if shutil.which("wrk") is None:
        print(
            "bench: wrk is missing: `make bench` installs it (Debian package `wrk`)",
            file=sys.stderr,
        )
        return 2
    busy = busy_processes()
    if busy:
        print(
            "bench: WARNING, other processes are busy; numbers will be skewed:",
            *busy,
            sep="\n  ",
            file=sys.stderr,
        )
    report: dict[str, Any] = {
        "machine": machine(),
        "settings": vars(args) | {"json": str(args.json)},
        "busy_processes_at_start": busy,
    }
    with bench_run(args) as bench:
        runs = measure(bench, report)
    failures = [run.failure for run in runs if run.failure]
    report["failures"] = failures
    report["runs"] = [asdict(r) | {"cpu_per_request_us": r.cpu_per_request_us} for r in runs]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(markdown(report))
    if failures:
        print("\n!!! BENCHMARK FAILED: non-2xx responses or errors !!!", file=sys.stderr)
        for failure in failures:
            print(f"!!! {failure}", file=sys.stderr)
        return 1
    return 0


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown",
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "redis": subprocess.run(["redis-server", "--version"], capture_output=True, text=True)
        .stdout.split()[2]
        .removeprefix("v="),
    }


if __name__ == "__main__":
    sys.exit(main())
