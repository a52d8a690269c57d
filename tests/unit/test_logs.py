"""app/logs.py: what gunicorn's access lines may show."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from gunicorn.config import Config

from app.logs import AccessLogger


def test_no_access_log_format_can_print_a_query_or_a_credential_header():
    """Whatever access_log_format an operator picks, the atoms hold no secret."""
    token = "eyJ.secret.token"
    environ = {
        "REQUEST_METHOD": "GET", "RAW_URI": f"/api/auth/me?access_token={token}",
        "PATH_INFO": "/api/auth/me", "QUERY_STRING": f"access_token={token}",
        "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "10.0.0.1",
        "HTTP_REFERER": f"https://x.example/?t={token}", "HTTP_AUTHORIZATION": f"Bearer {token}",
        "HTTP_COOKIE": f"access_token_cookie={token}", "HTTP_X_CSRF_TOKEN": token,
        "REQUEST_URI": f"/api/auth/me?access_token={token}",
    }  # fmt: skip
    sent = [("Authorization", f"Bearer {token}"), ("Cookie", f"c={token}"), ("X-CSRF-TOKEN", token)]
    request = SimpleNamespace(headers=sent)
    response = SimpleNamespace(status="200 OK", sent=2, headers=[("Set-Cookie", f"c={token}")])
    atoms = AccessLogger(Config()).atoms(response, request, environ, timedelta(milliseconds=3))
    assert atoms["r"] == "GET /api/auth/me HTTP/1.1"
    assert atoms["f"] == "https://x.example/"
    assert atoms["U"] == "/api/auth/me"
    assert not [name for name, value in atoms.items() if token in str(value)]


def test_access_lines_are_written_only_when_gunicorn_accesslog_is_set():
    """Rotor always gives gunicorn a logconfig_dict (JSON lines), which alone would make
    gunicorn write an access line per request; the README says: off unless asked for."""
    from app.logs import gunicorn_logconfig

    config = Config()
    config.set("logconfig_dict", gunicorn_logconfig())
    assert AccessLogger(config).access_log_enabled is False
    config.set("accesslog", "-")
    assert AccessLogger(config).access_log_enabled is True
