"""The auth room: the rules of passwords, tokens and sessions."""

from __future__ import annotations

from flask import Flask, current_app

from app.auth.passwords import PasswordHasher
from app.auth.service import AuthService, Principal
from app.auth.tokens import TokenPair
from app.store import Store
from config import Settings

__all__ = ["AuthService", "Principal", "TokenPair", "get_auth", "init_app"]


def init_app(app: Flask, settings: Settings, store: Store) -> AuthService:
    """Build the service once per app."""
    hasher = PasswordHasher(settings.bcrypt_rounds, settings.password_pepper)
    service = AuthService(settings, store, hasher)
    app.extensions["rotor.auth"] = service
    return service


def get_auth() -> AuthService:
    """The current app's auth service."""
    service: AuthService = current_app.extensions["rotor.auth"]
    return service
