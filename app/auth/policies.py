"""What reuse of a consumed refresh token does: the one place REUSE_POLICY is read."""

from __future__ import annotations

import logging
from enum import StrEnum

from app.store import Store

log = logging.getLogger("rotor.security")


class ReusePolicy(StrEnum):
    """The reactions REUSE_POLICY can choose."""

    REVOKE_SESSION = "revoke_session"  # end the token family (the default, RFC 9700 4.14.2)
    REVOKE_USER = "revoke_user"  # end every session of the user
    ALERT_ONLY = "alert_only"  # refuse the token and log, keep the session

    @property
    def ends_session(self) -> bool:
        """Whether the rotate script ends the family atomically with the detection."""
        return self is not ReusePolicy.ALERT_ONLY


def react_to_reuse(
    policy: ReusePolicy, store: Store, *, uid: str, sid: str, session_ended: bool
) -> None:
    """Finish the reaction the rotate script began, and record the event."""
    ended_sessions = 1 if session_ended else 0
    if policy is ReusePolicy.REVOKE_USER:
        ended_sessions += store.end_all_sessions(uid)
    log.warning(
        "refresh token reuse detected: user=%s session=%s policy=%s sessions_ended=%d",
        uid,
        sid,
        policy.value,
        ended_sessions,
    )
