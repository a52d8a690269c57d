"""Measuring a server under load: wrk runs, and the CPU time its processes spent on them.

CPU time per request, summed over every server process (gunicorn master and workers,
redis-server) from /proc, moves far less with other load on a shared machine than requests/s.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

WRK_DIR = Path(__file__).resolve().parent / "wrk"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
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

    @property
    def failure(self) -> str | None:
        """What went wrong in this run (the bench then fails), or None."""
        if not (self.non_2xx or self.socket_errors):
            return None
        return f"{self.scenario}: {self.non_2xx} non-2xx, {self.socket_errors} socket errors"


def process_tree(pid: int) -> list[int]:
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in children:
            pids.extend(process_tree(int(child)))
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


@dataclass(frozen=True)
class Load:
    """How hard and how long wrk drives a server: one connection per thread."""

    duration: int
    connections: int


def wrk(
    scenario: str,
    url: str,
    script: str | None,
    *,
    server_pids: list[int],
    load: Load,
    tokens: Path | None = None,
) -> Run:
    """Run wrk and read its summary; ``tokens`` is the credentials file the scenario scripts
    read (bench/wrk/common.lua: one line per connection)."""
    duration, connections = load.duration, load.connections
    env = {"ROTOR_BENCH_TOKENS": str(tokens)} if tokens else {}
    command = ["wrk", f"-t{connections}", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script:
        command += ["-s", str(WRK_DIR / script)]
    pids = [p for pid in server_pids for p in process_tree(pid)]
    redis_pids = [pid for pid in pids if _is_redis(pid)]
    (user_before, system_before), redis_before = _cpu_split(pids), _cpu_seconds(redis_pids)
    done = subprocess.run(
        [*command, url],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env, "ROTOR_BENCH_LUA": str(WRK_DIR)},
    )
    if done.returncode:
        raise RuntimeError(f"wrk failed on {scenario}: {done.stderr or done.stdout}")
    output = done.stdout
    user, system = _cpu_split(pids)
    user, system = user - user_before, system - system_before
    cpu = user + system
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
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
