"""gunicorn settings for Rotor; every value can be overridden from the environment."""

from __future__ import annotations

import os
import sys

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None

# Let oversized headers and URLs reach the app, which answers 431/414 in the JSON envelope
# instead of gunicorn's HTML page. 0 for the request line still stops at 1 MB inside gunicorn.
limit_request_line = 0
limit_request_field_size = 256 * 1024
limit_request_fields = 100

# gunicorn 25+ opens a shared control socket (~/.gunicorn/gunicorn.ctl) by default: two
# instances on one host would fight over it. Opt in with GUNICORN_CONTROL_SOCKET=<path>.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True


def on_starting(server) -> None:  # type: ignore[no-untyped-def]
    """Refuse several workers on the embedded store: each would hold its own data."""
    if server.cfg.workers > 1 and not os.environ.get("REDIS_URL"):
        sys.exit(
            f"rotor: {server.cfg.workers} workers need a shared Redis: set REDIS_URL "
            "(the embedded store lives inside one process), or run with -w 1"
        )
