"""Cookie mode for browsers (API.md "Web clients"), by flask-jwt-extended's cookie helpers.

The names, paths and attributes are its ``JWT_*`` settings (``Settings.flask_config``): HttpOnly
token cookies, the refresh cookie scoped to /api/auth, SameSite=Strict, Secure with the
``__Host-`` / ``__Secure-`` prefixes unless COOKIE_SECURE=0, and the script-readable
``csrf_access_token`` / ``csrf_refresh_token`` cookies that requests authenticated by cookie
echo in ``X-CSRF-TOKEN`` (signed double submit: the value is also the token's ``csrf`` claim).
"""

from __future__ import annotations

from flask import Response
from flask_jwt_extended import set_access_cookies, set_refresh_cookies, unset_jwt_cookies

from app.auth import TokenPair


def set_token_cookies(response: Response, pair: TokenPair, now: int) -> Response:
    """Put a pair in cookies; each cookie lives exactly as long as its token."""
    # At least a second: the library reads a max_age of 0 as "a session cookie".
    set_access_cookies(response, pair.access_token, max_age=max(pair.access_expires_at - now, 1))
    set_refresh_cookies(response, pair.refresh_token, max_age=max(pair.refresh_expires_at - now, 1))
    return response


def clear_token_cookies(response: Response) -> Response:
    """Expire every token cookie and its CSRF cookie (cookie-mode logout)."""
    unset_jwt_cookies(response)
    return response
