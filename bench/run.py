"""`make bench`: Rotor next to the fastest Flask endpoint this machine can serve.

Starts its own redis-server and, under the same gunicorn settings, Rotor and the ceiling app
(bench/ceiling.py); drives both with wrk, interleaved (ceiling, Rotor, ceiling, Rotor ...), and
reports requests/s, p50/p99, non-2xx counts and two ratios to the ceiling of the same run:
requests/s, and CPU time per request summed over every server process (gunicorn master and
workers, redis-server) from /proc, which other load on a shared machine moves far less. The
"+ Redis" rows are the ceiling plus one Redis round trip (the floor of any endpoint that asks
Redis something per request); Rotor's rows also get their CPU ratio to that floor.

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
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import bcrypt

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.auth.keys import write_key_pair  # noqa: E402
from app.auth.tokens import token_hash  # noqa: E402
from app.store import Store  # noqa: E402
from tests.servers import Gunicorn, RedisServer, wait_until  # noqa: E402

WRK_DIR = REPO / "bench" / "wrk"
UNIX = "(unix socket)"  # scenario suffix: Rotor reaching Redis over its Unix socket
# The ceiling plus one Redis round trip (bench/ceiling.py, /floor): the least any endpoint that
# asks Redis something on every request costs; Rotor's hot paths make exactly one.
FLOOR = "+ Redis"
SECRET = "bench-secret-bench-secret-bench-secret-bench-secret-0123456789ab"
PASSWORD = "bench password that is long enough"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
ALGORITHMS = ("HS256", "EdDSA", "ES256", "RS256")


# -- measuring --------------------------------------------------------------------------------


@dataclass
class Run:
    """One wrk run against one server, with the CPU its processes spent."""

    scenario: str
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    cpu_s: float
    # Where the CPU went (seconds): user and kernel time of every server process, and the
    # part of the total that was redis-server's.
    cpu_user_s: float = 0.0
    cpu_system_s: float = 0.0
    cpu_redis_s: float = 0.0

    @property
    def cpu_per_request_us(self) -> float:
        return self.cpu_s / max(self.requests, 1) * 1e6


def _process_tree(pid: int) -> list[int]:
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in children:
            pids.extend(_process_tree(int(child)))
    return pids


def _cpu_seconds(pids: list[int]) -> float:
    user, system = _cpu_split(pids)
    return user + system


def _cpu_split(pids: list[int]) -> tuple[float, float]:
    """User and kernel CPU seconds of these processes so far."""
    user = system = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        user, system = user + int(fields[11]), system + int(fields[12])  # utime, stime
    return user / CLOCK_TICKS, system / CLOCK_TICKS


def busy_processes(interval: float = 1.0, threshold: float = 0.05) -> list[str]:
    """Other processes using more than ``threshold`` of a core now: load that skews every
    number of the run (a stray server left by an aborted run did, more than once)."""

    def sample() -> dict[int, float]:
        pids = [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]
        return {pid: _cpu_seconds([pid]) for pid in pids if pid != os.getpid()}

    before = sample()
    time.sleep(interval)
    busy = []
    for pid, seconds in sample().items():
        share = (seconds - before.get(pid, seconds)) / interval
        if share > threshold:
            try:
                name = Path(f"/proc/{pid}/comm").read_text().strip()
            except FileNotFoundError:
                continue
            busy.append(f"pid {pid} ({name}): {share:.0%} of a core")
    return busy


def _is_redis(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "redis-server"
    except FileNotFoundError:
        return False


def _to_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk(
    scenario: str,
    url: str,
    script: str | None,
    *,
    server_pids: list[int],
    duration: int,
    connections: int,
    env: dict[str, str],
) -> Run:
    """Run wrk (one connection per thread) and read its summary."""
    command = ["wrk", f"-t{connections}", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script:
        command += ["-s", str(WRK_DIR / script)]
    pids = [p for pid in server_pids for p in _process_tree(pid)]
    redis_pids = [pid for pid in pids if _is_redis(pid)]
    (user_before, system_before), redis_before = _cpu_split(pids), _cpu_seconds(redis_pids)
    output = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True,
        env={**os.environ, **env, "ROTOR_BENCH_LUA": str(WRK_DIR)},
    ).stdout  # fmt: skip
    user, system = _cpu_split(pids)
    user, system = user - user_before, system - system_before
    cpu = user + system
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       output)  # fmt: skip
    return Run(
        scenario=scenario,
        requests=requests,
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        p50_ms=_to_ms(re.search(r"^\s+50%\s+(\S+)$", output, re.M).group(1)),  # type: ignore[union-attr]
        p99_ms=_to_ms(re.search(r"^\s+99%\s+(\S+)$", output, re.M).group(1)),  # type: ignore[union-attr]
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
        cpu_s=cpu,
        cpu_user_s=user,
        cpu_system_s=system,
        cpu_redis_s=_cpu_seconds(redis_pids) - redis_before,
    )


# -- talking to Rotor -------------------------------------------------------------------------


def _call(port: int, method: str, path: str, body: dict | None = None, token: str | None = None):
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


def _accounts(port: int, count: int, tag: str) -> list[tuple[str, str]]:
    accounts = [(f"{tag}{i}-{time.time_ns()}@bench.example", PASSWORD) for i in range(count)]
    for email, password in accounts:
        _call(port, "POST", "/api/auth/register", {"email": email, "password": password})
    return accounts


def _sessions(port: int, accounts: list[tuple[str, str]]) -> list[dict]:
    return [
        _call(port, "POST", "/api/auth/login", {"email": e, "password": p}) for e, p in accounts
    ]


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


# -- Redis-side measurements ------------------------------------------------------------------


def count_round_trips(redis_server: RedisServer, port: int, workdir: Path, n: int = 100) -> dict:
    """Top-level commands Redis saw per refresh and per /me (MONITOR; script calls excluded),
    in steady state: a connection idle for 30 s first sends a health-check PING (redis-py's
    ``health_check_interval``), which a server under load never pays."""
    sessions = _sessions(port, _accounts(port, 8, "monitor"))

    def warm(pair: dict) -> dict:
        for _ in range(8):
            pair = _call(
                port, "POST", "/api/auth/refresh", {"refresh_token": pair["refresh_token"]}
            )
            _call(port, "GET", "/api/auth/me", token=pair["access_token"])
        return pair

    # Warm every worker's script cache and connections first: sequential requests can all land
    # on one worker, so several clients at once.
    with ThreadPoolExecutor(len(sessions)) as pool:
        pair, *_ = pool.map(warm, sessions)
    result = {}
    for name in ("refresh", "me"):
        log = workdir / f"monitor-{name}.log"
        with open(log, "w") as out:
            monitor = subprocess.Popen(
                ["redis-cli", "-p", str(redis_server.port), "monitor"], stdout=out
            )
            time.sleep(0.3)
            for _ in range(n):
                if name == "refresh":
                    pair = _call(
                        port, "POST", "/api/auth/refresh",
                        {"refresh_token": pair["refresh_token"]},
                    )  # fmt: skip
                else:
                    _call(port, "GET", "/api/auth/me", token=pair["access_token"])
            time.sleep(0.3)
            monitor.terminate()
            monitor.wait()
        lines = [line for line in log.read_text().splitlines() if line[:1].isdigit()]
        top_level = [line for line in lines if " lua] " not in line]
        result[name] = len(top_level) / n
    return result


def preload_sessions(store: Store, users: int, per_user: int, tag: str) -> None:
    """Create users and sessions directly through the store's keys and script (pipelined)."""
    now_ms = int(time.time() * 1000)
    deadline, absolute = now_ms + 7 * 86_400_000, now_ms + 30 * 86_400_000
    keys = store.keys
    pipe = store.client.pipeline(transaction=False)
    for u in range(users):
        uid = f"{tag}{u:08d}"
        pipe.hset(keys.user(uid), mapping={"email": f"{uid}@bench.example", "pw": "x",
                                           "created": now_ms})  # fmt: skip
        known: list[str] = []
        for s in range(per_user):
            sid = f"{u:08x}{s:04x}{tag}"[:24]
            script_keys = [keys.user(uid), keys.sessions(uid), keys.session(uid, sid)]
            for other in known:
                script_keys += [keys.session(uid, other), keys.grace(uid, other)]
            store._create_session(  # the store's own script, pipelined for speed
                keys=script_keys,
                args=[sid, token_hash(sid), now_ms, deadline, absolute, "203.0.113.7",
                      "Mozilla/5.0 (bench) Rotor/1.0", 20, 0, *known],
                client=pipe,
            )  # fmt: skip
            known.append(sid)
        if u % 500 == 499:
            pipe.execute()
    pipe.execute()


