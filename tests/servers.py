"""Real processes for the tests, each on free ports: a private redis-server, a local Redis Cluster,
Redis Sentinels, and gunicorn."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path

import redis

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports nobody listens on right now."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def http_call(
    url: str, method: str = "GET", body: dict | None = None, headers: dict | None = None
) -> tuple[int, Message, bytes]:
    """One HTTP request as a non-browser client makes it: (status, headers, raw body), for
    error statuses too."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


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

    cluster = False

    def __init__(
        self, workdir: Path, port: int | None = None, *, unix_socket: bool = False
    ) -> None:
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
        # Also listen on a Unix socket; its own short directory (socket paths stop at 107 bytes).
        self.socket_path = (
            Path(tempfile.mkdtemp(prefix="rotor-redis-")) / "redis.sock" if unix_socket else None
        )

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def unix_url(self) -> str:
        assert self.socket_path is not None, "started without unix_socket=True"
        return f"unix://{self.socket_path}?db=0"

    def client(self, **kwargs) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True, **kwargs)

    def start(self, *extra: str) -> RedisServer:
        """Start with these extra options and wait until it answers."""
        return self.spawn(*extra).wait_ready()

    def spawn(self, *extra: str) -> RedisServer:
        """Start the process without waiting (start several, then ``wait_ready`` each)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.socket_path is not None:
            self.socket_path.parent.mkdir(exist_ok=True)
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
                *(
                    ("--unixsocket", str(self.socket_path), "--unixsocketperm", "700")
                    if self.socket_path
                    else ()
                ),
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return self

    def wait_ready(self) -> RedisServer:
        """Wait until the server answers PING."""
        probe = self.client(socket_timeout=0.5)
        wait_until(lambda: self._answers(probe))
        probe.close()
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
        if self.socket_path is not None:
            shutil.rmtree(self.socket_path.parent, ignore_errors=True)

    def kill(self) -> None:
        """SIGKILL, as in a crash: no shutdown, no last write."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    @staticmethod
    def _answers(client: redis.Redis) -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False


