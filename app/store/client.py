"""The Redis connection: one server (REDIS_URL), a Redis Cluster (REDIS_CLUSTER=1), a primary
found through Sentinel (REDIS_SENTINELS), or the embedded in-process store."""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any, ParamSpec, Protocol, TypeVar

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.commands.core import Script
from redis.connection import Encoder  # type: ignore[attr-defined]  # re-exported, not listed
from redis.exceptions import NoScriptError, RedisClusterException
from redis.retry import Retry

from app.errors import StoreUnavailable
from config import Settings

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


class RedisPipeline(Protocol):
    """The commands the store batches in a pipeline."""

    def hget(self, name: str, key: str) -> Any: ...
    def hgetall(self, name: str) -> Any: ...
    def execute(self) -> list[Any]: ...


class RedisClient(Protocol):
    """Every command the store sends, and nothing else: redis-py's ``Redis`` and
    ``RedisCluster``, fakeredis and `DeferredCluster` fit it.

    Replies are ``Any``: redis-py types each command's reply as "the value, or an awaitable of
    it" (its sync and asyncio clients share the signatures), so the store converts what it
    reads into its records itself.
    """

    def register_script(self, script: str) -> Script: ...
    def ping(self) -> Any: ...
    def config_get(self, pattern: str = "*", *args: str, **kwargs: Any) -> Any: ...
    def get(self, name: str) -> Any: ...
    def set(self, name: str, value: str, *, nx: bool = False) -> Any: ...
    def delete(self, *names: str) -> Any: ...
    def hget(self, name: str, key: str) -> Any: ...
    def hgetall(self, name: str) -> Any: ...
    def hset(
        self,
        name: str,
        key: str | None = None,
        value: str | None = None,
        mapping: dict[str, str | int] | None = None,
    ) -> Any: ...
    def hdel(self, name: str, *keys: str) -> Any: ...
    def zrange(self, name: str, start: int, end: int, desc: bool = False) -> Any: ...
    def scan_iter(self, match: str | None = None, count: int | None = None) -> Iterator[Any]: ...
    def pipeline(self, transaction: bool = True) -> RedisPipeline: ...
    def close(self) -> None: ...


