"""Security events: one structured JSON line each on the ``rotor.audit`` logger, and the
matching Prometheus counters. Callers pass plain values; never a token, password or hash."""

from __future__ import annotations

import logging
from typing import Any

from app import metrics

log = logging.getLogger("rotor.audit")

# Fields a caller may never pass, whatever the event: the audit log must not leak secrets.
_FORBIDDEN = frozenset({"token", "access_token", "refresh_token", "password", "password_hash"})


def record(event: str, **fields: Any) -> None:
    """Log one security event (``event`` plus fields that are not None) and count it."""
    leaked = _FORBIDDEN.intersection(fields)
    if leaked:
        raise ValueError(f"audit fields may not carry secrets: {sorted(leaked)}")
    extra = {"event": event, **{k: v for k, v in fields.items() if v is not None}}
    if event == "reuse_detected":
        log.warning(event, extra=extra)
    else:
        log.info(event, extra=extra)
    outcome = fields.get("outcome")
    if event == "login" and outcome:
        metrics.LOGINS.labels(outcome).inc()
    elif event == "refresh" and outcome:
        metrics.REFRESHES.labels(outcome).inc()
    elif event == "reuse_detected":
        metrics.REFRESHES.labels("reused").inc()
