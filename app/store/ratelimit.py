"""Where and under which keys the rate limiter (Flask-Limiter, in the api room) counts: the
same Redis as the store, through the limits library's own client, with its errors wrapped
(``limits.errors.StorageError``, which the api room answers as 503 ``store_unavailable``, as it
does `StoreUnavailable`), its keys named by ``keys.py``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from limits.storage import RedisClusterStorage, RedisStorage, Storage
from redis.exceptions import RedisClusterException, RedisError

from app.store.client import DeferredCluster
from app.store.keys import KeySpace
from config import Settings


class DeferredClusterStorage(RedisClusterStorage):
    """limits' Redis Cluster storage on a cluster client built on first use.

    limits builds its ``RedisCluster`` in the constructor, which reads the topology: with no
    node answering, the app could not be created and a gunicorn worker could not boot (the
    arbiter then stops, and does not come back with the cluster). On a ``DeferredCluster``,
    as Rotor's own store, limited requests answer 503 until a node answers.
    """

    # limits registers it by scheme (and declares the attribute an instance variable)
    STORAGE_SCHEME = ["rotor+cluster"]  # noqa: RUF012

    def __init__(
        self,
        uri: str,
        key_prefix: str = RedisStorage.PREFIX,
        wrap_exceptions: bool = False,
        **options: float | str | bool,
    ) -> None:
        # What RedisClusterStorage.__init__ sets, with the client deferred.
        self.key_prefix = key_prefix
        self.target_server = "redis"
        self.dependency = self.dependencies["redis"].module
        url = "redis://" + uri.partition("://")[2]
        self.storage = DeferredCluster(url, {"decode_responses": False, **options})
        self.initialize_storage(uri)  # registers its scripts; DeferredCluster does not connect
        Storage.__init__(self, uri, wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> tuple[type[Exception], ...]:
        # "No reachable node" is not a RedisError, but it means the same: no answer.
        return (RedisError, RedisClusterException)


@dataclass(frozen=True, slots=True)
class LimiterStorage:
    """Flask-Limiter's ``storage_uri`` and ``storage_options`` for the configured Redis, and
    the subjects of its keys."""

    uri: str
    keys: KeySpace
    options: dict[str, Any] = field(default_factory=dict)

    def address_subject(self, ip: str) -> str:
        return self.keys.ratelimit_address(ip)

    def session_subject(self, sid: str) -> str:
        return self.keys.ratelimit_session(sid)

    def refused_refresh_subject(self, ip: str) -> str:
        return self.keys.ratelimit_refused_refresh(ip)


def limiter_storage(settings: Settings) -> LimiterStorage:
    """The limits library's storage for the Redis Rotor uses (in-process for the embedded
    store), its keys under the store's prefix."""
    keys = KeySpace(settings.redis_key_prefix)
    options: dict[str, Any] = {"key_prefix": keys.ratelimit_prefix()}
    uri = _storage_uri(settings)
    if uri == "memory://":
        return LimiterStorage(uri, keys, options)
    timeouts = {
        "socket_timeout": settings.redis_timeout,
        "socket_connect_timeout": settings.redis_timeout,
    }
    return LimiterStorage(uri, keys, {**options, **timeouts, "wrap_exceptions": True})


def _storage_uri(settings: Settings) -> str:
    if settings.redis_sentinels:
        return (
            f"redis+sentinel://{','.join(settings.redis_sentinels)}/"
            f"{settings.redis_sentinel_master}"
        )
    if not settings.redis_url:
        return "memory://"
    scheme, _, rest = settings.redis_url.partition("://")
    if settings.redis_cluster:
        return DeferredClusterStorage.STORAGE_SCHEME[0] + "://" + rest
    if scheme == "unix":  # a Redis on this host, over its Unix socket
        return "redis+unix://" + rest
    return settings.redis_url
