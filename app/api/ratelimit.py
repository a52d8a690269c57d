"""Rate limits (Flask-Limiter), counted in the same Redis under the same key prefix.

Login: per IP. Refresh: per session (from the verified token) and per IP. Register: per IP.
A breach answers 429 ``rate_limited`` with ``Retry-After``; RATELIMIT_ENABLED=0 turns
everything off. Failed password checks (per account and IP, login and password change) are
limited by the auth room (``app/auth/throttle.py``): they must be counted before the check, in
one atomic step, which Flask-Limiter's ``deduct_when`` (test before, count after) cannot do.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address

from app import audit
from app.api.principal import presented_refresh_token
from config import Settings


def _session() -> str:
    """The session of a refresh attempt, from the verified token wherever it came (body,
    header or cookie: browsers behind one NAT are limited each on their own); the IP when
    the token is refused (an attacker cannot spend someone else's session budget with a
    forged token, and the view answers the refusal)."""
    try:
        return "session:" + presented_refresh_token().claims.session_id
    except Exception:  # the view raises it again, verified once
        return "ip:" + (get_remote_address() or "")


def _breached(limit: RequestLimit) -> None:
    audit.record("rate_limited", endpoint=request.endpoint, limit=str(limit.limit),
                 ip=get_remote_address())  # fmt: skip


def init_app(
    app: Flask, settings: Settings, storage_uri: str, storage_options: dict[str, Any]
) -> Limiter | None:
    """Wrap the limited views of this app (one limiter per app: each has its own storage,
    which the store room describes and the app factory hands over)."""
    if not settings.ratelimit_enabled:
        return None
    limiter = Limiter(
        get_remote_address, app=app, storage_uri=storage_uri, storage_options=storage_options,
        headers_enabled=True, strategy="fixed-window",
    )  # fmt: skip
    limits = {
        "auth.login": [(settings.ratelimit_login_ip, get_remote_address, None)],
        "auth.refresh": [(settings.ratelimit_refresh_session, _session, None),
                         (settings.ratelimit_refresh_ip, get_remote_address, None)],
        "auth.register": [(settings.ratelimit_register_ip, get_remote_address, None)],
    }  # fmt: skip
    for endpoint, rules in limits.items():
        view = app.view_functions[endpoint]
        for rule, key, deduct_when in rules:
            view = limiter.limit(rule, key_func=key, deduct_when=deduct_when, on_breach=_breached)(
                view
            )
        app.view_functions[endpoint] = view
    return limiter
