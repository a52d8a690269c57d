"""Rotor with parts of its own work left out, for measurement only (never deploy it): the audit
line, the tracing middleware (request ids, ``X-Request-ID``, the request counter and latency
histogram) and, with ``REFRESH_REUSE_GRACE=0`` from ``make bench``, the grace window. What is
left is the core: flask-jwt-extended's verification and issuing, the one atomic script (the
session, user and denylist check; rotation with reuse detection), the views.

The "(core)" rows of ``make bench`` serve it next to Rotor as deployed: how far trimming those
parts could take Rotor's ratio to the recipe, and how far the core is from the library floor.
"""

from __future__ import annotations

from typing import Any

from app import audit
from app.api.tracing import Tracing
from wsgi import app


def _no_audit(event: str, **fields: Any) -> None:
    """The audit line left out."""


if isinstance(app.wsgi_app, Tracing):
    app.wsgi_app = app.wsgi_app.wsgi_app  # type: ignore[method-assign]
audit.record = _no_audit
