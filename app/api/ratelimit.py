"""Rate limits (Flask-Limiter), counted in the same Redis under the same key prefix.

Login: per IP. Refresh: per session (from the verified token) and per IP. Register: per IP.
A breach answers 429 ``rate_limited`` with ``Retry-After``; RATELIMIT_ENABLED=0 turns
everything off. Failed password checks (per account and IP, login and password change) are
limited by the auth room (``app/auth/throttle.py``): they must be counted before the check, in
one atomic step, which Flask-Limiter's ``deduct_when`` (test before, count after) cannot do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from flask import Flask, request
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address

from app import audit
from app.api.principal import presented_refresh_token
from config import Settings


class LimiterStorage(Protocol):
    """Where the limiter counts and how its keys name a client: the store room's
    ``LimiterStorage``, which the app factory hands over (the api room imports no store)."""

    @property
    def uri(self) -> str: ...
    @property
    def options(self) -> dict[str, Any]: ...
    def address_subject(self, ip: str) -> str: ...
    def session_subject(self, sid: str) -> str: ...
    def refused_refresh_subject(self, ip: str) -> str: ...


def _per_address(storage: LimiterStorage) -> Callable[[], str]:
    def address() -> str:
        return storage.address_subject(get_remote_address() or "")

    return address


def _per_session(storage: LimiterStorage) -> Callable[[], str]:
    def session() -> str:
        """The session of a refresh attempt, from the verified token wherever it came (body,
        header or cookie: browsers behind one NAT are limited each on their own); the IP when
        the token is refused (an attacker cannot spend someone else's session budget with a
        forged token, and the view answers the refusal)."""
        try:
            return storage.session_subject(presented_refresh_token().claims.session_id)
        except Exception:  # the view raises it again, verified once
            return storage.refused_refresh_subject(get_remote_address() or "")

    return session


def _breached(limit: RequestLimit) -> None:
    audit.record(
        "rate_limited", endpoint=request.endpoint, limit=str(limit.limit), ip=get_remote_address()
    )


def init_app(app: Flask, settings: Settings, storage: LimiterStorage) -> Limiter | None:
    """Wrap the limited views of this app (one limiter per app: each has its own storage)."""
    if not settings.ratelimit_enabled:
        return None
    per_address = _per_address(storage)
    limiter = Limiter(
        per_address,
        app=app,
        storage_uri=storage.uri,
        storage_options=storage.options,
        headers_enabled=True,
        strategy="fixed-window",
    )
    limits = {
        "auth.login": [(settings.ratelimit_login_ip, per_address)],
        "auth.refresh": [
            (settings.ratelimit_refresh_session, _per_session(storage)),
            (settings.ratelimit_refresh_ip, per_address),
        ],
        "auth.register": [(settings.ratelimit_register_ip, per_address)],
    }
    for endpoint, rules in limits.items():
        view: Callable[..., Any] = app.view_functions[endpoint]
        for rule, key in rules:
            view = limiter.limit(rule, key_func=key, on_breach=_breached)(view)
        app.view_functions[endpoint] = view
    return limiter
