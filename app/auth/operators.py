"""What an operator may do: manage users, list and end sessions, check Redis.

`Operators` is built by the AuthService over its store, so an operator ending a session takes
the API's path (the ``end_sessions`` script) and each user's session index stays consistent.
The CLI (``app/cli.py``) and the ops endpoints call it; neither touches Redis itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app import audit
from app.auth.accounts import normalize_email
from app.errors import RotorError
from app.store import SessionRecord, Store, UserRecord, eviction_warning
from app.store.keys import KeyLayoutRow

SessionRef = tuple[str, str]  # (user id, session id)


class OperatorError(Exception):
    """An operator's request that cannot be carried out (unknown email, no such session)."""


@dataclass(frozen=True, slots=True)
class FlushReport:
    """What a flush saw and did: ``ended`` counts the sessions it would end on a dry run."""

    scanned: int
    ended: int
    dry_run: bool


@dataclass(frozen=True, slots=True)
class Readiness:
    """Redis answered; its ``maxmemory-policy`` (None when CONFIG is refused) and why that
    policy is dangerous, if it is."""

    eviction_policy: str | None
    warning: str | None


def _ignore_progress(_: int) -> None:
    return None


class Operators:
    """The operator's actions over one store; ``register`` and ``clock`` are the service's."""

    def __init__(
        self,
        store: Store,
        *,
        register: Callable[[str, str], UserRecord],
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._register = register
        self._clock = clock

    def create_user(self, email: str, password: str) -> UserRecord:
        """Register an account as the API does (the caller validated email and password)."""
        try:
            return self._register(email, password)
        except RotorError as exc:
            raise OperatorError(exc.message) from exc

    def find_user(self, email: str) -> UserRecord:
        """The user registered under ``email`` (normalized as at login), or OperatorError."""
        normalized = normalize_email(email)
        user = self._store.find_user_by_email(normalized)
        if user is None:
            raise OperatorError(f"no user with email {normalized}")
        return user

    def disable_user(self, email: str) -> int:
        """Refuse the user's logins and end their sessions; returns how many sessions ended.

        The flag goes first: a login racing with us is then refused by the create_session
        script, so no session can be opened after the ones we end.
        """
        user = self.find_user(email)
        self._store.set_user_disabled(user.id, True)
        ended = self._store.end_all_sessions(user.id)
        audit.record("user_disabled", actor="operator", user_id=user.id, sessions_ended=ended)
        return ended

    def enable_user(self, email: str) -> UserRecord:
        """Let a disabled user log in again (their ended sessions stay ended)."""
        user = self.find_user(email)
        self._store.set_user_disabled(user.id, False)
        audit.record("user_enabled", actor="operator", user_id=user.id)
        return user

    def list_sessions_of(self, email: str) -> list[SessionRecord]:
        """The user's live sessions, newest first."""
        return self._store.list_sessions(self.find_user(email).id)

    def revoke_sessions(self, email: str, session_id: str | None = None) -> int:
        """End one session of the user (``session_id``) or all of them (None); returns how
        many ended. An id that is not a live session of this user is an OperatorError."""
        user = self.find_user(email)
        if session_id is None:
            ended = self._store.end_all_sessions(user.id)
        else:
            ended = self._store.end_sessions(user.id, [session_id])
            if not ended:
                raise OperatorError(f"no live session {session_id} for {user.email}")
        audit.record(
            "sessions_revoked",
            actor="operator",
            user_id=user.id,
            session_id=session_id,
            sessions_ended=ended,
        )
        return ended

    def flush_sessions(
        self,
        *,
        older_than_ms: int | None = None,
        dry_run: bool = False,
        progress: Callable[[int], None] = _ignore_progress,
    ) -> FlushReport:
        """End every session in the database, or those created more than ``older_than_ms``
        ago.

        A non-atomic loop across users: SCAN in batches, then one ``end_sessions`` call per
        user per batch. Sessions opened during the loop may survive; each batch is consistent
        on its own. ``progress`` is called with the number of sessions each batch scanned.
        """
        store = self._store
        cutoff_ms = None if older_than_ms is None else int(self._clock() * 1000) - older_than_ms
        scanned = ended = 0
        for page in store.scan_sessions():
            due = _created_before(store, page, cutoff_ms)
            ended += len(due) if dry_run else _end_by_user(store, due)
            scanned += len(page)
            progress(len(page))
        if not dry_run:
            audit.record(
                "sessions_flushed",
                actor="operator",
                older_than_ms=older_than_ms,
                scanned=scanned,
                sessions_ended=ended,
            )
        return FlushReport(scanned=scanned, ended=ended, dry_run=dry_run)

    def count_sessions(self) -> int:
        """Live sessions in the whole database (approximate: a SCAN, not a snapshot)."""
        return self._store.count_sessions()

    def key_layout(self) -> list[KeyLayoutRow]:
        """The key layout under the configured prefix, for an operator using redis-cli."""
        return self._store.keys.layout()

    def readiness(self) -> Readiness:
        """Whether Redis answers (StoreUnavailable if not), and whether it may evict keys."""
        self._store.ping()
        policy = self._store.eviction_policy()
        return Readiness(policy, eviction_warning(policy))


def _created_before(
    store: Store, refs: Sequence[SessionRef], cutoff_ms: int | None
) -> list[SessionRef]:
    if cutoff_ms is None:
        return list(refs)
    created = store.sessions_created_ms(refs)
    return [ref for ref, ms in zip(refs, created, strict=True) if ms is not None and ms < cutoff_ms]


def _end_by_user(store: Store, refs: Sequence[SessionRef]) -> int:
    # end_sessions runs on one user's keys (one Cluster slot), so group the batch by user.
    by_user: defaultdict[str, list[str]] = defaultdict(list)
    for uid, sid in refs:
        by_user[uid].append(sid)
    return sum(store.end_sessions(uid, sids) for uid, sids in by_user.items())
