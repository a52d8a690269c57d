"""Turning wrk runs into the numbers of record: medians per scenario, ratios to the baselines
measured in the same run, and the Markdown table the README carries."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.measure import Run

UNIX = "(unix socket)"  # scenario suffix: Rotor reaching Redis over its Unix socket
CORE = "(core)"  # scenario suffix: Rotor without audit, tracing and grace (bench/rotor_core.py)
# The ceiling plus one Redis round trip (bench/ceiling.py, /floor): the least any endpoint that
# asks Redis something on every request costs; Rotor's hot paths make exactly one.
FLOOR = "+ Redis"
# bench/library_floor.py: flask-jwt-extended verifying (and for a refresh, issuing) tokens of
# Rotor's shape with one trivial round trip; Rotor does all of it and more.
LIBRARY_FLOOR = "library floor"


@dataclass(frozen=True)
class Baselines:
    """The rows a scenario is compared with: the ceiling, the floor, the recipe and the
    library's floor."""

    ceiling: str
    floor: str | None = None
    recipe: str | None = None
    library: str | None = None


_GET = Baselines("ceiling GET", f"ceiling GET {FLOOR}", "recipe me", f"{LIBRARY_FLOOR} me")
_POST = Baselines(
    "ceiling POST", f"ceiling POST {FLOOR}", "recipe refresh", f"{LIBRARY_FLOOR} refresh"
)
BASELINES: dict[str, Baselines] = {
    "me": _GET,
    f"me {UNIX}": _GET,
    "refresh": _POST,
    f"refresh {UNIX}": _POST,
    f"me {CORE}": _GET,
    f"refresh {CORE}": _POST,
    f"ceiling GET {FLOOR}": Baselines("ceiling GET"),
    f"ceiling POST {FLOOR}": Baselines("ceiling POST"),
    "recipe me": Baselines("ceiling GET", f"ceiling GET {FLOOR}"),
    "recipe refresh": Baselines("ceiling POST", f"ceiling POST {FLOOR}"),
    f"{LIBRARY_FLOOR} me": Baselines("ceiling GET", f"ceiling GET {FLOOR}", "recipe me"),
    f"{LIBRARY_FLOOR} refresh": Baselines(
        "ceiling POST", f"ceiling POST {FLOOR}", "recipe refresh"
    ),
    "resource server (kit)": Baselines("ceiling GET", f"ceiling GET {FLOOR}"),
    "resource server (flask-jwt-extended only)": Baselines("ceiling GET", f"ceiling GET {FLOOR}"),
    "resource server (introspection)": Baselines("ceiling GET", f"ceiling GET {FLOOR}"),
}


def summarize(runs: Sequence[Run]) -> dict[str, dict[str, Any]]:
    """Medians per scenario, each with its CPU ratios to the baselines of the same rounds."""
    by_name: dict[str, list[Run]] = {}
    for run in runs:
        by_name.setdefault(run.scenario, []).append(run)
    summary = {name: medians(group) for name, group in by_name.items()}
    for name, baselines in BASELINES.items():
        if name not in by_name or baselines.ceiling not in by_name:
            continue
        row = summary[name]
        row.update(ratios(by_name[name], by_name[baselines.ceiling]), ceiling=baselines.ceiling)
        for kind in ("floor", "recipe", "library"):
            other = getattr(baselines, kind)
            if other in by_name:
                row[f"cpu_ratio_to_{kind}"] = ratios(by_name[name], by_name[other])["cpu_ratio"]
    return summary


def medians(group: Sequence[Run]) -> dict[str, Any]:
    """The median of each measure over the rounds of one scenario."""
    return {
        "rps": statistics.median(r.rps for r in group),
        "p50_ms": statistics.median(r.p50_ms for r in group),
        "p99_ms": statistics.median(r.p99_ms for r in group),
        "non_2xx": sum(r.non_2xx for r in group),
        "cpu_us_per_request": statistics.median(r.cpu_per_request_us for r in group),
        # The split of that CPU (µs per request): kernel time, and redis-server.
        "kernel_us_per_request": statistics.median(
            r.cpu_system_s / max(r.requests, 1) * 1e6 for r in group
        ),
        "redis_us_per_request": statistics.median(
            r.cpu_redis_s / max(r.requests, 1) * 1e6 for r in group
        ),
    }


