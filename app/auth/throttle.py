"""Failed password checks, limited so that guessing is slow and the owner is never locked out.

Every password check (login, password change) is counted *before* bcrypt runs, in the same
atomic step that decides whether it may run: however many arrive at once, at most the limit
reach bcrypt. A check that finds the right password is taken back out, so the owner's own
logins never spend the budget. Failures count per email and client address
(RATELIMIT_LOGIN_ACCOUNT): guessing from one address cannot lock the owner out from another.
A brake per email across all addresses (RATELIMIT_LOGIN_ACCOUNT_ALL_IPS) slows guessing
spread over many addresses; it holds back only addresses that failed in their shortest window.
"""

from __future__ import annotations

import math

from limits import parse_many

from app import audit
from app.errors import RateLimited
from app.store import Store, Window
from config import Settings


def windows(rule: str) -> tuple[Window, ...]:
    """(limit, window seconds) of each limit in Flask-Limiter's notation, shortest first."""
    items = parse_many(rule) if rule else []
    return tuple(sorted(((item.amount, item.get_expiry()) for item in items), key=lambda w: w[1]))


class PasswordGuard:
    """Counts password checks per email and address, before they run; RATELIMIT_ENABLED=0
    turns it off."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.store = store
        self.enabled = settings.ratelimit_enabled
        self.per_ip = windows(settings.ratelimit_login_account)
        self.any_ip = windows(settings.ratelimit_login_account_all_ips)

    def before_check(self, email: str, ip: str, *, action: str) -> None:
        """Count a check about to run, or raise RateLimited (429 with Retry-After)."""
        if not self.enabled:
            return
        wait_ms = self.store.count_password_check(email, ip, per_ip=self.per_ip, any_ip=self.any_ip)
        if wait_ms is not None:
            audit.record("rate_limited", endpoint=action, limit="password_checks", email=email,
                         ip=ip)  # fmt: skip
            raise RateLimited(max(math.ceil(wait_ms / 1000), 1))

    def passed(self, email: str, ip: str) -> None:
        """The check found the right password: it was not a failure."""
        if self.enabled:
            self.store.forgive_password_check(email, ip, per_ip=self.per_ip, any_ip=self.any_ip)
