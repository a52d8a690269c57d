"""The WSGI entry point: ``gunicorn wsgi:app`` and ``flask --app wsgi``."""

from __future__ import annotations

import logging
import sys

from app import create_app
from config import ConfigError

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

try:
    app = create_app()
except ConfigError as exc:
    sys.exit(f"rotor: configuration error: {exc}")
