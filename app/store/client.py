"""The Redis connection: a real server from REDIS_URL, or the embedded in-process store."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from importlib import resources
from typing import Any, ParamSpec, TypeVar

import redis

from config import Settings

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


class StoreUnavailable(Exception):
    """Redis did not answer (down, timing out, failing over); the API answers 503."""


def translates_redis_errors(method: Callable[P, R]) -> Callable[P, R]:
    """Turn any redis-py error into `StoreUnavailable`, so no caller sees redis types."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except redis.RedisError as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc

    return wrapper


def load_script(name: str) -> str:
    """The text of ``app/store/lua/<name>.lua``."""
    return resources.files("app.store").joinpath("lua", f"{name}.lua").read_text()


def connect(settings: Settings) -> Any:
    """A client for REDIS_URL, or an in-process store when it is unset (development only)."""
    if settings.redis_url is None:
        return _embedded_store()
    options: dict[str, Any] = {
        "decode_responses": True,
        "socket_timeout": settings.redis_timeout,
        "socket_connect_timeout": settings.redis_timeout,
        "health_check_interval": 30,
    }
    if settings.redis_cluster:
        return redis.RedisCluster.from_url(settings.redis_url, **options)
    return redis.Redis.from_url(settings.redis_url, **options)


def _embedded_store() -> Any:
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
