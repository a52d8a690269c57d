"""Request ids and per-request metrics: every request gets an id (a client's own X-Request-ID
when it is sane), logged on every line and echoed as ``X-Request-ID``.

A WSGI middleware rather than Flask hooks: it reads and writes the WSGI environ and header
list directly (no context-local lookups, no ``Headers`` object), and it sees every response
Flask answers, error pages included, when Flask calls ``start_response``.
"""

from __future__ import annotations

import functools
import os
import random
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from app import metrics
from app.logs import REQUEST_ID

_CLIENT_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
# Any token is a method to gunicorn: label the ones we serve, count the rest together, so a
# client cannot grow the metrics without bound.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Request ids only correlate lines: no CSPRNG (a syscall per request) needed. A generator of
# our own, reseeded in every forked worker so that two workers never repeat each other.
_ids = random.Random()  # noqa: S311 - not a secret: ids only correlate log lines
os.register_at_fork(after_in_child=_ids.seed)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@functools.lru_cache(maxsize=512)
def _request_metrics(endpoint: str, method: str, status: str):  # type: ignore[no-untyped-def]
    """The counter and histogram children of one label set (``labels()`` costs a lock and a
    dict lookup per call; every request pays it)."""
    method = method if method in _METHODS else "other"
    return metrics.REQUESTS.labels(endpoint, method, status), metrics.LATENCY.labels(endpoint)


class Tracing:
    """Wraps the app's WSGI callable: a request id in the environ (``app.logs.REQUEST_ID``)
    before Flask sees the request; the header and the metrics when Flask answers."""

    def __init__(self, wsgi_app: WSGIApp) -> None:
        self.wsgi_app = wsgi_app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        started = time.perf_counter()
        client_id = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = (
            client_id if _CLIENT_ID.fullmatch(client_id) else f"{_ids.getrandbits(128):032x}"
        )
        environ[REQUEST_ID] = request_id

        def answer(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers.append(("X-Request-ID", request_id))
            # Flask calls this while its request context is still up: the request it built
            # (werkzeug keeps it in the environ) knows the matched rule.
            rule = getattr(environ.get("werkzeug.request"), "url_rule", None)
            requests, latency = _request_metrics(
                rule.rule if rule else "unmatched", environ["REQUEST_METHOD"], status[:3]
            )
            requests.inc()
            latency.observe(time.perf_counter() - started)
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, answer)


def init_app(app: Flask) -> None:
    """Trace every request the app serves."""
    app.wsgi_app = Tracing(app.wsgi_app)  # type: ignore[method-assign]
