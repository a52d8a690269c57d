"""Every Redis key Rotor writes is built here, and nowhere else.

Keys of one user carry the Redis Cluster hash tag ``{<user id>}``: the scripts that rotate a
token or end sessions touch several of them at once, and Redis Cluster runs a script only when
every key it names lives in one slot. The email index is looked up before the user id is known,
so it stands alone (it is only ever read or written by itself). The failed-password counters
of one email (known or not: they count before the lookup) share the tag
``{login:<email digest>}`` for the same reason; the digest keeps emails out of key names and
braces out of the tag.

Layout (prefix ``auth:`` by default)::

    auth:email:<email>               string  -> user id               (no TTL)
    auth:{<uid>}:user                hash    email, pw, created, ...  (no TTL)
    auth:{<uid>}:sessions            zset    session id -> created ms (TTL: last session's end)
    auth:{<uid>}:session:<sid>       hash    rt, gen, created, used, exp, abs, ip, ua
    auth:{<uid>}:grace:<sid>         hash    rt, pair: the just-consumed token's hash and the
                                             sealed successor pair  (TTL: the grace window)
    auth:{<uid>}:denied:<jti>        string  a logged-out access token (TTL: its expiry)
    auth:{login:<email digest>}:fails:<window s>:<ip>
                                     string  password checks of one email from one address in
                                             a fixed window (TTL: the window)
    auth:{login:<email digest>}:fails:<window s>
                                     string  the same from every address (TTL: the window)
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

_GLOB_SPECIAL = "\\*?[]"


class KeyLayoutRow(NamedTuple):
    """One line of the key layout, for operators (``flask keys``, docs/redis.md)."""

    key: str
    type: str
    holds: str
    ttl: str


class KeySpace:
    """Key names under one prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def email(self, email: str) -> str:
        """The email index entry; the email is already normalized (trimmed, lower case)."""
        return f"{self.prefix}email:{email}"

    def email_pattern(self) -> str:
        """SCAN pattern matching every email index entry (operator tools only)."""
        return f"{_glob_escape(self.prefix)}email:*"

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

    def password_failures(self, email: str, ip: str, window_s: int) -> str:
        """Password checks of one (normalized) email from one client address that count as
        failures, in one fixed window of ``window_s`` seconds."""
        return self._failures(_email_digest(email), str(window_s), ip)

    def password_failures_any_ip(self, email: str, window_s: int) -> str:
        """Password checks of one email from every address, in one fixed window."""
        return self._failures(_email_digest(email), str(window_s), None)

    def _failures(self, digest: str, window: str, ip: str | None) -> str:
        key = f"{self.prefix}{{login:{digest}}}:fails:{window}"
        return key if ip is None else f"{key}:{ip}"

    def session_pattern(self) -> str:
        """SCAN pattern matching every session hash (operator tools only).

        The prefix is escaped: a ``*`` or ``[`` in it must match itself, not other keys.
        """
        return f"{_glob_escape(self.prefix)}{{*}}:session:*"

    def parse_session(self, key: str) -> tuple[str, str] | None:
        """(user id, session id) of a session hash's key, or None for any other key.

        The inverse of ``session``, for keys found with ``session_pattern``.
        """
        head = f"{self.prefix}{{"
        if not key.startswith(head):
            return None
        uid, sep, sid = key[len(head) :].partition("}:session:")
        if not sep or not uid or not sid:
            return None
        return uid, sid

    def layout(self) -> list[KeyLayoutRow]:
        """Every key Rotor writes, with placeholders, for operators using redis-cli."""
        uid, sid = "<uid>", "<sid>"
        return [
            KeyLayoutRow(self.email("<email>"), "string", "user id", "none"),
            KeyLayoutRow(
                self.user(uid),
                "hash",
                "email, pw, created, pw_changed, pw_epoch, disabled",
                "none",
            ),
            KeyLayoutRow(
                self.sessions(uid), "zset", "session id -> created ms", "last session's end"
            ),
            KeyLayoutRow(
                self.session(uid, sid),
                "hash",
                "rt, gen, created, used, exp, abs, ip, ua",
                "the session's deadline",
            ),
            KeyLayoutRow(self.grace(uid, sid), "hash", "rt, pair", "the grace window"),
            KeyLayoutRow(
                self.denied(uid, "<jti>"), "string", "a logged-out access token", "its expiry"
            ),
            KeyLayoutRow(
                self._failures("<email digest>", "<window s>", "<ip>"),
                "string",
                "failed password checks of an email from an address",
                "the window",
            ),
            KeyLayoutRow(
                self._failures("<email digest>", "<window s>", None),
                "string",
                "failed password checks of an email from every address",
                "the window",
            ),
        ]


def _email_digest(email: str) -> str:
    """The first 128 bits of the email's SHA-256, hex: no email (or brace) in a key name."""
    return hashlib.sha256(email.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _glob_escape(text: str) -> str:
    """``text`` as a literal inside a Redis glob pattern."""
    return "".join(f"\\{char}" if char in _GLOB_SPECIAL else char for char in text)
