"""Rate limits (Flask-Limiter), counted in the same Redis under the same key prefix.

Login: per IP. Refresh: per session (from the verified token) and per IP. Register: per IP.
A breach answers 429 ``rate_limited`` with ``Retry-After``; RATELIMIT_ENABLED=0 turns
everything off. Failed password checks (per account and IP, login and password change) are
limited by the auth room (``app/auth/throttle.py``): they must be counted before the check, in
one atomic step, which Flask-Limiter's ``deduct_when`` (test before, count after) cannot do.
"""

from __future__ import annotations

from typing import Any, ClassVar

from flask import Flask, request
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address
from limits.storage import RedisClusterStorage, RedisStorage, Storage

from app import audit
from app.api.principal import presented_refresh_token
from app.store.client import DeferredCluster
from config import Settings


class DeferredClusterStorage(RedisClusterStorage):
    """limits' Redis Cluster storage on a cluster client built on first use.

    limits builds its ``RedisCluster`` in the constructor, which reads the topology: with no
    node answering, the app could not be created and a gunicorn worker could not boot (the
    arbiter then stops, and does not come back with the cluster). On a ``DeferredCluster``,
    as Rotor's own store, limited requests answer 503 until a node answers.
    """

    STORAGE_SCHEME: ClassVar[list[str]] = ["rotor+cluster"]  # limits registers it by scheme

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


def _session() -> str:
    """The session of a refresh attempt, from the verified token wherever it came (body,
    header or cookie: browsers behind one NAT are limited each on their own); the IP when
    the token is refused (an attacker cannot spend someone else's session budget with a
    forged token, and the view answers the refusal)."""
    try:
        return "session:" + presented_refresh_token().claims.session_id
    except Exception:  # the view raises it again, verified once
        return "ip:" + (get_remote_address() or "")


def _breached(limit: RequestLimit) -> None:
    audit.record("rate_limited", endpoint=request.endpoint, limit=str(limit.limit),
                 ip=get_remote_address())  # fmt: skip


def _storage_uri(settings: Settings) -> str:
    """The limits library's URI for the Redis Rotor uses (in-process for the embedded store)."""
    if settings.redis_sentinels:
        return (f"redis+sentinel://{','.join(settings.redis_sentinels)}/"
                f"{settings.redis_sentinel_master}")  # fmt: skip
    if not settings.redis_url:
        return "memory://"
    scheme, _, rest = settings.redis_url.partition("://")
    if settings.redis_cluster:
        return DeferredClusterStorage.STORAGE_SCHEME[0] + "://" + rest
    if scheme == "unix":  # a Redis on this host, over its Unix socket
        return "redis+unix://" + rest
    return settings.redis_url


def init_app(app: Flask, settings: Settings) -> Limiter | None:
    """Wrap the limited views of this app (one limiter per app: each has its own storage)."""
    if not settings.ratelimit_enabled:
        return None
    storage_options: dict[str, Any] = {"key_prefix": f"{settings.redis_key_prefix}ratelimit"}
    storage_uri = _storage_uri(settings)
    if storage_uri != "memory://":
        storage_options |= {"socket_timeout": settings.redis_timeout,
                            "socket_connect_timeout": settings.redis_timeout}  # fmt: skip
    limiter = Limiter(
        get_remote_address, app=app, storage_uri=storage_uri, storage_options=storage_options,
        headers_enabled=True, strategy="fixed-window",
    )  # fmt: skip
    limits = {
        "auth.login": [(settings.ratelimit_login_ip, get_remote_address, None)],
        "auth.refresh": [(settings.ratelimit_refresh_session, _session, None),
                         (settings.ratelimit_refresh_ip, get_remote_address, None)],
        "auth.register": [(settings.ratelimit_register_ip, get_remote_address, None)],
    }  # fmt: skip
    for endpoint, rules in limits.items():
        view = app.view_functions[endpoint]
        for rule, key, deduct_when in rules:
            view = limiter.limit(rule, key_func=key, deduct_when=deduct_when, on_breach=_breached)(
                view
            )
        app.view_functions[endpoint] = view
    return limiter
