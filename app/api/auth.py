"""The ``/api/auth`` endpoints of API.md: HTTP in, HTTP out; the rules live in app.auth."""

from __future__ import annotations

import re

from flask import Blueprint, Response

from app.api import cookies
from app.api.http import (
    client_ip,
    iso,
    iso_text,
    json_response,
    load_json,
    no_content,
    no_store,
    user_agent,
)
from app.api.principal import (
    access_token_required,
    authenticated_by_cookie,
    current_principal,
    presented_refresh_token,
    refresh_token_required,
)
from app.api.schemas import (
    LoginSchema,
    PasswordChangeSchema,
    RegisterSchema,
    SessionListSchema,
    UserSchema,
)
from app.auth import TokenPair, get_auth
from app.errors import ApiError

bp = Blueprint("auth", __name__, url_prefix="/api/auth")

_register_schema = RegisterSchema()
_login_schema = LoginSchema()
_password_schema = PasswordChangeSchema()
_user_schema = UserSchema()
_sessions_schema = SessionListSchema()
_SESSION_ID = re.compile(r"[0-9a-f]{1,64}")


def _token_pair_response(pair: TokenPair) -> Response:
    # Built by hand, not dumped: this is the hot path, and every field is already a JSON
    # type. TokenPairSchema documents the same shape (a test keeps the two equal).
    now = int(get_auth().clock())
    if pair.for_cookies:  # the tokens travel only in HttpOnly cookies, never in the body
        body = {
            "token_type": "Bearer",
            "expires_in": max(pair.access_expires_at - now, 0),
            "refresh_expires_in": max(pair.refresh_expires_at - now, 0),
            "session_id": pair.session_id,
        }
        return no_store(cookies.set_token_cookies(json_response(body), pair, now))
    body = {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "token_type": "Bearer",
        "expires_in": max(pair.access_expires_at - now, 0),
        "refresh_expires_in": max(pair.refresh_expires_at - now, 0),
        "session_id": pair.session_id,
        "token": pair.access_token,
    }
    return no_store(json_response(body))


@bp.post("/register")
def register() -> Response:
    data = load_json(_register_schema)
    user = get_auth().register(data["email"], data["password"])
    body = _user_schema.dump(
        {"id": user.id, "email": user.email, "created_at": iso(user.created_ms)}
    )
    return json_response(body, 201)


@bp.post("/login")
def login() -> Response:
    data = load_json(_login_schema)
    in_cookies = data.get("use_cookies", False)
    pair = get_auth().login(
        data["email"], data["password"], ip=client_ip(), user_agent=user_agent(),
        for_cookies=in_cookies,
    )  # fmt: skip
    return _token_pair_response(pair)


@bp.post("/refresh")
@refresh_token_required
def refresh() -> Response:
    presented = presented_refresh_token()  # verified by the guard (or the rate limiter)
    pair = get_auth().refresh(
        presented.token, presented.claims, ip=client_ip(), user_agent=user_agent(),
        for_cookies=presented.wants_cookies,
    )  # fmt: skip
    return _token_pair_response(pair)


@bp.post("/logout")
@access_token_required
def logout() -> Response:
    get_auth().logout(current_principal())
    return _ended_response()


@bp.post("/logout-all")
@access_token_required
def logout_all() -> Response:
    get_auth().logout_all(current_principal())
    return _ended_response()


def _ended_response() -> Response:
    """204; a browser that was logged in by cookie also gets its cookies cleared."""
    response = no_content()
    return cookies.clear_token_cookies(response) if authenticated_by_cookie() else response


@bp.get("/sessions")
@access_token_required
def list_sessions() -> Response:
    principal = current_principal()
    sessions = [
        {
            "id": s.id,
            "created_at": iso(s.created_ms),
            "last_used_at": iso(s.used_ms),
            "expires_at": iso(s.expires_ms),
            "user_agent": s.user_agent,
            "ip": s.ip,
            "current": s.id == principal.session_id,
        }
        for s in get_auth().list_sessions(principal)
    ]
    return json_response(_sessions_schema.dump({"sessions": sessions}))


@bp.delete("/sessions/<session_id>")
@access_token_required
def end_session(session_id: str) -> Response:
    if not _SESSION_ID.fullmatch(session_id):
        raise ApiError("session_not_found", "No such session.", 404)
    get_auth().end_session(current_principal(), session_id)
    return no_content()


@bp.get("/me")
@access_token_required
def me() -> Response:
    principal = current_principal()
    # Hot path: built by hand like the token pair; UserSchema documents it.
    return json_response(
        {
            "id": principal.user_id,
            "email": principal.email,
            "created_at": iso_text(principal.created_ms),
        }
    )


@bp.post("/password")
@access_token_required
def change_password() -> Response:
    data = load_json(_password_schema)
    get_auth().change_password(
        current_principal(), data["current_password"], data["new_password"], ip=client_ip()
    )
    return no_content()
