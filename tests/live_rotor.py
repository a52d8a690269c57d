"""A real Rotor for the client libraries' test suites (clients/js, clients/python), which are
not Python test modules of this package and so cannot use its fixtures.

    .venv/bin/python -m tests.live_rotor [--access-token-ttl 2] [--grace 10]

starts a private redis-server and Rotor under gunicorn (two workers), each on a free port,
prints one JSON line ``{"url": ..., "access_token_ttl": ..., "grace": ...}`` once Rotor is
ready, then serves until its stdin closes (the test process ended, however it ended) or it
gets SIGTERM or SIGINT, and stops both. Plain HTTP, so ``COOKIE_SECURE=0``; rate limits off.
"""

from __future__ import annotations

import argparse
import json
import secrets
import signal
import sys
import tempfile
import urllib.error
from pathlib import Path

from tests.servers import Gunicorn, RedisServer, http_call, wait_until


def _ready(url: str) -> bool:
    try:
        return http_call(url + "/readyz")[0] == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop(_signum: int, _frame: object) -> None:
    raise SystemExit(0)  # unwinds through the finally blocks that stop the servers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--access-token-ttl", type=int, default=2)
    parser.add_argument("--grace", type=int, default=10)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    with tempfile.TemporaryDirectory(prefix="rotor-live-") as workdir:
        redis_server = RedisServer(Path(workdir) / "redis").start()
        try:
            gunicorn = Gunicorn(
                {
                    "REDIS_URL": redis_server.url,
                    "ROTOR_ENV": "development",
                    "JWT_SECRET_KEY": secrets.token_urlsafe(48),
                    "COOKIE_SECURE": "0",
                    "BCRYPT_ROUNDS": "4",
                    "RATELIMIT_ENABLED": "0",
                    "ACCESS_TOKEN_TTL": str(args.access_token_ttl),
                    "REFRESH_REUSE_GRACE": str(args.grace),
                    "WEB_CONCURRENCY": "2",
                    "LOG_LEVEL": "WARNING",
                }
            )
            log = Path(workdir) / "gunicorn.log"
            try:
                gunicorn.start(log)
                wait_until(lambda: _ready(gunicorn.url), timeout=30)
                ready = {
                    "url": gunicorn.url,
                    "access_token_ttl": args.access_token_ttl,
                    "grace": args.grace,
                }
                print(json.dumps(ready), flush=True)
                sys.stdin.read()  # until EOF: the test process closed the pipe or exited
            except Exception:  # a start that failed: show why
                if log.exists():
                    sys.stderr.write(log.read_text())
                raise
            finally:
                gunicorn.stop()
        finally:
            redis_server.stop()


if __name__ == "__main__":
    main()
