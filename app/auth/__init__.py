"""The auth room: the rules of passwords, tokens and sessions."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app
from flask_jwt_extended import JWTManager

from app.auth.passwords import PasswordHasher
from app.auth.service import AuthService, Principal
from app.auth.tokens import TokenPair, check_claims
from app.store import Store
from config import Settings

__all__ = ["AuthService", "Principal", "TokenPair", "get_auth", "init_app"]


def init_app(app: Flask, jwt: JWTManager, settings: Settings, store: Store) -> AuthService:
    """Build the service and teach flask-jwt-extended which tokens Rotor accepts."""
    service = AuthService(settings, store, PasswordHasher(settings.bcrypt_rounds))
    app.extensions["rotor.auth"] = service
    secret = settings.jwt_secret_key

    @jwt.decode_key_loader
    def _verification_key(header: dict[str, Any], claims: dict[str, Any]) -> str:
        check_claims(header, claims)
        return secret

    return service


def get_auth() -> AuthService:
    """The current app's auth service."""
    service: AuthService = current_app.extensions["rotor.auth"]
    return service