def ratios(runs: Sequence[Run], baseline_runs: Sequence[Run]) -> dict[str, float]:
    """Ratios per round (interleaved neighbours), then the median; above 1 means cheaper than
    the baseline."""
    return {
        "rps_ratio": statistics.median(
            r.rps / b.rps for r, b in zip(runs, baseline_runs, strict=True)
        ),
        "cpu_ratio": statistics.median(
            b.cpu_per_request_us / r.cpu_per_request_us
            for r, b in zip(runs, baseline_runs, strict=True)
        ),
    }


def markdown(report: dict[str, Any]) -> str:
    """The run as the README shows it."""
    machine = report["machine"]
    lines = [
        f"machine: {machine['cpu']}, {machine['cores']} cores, Python {machine['python']}, "
        f"Redis {machine['redis']}",
        "",
        "| scenario | req/s | p50 ms | p99 ms | non-2xx | CPU µs/req | req/s ratio "
        "| CPU ratio to the ceiling | to the floor | to the recipe | to the library floor |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, s in report["scenarios"].items():
        columns = [
            _ratio(s, key)
            for key in (
                "rps_ratio",
                "cpu_ratio",
                "cpu_ratio_to_floor",
                "cpu_ratio_to_recipe",
                "cpu_ratio_to_library",
            )
        ]
        lines.append(
            f"| {name} | {s['rps']:.0f} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} | {s['non_2xx']} "
            f"| {s['cpu_us_per_request']:.0f} | " + " | ".join(columns) + " |"
        )
    if "login" in report:
        login = report["login"]
        lines.append(
            f"| login (bcrypt {login['bcrypt_rounds']}) | {login['rps']:.1f} | "
            f"{login['p50_ms']:.0f} | {login['p99_ms']:.0f} | {login['non_2xx']} | | "
            f"{login['ratio']:.2f} of bound {login['bcrypt_bound_rps']:.1f}/s | | | | |"
        )
    lines.append("")
    if "algorithms" in report:
        lines += [*_algorithm_table(report["algorithms"]), ""]
    if report.get("busy_processes_at_start"):
        lines.append(
            "Other processes were busy when the run started: "
            + "; ".join(report["busy_processes_at_start"])
        )
    if "redis_round_trips_per_request" in report:
        trips = report["redis_round_trips_per_request"]
        paths = [name for name in trips if not name.endswith(" PING")]
        lines.append(
            "Redis round trips per request: "
            + ", ".join(f"{name} {trips[name]:.2f}" for name in paths)
            + " (PINGs on the same server meanwhile, none sent by a request: "
            + ", ".join(f"{name} {trips.get(f'{name} PING', 0):.2f}" for name in paths)
            + ")"
        )
    if "redis_bytes_per_session" in report:
        line = f"Redis memory per session: {report['redis_bytes_per_session']:.0f} bytes"
        if "tracking_bytes_per_session" in report:
            line += (
                f"; the kit's revocation channel adds {report['tracking_bytes_per_session']:.0f}"
                " bytes per session it has read (Redis's tracking table)"
            )
        lines.append(line)
    if "refresh_p99_by_sessions" in report:
        scale = report["refresh_p99_by_sessions"]
        lines.append(
            "refresh p99 by sessions stored: "
            + ", ".join(f"{int(n):,}: {v['p99_ms']:.2f} ms" for n, v in scale.items())
        )
    return "\n".join(lines)


def _ratio(summary: dict[str, Any], key: str) -> str:
    return f"{summary[key]:.2f}" if key in summary else ""


def _algorithm_table(by_algorithm: dict[str, Any]) -> list[str]:
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
