"""Rotor: short-lived access tokens, rotating refresh tokens and real sessions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask_jwt_extended import JWTManager
from werkzeug.middleware.proxy_fix import ProxyFix

from app import api, auth, cli, errors, store
from app.api import cors, demo, ratelimit, tracing
from config import Settings

log = logging.getLogger("rotor")


class RotorFlask(Flask):
    """Flask, minus its per-call coroutine check: Rotor has no async views or hooks, and
    Flask asks ``inspect`` about every hook of every request."""

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        return func


def create_app(settings: Settings | None = None, *, redis_client: Any = None) -> Flask:
    """Build the app: settings, store, flask-jwt-extended, auth rules, error envelope,
    blueprints.

    ``redis_client`` replaces the connection from settings (tests pass fakeredis or a client
    of their own redis-server).
    """
    settings = settings or Settings.from_env()
    app = RotorFlask(__name__)
    app.config.update(settings.flask_config())
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["rotor.settings"] = settings
    if settings.trusted_proxies:
        # Behind a load balancer the peer is the balancer: take the client's address (per-IP
        # rate limits, session ip, audit) from the hops it and the others in front add.
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    # Configured by the JWT_* keys of settings.flask_config(); the rooms add its loaders.
    jwt = JWTManager(app)
    errors.init_app(app)
    errors.register(jwt)
    rotor_store = store.init_app(app, settings, redis_client)
    auth.init_app(app, settings, rotor_store, jwt)
    tracing.init_app(app)
    api.init_app(app, jwt)
    ratelimit.init_app(app, settings)
    cors.init_app(app, settings)
    demo.init_app(app, settings)
    cli.init_app(app)
    log.info("rotor ready", extra={"settings": settings.public_summary()})
    _warn_about_eviction(rotor_store)
    return app


def _warn_about_eviction(rotor_store: store.Store) -> None:
    """Say at startup if Redis may evict Rotor's keys; an unreachable Redis is not fatal."""
    try:
        warning = store.eviction_warning(rotor_store.eviction_policy())
    except store.StoreUnavailable as exc:
        log.warning("Redis did not answer at startup: %s", exc)
        return
    if warning:
        log.warning(warning)
