"""The WSGI entry point: ``gunicorn wsgi:app`` and ``flask --app wsgi``."""

from __future__ import annotations

import os
import sys

from app import create_app
from app.logs import configure_logging
from config import ConfigError

configure_logging(os.environ.get("LOG_LEVEL", "INFO").upper())

try:
    app = create_app()
except ConfigError as exc:
    sys.exit(f"rotor: configuration error: {exc}")
