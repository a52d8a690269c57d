"""Measuring how fast a resource server sees a session end: poll every few milliseconds until
it refuses, and keep every delay for the end-of-run summary (the README quotes it)."""

from __future__ import annotations

import re
import shlex
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import redis

POLL_INTERVAL = 0.002  # seconds between two requests while waiting for a refusal
REVOCATION_BOUND = 0.1  # the bound: refused within 100 ms of the event

# Every revocation delay measured in this run, by path: the README quotes them.
REVOCATION_DELAYS: dict[str, list[float]] = {}

README = Path(__file__).resolve().parent.parent / "README.md"
ACL_USER = "rotor-resource-server"


def readme_acl_rules(password: str, *, cluster: bool = False) -> list[str]:
    """The rules of the README's ACL line for a resource server (and its cluster additions),
    with ``password``: the tests run the kit as exactly the user the README tells operators
    to create."""
    text = README.read_text()
    line = next(
        line for line in text.splitlines() if line.startswith(f"redis-cli ACL SETUSER {ACL_USER}")
    )
    rules = shlex.split(line)[4:]
    rules = [f">{password}" if rule == ">PASSWORD" else rule for rule in rules]
    if cluster:
        extra = re.search(r"On a Redis Cluster add `([^`]+)`", text)
        assert extra is not None, "the README's cluster additions to the ACL line"
        rules += shlex.split(extra[1])
    return rules


def wait_for_refusal(call: Callable[[], int], path: str, since: float | None = None) -> float:
    """Poll every few ms until ``call()`` answers 401; record and return the delay from
    ``since`` (default: now). Fails if it takes longer than REVOCATION_BOUND."""
    start = time.monotonic() if since is None else since
    while True:
        status = call()
        now = time.monotonic()
        if status == 401:
            delay = max(now - start, 0.0)
            REVOCATION_DELAYS.setdefault(path, []).append(delay)
            assert delay < REVOCATION_BOUND, f"{path}: refused only after {delay * 1000:.1f} ms"
            return delay
        assert status == 200, f"{path}: unexpected {status}"
        assert now - start < REVOCATION_BOUND, f"{path}: still served after 100 ms"
        time.sleep(POLL_INTERVAL)


def commands_sent(client: redis.Redis, ignore: tuple[str, ...] = ()) -> int:
    """Commands Redis has run so far (INFO commandstats), less the ``ignore``d ones and
    the INFO calls this helper makes."""
    stats = client.info("commandstats")
    skip = {"info", *ignore}
    return sum(
        int(values["calls"])
        for name, values in stats.items()
        if name.removeprefix("cmdstat_").split("|")[0] not in skip
    )


def summary() -> str | None:
    """One line: how many revocations were timed, their median and worst delay."""
    delays = [delay for values in REVOCATION_DELAYS.values() for delay in values]
    if not delays:
        return None
    return (
        f"revocation delay seen by resource servers: {len(delays)} revocations over "
        f"{len(REVOCATION_DELAYS)} paths, median {statistics.median(delays) * 1000:.1f} ms, "
        f"worst {max(delays) * 1000:.1f} ms"
    )