class LocalCluster:
    """A Redis Cluster of our own: ``primaries`` redis-servers with ``replicas`` replicas each,
    every node on free ports (its client port and its cluster bus port), never 6379."""

    cluster = True

    def __init__(
        self, workdir: Path, primaries: int = 3, replicas: int = 1, node_timeout_ms: int = 5000
    ) -> None:
        self.replicas = replicas
        self.node_timeout_ms = node_timeout_ms  # how long a silent primary has until failover
        count = primaries * (1 + replicas)
        ports = free_ports(2 * count)  # a client port and a cluster bus port per node
        self.nodes = [RedisServer(workdir / f"node{i}", ports[i]) for i in range(count)]
        self._bus_ports = ports[count:]

    @property
    def url(self) -> str:
        """Any one node: a cluster client discovers the others from it."""
        return self.nodes[0].url

    def client(self, **kwargs) -> redis.RedisCluster:
        """A cluster client for tests, whose DBSIZE and KEYS cover every primary.

        redis-py sends those two to a single node by default; a test that asks "is the
        database empty" or "which keys exist" means the whole cluster.
        """
        client = redis.RedisCluster.from_url(self.url, decode_responses=True, **kwargs)
        for command in ("DBSIZE", "KEYS"):
            client.command_flags[command] = redis.RedisCluster.PRIMARIES
        return client

    def start(self) -> LocalCluster:
        """Start every node, join them with ``redis-cli --cluster create`` and wait until every
        node says ``cluster_state:ok``."""
        try:
            self._create()
        except BaseException:
            self.stop()
            raise
        return self

    def _create(self) -> None:
        for node, bus_port in zip(self.nodes, self._bus_ports, strict=True):
            node.spawn(
                "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf",
                "--cluster-port", str(bus_port),
                "--cluster-node-timeout", str(self.node_timeout_ms),
                "--shutdown-timeout", "0",  # a test cluster keeps nothing: stop at once
                # Replicas sync at once, and their first offset (which CLUSTER SLOTS waits for
                # before it lists them) comes with the primary's first ping: 1 s, not 5 + 10 s.
                "--repl-diskless-sync-delay", "0",
                "--repl-ping-replica-period", "1",
            )  # fmt: skip
        for node in self.nodes:
            node.wait_ready()
        create = subprocess.run(
            [
                _binary("redis-cli"), "--cluster", "create",
                *(f"127.0.0.1:{node.port}" for node in self.nodes),
                "--cluster-replicas", str(self.replicas), "--cluster-yes",
            ],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        if create.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {create.stdout}{create.stderr}")
        probes = [node.client(socket_timeout=0.5) for node in self.nodes]
        try:
            wait_until(lambda: all(_cluster_ok(probe) for probe in probes), timeout=30)
            # Clients learn of a replica from CLUSTER SLOTS once it has synced.
            wait_until(lambda: self._replicas_listed(probes[0]), timeout=30)
        finally:
            for probe in probes:
                probe.close()

    def _replicas_listed(self, probe: redis.Redis) -> bool:
        try:
            ranges = probe.execute_command("CLUSTER", "SLOTS")
        except redis.RedisError:
            return False
        return all(len(slot_range) - 3 >= self.replicas for slot_range in ranges)

    def stop(self) -> None:
        for node in self.nodes:
            if node.process is not None:
                node.process.terminate()
        for node in self.nodes:
            node.stop()


def _cluster_ok(client: redis.Redis) -> bool:
    try:
        return client.cluster("INFO")["cluster_state"] == "ok"
    except redis.RedisError:
        return False


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(
            f"{name} is not installed: the integration tests need a real server "
            "(Debian: apt-get install redis-server)"
        )
    return path


class SentinelGroup:
    """A primary, one replica and ``count`` Redis Sentinels watching them (quorum 2), every
    process on a free port of its own, never 6379. ``addresses`` is for REDIS_SENTINELS."""

    master_name = "rotor"

    def __init__(
        self,
        workdir: Path,
        count: int = 3,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 3000,
    ) -> None:
        self.workdir = workdir
        self.primary = RedisServer(workdir / "primary")
        self.replica = RedisServer(workdir / "replica")
        self.sentinel_ports = free_ports(count)
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.sentinels: list[subprocess.Popen[bytes]] = []

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(f"127.0.0.1:{port}" for port in self.sentinel_ports)

    def start(self) -> SentinelGroup:
        """Start the primary, the replica (synced) and the sentinels, and wait until every
        sentinel knows the replica and the other sentinels: a failover can then be elected."""
        try:
            self.primary.start("--repl-diskless-sync-delay", "0")  # the replica syncs at once
            self.replica.start("--replicaof", "127.0.0.1", str(self.primary.port))
            wait_until(lambda: self._link_up(self.replica), timeout=30)
            for port in self.sentinel_ports:
                self.sentinels.append(self._spawn_sentinel(port))
            wait_until(self._sentinels_ready, timeout=30)
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn_sentinel(self, port: int) -> subprocess.Popen[bytes]:
        workdir = self.workdir / f"sentinel-{port}"
        workdir.mkdir(parents=True, exist_ok=True)
        conf = workdir / "sentinel.conf"  # a sentinel rewrites its config file: one each
        name = self.master_name
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {workdir}\nloglevel warning\n"
            f"sentinel monitor {name} 127.0.0.1 {self.primary.port} 2\n"
            f"sentinel down-after-milliseconds {name} {self.down_after_ms}\n"
            f"sentinel failover-timeout {name} {self.failover_timeout_ms}\n"
            f"sentinel parallel-syncs {name} 1\n"
        )
        return subprocess.Popen(
            [_binary("redis-server"), str(conf), "--sentinel"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def _sentinels_ready(self) -> bool:
        for port in self.sentinel_ports:
            try:
                with redis.Redis(port=port, socket_timeout=0.5, decode_responses=True) as probe:
                    state = probe.sentinel_master(self.master_name)
            except redis.RedisError:
                return False
            others = len(self.sentinel_ports) - 1
            if state["num-slaves"] < 1 or state["num-other-sentinels"] < others:
                return False
        return True

    @staticmethod
    def _link_up(server: RedisServer) -> bool:
        try:
            with server.client(socket_timeout=0.5) as probe:
                return probe.info("replication").get("master_link_status") == "up"
        except redis.RedisError:
            return False

    def primary_address(self) -> tuple[str, int] | None:
        """Where the sentinels say the primary is now (None if none of them answers)."""
        for port in self.sentinel_ports:
            try:
                with redis.Redis(port=port, socket_timeout=0.5, decode_responses=True) as probe:
                    host, primary_port = probe.sentinel_get_master_addr_by_name(self.master_name)
                    return str(host), int(primary_port)
            except (redis.RedisError, TypeError):
                continue
        return None

    def kill_primary(self) -> None:
        """SIGKILL the primary, as in a crash."""
        self.primary.kill()

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.terminate()
        for sentinel in self.sentinels:
            sentinel.wait(timeout=10)
        self.sentinels = []
        self.replica.stop()
        self.primary.stop()


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
