"""What the store hands back: plain typed records, no Redis types."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user as stored; ``password_hash`` never leaves the auth room."""

    id: str
    email: str
    password_hash: str
    created_ms: int
    disabled: bool
    # Moves on with every password change; a login opens its session only at the epoch whose
    # hash it checked (0 for a user whose password never changed).
    password_epoch: int = 0
    # How the password was pre-hashed before bcrypt (app.auth.passwords); None: stored before
    # the scheme was recorded.
    password_scheme: str | None = None


@dataclass(frozen=True, slots=True)
class SessionOpening:
    """What the create-session script decided: ``created`` (with the ids of the sessions it
    evicted), or refused: ``disabled`` (the user is gone or disabled) or ``password_changed``
    (the password the login checked is no longer the user's)."""

    outcome: str
    evicted: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One session (a refresh-token family) with its device metadata."""

    id: str
    created_ms: int
    used_ms: int
    expires_ms: int
    absolute_ms: int
    generation: int
    ip: str
    user_agent: str


class RotationOutcome(StrEnum):
    """What the rotate script decided (``lua/rotate.lua``); the values are its replies."""

    ROTATED = "rotated"
    RESYNCED = "resynced"  # rotated from a successor the store had lost (a failover)
    REPLAYED = "replayed"  # the grace window's answer: the successor pair again
    REUSED = "reused"  # a consumed token came back
    ENDED = "ended"  # no such session (ended, expired) or the user is disabled


@dataclass(frozen=True, slots=True)
class Rotation:
    """What the rotate script decided: ``generation`` is the new one when rotated and the
    session's when reused; ``sealed_pair`` comes with ``replayed``; ``last_ip`` and
    ``last_user_agent`` (with ``reused``) say where the session was last used.
    """

    outcome: RotationOutcome
    generation: int | None = None
    sealed_pair: str | None = None
    session_ended: bool = False
    last_ip: str = ""
    last_user_agent: str = ""