def memory_per_session(workdir: Path, sessions: int = 100_000, per_user: int = 5) -> float:
    """used_memory delta per session, after the users existed (a fresh redis-server)."""
    server = RedisServer(workdir / "memory").start()
    try:
        client = server.client()
        store = Store(client, "auth:")
        users = sessions // per_user
        preload_sessions(store, users, 0, "m")  # the users alone
        users_only = client.info("memory")["used_memory"]
        preload_sessions(store, users, per_user, "m")  # same users (unchanged), now with sessions
        with_sessions = client.info("memory")["used_memory"]
        client.close()
        return (with_sessions - users_only) / sessions
    finally:
        server.stop()


# -- the run ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", 2)))
    parser.add_argument("--duration", type=int, default=int(os.environ.get("BENCH_DURATION", 8)))
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 3)))
    parser.add_argument("--connections", type=int,
                        default=int(os.environ.get("BENCH_CONNECTIONS", 4)))  # fmt: skip
    parser.add_argument("--bcrypt-rounds", type=int, default=12)
    parser.add_argument("--big", type=int, default=int(os.environ.get("BENCH_BIG", 1_000_000)),
                        help="sessions stored for the refresh p99 comparison")  # fmt: skip
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["login", "memory", "scale", "monitor", "unix",
                                 "floor"])  # fmt: skip
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "latest.json")
    parser.add_argument("--algorithms", type=_algorithm_list,
                        default=os.environ.get("BENCH_ALGORITHMS", "HS256"),
                        help="signing algorithms for the per-algorithm me/refresh table, "
                             "comma-separated (HS256 alone skips the table)")  # fmt: skip
    args = parser.parse_args()

    if shutil.which("wrk") is None:
        print("bench: wrk is missing: `make bench` installs it (Debian package `wrk`)",
              file=sys.stderr)  # fmt: skip
        return 2
    busy = busy_processes()
    if busy:
        print("bench: WARNING, other processes are busy; numbers will be skewed:", *busy,
              sep="\n  ", file=sys.stderr)  # fmt: skip
    workdir = Path(tempfile.mkdtemp(prefix="rotor-bench-"))
    redis_server = RedisServer(workdir / "redis", unix_socket=True).start()
    gunicorn_args = ("--workers", str(args.workers), "--worker-class", "sync")
    rotor_env = {
        "REDIS_URL": redis_server.url, "JWT_SECRET_KEY": SECRET, "ROTOR_ENV": "production",
        "BCRYPT_ROUNDS": "10", "RATELIMIT_ENABLED": "0", "ACCESS_TOKEN_TTL": "3600",
    }  # fmt: skip
    rotor = Gunicorn(rotor_env, *gunicorn_args).start(workdir / "rotor.log")
    # The same Rotor reaching the same Redis over its Unix socket, as on a single host.
    unix = "unix" not in args.skip
    rotor_unix = Gunicorn({**rotor_env, "REDIS_URL": redis_server.unix_url}, *gunicorn_args)
    if unix:
        rotor_unix.start(workdir / "rotor-unix.log")
    # The same gunicorn.conf.py; REDIS_URL only satisfies its several-workers check.
    ceiling = Gunicorn({"REDIS_URL": redis_server.url}, *gunicorn_args, app="bench.ceiling:app")
    ceiling.start(workdir / "ceiling.log")
    for server in (rotor, ceiling, *([rotor_unix] if unix else [])):
        # Workers fork after the port listens: measure only once every one of them is up.
        wait_until(lambda s=server: len(_process_tree(s.pid)) > args.workers, timeout=30)
    report: dict = {"machine": _machine(), "settings": vars(args) | {"json": str(args.json)},
                    "busy_processes_at_start": busy}  # fmt: skip
    runs: list[Run] = []
    failures: list[str] = []
    try:
        connections = args.connections
        pairs = _sessions(rotor.port, _accounts(rotor.port, connections, "load"))
        me_tokens = _write_lines(workdir / "access.txt", [p["access_token"] for p in pairs])
        refresh_tokens = _write_lines(workdir / "refresh.txt", [p["refresh_token"] for p in pairs])
        common = {"duration": args.duration, "connections": connections}
        ceiling_pids, rotor_pids, unix_pids = (
            [ceiling.pid, redis_server.process.pid],
            [rotor.pid, redis_server.process.pid],
            [rotor_unix.pid, redis_server.process.pid] if unix else [],
        )
        floor = "floor" not in args.skip
        unix_refresh_tokens = workdir / "refresh-unix.txt"
        if unix:
            pairs = _sessions(rotor_unix.port, _accounts(rotor_unix.port, connections, "unix"))
            _write_lines(unix_refresh_tokens, [p["refresh_token"] for p in pairs])
        for _ in range(args.rounds):
            runs.append(wrk("ceiling GET", ceiling.url + "/ceiling", None,
                            server_pids=ceiling_pids, env={}, **common))  # fmt: skip
            if floor:
                runs.append(wrk(f"ceiling GET {FLOOR}", ceiling.url + "/floor", None,
                                server_pids=ceiling_pids, env={}, **common))  # fmt: skip
            runs.append(wrk("me", rotor.url, "me.lua", server_pids=rotor_pids,
                            env={"ROTOR_BENCH_TOKENS": str(me_tokens)}, **common))  # fmt: skip
            if unix:
                runs.append(wrk(f"me {UNIX}", rotor_unix.url, "me.lua", server_pids=unix_pids,
                                env={"ROTOR_BENCH_TOKENS": str(me_tokens)}, **common))  # fmt: skip
            runs.append(wrk("ceiling POST", ceiling.url + "/ceiling", "ceiling_post.lua",
                            server_pids=ceiling_pids, env={}, **common))  # fmt: skip
            if floor:
                runs.append(wrk(f"ceiling POST {FLOOR}", ceiling.url + "/floor",
                                "ceiling_post.lua", server_pids=ceiling_pids, env={},
                                **common))  # fmt: skip
            runs.append(wrk("refresh", rotor.url, "refresh.lua", server_pids=rotor_pids,
                            env={"ROTOR_BENCH_TOKENS": str(refresh_tokens)}, **common))  # fmt: skip
            if unix:
                runs.append(wrk(f"refresh {UNIX}", rotor_unix.url, "refresh.lua",
                                server_pids=unix_pids,
                                env={"ROTOR_BENCH_TOKENS": str(unix_refresh_tokens)},
                                **common))  # fmt: skip
            # Chains moved on: the next round starts from fresh sessions.
            pairs = _sessions(rotor.port, _accounts(rotor.port, connections, "load"))
            _write_lines(refresh_tokens, [p["refresh_token"] for p in pairs])
            if unix:
                pairs = _sessions(rotor_unix.port, _accounts(rotor_unix.port, connections, "unix"))
                _write_lines(unix_refresh_tokens, [p["refresh_token"] for p in pairs])

        summary = _summarize(runs)
        report["scenarios"] = summary
        for run in runs:
            if run.non_2xx or run.socket_errors:
                failures.append(f"{run.scenario}: {run.non_2xx} non-2xx, "
                                f"{run.socket_errors} socket errors")  # fmt: skip

        if args.algorithms != ["HS256"]:
            report["algorithms"] = _by_algorithm(
                redis_server, rotor_env, gunicorn_args, args, workdir, failures
            )
        if "monitor" not in args.skip:
            report["redis_round_trips_per_request"] = count_round_trips(
                redis_server, rotor.port, workdir
            )
        if "scale" not in args.skip:
            report["refresh_p99_by_sessions"] = _scale(
                redis_server, rotor, args.big, workdir, common, rotor_pids, failures
            )
        if "memory" not in args.skip:
            report["redis_bytes_per_session"] = round(memory_per_session(workdir), 1)
    finally:
        rotor.stop()
        rotor_unix.stop()
        ceiling.stop()

    if "login" not in args.skip:
        report["login"] = _login(redis_server, args, workdir, gunicorn_args, failures)
    redis_server.stop()
    shutil.rmtree(workdir, ignore_errors=True)

    report["failures"] = failures
    report["runs"] = [asdict(r) | {"cpu_per_request_us": r.cpu_per_request_us} for r in runs]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(_markdown(report))
    if failures:
        print("\n!!! BENCHMARK FAILED: non-2xx responses or errors !!!", file=sys.stderr)
        for failure in failures:
            print(f"!!! {failure}", file=sys.stderr)
        return 1
    return 0


