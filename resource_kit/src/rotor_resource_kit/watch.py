"""Whether a Rotor session is live, known without asking Redis on every request.

Redis's server-assisted client-side caching (``CLIENT TRACKING``, default mode with
``REDIRECT``): per Redis server (each primary of a cluster) the kit keeps

- a *channel*: a connection subscribed to ``__redis__:invalidate``;
- a *reader*: a connection with ``CLIENT TRACKING ON REDIRECT <channel id>``. Redis remembers
  every key it reads (present or not) and, when one of them changes, is deleted, expires, is
  evicted or the database is flushed, sends its name down the channel.

The first request of a session reads its three keys through the reader (one round trip) and
keeps the answer; later requests decide from memory. Before it trusts memory, a request applies
every invalidation that has reached the channel's socket, so news that Redis has sent is never
ignored (when nothing has, one ``poll`` of both connections' sockets says so). Memory is
trusted only while both connections are up and the channel answered a heartbeat recently:
when either drops (``CLIENT KILL``, a restart, a failover) memory is wiped and every request
reads Redis directly (or gets `StoreUnavailable`, answered 503) until a background thread has
both connections back.

A value read while news about its key may have crossed it (an invalidation that arrived
between sending the read and storing its answer) is used for that request but not kept.
A session's deadline is kept as "read time + PTTL", so a session whose TTL runs out is refused
at that instant, without waiting for Redis to notice the expiry.

redis-py's own client-side cache (``CacheConfig``) is not used: it refuses servers older than
Redis 7.4, applies invalidations only when the connection that read a key is used again, and
has no notion of "the news channel is down, stop trusting memory".
"""

from __future__ import annotations

import logging
import math
import os
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import RedisClusterException
from redis.retry import Retry

from rotor_resource_kit.layout import RotorKeys, user_is_active

log = logging.getLogger("rotor_resource_kit")

INVALIDATE_CHANNEL = "__redis__:invalidate"
# Invalidations remembered to tell whether one crossed a read in flight; a read that older
# news may have crossed is simply not kept.
_RECENT_NEWS = 1024
_BACKOFF_FIRST, _BACKOFF_MAX = 0.05, 1.0
_REDIS_ERRORS = (redis.RedisError, RedisClusterException, OSError)

Command = tuple[str, ...]
Connection = Any  # redis.connection.AbstractConnection
_Ticket = tuple[int, int, Connection]  # (incarnation, epoch, reader) when a read started


class StoreUnavailable(Exception):
    """Redis did not answer: whether the session is live is unknown, so refuse with 503."""


