"""The rules of Rotor: accounts, logins, rotation, sessions, revocation.

It takes plain values (an email, a token string, an ip) and returns records or raises the
errors of ``app.errors``; it never sees a request. Time comes from ``clock`` so tests can
reason about deadlines.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app import audit
from app.auth.accounts import COMMON_PASSWORD, new_account_problems, normalize_email
from app.auth.keys import KeyRing
from app.auth.operators import Operators
from app.auth.passwords import PasswordHasher, is_common_password
from app.auth.policies import ReuseEvidence, ReusePolicy, react_to_reuse
from app.auth.throttle import PasswordGuard
from app.auth.tokens import RefreshClaims, TokenPair, Tokens, seal_pair, token_hash, unseal_pair
from app.errors import (
    EmailTaken,
    InvalidCredentials,
    SessionNotFound,
    TokenReused,
    TokenRevoked,
    ValidationFailed,
    WrongCurrentPassword,
)
from app.store import RotationOutcome, SessionRecord, Store, UserRecord
from config import Settings

USER_AGENT_MAX = 256


@dataclass(frozen=True, slots=True)
class Account:
    """The public fields of the user an authorized access token speaks for."""

    email: str
    created_ms: int


@dataclass(frozen=True, slots=True)
class Principal:
    """Who an authorized access token speaks for."""

    user_id: str
    session_id: str
    token_id: str
    expires_at: int
    email: str
    created_ms: int


@dataclass(frozen=True, slots=True)
class Introspection:
    """What RFC 7662 introspection tells a resource server about a live access token."""

    user_id: str
    session_id: str
    token_id: str
    expires_at: int
    issued_at: int
    issuer: str
    audience: str


def _new_id(nbytes: int) -> str:
    return secrets.token_hex(nbytes)


def _refuse_common_password(password: str, field: str) -> None:
    if is_common_password(password):
        raise ValidationFailed(details={field: [COMMON_PASSWORD]})


class AuthService:
    """Rotor's rules over one store and one set of settings."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        hasher: PasswordHasher,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self.hasher = hasher
        self.clock = clock
        self.reuse_policy = ReusePolicy(settings.reuse_policy)
        self.password_guard = PasswordGuard(settings, store)
        # KeyRing.from_settings raises ConfigError for a key it cannot use: startup stops.
        self.tokens = Tokens(KeyRing.from_settings(settings))
        # The clock is looked up at each call: tests replace the service's.
        self.operators = Operators(store, register=self.register, clock=lambda: self.clock())
        self._introspection_clients = dict(settings.introspection_clients)
        # Compared against when the client id is unknown, so both cases cost the same.
        self._unknown_client_secret = secrets.token_urlsafe(32)

    # -- accounts -------------------------------------------------------------------------

    def register(self, email: str, password: str) -> UserRecord:
        """Create an account; 422 for an email or password the rules refuse, 409
        ``email_taken`` when the normalized email exists."""
        email = normalize_email(email)
        problems = new_account_problems(email, password)
        if problems:
            raise ValidationFailed(details=problems)
        password_hash = self.hasher.hash(password)
        uid = _new_id(8)
        created_ms = int(self.clock() * 1000)
        scheme = self.hasher.scheme
        if not self.store.create_user(
            uid, email, password_hash, created_ms, password_scheme=scheme
        ):
            raise EmailTaken()
        audit.record("user_registered", user_id=uid, email=email)
        return UserRecord(
            uid, email, password_hash, created_ms, disabled=False, password_scheme=scheme
        )

    def change_password(self, principal: Principal, current: str, new: str, *, ip: str) -> None:
        """Replace the password and end every other session of the user. Wrong current
        passwords count against the same limit as failed logins (a stolen session must not
        become an unlimited guessing oracle)."""
        user = self.store.get_user(principal.user_id)
        if user is None:
            raise TokenRevoked()
        _refuse_common_password(new, "new_password")
        self.password_guard.before_check(user.email, ip, action="password_change")
        if not self.hasher.verify(current, user.password_hash, user.password_scheme):
            audit.record(
                "password_changed",
                outcome="failed",
                reason="bad_password",
                user_id=user.id,
                session_id=principal.session_id,
                ip=ip,
            )
            raise WrongCurrentPassword()
        self.password_guard.passed(user.email, ip)
        now_ms = int(self.clock() * 1000)
        stored = self.store.set_password_hash(
            user.id,
            self.hasher.hash(new),
            scheme=self.hasher.scheme,
            checked_epoch=user.password_epoch,
            changed_ms=now_ms,
        )
        if not stored:  # another change came first: ``current`` is no longer the password
            audit.record(
                "password_changed",
                outcome="failed",
                reason="password_changed",
                user_id=user.id,
                session_id=principal.session_id,
            )
            raise WrongCurrentPassword()
        # After the new hash is stored, so any session opened with the old password is listed.
        ended = self.store.end_all_sessions(user.id, keep=[principal.session_id])
        audit.record(
            "password_changed",
            outcome="ok",
            user_id=user.id,
            session_id=principal.session_id,
            sessions_ended=ended,
        )

    # -- tokens ---------------------------------------------------------------------------

    def login(
        self, email: str, password: str, *, ip: str, user_agent: str, for_cookies: bool = False
    ) -> TokenPair:
        """Check the password and open a session; unknown email and wrong password are one
        answer, reached through one bcrypt check each, counted before it runs (429 past the
        failed-check limit). ``for_cookies``: the pair goes in cookies (CSRF values)."""
        email = normalize_email(email)
        self.password_guard.before_check(email, ip, action="login")
        user = self.store.find_user_by_email(email)
        if user is None:
            valid = self.hasher.verify(password, None)
        else:
            valid = self.hasher.verify(password, user.password_hash, user.password_scheme)
        if user is None or not valid or user.disabled:
            reason = "unknown_email" if user is None else "disabled" if valid else "bad_password"
            audit.record(
                "login",
                outcome="failed",
                reason=reason,
                email=email,
                ip=ip,
                user_agent=user_agent,
                user_id=user.id if user else None,
            )
            raise InvalidCredentials()
        self.password_guard.passed(email, ip)
        if self.hasher.needs_upgrade(user.password_scheme):
            # Hashed before PASSWORD_PEPPER was set: re-hash under it now that we hold the
            # password. Refused (harmlessly) if the password changed since we read it.
            self.store.set_password_hash(
                user.id,
                self.hasher.hash(password),
                scheme=self.hasher.scheme,
                checked_epoch=user.password_epoch,
                changed_ms=None,
            )
        settings = self.settings
        now = self.clock()
        now_s = int(now)
        absolute_deadline = now_s + settings.session_max_lifetime
        deadline = min(now_s + settings.refresh_token_ttl, absolute_deadline)
        sid = _new_id(12)
        pair = self._issue_pair(
            user.id, sid, 0, now_s, deadline, absolute_deadline, for_cookies=for_cookies
        )
        opening = self.store.create_session(
            user.id,
            sid,
            token_hash(pair.refresh_token),
            now_ms=int(now * 1000),
            deadline_ms=deadline * 1000,
            absolute_ms=absolute_deadline * 1000,
            ip=ip,
            user_agent=user_agent[:USER_AGENT_MAX],
            limit=settings.max_sessions_per_user,
            password_epoch=user.password_epoch,
        )
        if opening.outcome != "created":  # disabled, deleted or password changed meanwhile
            audit.record(
                "login",
                outcome="failed",
                reason=opening.outcome,
                email=email,
                ip=ip,
                user_agent=user_agent,
                user_id=user.id,
            )
            raise InvalidCredentials()
        for evicted_id in opening.evicted:
            audit.record(
                "session_evicted",
                user_id=user.id,
                session_id=evicted_id,
                reason="max_sessions_per_user",
            )
        audit.record(
            "login",
            outcome="ok",
            email=email,
            user_id=user.id,
            session_id=sid,
            ip=ip,
            user_agent=user_agent,
        )
        return pair

    def refresh(
        self,
        refresh_token: str,
        claims: RefreshClaims,
        *,
        ip: str,
        user_agent: str,
        for_cookies: bool = False,
    ) -> TokenPair:
        """Rotate a refresh token the token library verified (``claims`` are its claims): a
        new pair (with CSRF values ``for_cookies``), the grace replay of the last one (to be
        answered where it was first: the same answer again), or refusal (``token_reused`` ends
        the family as REUSE_POLICY says)."""
        user_agent = user_agent[:USER_AGENT_MAX]
        settings = self.settings
        now = self.clock()
        now_s = int(now)
        deadline = min(now_s + settings.refresh_token_ttl, claims.absolute_deadline)
        successor = self._issue_pair(
            claims.user_id,
            claims.session_id,
            claims.generation + 1,
            now_s,
            deadline,
            claims.absolute_deadline,
            for_cookies=for_cookies,
        )
        grace_ms = settings.refresh_reuse_grace * 1000
        rotation = self.store.rotate(
            claims.user_id,
            claims.session_id,
            presented_hash=token_hash(refresh_token),
            presented_generation=claims.generation,
            successor_hash=token_hash(successor.refresh_token),
            now_ms=int(now * 1000),
            deadline_ms=deadline * 1000,
            grace_ms=grace_ms,
            sealed_pair=seal_pair(successor, refresh_token) if grace_ms else "",
            end_session_on_reuse=self.reuse_policy.ends_session,
            ip=ip,
            user_agent=user_agent,
        )
        event = {
            "user_id": claims.user_id,
            "session_id": claims.session_id,
            "ip": ip,
            "user_agent": user_agent,
        }
        if rotation.outcome in (RotationOutcome.ROTATED, RotationOutcome.RESYNCED):
            audit.record(
                "refresh", outcome=rotation.outcome, generation=rotation.generation, **event
            )
            return successor
        if rotation.outcome is RotationOutcome.REPLAYED and rotation.sealed_pair:
            replayed = unseal_pair(rotation.sealed_pair, refresh_token, for_cookies)
            if replayed is not None:
                audit.record("refresh", outcome="replayed", **event)
                return replayed
        if rotation.outcome is RotationOutcome.REUSED:
            evidence = ReuseEvidence(
                claims.user_id,
                claims.session_id,
                ip,
                user_agent,
                session_ip=rotation.last_ip,
                session_user_agent=rotation.last_user_agent,
                token_age_s=now_s - claims.issued_at,
                generations_behind=(rotation.generation or 0) - claims.generation,
            )
            react_to_reuse(
                self.reuse_policy, self.store, evidence, session_ended=rotation.session_ended
            )
            raise TokenReused()
        audit.record("refresh", outcome="revoked", **event)
        raise TokenRevoked("The refresh token's session has ended.")

    def _issue_pair(
        self,
        user_id: str,
        session_id: str,
        generation: int,
        now: int,
        refresh_deadline: int,
        absolute_deadline: int,
        *,
        for_cookies: bool,
    ) -> TokenPair:
        """A pair of a session's generation. No token outlives the session's absolute deadline:
        in the session's last minutes the access token lives only until it, too."""
        return self.tokens.issue_pair(
            user_id=user_id,
            session_id=session_id,
            generation=generation,
            now=now,
            access_expires_at=min(now + self.settings.access_token_ttl, absolute_deadline),
            refresh_deadline=refresh_deadline,
            absolute_deadline=absolute_deadline,
            for_cookies=for_cookies,
        )

    def authorize(self, user_id: str, session_id: str, token_id: str) -> Account | None:
        """The account an access token speaks for when its session is alive, its user active
        and the token not logged out; None otherwise. One Redis round trip."""
        found = self.store.authorize(user_id, session_id, token_id)
        return None if found is None else Account(*found)

    # -- introspection (RFC 7662) ---------------------------------------------------------

    @property
    def introspection_enabled(self) -> bool:
        """Whether INTROSPECTION_CLIENTS names any client (otherwise the endpoint is 404)."""
        return bool(self._introspection_clients)

    def introspection_client_allowed(self, client_id: str, secret: str) -> bool:
        """Whether these HTTP Basic credentials are a client of INTROSPECTION_CLIENTS; the
        secret is compared in constant time, and an unknown id costs the same comparison."""
        expected = self._introspection_clients.get(client_id)
        match = hmac.compare_digest(
            (expected or self._unknown_client_secret).encode(), secret.encode()
        )
        return match and expected is not None

    def introspect(self, claims: Mapping[str, Any]) -> Introspection | None:
        """What to tell a resource server about a token flask-jwt-extended has verified: its
        claims when it is an access token that `authorize` accepts (the same one Redis round
        trip as any authorized request), None for anything else (a refresh token, its session
        ended, its user disabled, the token logged out)."""
        if claims["type"] != "access":
            return None
        if self.authorize(claims["sub"], claims["sid"], claims["jti"]) is None:
            return None
        return Introspection(
            claims["sub"],
            claims["sid"],
            claims["jti"],
            claims["exp"],
            claims["iat"],
            claims["iss"],
            claims["aud"],
        )

    # -- sessions -------------------------------------------------------------------------

    def logout(self, principal: Principal) -> None:
        """End the caller's session and deny its access token until it expires."""
        remaining_ms = principal.expires_at * 1000 - int(self.clock() * 1000)
        self.store.end_sessions(
            principal.user_id,
            [principal.session_id],
            deny_jti=principal.token_id,
            deny_ms=max(remaining_ms, 1),
        )
        audit.record("logout", user_id=principal.user_id, session_id=principal.session_id)

    def logout_all(self, principal: Principal) -> None:
        """End every session of the caller's user."""
        ended = self.store.end_all_sessions(principal.user_id)
        audit.record(
            "logout_all",
            user_id=principal.user_id,
            session_id=principal.session_id,
            sessions_ended=ended,
        )

    def list_sessions(self, principal: Principal) -> list[SessionRecord]:
        """The caller's live sessions, newest first."""
        return self.store.list_sessions(principal.user_id)

    def end_session(self, principal: Principal, session_id: str) -> None:
        """End one of the caller's sessions; 404 for an id that is not theirs or not alive."""
        if not self.store.end_sessions(principal.user_id, [session_id]):
            raise SessionNotFound()
        audit.record(
            "session_revoked",
            user_id=principal.user_id,
            session_id=session_id,
            by_session_id=principal.session_id,
        )