def _summarize(runs: list[Run]) -> dict:
    by_name: dict[str, list[Run]] = {}
    for run in runs:
        by_name.setdefault(run.scenario, []).append(run)
    summary = {}
    for name, group in by_name.items():
        summary[name] = {
            "rps": statistics.median(r.rps for r in group),
            "p50_ms": statistics.median(r.p50_ms for r in group),
            "p99_ms": statistics.median(r.p99_ms for r in group),
            "non_2xx": sum(r.non_2xx for r in group),
            "cpu_us_per_request": statistics.median(r.cpu_per_request_us for r in group),
            # The split of that CPU (medians, µs per request): kernel time, and redis-server.
            "kernel_us_per_request": statistics.median(
                r.cpu_system_s / max(r.requests, 1) * 1e6 for r in group
            ),
            "redis_us_per_request": statistics.median(
                r.cpu_redis_s / max(r.requests, 1) * 1e6 for r in group
            ),
        }
    pairs = [(f"{name}{suffix}", ceiling_name)
             for name, ceiling_name in (("me", "ceiling GET"), ("refresh", "ceiling POST"))
             for suffix in ("", f" {UNIX}")]  # fmt: skip
    pairs += [(f"{ceiling_name} {FLOOR}", ceiling_name)
              for ceiling_name in ("ceiling GET", "ceiling POST")]  # fmt: skip
    for name, ceiling_name in pairs:
        if name not in summary:
            continue
        summary[name].update(_ratios(by_name[name], by_name[ceiling_name]), ceiling=ceiling_name)
        floor_name = f"{ceiling_name} {FLOOR}"
        if name != floor_name and floor_name in summary:
            # How close to the least one round trip costs: Rotor's own overhead.
            to_floor = _ratios(by_name[name], by_name[floor_name])
            summary[name]["cpu_ratio_to_floor"] = to_floor["cpu_ratio"]
    return summary


