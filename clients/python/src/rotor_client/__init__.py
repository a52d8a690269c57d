"""Rotor's Python client: an ``httpx.Auth`` and a ``requests`` ``AuthBase`` that log in, send
the access token, refresh once for every thread when it expires, retry, and report new tokens.

``HttpxAuth`` needs httpx and ``RequestsAuth`` requests (the extras of the same names); each is
imported only when asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rotor_client._session import RotorError, RotorSession, SessionEnded, SignOutReason, Tokens

if TYPE_CHECKING:
    from rotor_client.httpx_auth import HttpxAuth
    from rotor_client.requests_auth import RequestsAuth

__all__ = [
    "HttpxAuth",
    "RequestsAuth",
    "RotorError",
    "RotorSession",
    "SessionEnded",
    "SignOutReason",
    "Tokens",
]


def __getattr__(name: str) -> Any:
    if name == "HttpxAuth":
        from rotor_client.httpx_auth import HttpxAuth

        return HttpxAuth
    if name == "RequestsAuth":
        from rotor_client.requests_auth import RequestsAuth

        return RequestsAuth
    raise AttributeError(f"module 'rotor_client' has no attribute {name!r}")
