"""Hooks flask-jwt-extended's revocation check to Rotor's one-round-trip authorization."""

from __future__ import annotations

from typing import Any

from flask import g
from flask_jwt_extended import JWTManager

from app.auth import Principal, get_auth


def register(jwt: JWTManager) -> None:
    """Every access token is checked against Redis; the principal found is kept for the view."""

    @jwt.token_in_blocklist_loader
    def _is_revoked(header: dict[str, Any], claims: dict[str, Any]) -> bool:
        principal = get_auth().authorize(claims)
        g.rotor_principal = principal
        return principal is None


def current_principal() -> Principal:
    """The principal of the request's access token (set by the check above)."""
    principal: Principal = g.rotor_principal
    return principal
