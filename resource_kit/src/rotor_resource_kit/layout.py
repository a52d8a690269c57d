"""The part of Rotor's Redis layout the kit relies on, and the read-only decision it makes.

This is a contract with Rotor (README "Resource servers"): the keys below, their hash tag and
the meaning of their contents. Rotor's own authorization (its ``authorize`` script) refuses an
access token unless all three hold, and so does the kit:

    <prefix>{<uid>}:session:<sid>   exists (the session is live); it expires with the session
    <prefix>{<uid>}:denied:<jti>    does not exist (the access token was not logged out)
    <prefix>{<uid>}:user            hash with an ``email`` field and no ``disabled`` = "1"

A missing key means "ended": a flushed database or an operator's ``DEL`` refuses the token.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RotorKeys:
    """Key names under Rotor's ``REDIS_KEY_PREFIX``; a user's keys share the hash tag
    ``{uid}``, so on a Redis Cluster one node answers for all three."""

    prefix: str = "auth:"

    def session(self, uid: str, sid: str) -> str:
        """The session hash: live while it exists."""
        return f"{self.prefix}{{{uid}}}:session:{sid}"

    def denied(self, uid: str, jti: str) -> str:
        """A logged-out access token, by its ``jti``."""
        return f"{self.prefix}{{{uid}}}:denied:{jti}"

    def user(self, uid: str) -> str:
        """The user's record (``email``, ``disabled``...)."""
        return f"{self.prefix}{{{uid}}}:user"


def user_is_active(fields: list[str | None]) -> bool:
    """The verdict on ``HMGET <user> email disabled``: the user exists and is not disabled."""
    email, disabled = fields
    return email is not None and disabled != "1"
