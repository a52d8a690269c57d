"""What an operator may do from the command line: manage users, list and end sessions.

Every function takes the app's AuthService and goes through its store, so an operator ending a
session takes the API's path (the ``end_sessions`` script) and each user's session index stays
consistent. The CLI (``app/cli.py``) is the only caller; it never touches Redis itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app import audit
from app.auth.service import AuthService, normalize_email
from app.errors import ApiError
from app.store import SessionRecord, Store, UserRecord
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


def _ignore_progress(_: int) -> None:
    return None


def create_user(service: AuthService, email: str, password: str) -> UserRecord:
    """Register an account as the API does (the caller validated email and password)."""
    try:
        return service.register(email, password)
    except ApiError as exc:
        raise OperatorError(exc.message) from exc


def find_user(service: AuthService, email: str) -> UserRecord:
    """The user registered under ``email`` (normalized as at login), or OperatorError."""
    normalized = normalize_email(email)
    user = service.store.find_user_by_email(normalized)
    if user is None:
        raise OperatorError(f"no user with email {normalized}")
    return user


def disable_user(service: AuthService, email: str) -> int:
    """Refuse the user's logins and end their sessions; returns how many sessions ended.

    The flag goes first: a login racing with us is then refused by the create_session script,
    so no session can be opened after the ones we end.
    """
    user = find_user(service, email)
    service.store.set_user_disabled(user.id, True)
    ended = service.store.end_all_sessions(user.id)
    audit.record("user_disabled", actor="operator", user_id=user.id, sessions_ended=ended)
    return ended


def enable_user(service: AuthService, email: str) -> UserRecord:
    """Let a disabled user log in again (their ended sessions stay ended)."""
    user = find_user(service, email)
    service.store.set_user_disabled(user.id, False)
    audit.record("user_enabled", actor="operator", user_id=user.id)
    return user


def list_sessions_of(service: AuthService, email: str) -> list[SessionRecord]:
    """The user's live sessions, newest first."""
    return service.store.list_sessions(find_user(service, email).id)


def revoke_sessions(service: AuthService, email: str, session_id: str | None = None) -> int:
    """End one session of the user (``session_id``) or all of them (None); returns how many
    ended. An id that is not a live session of this user is an OperatorError."""
    user = find_user(service, email)
    if session_id is None:
        ended = service.store.end_all_sessions(user.id)
    else:
        ended = service.store.end_sessions(user.id, [session_id])
        if not ended:
            raise OperatorError(f"no live session {session_id} for {user.email}")
    audit.record(
        "sessions_revoked", actor="operator", user_id=user.id, session_id=session_id,
        sessions_ended=ended,
    )  # fmt: skip
    return ended


def flush_sessions(
    service: AuthService,
    *,
    older_than_ms: int | None = None,
    dry_run: bool = False,
    progress: Callable[[int], None] = _ignore_progress,
) -> FlushReport:
    """End every session in the database, or those created more than ``older_than_ms`` ago.

    A non-atomic loop across users: SCAN in batches, then one ``end_sessions`` call per user
    per batch. Sessions opened during the loop may survive; each batch is consistent on its
    own. ``progress`` is called with the number of sessions each batch scanned.
    """
    store = service.store
    cutoff_ms = None if older_than_ms is None else int(service.clock() * 1000) - older_than_ms
    scanned = ended = 0
    for page in store.scan_sessions():
        due = _created_before(store, page, cutoff_ms)
        ended += len(due) if dry_run else _end_by_user(store, due)
        scanned += len(page)
        progress(len(page))
    if not dry_run:
        audit.record(
            "sessions_flushed", actor="operator", older_than_ms=older_than_ms, scanned=scanned,
            sessions_ended=ended,
        )  # fmt: skip
    return FlushReport(scanned=scanned, ended=ended, dry_run=dry_run)


def count_sessions(service: AuthService) -> int:
    """Live sessions in the whole database (approximate: a SCAN, not a snapshot)."""
    return service.store.count_sessions()


def key_layout(service: AuthService) -> list[KeyLayoutRow]:
    """The key layout under the configured prefix, for an operator using redis-cli."""
    return service.store.keys.layout()


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