def _ratios(runs: list[Run], ceiling_runs: list[Run]) -> dict[str, float]:
    """Ratios per round (interleaved neighbours), then the median."""
    return {
        "rps_ratio": statistics.median(
            r.rps / c.rps for r, c in zip(runs, ceiling_runs, strict=True)
        ),
        "cpu_ratio": statistics.median(
            c.cpu_per_request_us / r.cpu_per_request_us
            for r, c in zip(runs, ceiling_runs, strict=True)
        ),
    }


def _algorithm_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in ALGORITHMS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"algorithms are among {', '.join(ALGORITHMS)}")
    return names


def _by_algorithm(redis_server, rotor_env, gunicorn_args, args, workdir, failures) -> dict:
    """me and refresh against one Rotor per signing algorithm (a fresh key pair each, in the
    run's temp dir), interleaved round by round like the main table."""
    servers: dict[str, Gunicorn] = {}
    try:
        for algorithm in args.algorithms:
            env = {**rotor_env, "JWT_ALGORITHM": algorithm,
                   "REDIS_KEY_PREFIX": f"bench-{algorithm.lower()}:"}  # fmt: skip
            if algorithm != "HS256":
                key = write_key_pair(algorithm, workdir / "keys")
                env["JWT_SIGNING_KEYS"] = str(key.private_path)
            servers[algorithm] = Gunicorn(env, *gunicorn_args)
            servers[algorithm].start(workdir / f"rotor-{algorithm}.log")
        for server in servers.values():
            wait_until(lambda s=server: len(_process_tree(s.pid)) > args.workers, timeout=30)
        common = {"duration": args.duration, "connections": args.connections}
        runs: dict[str, list[Run]] = {algorithm: [] for algorithm in servers}
        for _ in range(args.rounds):
            for algorithm, server in servers.items():
                pairs = _sessions(server.port, _accounts(server.port, args.connections, "alg"))
                access = _write_lines(workdir / f"access-{algorithm}.txt",
                                      [p["access_token"] for p in pairs])  # fmt: skip
                refresh = _write_lines(workdir / f"refresh-{algorithm}.txt",
                                       [p["refresh_token"] for p in pairs])  # fmt: skip
                pids = [server.pid, redis_server.process.pid]
                for scenario, script, tokens in (("me", "me.lua", access),
                                                 ("refresh", "refresh.lua", refresh)):  # fmt: skip
                    run = wrk(f"{scenario} {algorithm}", server.url, script, server_pids=pids,
                              env={"ROTOR_BENCH_TOKENS": str(tokens)}, **common)  # fmt: skip
                    runs[algorithm].append(run)
                    if run.non_2xx or run.socket_errors:
                        failures.append(f"{run.scenario}: {run.non_2xx} non-2xx, "
                                        f"{run.socket_errors} socket errors")  # fmt: skip
    finally:
        for server in servers.values():
            server.stop()
    return {algorithm: _summarize_runs(group) for algorithm, group in runs.items()}