class NodeWatch:
    """One Redis server (or cluster primary): its channel, its tracked reader, and the values
    read through that reader, trusted while both connections are up and heard from."""

    def __init__(
        self,
        name: str,
        new_connection: Callable[[], Connection],
        *,
        heartbeat: float,
        stale_after: float,
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._new_connection = new_connection
        self._heartbeat = heartbeat
        self._stale_after = stale_after
        self._max_entries = max_entries
        self._clock = clock
        # _lock guards the channel's parser, the values and the news; _reader_lock the reader.
        self._lock = threading.Lock()
        self._reader_lock = threading.Lock()
        self._channel: Connection | None = None
        self._reader: Connection | None = None
        self._incarnation = 0
        self._epoch = 0  # invalidations applied since the channel connected
        self._news: deque[tuple[int, frozenset[str] | None]] = deque(maxlen=_RECENT_NEWS)
        self._values: dict[str, Any] = {}
        # Both connections' sockets, polled at once: while neither has anything to read and
        # both were read to the end since anything else read them, there is no news to apply
        # and no EOF to notice, and a request need not ask each connection (see _quiet).
        self._poll: select.poll | None = None
        self._channel_read_out = False  # _lock: nothing complete is left in its parser
        self._reader_read_out = False  # _reader_lock: no reply since its last check
        self._last_heard = 0.0
        self._last_ping = 0.0
        self._next_attempt = 0.0
        self._backoff = _BACKOFF_FIRST

    # -- the request path -----------------------------------------------------------------

    def cached(self, keys: Sequence[str]) -> list[Any] | None:
        """The remembered values of ``keys``; None when one is not remembered or memory
        cannot be trusted right now. Sends nothing to Redis."""
        with self._lock:
            if not self._vouches():
                return None
            values = self._values
            try:
                return [values[key] for key in keys]
            except KeyError:
                return None

    def ticket(self) -> _Ticket | None:
        """Start a read that may be kept: None when the connections are not up."""
        with self._lock:
            if not self._vouches():
                return None
            return self._incarnation, self._epoch, self._reader

    def query(self, ticket: _Ticket, commands: Sequence[Command]) -> list[Any] | None:
        """Run ``commands`` in one round trip on the tracked reader; None (and the node
        starts over) when the reader fails."""
        incarnation, _, reader = ticket
        try:
            with self._reader_lock:
                if self._incarnation != incarnation:
                    return None  # dropped meanwhile: redis-py would reconnect it untracked
                # Its replies pass through its parser: until checked again (and while this
                # runs, or if it fails), requests ask the reader itself, as they always did.
                self._reader_read_out = False
                reader.send_packed_command(reader.pack_commands(commands))
                return [reader.read_response() for _ in commands]
        except _REDIS_ERRORS as exc:
            # An error reply (MOVED after a failover, an ACL refusal) leaves later replies
            # unread: the reader is not reusable either way.
            self._drop(incarnation, f"reader failed: {exc}")
            return None

    def remember(self, ticket: _Ticket, values: dict[str, Any]) -> None:
        """Keep values read under ``ticket`` unless news about one of them came meanwhile or
        the connections changed."""
        incarnation, epoch, _ = ticket
        with self._lock:
            if not self._vouches() or self._incarnation != incarnation:
                return
            if self._news_since(epoch, values.keys()):
                return
            if len(self._values) + len(values) > self._max_entries:
                self._values.clear()  # memory is bounded; dropped entries are read again
            self._values.update(values)

    def _vouches(self) -> bool:
        """Apply pending news, then say whether memory can be trusted (lock held)."""
        if self._channel is None:
            return False
        quiet = self._quiet()
        if not quiet:
            self._apply_pending_news()
            if self._channel is None:
                return False
        if self._clock() - self._last_heard > self._stale_after:
            return False
        return quiet or self._reader_is_intact()

    def _quiet(self) -> bool:
        """Nothing can have reached either connection since both were last read to the end:
        one poll of the two sockets instead of a non-blocking read on each (lock held).
        False whenever in doubt; the caller then reads both as before."""
        if self._poll is None or not (self._channel_read_out and self._reader_read_out):
            return False
        return not self._poll.poll(0)  # any event: news, a PONG, EOF, an error

    def _apply_pending_news(self) -> None:
        """Read every message that has reached the channel's socket (lock held)."""
        channel = self._channel
        try:
            while channel.can_read(timeout=0):
                self._apply(channel.read_response())
            self._channel_read_out = True
        except _REDIS_ERRORS as exc:
            self._drop_locked(f"channel lost: {exc}")

    def _reader_is_intact(self) -> bool:
        """A reader Redis dropped forgets what it tracked: its socket then reads EOF (lock
        held; a reader busy with a query reports its own failure)."""
        if not self._reader_lock.acquire(blocking=False):
            return True
        try:
            if self._reader is not None and self._reader.can_read(timeout=0):
                self._drop_locked("reader lost: unexpected data or EOF")
                return False
            self._reader_read_out = self._reader is not None
            return self._reader is not None
        except _REDIS_ERRORS as exc:
            self._drop_locked(f"reader lost: {exc}")
            return False
        finally:
            self._reader_lock.release()

    def _apply(self, message: Any) -> None:
        self._last_heard = self._clock()
        if not isinstance(message, list) or len(message) < 3:
            return  # subscribe confirmation
        kind, channel, keys = message[0], message[1], message[2]
        if kind != "message" or channel != INVALIDATE_CHANNEL:
            return  # the heartbeat's ["pong", ""]
        self._epoch += 1
        if keys is None:  # FLUSHDB / FLUSHALL
            self._values.clear()
            self._news.append((self._epoch, None))
            return
        names = frozenset(keys)
        for key in names:
            self._values.pop(key, None)
        self._news.append((self._epoch, names))

    def _news_since(self, epoch: int, keys: Any) -> bool:
        if self._epoch == epoch:
            return False
        if not self._news or self._news[0][0] > epoch + 1:
            return True  # older news was forgotten: it may have been about these keys
        for news_epoch, names in reversed(self._news):
            if news_epoch <= epoch:
                break
            if names is None or not names.isdisjoint(keys):
                return True
        return False

    # -- the background thread ------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Both connections are up (the cache may be used)."""
        with self._lock:
            return self._vouches()

    def maintain(self) -> None:
        """Connect when down; otherwise apply news, send the heartbeat, notice silence."""
        now = self._clock()
        if self._channel is None:
            if now >= self._next_attempt:
                self._connect()
            return
        with self._lock:
            if not self._vouches():
                if self._channel is not None:
                    self._drop_locked("no heartbeat answer")
                return
            if now - self._last_ping >= self._heartbeat:
                try:
                    self._channel.send_command("PING")
                    self._last_ping = now
                except _REDIS_ERRORS as exc:
                    self._drop_locked(f"channel lost: {exc}")

    def _connect(self) -> None:
        channel = reader = None
        try:
            channel = self._new_connection()
            channel.connect()
            channel.send_command("CLIENT", "ID")
            channel_id = channel.read_response()
            channel.send_command("SUBSCRIBE", INVALIDATE_CHANNEL)
            channel.read_response()
            reader = self._new_connection()
            reader.connect()
            reader.send_command("CLIENT", "TRACKING", "ON", "REDIRECT", channel_id)
            reader.read_response()
        except _REDIS_ERRORS as exc:
            for connection in (channel, reader):
                if connection is not None:
                    connection.disconnect()
            self._next_attempt = self._clock() + self._backoff
            self._backoff = min(self._backoff * 2, _BACKOFF_MAX)
            log.debug("rotor watch %s: cannot connect: %s", self.name, exc)
            return
        with self._lock:
            self._channel, self._reader = channel, reader
            self._poll = _poll_both(channel, reader)
            self._channel_read_out = self._reader_read_out = False
            self._incarnation += 1
            self._epoch = 0
            self._news.clear()
            self._values.clear()
            self._last_heard = self._last_ping = self._clock()
            self._backoff = _BACKOFF_FIRST
        log.info("rotor watch %s: tracking session keys", self.name)

    def _drop(self, incarnation: int, reason: str) -> None:
        with self._lock:
            if self._incarnation == incarnation:
                self._drop_locked(reason)

    def _drop_locked(self, reason: str, level: int = logging.WARNING) -> None:
        """Forget everything and close both connections: without news, memory is worthless."""
        if self._channel is None:
            return
        log.log(level, "rotor watch %s: %s; reading Redis on every request until back",
                self.name, reason)  # fmt: skip
        connections = (self._channel, self._reader)
        self._channel = self._reader = None
        self._poll = None
        self._incarnation += 1  # first: a query about to start sees it and does not
        for connection in connections:
            if connection is not None:
                connection.disconnect()
        self._values.clear()
        self._news.clear()
        self._next_attempt = self._clock()

    def close(self) -> None:
        """Close both connections."""
        with self._lock:
            self._drop_locked("closed", logging.DEBUG)

    def abandon(self) -> None:
        """Forget connections inherited from a parent process without touching them (closing
        would shut down the parent's sockets)."""
        self._channel = self._reader = None
        self._poll = None
        self._values.clear()


class SessionWatch:
    """Answers "is this access token's session still live?" like Rotor's own authorization,
    from memory kept fresh by Redis's invalidation messages; one Redis round trip for the
    first request of a session (and of each new access token), none after it.

    ``redis_url`` names Rotor's Redis (any node of a cluster with ``cluster=True``), as a
    user that may only read Rotor's keys and subscribe (README: the ACL line).
    """

    def __init__(
        self,
        redis_url: str,
        *,
        key_prefix: str = "auth:",
        cluster: bool = False,
        timeout: float = 2.0,
        heartbeat: float = 1.0,
        stale_after: float | None = None,
        max_entries: int = 100_000,
    ) -> None:
        self.keys = RotorKeys(key_prefix)
        self._url = redis_url
        self._cluster_mode = cluster
        self._options: dict[str, Any] = {
            "decode_responses": True,
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            # A quick retry or two (a stale pooled connection, a moved slot), then 503: redis-py's
            # default backs off for seconds while a request waits.
            "retry": Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), 2),
        }
        self._heartbeat = heartbeat
        self._stale_after = stale_after if stale_after is not None else 3 * heartbeat
        self._max_entries = max_entries
        self._tick = min(0.05, heartbeat / 4)
        self._lock = threading.RLock()  # starting in a process builds the client under it
        self._pid = -1
        self._nodes: dict[str, NodeWatch] = {}
        self._client: Any = None
        self._topology_stale = False
        self._stopped = threading.Event()

    # -- the question -----------------------------------------------------------------------

    def is_live(self, user_id: str, session_id: str, token_id: str) -> bool:
        """True when the session exists (and its TTL has not run out), the user exists and
        is not disabled, and this access token was not logged out. Raises StoreUnavailable
        when Redis must be asked and does not answer."""
        self._start_in_this_process()
        keys = self.keys
        names = (keys.session(user_id, session_id), keys.denied(user_id, token_id),
                 keys.user(user_id))  # fmt: skip
        node = self._node_for(names[2])
        if node is not None:
            remembered = node.cached(names)
            if remembered is not None:
                return _verdict(*remembered, now=time.monotonic())
        return self._read(node, names)

    def _read(self, node: NodeWatch | None, names: tuple[str, str, str]) -> bool:
        session, denied, user = names
        commands = [("PTTL", session), ("EXISTS", denied), ("HMGET", user, "email", "disabled")]
        ticket = node.ticket() if node is not None else None
        sent_at = time.monotonic()
        replies = node.query(ticket, commands) if node is not None and ticket else None
        if replies is None:
            ticket = None
            replies = self._read_directly(commands)
        values = (_deadline(sent_at, replies[0]), bool(replies[1]), user_is_active(replies[2]))
        if node is not None and ticket is not None:
            node.remember(ticket, dict(zip(names, values, strict=True)))
        return _verdict(*values, now=time.monotonic())

    def _read_directly(self, commands: Sequence[Command]) -> list[Any]:
        """The fallback: one pipelined round trip through an ordinary client, nothing kept."""
        try:
            pipe = self._ordinary_client().pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*command)
            return list(pipe.execute())
        except _REDIS_ERRORS as exc:
            self._topology_stale = True
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc

    # -- connections ------------------------------------------------------------------------

    def _ordinary_client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    if self._cluster_mode:
                        self._client = redis.RedisCluster.from_url(self._url, **self._options)
                    else:
                        self._client = redis.Redis.from_url(self._url, **self._options)
        return self._client

    def _node_for(self, key: str) -> NodeWatch | None:
        if not self._cluster_mode:
            return self._nodes.get("server")
        if self._client is None:
            return None  # the background thread learns the cluster first
        try:
            name = self._client.get_node_from_key(key).name
        except _REDIS_ERRORS:
            self._topology_stale = True
            return None
        node = self._nodes.get(name)
        if node is None:
            self._topology_stale = True
        return node

    def _watch(self, name: str, pool: redis.ConnectionPool) -> NodeWatch:
        def new_connection() -> Connection:
            return pool.connection_class(**pool.connection_kwargs)

        return NodeWatch(
            name, new_connection, heartbeat=self._heartbeat, stale_after=self._stale_after,
            max_entries=self._max_entries,
        )  # fmt: skip

    def _sync_topology(self, reread: bool) -> None:
        """Watch exactly the cluster's current primaries (after a failover, the new one);
        ``reread``: ask the cluster for its topology first."""
        try:
            client = self._ordinary_client()
            if reread:
                self._topology_stale = False
                client.nodes_manager.initialize()
            primaries = {node.name: node for node in client.get_primaries()}
        except _REDIS_ERRORS as exc:
            self._topology_stale = True
            log.debug("rotor watch: cluster topology unknown: %s", exc)
            return
        nodes = dict(self._nodes)
        for name, primary in primaries.items():
            if name not in nodes:
                pool = client.get_redis_connection(primary).connection_pool
                nodes[name] = self._watch(name, pool)
        for name in list(nodes):
            if name not in primaries:
                nodes.pop(name).close()
        self._nodes = nodes
        if any(not node.connected for node in nodes.values()):
            self._topology_stale = True

    def _start_in_this_process(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            for node in self._nodes.values():
                node.abandon()
            self._nodes = {}
            self._client = None  # its pool's connections belong to the parent
            if not self._cluster_mode:
                pool = self._ordinary_client().connection_pool
                self._nodes = {"server": self._watch("server", pool)}
            self._stopped.clear()
            threading.Thread(target=self._run, name="rotor-watch", daemon=True).start()
            self._pid = os.getpid()

    def _run(self) -> None:
        last_topology = None
        while not self._stopped.is_set():
            if self._cluster_mode:
                now = time.monotonic()
                # Also now and then: a failover that keeps our connections (a manual one).
                due = last_topology is None or now - last_topology > 10 * self._heartbeat
                if self._topology_stale or due:
                    self._sync_topology(reread=self._topology_stale or last_topology is not None)
                    last_topology = now
            for node in list(self._nodes.values()):
                node.maintain()
            self._stopped.wait(self._tick)

    # -- for operators and tests ------------------------------------------------------------

    def start(self) -> SessionWatch:
        """Start watching now rather than at the first request."""
        self._start_in_this_process()
        return self

    def wait_until_watching(self, timeout: float = 10.0) -> bool:
        """Wait until every node's connections are up; False after ``timeout`` seconds."""
        self._start_in_this_process()
        deadline = time.monotonic() + timeout
        while True:
            nodes = list(self._nodes.values())
            if nodes and all(node.connected for node in nodes):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)

    def close(self) -> None:
        """Stop the background thread and close every connection."""
        self._stopped.set()
        for node in self._nodes.values():
            node.close()
        if self._client is not None:
            self._client.close()


def _poll_both(*connections: Connection) -> select.poll | None:
    """A poll object for the connections' sockets; None (always read them instead) when one
    is not a plain socket: TLS may hold decrypted bytes that its socket no longer shows."""
    sockets = [getattr(connection, "_sock", None) for connection in connections]
    if not all(type(sock) is socket.socket for sock in sockets):
        return None
    poll = select.poll()
    for sock in sockets:
        poll.register(sock, select.POLLIN)
    return poll


def _deadline(sent_at: float, pttl: int) -> float | None:
    """When the session key expires, on this process's monotonic clock: never (-1), gone
    already (-2: None), or at most ``PTTL`` after the read was sent."""
    if pttl == -2:
        return None
    if pttl < 0:
        return math.inf
    return sent_at + pttl / 1000


def _verdict(session_deadline: float | None, denied: bool, user_active: bool, now: float) -> bool:
    return session_deadline is not None and now < session_deadline and not denied and user_active
