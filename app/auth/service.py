"""The rules of Rotor: accounts, logins, rotation, sessions, revocation.

It takes plain values (an email, a token string, an ip) and returns records or raises ApiError;
it never sees a request. Time comes from ``clock`` so tests can reason about deadlines.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.auth.passwords import PasswordHasher
from app.auth.policies import ReusePolicy, react_to_reuse
from app.auth.tokens import TokenCodec, TokenPair, seal_pair, token_hash, unseal_pair
from app.errors import ApiError, TokenError
from app.store import SessionRecord, Store, UserRecord
from config import Settings

USER_AGENT_MAX = 256


@dataclass(frozen=True, slots=True)
class Principal:
    """Who an authorized access token speaks for."""

    user_id: str
    session_id: str
    token_id: str
    expires_at: int
    email: str
    created_ms: int


def normalize_email(email: str) -> str:
    """Emails are one account however they are cased or padded."""
    return email.strip().lower()


def _new_id(nbytes: int) -> str:
    return secrets.token_hex(nbytes)


def _invalid_credentials(status: int = 401) -> ApiError:
    return ApiError("invalid_credentials", "The email or password is incorrect.", status)


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
        self.tokens = TokenCodec(
            settings.jwt_secret_key, settings.jwt_issuer, settings.jwt_audience
        )

    # -- accounts -------------------------------------------------------------------------

    def register(self, email: str, password: str) -> UserRecord:
        """Create an account; 409 ``email_taken`` when the normalized email exists."""
        email = normalize_email(email)
        password_hash = self.hasher.hash(password)
        uid = _new_id(8)
        created_ms = int(self.clock() * 1000)
        if not self.store.create_user(uid, email, password_hash, created_ms):
            raise ApiError("email_taken", "An account with this email already exists.", 409)
        return UserRecord(uid, email, password_hash, created_ms, disabled=False)

    def change_password(self, principal: Principal, current: str, new: str) -> None:
        """Replace the password and end every other session of the user."""
        user = self.store.get_user(principal.user_id)
        if user is None:
            raise TokenError("token_revoked", "The token's session has ended.")
        if not self.hasher.verify(current, user.password_hash):
            raise _invalid_credentials(403)
        now_ms = int(self.clock() * 1000)
        self.store.set_password_hash(user.id, self.hasher.hash(new), now_ms)
        # After the new hash is stored, so any session opened with the old password is listed.
        self.store.end_all_sessions(user.id, keep=[principal.session_id])

    # -- tokens ---------------------------------------------------------------------------

    def login(self, email: str, password: str, *, ip: str, user_agent: str) -> TokenPair:
        """Check the password and open a session; unknown email and wrong password are one
        answer, reached through one bcrypt check each."""
        user = self.store.find_user_by_email(normalize_email(email))
        valid = self.hasher.verify(password, user.password_hash if user else None)
        if user is None or not valid or user.disabled:
            raise _invalid_credentials()
        settings = self.settings
        now = self.clock()
        now_s = int(now)
        absolute_deadline = now_s + settings.session_max_lifetime
        deadline = min(now_s + settings.refresh_token_ttl, absolute_deadline)
        sid = _new_id(12)
        pair = self.tokens.issue_pair(
            user_id=user.id,
            session_id=sid,
            generation=0,
            now=now_s,
            access_ttl=settings.access_token_ttl,
            refresh_deadline=deadline,
            absolute_deadline=absolute_deadline,
        )
        evicted = self.store.create_session(
            user.id,
            sid,
            token_hash(pair.refresh_token),
            now_ms=int(now * 1000),
            deadline_ms=deadline * 1000,
            absolute_ms=absolute_deadline * 1000,
            ip=ip,
            user_agent=user_agent[:USER_AGENT_MAX],
            limit=settings.max_sessions_per_user,
        )
        if evicted is None:  # disabled or deleted while we checked the password
            raise _invalid_credentials()
        return pair

    def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate a refresh token: a new pair, the grace replay of the last one, or refusal
        (``token_reused`` ends the family as REUSE_POLICY says)."""
        claims = self.tokens.decode_refresh_token(refresh_token)
        settings = self.settings
        now = self.clock()
        now_s = int(now)
        deadline = min(now_s + settings.refresh_token_ttl, claims.absolute_deadline)
        successor = self.tokens.issue_pair(
            user_id=claims.user_id,
            session_id=claims.session_id,
            generation=claims.generation + 1,
            now=now_s,
            access_ttl=settings.access_token_ttl,
            refresh_deadline=deadline,
            absolute_deadline=claims.absolute_deadline,
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
        )
        if rotation.outcome == "rotated":
            return successor
        if rotation.outcome == "replayed" and rotation.sealed_pair:
            replayed = unseal_pair(rotation.sealed_pair, refresh_token)
            if replayed is not None:
                return replayed
        if rotation.outcome in ("reused", "replayed"):
            react_to_reuse(
                self.reuse_policy,
                self.store,
                uid=claims.user_id,
                sid=claims.session_id,
                session_ended=rotation.session_ended,
            )
            raise TokenError("token_reused", "The refresh token was already used.")
        raise TokenError("token_revoked", "The refresh token's session has ended.")

    def authenticate(self, access_token: str) -> Principal:
        """The principal of a valid access token whose session is alive, user active and token
        not logged out; TokenError otherwise. One Redis round trip."""
        claims = self.tokens.decode_access_token(access_token)
        found = self.store.authorize(claims.user_id, claims.session_id, claims.token_id)
        if found is None:
            raise TokenError("token_revoked", "The token's session has ended.")
        email, created_ms = found
        return Principal(
            claims.user_id, claims.session_id, claims.token_id, claims.expires_at, email, created_ms
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

    def logout_all(self, principal: Principal) -> None:
        """End every session of the caller's user."""
        self.store.end_all_sessions(principal.user_id)

    def list_sessions(self, principal: Principal) -> list[SessionRecord]:
        """The caller's live sessions, newest first."""
        return self.store.list_sessions(principal.user_id)

    def end_session(self, principal: Principal, session_id: str) -> None:
        """End one of the caller's sessions; 404 for an id that is not theirs or not alive."""
        if not self.store.end_sessions(principal.user_id, [session_id]):
            raise ApiError("session_not_found", "No such session.", 404)
