"""The store room: everything that talks to Redis."""

from __future__ import annotations

from flask import Flask, current_app

from app.store.client import StoreUnavailable, connect
from app.store.records import Rotation, SessionRecord, UserRecord
from app.store.store import Store
from config import Settings

__all__ = [
    "Rotation",
    "SessionRecord",
    "Store",
    "StoreUnavailable",
    "UserRecord",
    "get_store",
    "init_app",
]


def init_app(app: Flask, settings: Settings) -> Store:
    """Connect (lazily: redis-py opens sockets on first use) and keep the store on the app."""
    store = Store(connect(settings), settings.redis_key_prefix)
    app.extensions["rotor.store"] = store
    return store


def get_store() -> Store:
    """The current app's store."""
    store: Store = current_app.extensions["rotor.store"]
    return store
