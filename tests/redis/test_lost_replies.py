"""A command that ran on Redis but whose answer never came back is sent again: by Rotor's hot
path after a dropped connection, by redis-py's own retry after a timeout (the Sentinel and
Cluster clients, every script outside the hot path). Sent again, a rotation must answer as the
first run did, never look like reuse of the token it consumed, with or without a grace window.
"""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.store.client import load_script
from tests.conftest import AuthActions
from tests.servers import RedisServer, free_port

pytestmark = pytest.mark.redis


def _sha(script: str) -> str:
    return hashlib.sha1(load_script(script).encode(), usedforsecurity=False).hexdigest()


ROTATE_SHA = _sha("rotate").encode()


class ReplyDroppingProxy:
    """A TCP proxy in front of a redis-server. Armed, it passes the next command that contains
    ``marker`` to the server, lets it run, and closes the client's connection instead of
    returning the answer; everything else passes both ways untouched."""

    def __init__(self, upstream_port: int, marker: bytes) -> None:
        self.upstream_port = upstream_port
        self.marker = marker
        self.port = free_port()
        self.armed = threading.Event()
        self.dropped = 0
        self.seen = 0  # commands containing the marker that reached the server
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            self._sockets += [client, upstream]
            dropping = threading.Event()
            threading.Thread(target=self._to_server, args=(client, upstream, dropping),
                             daemon=True).start()  # fmt: skip
            threading.Thread(target=self._to_client, args=(upstream, client, dropping),
                             daemon=True).start()  # fmt: skip

    def _to_server(self, client: socket.socket, upstream: socket.socket, dropping) -> None:
        while chunk := _recv(client):
            if self.marker in chunk:
                self.seen += 1
                if self.armed.is_set():
                    self.armed.clear()
                    dropping.set()  # the server's answer to this one goes nowhere
            upstream.sendall(chunk)

    def _to_client(self, upstream: socket.socket, client: socket.socket, dropping) -> None:
        while chunk := _recv(upstream):
            if dropping.is_set():  # the command ran; its answer is lost with the connection
                self.dropped += 1
                for sock in (client, upstream):
                    sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
                return
            client.sendall(chunk)

    def close(self) -> None:
        self._listener.close()
        for sock in self._sockets:
            sock.close()


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


class LosesArmedReply(redis.Connection):
    """A connection that, when armed, reads the answer of the next run of the script ``sha``
    and raises a timeout instead of returning it: redis-py then sends the command again."""

    armed = threading.Event()
    sha = ""
    lost = 0
    sent = 0

    def send_command(self, *args, **kwargs):
        self._watched = args[:2] == ("EVALSHA", LosesArmedReply.sha)
        LosesArmedReply.sent += self._watched
        return super().send_command(*args, **kwargs)

    def read_response(self, *args, **kwargs):
        response = super().read_response(*args, **kwargs)
        if getattr(self, "_watched", False) and self.armed.is_set():
            self.armed.clear()
            LosesArmedReply.lost += 1
            raise redis.TimeoutError("Timeout reading from socket (the test lost the answer)")
        return response


class FaultyPool(redis.ConnectionPool):
    """Not the plain pool, so Rotor's hot path hands every script to redis-py (as it does
    for Sentinel and Cluster clients), whose retry sends a timed-out command again."""


@pytest.fixture
def scripted_server(redis_server: RedisServer) -> RedisServer:
    with redis_server.client() as admin:
        admin.flushdb()
        for script in ("rotate", "create_session"):  # lost answers are the script's, not NOSCRIPT
            admin.script_load(load_script(script))
    return redis_server


@pytest.fixture
def faulty_client(scripted_server: RedisServer) -> Iterator[redis.Redis]:
    """A client whose armed connection loses one answer and lets redis-py retry (no backoff)."""
    pool = FaultyPool(connection_class=LosesArmedReply, port=scripted_server.port,
                      decode_responses=True, retry=Retry(NoBackoff(), 1))  # fmt: skip
    LosesArmedReply.lost = LosesArmedReply.sent = 0
    redis_client = redis.Redis(connection_pool=pool)
    yield redis_client
    LosesArmedReply.armed.clear()
    redis_client.close()


@pytest.fixture
def proxy(scripted_server: RedisServer) -> Iterator[ReplyDroppingProxy]:
    proxy = ReplyDroppingProxy(scripted_server.port, ROTATE_SHA)
    yield proxy
    proxy.close()


def _assert_rotation_survived(auth: AuthActions, pair: dict, response) -> None:
    assert response.status_code == 200, response.json
    successor = response.json
    assert auth.me(successor["access_token"]).status_code == 200
    following = auth.refresh(successor["refresh_token"])  # the chain goes on from it
    assert following.status_code == 200, following.json
    assert auth.me(following.json["access_token"]).status_code == 200
    assert auth.refresh(pair["refresh_token"]).json["error"]["code"] == "token_reused"


@pytest.mark.parametrize("grace", [0, 10])
def test_a_rotation_resent_after_a_dropped_connection_is_not_reuse(app_factory, proxy, grace):
    proxied = redis.Redis.from_url(proxy.url, decode_responses=True)
    auth = app_factory(proxied, refresh_reuse_grace=grace)
    pair = auth.register_and_login()

    proxy.armed.set()
    response = auth.refresh(pair["refresh_token"])
    assert (proxy.dropped, proxy.seen) == (1, 2)  # it ran, its answer was lost, it ran again
    _assert_rotation_survived(auth, pair, response)
    proxied.close()


@pytest.mark.parametrize("grace", [0, 10])
def test_a_rotation_redis_py_retries_after_a_timeout_is_not_reuse(
    app_factory, faulty_client, grace
):
    auth = app_factory(faulty_client, refresh_reuse_grace=grace)
    pair = auth.register_and_login()

    LosesArmedReply.sha, LosesArmedReply.sent = ROTATE_SHA.decode(), 0
    LosesArmedReply.armed.set()
    response = auth.refresh(pair["refresh_token"])
    assert (LosesArmedReply.lost, LosesArmedReply.sent) == (1, 2)
    _assert_rotation_survived(auth, pair, response)


def test_a_login_redis_py_retries_after_a_timeout_opens_one_session(app_factory, faulty_client):
    auth = app_factory(faulty_client, refresh_reuse_grace=10)
    user = auth.register()
    others = [auth.login(user["email"]) for _ in range(2)]

    LosesArmedReply.sha, LosesArmedReply.sent = _sha("create_session"), 0
    LosesArmedReply.armed.set()
    pair = auth.login(user["email"])
    assert (LosesArmedReply.lost, LosesArmedReply.sent) == (1, 2)
    sessions = auth.get("/api/auth/sessions", pair["access_token"]).json["sessions"]
    assert sorted(s["id"] for s in sessions) == sorted(p["session_id"] for p in [*others, pair])
    assert auth.refresh(pair["refresh_token"]).status_code == 200
