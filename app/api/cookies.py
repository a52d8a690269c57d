"""Cookie mode for browsers (API.md "Web clients"): where each token cookie lives and how.

The access and refresh tokens are HttpOnly (no script can read them); the refresh cookie is
scoped to /api/auth and SameSite=Strict. Requests authenticated by cookie echo the
script-readable ``csrf_access_token`` / ``csrf_refresh_token`` cookie in ``X-CSRF-TOKEN``
(signed double submit: the value is also a claim of the token). With COOKIE_SECURE=1 (the
default) the token cookies carry the ``__Host-`` / ``__Secure-`` prefixes, which browsers
only accept over HTTPS; COOKIE_SECURE=0 (local HTTP) drops the prefixes and ``Secure``.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Response, request

from app.auth import TokenPair
from app.settings import get_settings

CSRF_HEADER = "X-CSRF-TOKEN"
REFRESH_PATH = "/api/auth"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class CookieNames:
    access: str
    refresh: str
    access_csrf: str = "csrf_access_token"
    refresh_csrf: str = "csrf_refresh_token"


def cookie_names() -> CookieNames:
    """flask-jwt-extended's default names, with the prefixes a secure deployment allows."""
    if get_settings().cookie_secure:
        return CookieNames("__Host-access_token_cookie", "__Secure-refresh_token_cookie")
    return CookieNames("access_token_cookie", "refresh_token_cookie")


def access_cookie() -> str | None:
    """The access token of a cookie-authenticated request."""
    return _token_cookie("access")


def refresh_cookie() -> str | None:
    """The refresh token of a cookie-authenticated request."""
    return _token_cookie("refresh")


def _token_cookie(kind: str) -> str | None:
    # API clients send no Cookie header: every authenticated call then skips an empty jar.
    if "HTTP_COOKIE" not in request.environ:
        return None
    return request.cookies.get(getattr(cookie_names(), kind))


def csrf_header() -> str:
    """The X-CSRF-TOKEN header ("" when missing: the check then fails)."""
    return request.headers.get(CSRF_HEADER, "")


def set_token_cookies(response: Response, pair: TokenPair, now: int) -> Response:
    """Put a pair in cookies; each cookie lives exactly as long as its token."""
    names, secure = cookie_names(), get_settings().cookie_secure
    access_age = max(pair.access_expires_at - now, 0)
    refresh_age = max(pair.refresh_expires_at - now, 0)
    common = {"secure": secure, "samesite": "Strict"}
    response.set_cookie(names.access, pair.access_token, max_age=access_age, path="/",
                        httponly=True, **common)  # fmt: skip
    response.set_cookie(names.refresh, pair.refresh_token, max_age=refresh_age,
                        path=REFRESH_PATH, httponly=True, **common)  # fmt: skip
    # Script-readable from any page of the site, so the page can echo them.
    response.set_cookie(names.access_csrf, pair.access_csrf or "", max_age=access_age,
                        path="/", httponly=False, **common)  # fmt: skip
    response.set_cookie(names.refresh_csrf, pair.refresh_csrf or "", max_age=refresh_age,
                        path="/", httponly=False, **common)  # fmt: skip
    return response


def clear_token_cookies(response: Response) -> Response:
    """Expire every token cookie (cookie-mode logout)."""
    names, secure = cookie_names(), get_settings().cookie_secure
    for name, path in ((names.access, "/"), (names.refresh, REFRESH_PATH),
                       (names.access_csrf, "/"), (names.refresh_csrf, "/")):  # fmt: skip
        response.delete_cookie(name, path=path, secure=secure, samesite="Strict",
                               httponly=name in (names.access, names.refresh))  # fmt: skip
    return response
