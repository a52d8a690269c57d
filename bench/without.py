"""Rotor with parts of its own work left out, for measurement only (never deploy it): what each
part costs (``bench/profile_hot_paths.py --without``) and what is left without them (the
"(core)" rows of ``make bench``, ``bench/rotor_core.py``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Flask

from app import audit
from app.api.tracing import Tracing

# What can be left out: the tracing middleware (request ids, X-Request-ID, the request counter
# and latency histogram), the audit line, and the grace window (REFRESH_REUSE_GRACE=0, a
# setting the caller gives: no sealed pair, no grace hash).
PARTS = ("tracing", "audit", "grace")


def _no_audit(event: str, **fields: Any) -> None:
    """The audit line left out."""


def leave_out(app: Flask, parts: Iterable[str]) -> Flask:
    """``app`` without the tracing middleware and/or the audit line (the grace window is a
    setting)."""
    parts = set(parts)
    if "tracing" in parts and isinstance(app.wsgi_app, Tracing):
        app.wsgi_app = app.wsgi_app.wsgi_app  # type: ignore[method-assign]
    if "audit" in parts:
        audit.record = _no_audit
    return app
