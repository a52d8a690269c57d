"""The app's own objects, kept in ``app.extensions``, and the typed accessors that find them for
the current app: the Flask glue of the rooms, so that ``app.auth`` and ``app.store`` need no
Flask. Code reads settings from here, not from ``app.config``."""

from __future__ import annotations

from flask import Flask, current_app

from app.auth import AuthService
from config import Settings

SETTINGS = "rotor.settings"
STORE = "rotor.store"
AUTH = "rotor.auth"


def install(app: Flask, service: AuthService) -> None:
    """Keep the service (and its settings and store) on the app."""
    app.extensions[SETTINGS] = service.settings
    app.extensions[STORE] = service.store
    app.extensions[AUTH] = service


def get_settings() -> Settings:
    """The current app's validated settings."""
    settings: Settings = current_app.extensions[SETTINGS]
    return settings


def get_auth() -> AuthService:
    """The current app's auth service."""
    service: AuthService = current_app.extensions[AUTH]
    return service
