"""gunicorn settings for Rotor; every value can be overridden from the environment.

Rotor's own settings (LOG_LEVEL, where Redis is) come from ``Settings.from_env()``, as in the
app; the GUNICORN_* variables and WEB_CONCURRENCY are gunicorn's.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

from config import ConfigError, Settings

try:
    _settings: Settings | None = Settings.from_env()
except ConfigError:
    # gunicorn reads ./gunicorn.conf.py for any app started from the repository root (the
    # resource-server example, the bench's baselines), and those need not be configured as
    # Rotor. Rotor itself stops in wsgi.py with the one-line message.
    _settings = None

# Files every request writes to (the metrics' memory maps, gunicorn's worker heartbeat) belong
# in memory, not on a disk that writes them back: /dev/shm where there is one.
# Only mkdtemp/mkstemp create files there (private, unique names).
_SHM = "/dev/shm"  # noqa: S108
_MEMORY_DIR = _SHM if os.path.isdir(_SHM) else None

# Prometheus multiprocess mode: each worker writes its samples under this directory and
# /metrics adds them up. prometheus_client reads it when first imported, so it is set here,
# before anything imports the app.
_own_metrics_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _own_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(
        prefix="rotor-metrics-", dir=_MEMORY_DIR
    )

from app.logs import gunicorn_logconfig  # noqa: E402

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# The heartbeat fchmods a file per request; on a disk-backed directory that can stall a worker
# (gunicorn's docs), so it goes in memory unless told otherwise.
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR") or _MEMORY_DIR
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
# Access lines without query strings or credential headers: a token in a URL stays out of logs.
logger_class = "app.logs.AccessLogger"
_log_level = _settings.log_level if _settings else Settings().log_level
loglevel = _log_level.lower()
# JSON lines for gunicorn's own logs as for the app's (app/logs.py).
logconfig_dict = gunicorn_logconfig(_log_level)

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
    """Refuse several workers on the embedded store: each would hold its own data. Start
    the metrics directory empty: samples of a previous run must not add up with ours."""
    if server.cfg.workers > 1 and _settings is not None and _settings.embedded_store:
        on_exit(server)  # gunicorn does not call it when on_starting stops the start
        sys.exit(
            f"rotor: {server.cfg.workers} workers need a shared Redis: set REDIS_URL "
            "or REDIS_SENTINELS (the embedded store lives inside one process), or run with -w 1"
        )
    metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(metrics_dir, ignore_errors=True)
    os.makedirs(metrics_dir, exist_ok=True)


def child_exit(server, worker) -> None:  # type: ignore[no-untyped-def]
    """A dead worker's live gauges must not be reported any more."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:  # type: ignore[no-untyped-def]
    """Remove the metrics directory this configuration made for itself."""
    if _own_metrics_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def post_worker_init(worker) -> None:  # type: ignore[no-untyped-def]
    """Move everything the app made at startup out of the garbage collector's sight: the
    collections that requests trigger then scan only what requests allocate, not the app's
    modules, routes and schemas (gc.freeze, as the gc docs suggest for pre-fork servers)."""
    import gc

    gc.freeze()
