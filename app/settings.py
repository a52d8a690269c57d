"""The typed accessor for Rotor's settings: code reads them from here, not app.config."""

from __future__ import annotations

from flask import current_app

from config import Settings


def get_settings() -> Settings:
    """The current app's validated settings."""
    settings: Settings = current_app.extensions["rotor.settings"]
    return settings
