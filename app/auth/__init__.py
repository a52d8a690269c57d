"""The auth room: the rules of passwords, tokens and sessions. No Flask: it takes plain values
and returns records; the app factory builds it and the api room calls it."""

from __future__ import annotations

from app.auth.operators import Operators
from app.auth.passwords import PasswordHasher
from app.auth.service import Account, AuthService, Principal
from app.auth.tokens import RefreshClaims, TokenPair
from app.store import Store
from config import Settings

__all__ = [
    "Account",
    "AuthService",
    "Operators",
    "Principal",
    "RefreshClaims",
    "TokenPair",
    "build_auth",
]


def build_auth(settings: Settings, store: Store) -> AuthService:
    """The service of one app, over its store, hashing at the configured cost and pepper."""
    return AuthService(
        settings, store, PasswordHasher(settings.bcrypt_rounds, settings.password_pepper)
    )
