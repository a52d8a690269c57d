"""Rotor: short-lived access tokens, rotating refresh tokens and real sessions."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from app import api, auth, errors, store
from config import Settings

log = logging.getLogger("rotor")


def create_app(settings: Settings | None = None, *, redis_client: Any = None) -> Flask:
    """Build the app: settings, store, auth rules, error envelope, blueprints.

    ``redis_client`` replaces the connection from settings (tests pass fakeredis or a client
    of their own redis-server).
    """
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.update(settings.flask_config())
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["rotor.settings"] = settings

    errors.init_app(app)
    rotor_store = store.init_app(app, settings, redis_client)
    auth.init_app(app, settings, rotor_store)
    api.init_app(app)
    log.info("rotor ready: %s", settings.public_summary())
    return app
