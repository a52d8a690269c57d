"""Bearer tokens on the way in, through flask-jwt-extended: the guards of protected views, the
one function that finds a refresh token, and the loaders that authorize an access token.

Tokens are read from the ``Authorization`` header and the token cookies (and, for a refresh
token only, the JSON body), never from the URL; a token sent in two places is a bad request
(RFC 6750 3.1). The library verifies them (``app.auth.tokens`` holds its key loader); its
revocation check of an access token is the one authorization script, a single Redis round
trip whose answer is also the user lookup.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from flask import g, request
from flask_jwt_extended import (
    JWTManager,
    decode_token,
    get_current_user,
    get_jwt_request_location,
    jwt_required,
    verify_jwt_in_request,
)
from flask_jwt_extended.exceptions import (
    InvalidHeaderError,
    JWTExtendedException,
    NoAuthorizationError,
)
from jwt import ExpiredSignatureError, PyJWTError

from app import audit
from app.api.http import client_ip, load_json, user_agent
from app.api.schemas import RefreshSchema
from app.auth import Principal, RefreshClaims, get_auth
from app.auth.service import USER_AGENT_MAX
from app.errors import ApiError
from app.settings import get_settings

P = ParamSpec("P")
R = TypeVar("R")

ACCESS_LOCATIONS = ("headers", "cookies")
_refresh_schema = RefreshSchema()


def init_app(jwt: JWTManager) -> None:
    """Give flask-jwt-extended Rotor's revocation check and user lookup."""
    jwt.token_in_blocklist_loader(_session_ended)
    jwt.user_lookup_loader(_principal)


def _session_ended(_header: dict[str, Any], claims: dict[str, Any]) -> bool:
    """The revocation check of an access token: its session alive, its user active, the token
    not logged out; one script, one round trip, its answer kept for the user lookup."""
    account = get_auth().authorize(claims["sub"], claims["sid"], claims["jti"])
    g.rotor_account = account
    return account is None


def _principal(_header: dict[str, Any], claims: dict[str, Any]) -> Principal | RefreshClaims | None:
    """``current_user``: who an access token speaks for (from the revocation check, no second
    call), or the session a refresh token would rotate (from its claims alone)."""
    if claims["type"] == "refresh":
        return RefreshClaims.of(claims)
    account = g.get("rotor_account")
    if account is None:  # never checked: refuse (the library answers token_revoked)
        return None
    return Principal(
        claims["sub"], claims["sid"], claims["jti"], claims["exp"], account.email,
        account.created_ms,
    )  # fmt: skip


def access_token_required(view: Callable[P, R]) -> Callable[P, R]:
    """flask-jwt-extended's ``jwt_required()`` for an access token in the Authorization header
    or the access cookie (the CSRF header too on a state-changing request), in one place."""
    guarded = jwt_required(locations=ACCESS_LOCATIONS)(view)

    @functools.wraps(view)
    def one_place_only(*args: P.args, **kwargs: P.kwargs) -> R:
        # API clients send no Cookie header: they skip the check at once.
        if (
            "HTTP_COOKIE" in request.environ
            and _bearer_header() is not None
            and request.cookies.get(get_settings().cookie_names.access)
        ):
            raise ApiError("invalid_request", "Send the access token in one place only.", 400)
        result: R = guarded(*args, **kwargs)
        return result

    return one_place_only


def current_principal() -> Principal:
    """The principal of the request's access token (after `access_token_required`)."""
    principal: Principal = get_current_user()
    return principal


def verified_claims(token: str) -> dict[str, Any] | None:
    """The claims of a token flask-jwt-extended verifies (with Rotor's key loader: signature,
    pinned algorithm, ``exp``, ``iss``, ``aud``, Rotor's claim set), either type; None for a
    token it refuses. No revocation check: the caller asks `authorize` when it needs one."""
    try:
        claims: dict[str, Any] = decode_token(token)
    except (JWTExtendedException, PyJWTError):
        return None
    return claims


def authenticated_by_cookie() -> bool:
    """Whether the request's token came in a cookie."""
    return get_jwt_request_location() == "cookies"


@dataclass(frozen=True, slots=True)
class PresentedRefreshToken:
    """A refresh token the library verified, with where it came from."""

    token: str  # the exact text verified: Redis compares its hash, the grace seal derives a key
    claims: RefreshClaims
    wants_cookies: bool  # the answer goes in cookies: it came by cookie, or the body asks


def presented_refresh_token() -> PresentedRefreshToken:
    """The request's refresh token: in the JSON body (``refresh_token``), ``Authorization:
    Bearer`` or the refresh cookie (with the CSRF header), exactly one of them, verified by
    flask-jwt-extended once per request. The per-session rate limit asks first, the view next;
    both get the same answer, a refusal included."""
    outcome = g.get("rotor_refresh")
    if outcome is None:
        try:
            outcome = _find_refresh_token()
        except Exception as refused:  # kept and raised again for the view
            outcome = refused
        g.rotor_refresh = outcome
    if isinstance(outcome, Exception):
        raise outcome
    found: PresentedRefreshToken = outcome
    return found


def refresh_token_required(view: Callable[P, R]) -> Callable[P, R]:
    """Guard /refresh: `presented_refresh_token` (flask-jwt-extended's
    ``verify_jwt_in_request(refresh=True)``) before the view, which asks it again for free."""

    @functools.wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        presented_refresh_token()
        return view(*args, **kwargs)

    return guarded


def _find_refresh_token() -> PresentedRefreshToken:
    body = load_json(_refresh_schema, optional=True)  # 415/400/422 before any token is read
    places = []
    if body.get("refresh_token"):
        places.append(("json", body["refresh_token"]))
    bearer = _bearer_header()
    if bearer is not None:
        places.append(("headers", _bearer_token(bearer)))
    if "HTTP_COOKIE" in request.environ:
        cookie = request.cookies.get(get_settings().cookie_names.refresh)
        if cookie:
            places.append(("cookies", cookie))
    if len(places) > 1:
        raise ApiError("invalid_request", "Send the refresh token in one place only.", 400)
    if not places:
        raise NoAuthorizationError("A refresh token is required.")
    [(location, token)] = places
    try:
        # The library reads the token again from that one place: the text hashed is the
        # text verified.
        verify_jwt_in_request(refresh=True, locations=location, skip_revocation_check=True)
    except (JWTExtendedException, PyJWTError) as refused:
        outcome = "expired" if isinstance(refused, ExpiredSignatureError) else "invalid"
        audit.record("refresh", outcome=outcome, ip=client_ip(),
                     user_agent=user_agent()[:USER_AGENT_MAX])  # fmt: skip
        raise
    wants_cookies = location == "cookies" or bool(body.get("use_cookies"))
    return PresentedRefreshToken(token, get_current_user(), wants_cookies)


def _bearer_header() -> list[str] | None:
    """The words of an ``Authorization: Bearer ...`` header; None without one (another
    scheme counts as no credentials, RFC 6750 3)."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    words = header.split()
    return words if words and words[0] == "Bearer" else None


def _bearer_token(words: list[str]) -> str:
    """The token of a Bearer header that holds exactly one (the text the library reads)."""
    if len(words) != 2 or "," in words[1]:
        raise InvalidHeaderError("The Authorization header must be 'Bearer <token>'.")
    return words[1]
