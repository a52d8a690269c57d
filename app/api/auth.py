"""The ``/api/auth`` endpoints of API.md: HTTP in, HTTP out; the rules live in app.auth."""

from __future__ import annotations

import re

from flask import Blueprint, Response, abort, request
from marshmallow import ValidationError

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
from app.api.openapi import ACCESS, CLIENT, REFRESH, documented
from app.api.principal import (
    access_token_required,
    authenticated_by_cookie,
    current_principal,
    presented_refresh_token,
    refresh_token_required,
    verified_claims,
)
from app.api.schemas import (
    IntrospectionRequestSchema,
    IntrospectionSchema,
    LoginSchema,
    PasswordChangeSchema,
    RefreshSchema,
    RegisterSchema,
    SessionListSchema,
    UserSchema,
)
from app.auth import TokenPair
from app.errors import (
    EmailTaken,
    IntrospectionTokenMissing,
    InvalidClient,
    InvalidCredentials,
    NotFound,
    PayloadTooLarge,
    SessionNotFound,
    WrongCurrentPassword,
)
from app.extensions import get_auth

bp = Blueprint("auth", __name__, url_prefix="/api/auth")

_register_schema = RegisterSchema()
_login_schema = LoginSchema()
_password_schema = PasswordChangeSchema()
_user_schema = UserSchema()
_sessions_schema = SessionListSchema()
_introspection_request_schema = IntrospectionRequestSchema()
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
@documented(
    "Create an account",
    "The email is trimmed and lower-cased. A password is 8 to 1024 characters and not one of "
    "the most common passwords (422 otherwise).",
    status=201,
    response=UserSchema,
    request=RegisterSchema,
    rate_limited=True,
    errors=(EmailTaken,),
)
def register() -> Response:
    data = load_json(_register_schema)
    user = get_auth().register(data["email"], data["password"])
    body = _user_schema.dump(
        {"id": user.id, "email": user.email, "created_at": iso(user.created_ms)}
    )
    return json_response(body, 201)


@bp.post("/login")
@documented(
    "Log in: open a session and get a token pair",
    "An unknown email and a wrong password get the same answer. With `use_cookies` the "
    "tokens come as HttpOnly cookies (cookie mode), and the body leaves them out.",
    request=LoginSchema,
    rate_limited=True,
    tokens=True,
    errors=(InvalidCredentials,),
)
def login() -> Response:
    data = load_json(_login_schema)
    in_cookies = data.get("use_cookies", False)
    pair = get_auth().login(
        data["email"],
        data["password"],
        ip=client_ip(),
        user_agent=user_agent(),
        for_cookies=in_cookies,
    )
    return _token_pair_response(pair)


@bp.post("/refresh")
@documented(
    "Rotate a refresh token into a new token pair",
    "The presented refresh token is consumed. Within `REFRESH_REUSE_GRACE` seconds the "
    "just-consumed token answers the same successor pair again; after that it is a reuse "
    "(`token_reused`), which ends the session. Send the token in exactly one place: the "
    "JSON body, `Authorization: Bearer <refresh token>`, or the refresh cookie (with "
    "`X-CSRF-TOKEN`; the answer then comes in cookies too).",
    request=RefreshSchema,
    request_required=False,
    credential=REFRESH,
    rate_limited=True,
    tokens=True,
)
@refresh_token_required
def refresh() -> Response:
    presented = presented_refresh_token()  # verified by the guard (or the rate limiter)
    pair = get_auth().refresh(
        presented.token,
        presented.claims,
        ip=client_ip(),
        user_agent=user_agent(),
        for_cookies=presented.wants_cookies,
    )
    return _token_pair_response(pair)


@bp.post("/logout")
@documented(
    "End this session",
    "Its refresh token and every access token of it stop working at once.",
    status=204,
    credential=ACCESS,
    clears_cookies=True,
)
@access_token_required
def logout() -> Response:
    get_auth().logout(current_principal())
    return _ended_response()


@bp.post("/logout-all")
@documented("End every session of the user", status=204, credential=ACCESS, clears_cookies=True)
@access_token_required
def logout_all() -> Response:
    get_auth().logout_all(current_principal())
    return _ended_response()


def _ended_response() -> Response:
    """204; a browser that was logged in by cookie also gets its cookies cleared."""
    response = no_content()
    return cookies.clear_token_cookies(response) if authenticated_by_cookie() else response


@bp.get("/sessions")
@documented(
    "List the caller's live sessions",
    "Newest first; `current` marks the session of the calling token.",
    response=SessionListSchema,
    credential=ACCESS,
)
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
@documented(
    "End one of the caller's sessions",
    "Another user's session id answers 404 like an unknown one.",
    status=204,
    credential=ACCESS,
    errors=(SessionNotFound,),
    parameters={
        "session_id": {
            "description": "The `id` of a session from `GET /api/auth/sessions`.",
            "schema": {"type": "string", "pattern": "^[0-9a-f]{1,64}$"},
        }
    },
)
@access_token_required
def end_session(session_id: str) -> Response:
    if not _SESSION_ID.fullmatch(session_id):
        raise SessionNotFound()
    get_auth().end_session(current_principal(), session_id)
    return no_content()


@bp.get("/me")
@documented("The caller's account", response=UserSchema, credential=ACCESS)
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
@documented(
    "Change the password",
    "Every other session of the user ends; this one goes on. The new password follows the "
    "rules of registration. A wrong `current_password` counts against the same limit as a "
    "failed login (429 past it).",
    status=204,
    request=PasswordChangeSchema,
    credential=ACCESS,
    rate_limited=True,
    errors=(WrongCurrentPassword,),
)
@access_token_required
def change_password() -> Response:
    data = load_json(_password_schema)
    get_auth().change_password(
        current_principal(), data["current_password"], data["new_password"], ip=client_ip()
    )
    return no_content()


@bp.post("/introspect")
@documented(
    "Introspect a token (RFC 7662), for resource servers",
    "Only a live access token is active: its session alive, its user active, not logged "
    'out. Anything else, refresh tokens included, answers `{"active": false}` and nothing '
    "more. The caller authenticates with HTTP Basic as a client of `INTROSPECTION_CLIENTS`; "
    "without that setting the endpoint answers 404.",
    response=IntrospectionSchema,
    form=IntrospectionRequestSchema,
    credential=CLIENT,
    cache_control={"type": "string", "enum": ["no-store"]},
    errors=(IntrospectionTokenMissing, InvalidClient, NotFound, PayloadTooLarge),
)
def introspect() -> Response:
    """RFC 7662 for resource servers: 404 unless INTROSPECTION_CLIENTS is set."""
    auth = get_auth()
    if not auth.introspection_enabled:
        abort(404)  # the same answer as for a path that does not exist
    client = request.authorization
    if (
        client is None
        or client.type != "basic"
        or not auth.introspection_client_allowed(client.username or "", client.password or "")
    ):
        raise InvalidClient()
    try:
        form = _introspection_request_schema.load(request.form)
    except ValidationError as exc:
        raise IntrospectionTokenMissing() from exc
    claims = verified_claims(form["token"])
    found = auth.introspect(claims) if claims is not None else None
    if found is None:
        return no_store(json_response({"active": False}))
    body = {
        "active": True,
        "sub": found.user_id,
        "sid": found.session_id,
        "jti": found.token_id,
        "exp": found.expires_at,
        "iat": found.issued_at,
        "iss": found.issuer,
        "aud": found.audience,
        "token_type": "access_token",
    }
    return no_store(json_response(body))
