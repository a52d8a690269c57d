"""The store room: everything that talks to Redis."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app

from app.store.client import StoreUnavailable, connect
from app.store.records import Rotation, SessionOpening, SessionRecord, UserRecord
from app.store.store import Store, Window
from config import Settings

__all__ = [
    "Rotation",
    "SessionOpening",
    "SessionRecord",
    "Store",
    "StoreUnavailable",
    "UserRecord",
    "Window",
    "eviction_warning",
    "get_store",
    "init_app",
]


def init_app(app: Flask, settings: Settings, client: Any = None) -> Store:
    """Connect (lazily: redis-py opens sockets on first use) and keep the store on the app."""
    store = Store(client if client is not None else connect(settings), settings.redis_key_prefix)
    app.extensions["rotor.store"] = store
    return store


def eviction_warning(policy: str | None) -> str | None:
    """Why a maxmemory-policy other than ``noeviction`` is dangerous for Rotor, or None."""
    if policy is None or policy == "noeviction":
        return None
    return (
        f"Redis maxmemory-policy is {policy!r}: under memory pressure Redis would evict session "
        "keys (logging people out) and denylist keys (reviving logged-out access tokens). "
        "Set maxmemory-policy noeviction."
    )


def get_store() -> Store:
    """The current app's store."""
    store: Store = current_app.extensions["rotor.store"]
    return store