def translates_redis_errors(method: Callable[P, R]) -> Callable[P, R]:
    """Turn any redis-py error into `StoreUnavailable`, so no caller sees redis types."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except (redis.RedisError, RedisClusterException) as exc:
            # RedisClusterException ("no reachable node", "slot not covered") is not a
            # RedisError, but it means the same thing to a caller: no answer from Redis.
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc

    return wrapper


def load_script(name: str) -> str:
    """The text of ``app/store/lua/<name>.lua``."""
    return resources.files("app.store").joinpath("lua", f"{name}.lua").read_text()


def connect(settings: Settings) -> RedisClient:
    """A client for the configured Redis, or an in-process store when none is (development)."""
    options: dict[str, Any] = {
        "decode_responses": True,
        "socket_timeout": settings.redis_timeout,
        "socket_connect_timeout": settings.redis_timeout,
    }
    if settings.redis_sentinels:
        return _sentinel_primary(settings, options)
    if settings.redis_url is None:
        return _embedded_store()
    if settings.redis_cluster:
        return DeferredCluster(settings.redis_url, options)
    return redis.Redis.from_url(settings.redis_url, health_check_interval=30, **options)


class HotScript:
    """A Lua script for the hot path: EVALSHA on a connection this thread keeps to itself
    (taken from the client's pool once and never given back, so closing the client closes it).

    redis-py's command path (pool checkout with a readiness poll, retry wrapper, observability
    hooks) costs more client CPU than the command (~70 µs of ~120 here, see bench/NOTES.md),
    and every authenticated request pays it. A connection used by one thread only, dropped on
    any error, never holds a half-read reply, so it needs none of that. Anything unusual (no
    connection, a dropped one, a script Redis forgot, a cluster or sentinel client) goes the
    client's own way, which reconnects, retries and loads the script. A timeout is not retried.
    """

    def __init__(self, client: RedisClient, source: str) -> None:
        self._script = client.register_script(source)
        self._sha = self._script.sha
        # A plain server only: cluster and sentinel clients route each command themselves
        # (and a deferred cluster must not be asked for anything before its first request).
        pool = client.connection_pool if type(client) is redis.Redis else None
        self._pool = pool if type(pool) is redis.ConnectionPool else None
        self._local = threading.local()

    def __call__(self, keys: list[str], args: list[Any] | tuple[()] = ()) -> Any:
        if self._pool is None:
            return self._script(keys=keys, args=args)
        connection = self._connection()
        try:
            connection.send_command("EVALSHA", self._sha, len(keys), *keys, *args)
            return connection.read_response()
        except NoScriptError:  # the reply was read in full: the connection stays usable
            return self._script(keys=keys, args=args)
        except redis.TimeoutError:
            # The script may still run. Not sent again here: the caller answers 503 within
            # REDIS_TIMEOUT and the client retries (a rotation sent again is safe either way:
            # rotate.lua answers a repeat of a rotation that ran as it answered the first).
            connection.disconnect()
            raise
        except (redis.ConnectionError, OSError):
            # A dropped connection, nearly always one Redis closed while it sat idle (a restart,
            # a timeout): the script never ran. If it did run, a rotation sent again finds its
            # own successor current and answers 'rotated' again (tests/redis/test_lost_replies.py).
            connection.disconnect()
            return self._script(keys=keys, args=args)
        except redis.ResponseError:
            raise
        except BaseException:
            connection.disconnect()  # whatever was half-sent or half-read goes with it
            raise

    def _connection(self) -> Any:
        local = self._local
        if getattr(local, "pid", None) != os.getpid():  # a forked child takes its own
            # Checked out of the client's pool and never given back: it stays this thread's,
            # and closing the client (pool.disconnect) closes it with the others.
            pool = self._pool
            assert pool is not None  # only called on a plain server's pool (see __call__)
            local.connection = pool.get_connection()
            local.pid = os.getpid()
        return local.connection


def is_cluster(client: RedisClient) -> bool:
    """True for a Redis Cluster client, whose whole-database commands need every node."""
    return isinstance(client, DeferredCluster | redis.RedisCluster)


class DeferredCluster:
    """A ``RedisCluster`` built on first use, then shared (it is thread-safe).

    RedisCluster reads the cluster's topology in its constructor. Built at startup, a
    cluster that does not answer (or a REDIS_URL node that is down while the others are up)
    would stop the app, and a gunicorn worker could not boot; built on first use, requests
    get 503 until a node answers, as with a single server. After that, redis-py follows the
    topology itself (MOVED, failovers) from every node it has seen.
    """

    def __init__(self, url: str, options: dict[str, Any]) -> None:
        self._url = url
        self._options = options
        self._client: redis.RedisCluster | None = None
        self._lock = threading.Lock()

    def cluster(self) -> redis.RedisCluster:
        """The RedisCluster client, connecting now if no earlier call did."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = redis.RedisCluster.from_url(
                        self._url,
                        # A few quick retries (each one re-reads the topology) ride through
                        # a moved slot or a dropped connection; a primary that is down answers
                        # 503 within a few REDIS_TIMEOUTs instead of redis-py's default
                        # backoff of up to 14 s, and the client tries again.
                        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), 2),
                        **self._options,
                    )
        return self._client

    def get_encoder(self) -> Encoder:
        """The encoder ``register_script`` hashes scripts with, without connecting."""
        return Encoder("utf-8", "strict", self._options["decode_responses"])  # type: ignore[no-untyped-call]

    def register_script(self, script: str) -> Script:
        """A script object that runs with EVALSHA on the node owning its keys' slot."""
        # Script needs only get_encoder, evalsha and script_load of its client.
        return Script(self, script)  # type: ignore[arg-type]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # our own attributes, before __init__ set them (copy, pickle)
            raise AttributeError(name)
        return getattr(self.cluster(), name)


def _sentinel_primary(settings: Settings, options: dict[str, Any]) -> redis.Redis:
    """A client of the primary that the sentinels name; after a failover its next connection
    asks them again, so the app follows the new primary without a restart."""
    timeouts = {
        "socket_timeout": settings.redis_timeout,
        "socket_connect_timeout": settings.redis_timeout,
    }
    # redis-py leaves Sentinel untyped; master_for gives a Redis of the primary.
    sentinel = redis.Sentinel(settings.sentinel_addresses(), sentinel_kwargs=timeouts)  # type: ignore[no-untyped-call]
    primary: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
        settings.redis_sentinel_master, health_check_interval=30, **options
    )
    return primary


def _embedded_store() -> RedisClient:
    try:
        import fakeredis
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "REDIS_URL is unset and the embedded store is not installed: "
            "`pip install 'rotor[embedded]'` or set REDIS_URL"
        ) from exc
    log.warning(
        "REDIS_URL is unset: using the embedded in-process store. Data lives in memory, "
        "is lost on restart and is not shared between processes: run one process only."
    )
    return fakeredis.FakeRedis(decode_responses=True)
