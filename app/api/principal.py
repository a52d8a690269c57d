"""Bearer tokens on the way in: where they are read, and the guard of protected views."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import g, request

from app.api import cookies
from app.auth import Principal, get_auth
from app.errors import ApiError, TokenError

P = ParamSpec("P")
R = TypeVar("R")


def bearer_token() -> str | None:
    """The token of ``Authorization: Bearer <token>``; None without a Bearer header.

    Tokens are read from this header (and the JSON body on /refresh), never from the URL.
    The same string object every call of a request: the codec's refresh-token memo matches
    by identity, and a rate-limited refresh reads the token twice (limiter key, then view).
    """
    header = request.headers.get("Authorization")
    if header is None:
        return None
    environ = request.environ
    parsed = environ.get("rotor.bearer")
    if parsed is not None and parsed[0] is header:
        return parsed[1]
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None  # another scheme: as if no credentials were sent (RFC 6750 3)
    value = value.strip()
    if not value or " " in value:
        raise ApiError("invalid_request", "The Authorization header must be 'Bearer <token>'.", 400)
    environ["rotor.bearer"] = (header, value)
    return value


def access_token_required(view: Callable[P, R]) -> Callable[P, R]:
    """Guard a view: a valid access token of a live session, or 401 (one Redis round trip)."""

    @functools.wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        token = bearer_token()
        from_cookie = cookies.access_cookie()
        if token and from_cookie:
            raise ApiError("invalid_request", "Send the access token in one place only.", 400)
        csrf = None
        if from_cookie:
            token = from_cookie
            if request.method in cookies.UNSAFE_METHODS:
                csrf = cookies.csrf_header()
        if token is None:
            raise TokenError("missing_token", "A bearer token is required.", presented=False)
        g.rotor_principal = get_auth().authenticate(token, csrf=csrf)
        g.rotor_by_cookie = from_cookie is not None
        return view(*args, **kwargs)

    return guarded


def authenticated_by_cookie() -> bool:
    """Whether the request's access token came in the access cookie."""
    return bool(g.get("rotor_by_cookie"))


def current_principal() -> Principal:
    """The principal of the request's access token (set by `access_token_required`)."""
    principal: Principal = g.rotor_principal
    return principal
