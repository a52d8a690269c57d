"""Liveness and readiness, at the root (outside /api/auth)."""

from __future__ import annotations

from flask import Blueprint, Response

from app.api.http import json_response
from app.store import get_store

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up; says nothing about Redis."""
    return json_response({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """Ready when Redis answers; StoreUnavailable becomes 503 ``store_unavailable``."""
    get_store().ping()
    return json_response({"status": "ready"})
