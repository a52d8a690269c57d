"""Operations endpoints at the root (outside /api/auth): liveness, readiness, metrics."""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, abort, current_app, request

from app import metrics
from app.api.http import json_response
from app.api.openapi import METRICS, documented
from app.api.schemas import HealthSchema, ReadinessSchema
from app.extensions import get_auth, get_settings

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
@documented(
    "Liveness", "The process is up; says nothing about Redis.", response=HealthSchema, store=False
)
def healthz() -> Response:
    """The process is up; says nothing about Redis."""
    return json_response({"status": "ok"})


@bp.get("/readyz")
@documented(
    "Readiness",
    "200 when Redis answers. `warnings` says when Redis may evict Rotor's keys.",
    response=ReadinessSchema,
)
def readyz() -> Response:
    """Ready when Redis answers (StoreUnavailable becomes 503 ``store_unavailable``); also
    reports Redis's eviction policy, which must be ``noeviction``."""
    readiness = get_auth().operators.readiness()
    policy = readiness.eviction_policy
    body: dict[str, object] = {"status": "ready", "maxmemory_policy": policy or "unknown"}
    if readiness.warning:
        body["warnings"] = [readiness.warning]
    return json_response(body)


@bp.get("/metrics")
@documented(
    "Prometheus metrics",
    "The Prometheus text format. Without `METRICS_TOKEN` set, or without it as the bearer "
    "token, the answer is 404, as if there were no such page.",
    response={"type": "string"},
    media_type="text/plain",
    credential=METRICS,
)
def prometheus_metrics() -> Response:
    """Prometheus text format; 404 unless METRICS_TOKEN is set, then that bearer token only."""
    token = get_settings().metrics_token
    if not token:
        abort(404)
    presented = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(presented.encode(), token.encode()):
        abort(404)
    return Response(metrics.exposition(_sessions_gauge()), mimetype=metrics.CONTENT_TYPE)


def _sessions_gauge() -> metrics.ActiveSessions:
    """One gauge per app, so its cached count outlives a scrape."""
    gauge = current_app.extensions.get("rotor.sessions_gauge")
    if gauge is None:
        gauge = metrics.ActiveSessions(get_auth().operators.count_sessions)
        current_app.extensions["rotor.sessions_gauge"] = gauge
    return gauge