def _summarize_runs(group: list[Run]) -> dict:
    summary = {}
    for scenario in ("me", "refresh"):
        mine = [run for run in group if run.scenario.split()[0] == scenario]
        summary[scenario] = {
            "rps": statistics.median(r.rps for r in mine),
            "p50_ms": statistics.median(r.p50_ms for r in mine),
            "p99_ms": statistics.median(r.p99_ms for r in mine),
            "non_2xx": sum(r.non_2xx for r in mine),
            "cpu_us_per_request": statistics.median(r.cpu_per_request_us for r in mine),
        }
    return summary


def _scale(redis_server, rotor, big, workdir, common, rotor_pids, failures) -> dict:
    """Refresh p99 with 1,000 sessions stored, then with ``big``: after a warm-up (Redis
    finishes rehashing its freshly grown keyspace), the median of three runs at each size."""
    client = redis_server.client()
    store = Store(client, "auth:")
    results = {}
    for total in (1_000, big):
        client.flushdb()
        preload_sessions(store, total // 5, 5, "s")
        runs = []
        for attempt in range(4):
            pairs = _sessions(rotor.port, _accounts(rotor.port, common["connections"], "scale"))
            tokens = _write_lines(workdir / "scale.txt", [p["refresh_token"] for p in pairs])
            run = wrk(f"refresh@{total}", rotor.url, "refresh.lua", server_pids=rotor_pids,
                      env={"ROTOR_BENCH_TOKENS": str(tokens)},
                      duration=2 if attempt == 0 else common["duration"],
                      connections=common["connections"])  # fmt: skip
            if run.non_2xx or run.socket_errors:
                failures.append(f"{run.scenario}: {run.non_2xx} non-2xx")
            if attempt:  # the first run is the warm-up
                runs.append(run)
        results[str(total)] = {
            "p99_ms": statistics.median(r.p99_ms for r in runs),
            "p50_ms": statistics.median(r.p50_ms for r in runs),
            "rps": statistics.median(r.rps for r in runs),
            "keys": client.dbsize(),
        }
    client.flushdb()
    client.close()
    return results


def _login(redis_server, args, workdir, gunicorn_args, failures) -> dict:
    """Login throughput at the configured bcrypt cost, against workers / one bcrypt check."""
    env = {"REDIS_URL": redis_server.url, "JWT_SECRET_KEY": SECRET, "ROTOR_ENV": "production",
           "BCRYPT_ROUNDS": str(args.bcrypt_rounds), "RATELIMIT_ENABLED": "0"}  # fmt: skip
    rotor = Gunicorn(env, *gunicorn_args).start(workdir / "rotor-login.log")
    try:
        accounts = _accounts(rotor.port, args.workers * 2, "login")
        lines = _write_lines(workdir / "accounts.txt", [f"{e} {p}" for e, p in accounts])
        run = wrk("login", rotor.url, "login.lua", server_pids=[rotor.pid],
                  env={"ROTOR_BENCH_TOKENS": str(lines)}, duration=max(args.duration, 10),
                  connections=args.workers * 2)  # fmt: skip
    finally:
        rotor.stop()
    hashed = bcrypt.hashpw(b"x" * 44, bcrypt.gensalt(args.bcrypt_rounds))
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        bcrypt.checkpw(b"x" * 44, hashed)
        timings.append(time.perf_counter() - start)
    bound = args.workers / statistics.median(timings)
    if run.non_2xx or run.socket_errors:
        failures.append(f"login: {run.non_2xx} non-2xx")
    return {"rps": run.rps, "p50_ms": run.p50_ms, "p99_ms": run.p99_ms,
            "bcrypt_bound_rps": bound, "ratio": run.rps / bound, "non_2xx": run.non_2xx,
            "bcrypt_rounds": args.bcrypt_rounds}  # fmt: skip


def _machine() -> dict:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), "unknown",
    )  # fmt: skip
    return {"cpu": cpu, "cores": os.cpu_count(), "python": sys.version.split()[0],
            "redis": subprocess.run(["redis-server", "--version"], capture_output=True,
                                    text=True).stdout.split()[2]}  # fmt: skip


