"""The WSGI entry point: ``gunicorn wsgi:app`` and ``flask --app wsgi``."""

from __future__ import annotations

import sys

from flask import Flask

from app import create_app
from app.logs import configure_logging
from config import ConfigError, Settings


def _load() -> Flask:
    """The app of the environment's settings, logging at their LOG_LEVEL."""
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    return create_app(settings)


try:
    app = _load()
except ConfigError as exc:
    sys.exit(f"rotor: configuration error: {exc}")
