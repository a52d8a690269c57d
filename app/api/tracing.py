"""Request ids and per-request metrics: every request gets an id (a client's own X-Request-ID
when it is sane), logged on every line and echoed as ``X-Request-ID``."""

from __future__ import annotations

import functools
import os
import random
import re
import time

from flask import Flask, Response, g, request

from app import metrics

_CLIENT_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
# Any token is a method to gunicorn: label the ones we serve, count the rest together, so a
# client cannot grow the metrics without bound.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Request ids only correlate lines: no CSPRNG (a syscall per request) needed. A generator of
# our own, reseeded in every forked worker so that two workers never repeat each other.
_ids = random.Random()  # noqa: S311 - not a secret: ids only correlate log lines
os.register_at_fork(after_in_child=_ids.seed)


def _start() -> None:
    client_id = request.environ.get("HTTP_X_REQUEST_ID", "")
    fresh = client_id if _CLIENT_ID.fullmatch(client_id) else f"{_ids.getrandbits(128):032x}"
    g.request_id = fresh
    g.request_started = time.perf_counter()


@functools.lru_cache(maxsize=512)
def _request_metrics(endpoint: str, method: str, status: int):  # type: ignore[no-untyped-def]
    """The counter and histogram children of one label set (``labels()`` costs a lock and a
    dict lookup per call; every request pays it)."""
    method = method if method in _METHODS else "other"
    return metrics.REQUESTS.labels(endpoint, method, str(status)), metrics.LATENCY.labels(endpoint)


def _finish(response: Response) -> Response:
    context = g._get_current_object()
    response.headers["X-Request-ID"] = getattr(context, "request_id", "")
    rule = request.url_rule
    requests, latency = _request_metrics(
        rule.rule if rule else "unmatched", request.method, response.status_code
    )
    requests.inc()
    started = getattr(context, "request_started", None)
    if started is not None:
        latency.observe(time.perf_counter() - started)
    return response


def init_app(app: Flask) -> None:
    """Run first and last around every request."""
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_finish)