def _markdown(report: dict) -> str:
    lines = [
        f"machine: {report['machine']['cpu']}, {report['machine']['cores']} cores, "
        f"Python {report['machine']['python']}, Redis {report['machine']['redis']}",
        "",
        "| scenario | req/s | p50 ms | p99 ms | non-2xx | CPU µs/req | req/s ratio | CPU ratio "
        f"| CPU ratio to ceiling {FLOOR} |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, s in report["scenarios"].items():
        ratio = f"{s['rps_ratio']:.2f}" if "rps_ratio" in s else ""
        cpu_ratio = f"{s['cpu_ratio']:.2f}" if "cpu_ratio" in s else ""
        to_floor = f"{s['cpu_ratio_to_floor']:.2f}" if "cpu_ratio_to_floor" in s else ""
        lines.append(
            f"| {name} | {s['rps']:.0f} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} | {s['non_2xx']} "
            f"| {s['cpu_us_per_request']:.0f} | {ratio} | {cpu_ratio} | {to_floor} |"
        )
    if "login" in report:
        login = report["login"]
        lines.append(
            f"| login (bcrypt {login['bcrypt_rounds']}) | {login['rps']:.1f} | "
            f"{login['p50_ms']:.0f} | {login['p99_ms']:.0f} | {login['non_2xx']} | | "
            f"{login['ratio']:.2f} of bound {login['bcrypt_bound_rps']:.1f}/s | | |"
        )
    lines.append("")
    if "algorithms" in report:
        lines += [*_algorithm_table(report["algorithms"]), ""]
    if report.get("busy_processes_at_start"):
        lines.append("Other processes were busy when the run started: "
                     + "; ".join(report["busy_processes_at_start"]))  # fmt: skip
    if "redis_round_trips_per_request" in report:
        trips = report["redis_round_trips_per_request"]
        lines.append(f"Redis round trips per request: refresh {trips['refresh']:.2f}, "
                     f"me {trips['me']:.2f}")  # fmt: skip
    if "redis_bytes_per_session" in report:
        lines.append(f"Redis memory per session: {report['redis_bytes_per_session']:.0f} bytes")
    if "refresh_p99_by_sessions" in report:
        scale = report["refresh_p99_by_sessions"]
        lines.append("refresh p99 by sessions stored: " + ", ".join(
            f"{int(n):,}: {v['p99_ms']:.2f} ms" for n, v in scale.items()))  # fmt: skip
    return "\n".join(lines)


def _algorithm_table(by_algorithm: dict) -> list[str]:
    lines = [
        "| algorithm | me req/s | me p99 ms | me CPU µs/req | refresh req/s | refresh p99 ms "
        "| refresh CPU µs/req |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for algorithm, s in by_algorithm.items():
        me, refresh = s["me"], s["refresh"]
        lines.append(
            f"| {algorithm} | {me['rps']:.0f} | {me['p99_ms']:.2f} | "
            f"{me['cpu_us_per_request']:.0f} | {refresh['rps']:.0f} | {refresh['p99_ms']:.2f} | "
            f"{refresh['cpu_us_per_request']:.0f} |"
        )
    return lines


if __name__ == "__main__":
    sys.exit(main())
