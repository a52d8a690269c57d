"""Every Redis key Rotor writes is built here, and nowhere else.

Keys of one user carry the Redis Cluster hash tag ``{<user id>}``: the scripts that rotate a
token or end sessions touch several of them at once, and Redis Cluster runs a script only when
every key it names lives in one slot. The email index is looked up before the user id is known,
so it stands alone (it is only ever read or written by itself).

Layout (prefix ``auth:`` by default)::

    auth:email:<email>               string  -> user id               (no TTL)
    auth:{<uid>}:user                hash    email, pw, created, ...  (no TTL)
    auth:{<uid>}:sessions            zset    session id -> created ms (TTL: last session's end)
    auth:{<uid>}:session:<sid>       hash    rt, gen, created, used, exp, abs, ip, ua
    auth:{<uid>}:grace:<sid>         hash    rt, pair: the just-consumed token's hash and the
                                             sealed successor pair  (TTL: the grace window)
    auth:{<uid>}:denied:<jti>        string  a logged-out access token (TTL: its expiry)
"""

from __future__ import annotations


class KeySpace:
    """Key names under one prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def email(self, email: str) -> str:
        """The email index entry; the email is already normalized (trimmed, lower case)."""
        return f"{self.prefix}email:{email}"

    def email_pattern(self) -> str:
        """SCAN pattern matching every email index entry (operator tools only)."""
        return f"{self.prefix}email:*"

    def _user_tag(self, uid: str) -> str:
        return f"{self.prefix}{{{uid}}}"

    def user(self, uid: str) -> str:
        """The user's record."""
        return f"{self._user_tag(uid)}:user"

    def sessions(self, uid: str) -> str:
        """The user's session index: every session id, scored by creation time (ms)."""
        return f"{self._user_tag(uid)}:sessions"

    def session(self, uid: str, sid: str) -> str:
        """One session: the current refresh token's hash, generation, deadlines, device."""
        return f"{self._user_tag(uid)}:session:{sid}"

    def grace(self, uid: str, sid: str) -> str:
        """The last rotation's consumed-token hash and sealed successor, for grace replays."""
        return f"{self._user_tag(uid)}:grace:{sid}"

    def denied(self, uid: str, jti: str) -> str:
        """A logged-out access token, by its ``jti``."""
        return f"{self._user_tag(uid)}:denied:{jti}"

    def session_pattern(self) -> str:
        """SCAN pattern matching every session hash (operator tools only)."""
        return f"{self.prefix}{{*}}:session:*"
