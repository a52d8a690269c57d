"""The auth room: the rules of passwords, tokens and sessions."""

from __future__ import annotations

from flask import Flask, current_app
from flask_jwt_extended import JWTManager

from app.auth.passwords import PasswordHasher
from app.auth.service import Account, AuthService, Principal
from app.auth.tokens import RefreshClaims, TokenPair
from app.store import Store
from config import Settings

__all__ = [
    "Account",
    "AuthService",
    "Principal",
    "RefreshClaims",
    "TokenPair",
    "get_auth",
    "init_app",
]


def init_app(app: Flask, settings: Settings, store: Store, jwt: JWTManager) -> AuthService:
    """Build the service once per app and give flask-jwt-extended the key ring: which key
    signs (and its kid), and which key verifies a token (or that none does)."""
    service = AuthService(
        settings, store, PasswordHasher(settings.bcrypt_rounds, settings.password_pepper)
    )
    app.extensions["rotor.auth"] = service
    jwt.encode_key_loader(service.tokens.signing_key)
    jwt.additional_headers_loader(service.tokens.signing_header)
    jwt.decode_key_loader(service.tokens.verification_key)
    return service


def get_auth() -> AuthService:
    """The current app's auth service."""
    service: AuthService = current_app.extensions["rotor.auth"]
    return service
