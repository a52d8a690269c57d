"""The store room: everything that talks to Redis. No Flask: the app factory builds it."""

from __future__ import annotations

from typing import Any

from app.errors import StoreUnavailable
from app.store.client import connect
from app.store.ratelimit import LimiterStorage, limiter_storage
from app.store.records import (
    Rotation,
    RotationOutcome,
    SessionOpening,
    SessionRecord,
    UserRecord,
)
from app.store.store import Store, Window
from config import Settings

__all__ = [
    "LimiterStorage",
    "Rotation",
    "RotationOutcome",
    "SessionOpening",
    "SessionRecord",
    "Store",
    "StoreUnavailable",
    "UserRecord",
    "Window",
    "eviction_warning",
    "limiter_storage",
    "open_store",
]


def open_store(settings: Settings, client: Any = None) -> Store:
    """The store on the configured Redis (lazily: redis-py opens sockets on first use), or on
    ``client`` when one is given (tests pass fakeredis or a client of their own server)."""
    return Store(client if client is not None else connect(settings), settings.redis_key_prefix)


def eviction_warning(policy: str | None) -> str | None:
    """Why a maxmemory-policy other than ``noeviction`` is dangerous for Rotor, or None."""
    if policy is None or policy == "noeviction":
        return None
    return (
        f"Redis maxmemory-policy is {policy!r}: under memory pressure Redis would evict session "
        "keys (logging people out) and denylist keys (reviving logged-out access tokens). "
        "Set maxmemory-policy noeviction."
    )
