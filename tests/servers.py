"""Real processes for the tests: a private redis-server and gunicorn, each on a free port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.02) -> None:
    """Poll until ``predicate()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"condition not met within {timeout}s")


class RedisServer:
    """A redis-server of our own on a free port, never the machine's 6379."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is not installed: the integration tests need a real server "
                "(Debian: apt-get install redis-server)"
            )
        self.binary = binary
        self.workdir = workdir
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self, **kwargs) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True, **kwargs)

    def start(self, *extra: str) -> RedisServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        probe = self.client(socket_timeout=0.5)
        wait_until(lambda: self._answers(probe))
        probe.close()
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    @staticmethod
    def _answers(client: redis.Redis) -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False


class Gunicorn:
    """An app under gunicorn on a free port, with its own environment and no control socket."""

    def __init__(self, env: dict[str, str], *args: str, app: str = "wsgi:app") -> None:
        self.port = free_port()
        self.env = {**os.environ, **env}
        self.args = args
        self.app = app
        self.process: subprocess.Popen[str] | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "gunicorn", "-c", str(REPO / "gunicorn.conf.py"),
            "--bind", f"127.0.0.1:{self.port}", "--no-control-socket", *self.args, self.app,
        ]  # fmt: skip

    def start(self, log: Path | None = None) -> Gunicorn:
        """Start and wait until it listens; output goes to ``log`` or a pipe."""
        self._log = open(log, "w") if log else None  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            self.command(), cwd=REPO, env=self.env, text=True,
            stdout=self._log or subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_until(self._listening, timeout=30)
        return self

    def _listening(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            output = self.process.stdout.read() if self.process.stdout else ""
            raise RuntimeError(f"gunicorn exited: {output}")
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.communicate(timeout=20)
            if self.process.stdout:
                self.process.stdout.close()
            self.process = None
        if self._log:
            self._log.close()
            self._log = None
