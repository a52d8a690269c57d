"""Prometheus metrics (prometheus_client), correct under several gunicorn workers.

With ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn.conf.py sets it up), every worker writes its
samples to files there and /metrics aggregates them; without it (tests, `flask run`) the
process's default registry is used.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from app.errors import StoreUnavailable

REQUESTS = Counter(
    "rotor_http_requests_total",
    "HTTP requests by endpoint, method and status.",
    ["endpoint", "method", "status"],
)
LATENCY = Histogram(
    "rotor_http_request_duration_seconds",
    "Time to answer a request, by endpoint.",
    ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
LOGINS = Counter("rotor_logins_total", "Login attempts by outcome.", ["outcome"])
REFRESHES = Counter(
    "rotor_refreshes_total",
    "Refresh attempts by outcome: rotated, resynced (after a lost write), replayed (grace), "
    "reused, expired, revoked, invalid.",
    ["outcome"],
)
REDIS_ERRORS = Counter(
    "rotor_redis_errors_total", "Requests that failed because Redis did not answer."
)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class ActiveSessions(Collector):
    """``rotor_active_sessions``, counted in Redis at scrape time (cached: a count scans)."""

    def __init__(self, count: Callable[[], int], max_age: float = 30.0) -> None:
        self._count = count
        self._max_age = max_age
        self._cached: tuple[float, int] | None = None

    def collect(self):  # type: ignore[no-untyped-def]
        now = time.monotonic()
        if self._cached is None or now - self._cached[0] > self._max_age:
            try:
                self._cached = (now, self._count())
            except StoreUnavailable:
                return  # no gauge while Redis is down; rotor_redis_errors_total says why
        yield GaugeMetricFamily(
            "rotor_active_sessions", "Live sessions in Redis (approximate).", self._cached[1]
        )


def exposition(extra: Collector | None = None) -> bytes:
    """The text format of every metric, across workers in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        from prometheus_client import REGISTRY as registry
    text = generate_latest(registry)
    if extra is not None:
        per_scrape = CollectorRegistry(auto_describe=False)
        per_scrape.register(extra)
        text += generate_latest(per_scrape)
    return text
