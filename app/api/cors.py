"""CORS for browser clients on other origins: an explicit allow-list (CORS_ORIGINS) with
credentials, never a reflected arbitrary origin. Unset: no CORS headers at all."""

from __future__ import annotations

from flask import Flask
from flask_cors import CORS

from config import CSRF_HEADER, Settings


def init_app(app: Flask, settings: Settings) -> None:
    """Allow the configured origins on /api/* with cookies and the CSRF header."""
    if not settings.cors_origins:
        return
    CORS(
        app,
        resources={r"/api/*": {"origins": list(settings.cors_origins)}},
        supports_credentials=True,
        allow_headers=["Content-Type", "Authorization", CSRF_HEADER, "X-Request-ID"],
        expose_headers=["X-Request-ID", "Retry-After"],
        methods=["GET", "POST", "DELETE"],
        max_age=600,
    )
