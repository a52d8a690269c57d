"""Request ids and per-request metrics: every request gets an id (a client's own X-Request-ID
when it is sane), logged on every line and echoed as ``X-Request-ID``."""

from __future__ import annotations

import re
import time
import uuid

from flask import Flask, Response, g, request

from app import metrics

_CLIENT_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def _start() -> None:
    client_id = request.headers.get("X-Request-ID", "")
    g.request_id = client_id if _CLIENT_ID.fullmatch(client_id) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.get("request_id", "")
    endpoint = request.url_rule.rule if request.url_rule else "unmatched"
    metrics.REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
    started = g.get("request_started")
    if started is not None:
        metrics.LATENCY.labels(endpoint).observe(time.perf_counter() - started)
    return response


def init_app(app: Flask) -> None:
    """Run first and last around every request."""
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_finish)
