"""What reuse of a consumed refresh token does: the one place REUSE_POLICY is read."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum

from app import audit
from app.store import Store


class ReusePolicy(StrEnum):
    """The reactions REUSE_POLICY can choose."""

    REVOKE_SESSION = "revoke_session"  # end the token family (the default, RFC 9700 4.14.2)
    REVOKE_USER = "revoke_user"  # end every session of the user
    ALERT_ONLY = "alert_only"  # refuse the token and log, keep the session

    @property
    def ends_session(self) -> bool:
        """Whether the rotate script ends the family atomically with the detection."""
        return self is not ReusePolicy.ALERT_ONLY


@dataclass(frozen=True, slots=True)
class ReuseEvidence:
    """Both sides of a reuse: who presented the consumed token, and where the session was
    last rotated; the token's age and how many rotations it is behind."""

    user_id: str
    session_id: str
    ip: str
    user_agent: str
    session_ip: str
    session_user_agent: str
    token_age_s: int
    generations_behind: int


def react_to_reuse(
    policy: ReusePolicy, store: Store, evidence: ReuseEvidence, *, session_ended: bool
) -> None:
    """Finish the reaction the rotate script began, and record the event."""
    ended_sessions = 1 if session_ended else 0
    if policy is ReusePolicy.REVOKE_USER:
        ended_sessions += store.end_all_sessions(evidence.user_id)
    audit.record(
        "reuse_detected",
        policy=policy.value,
        sessions_ended=ended_sessions,
        **asdict(evidence),
    )
