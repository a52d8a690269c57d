"""The cookie-mode web demo (examples/web/) at /demo/, for development and tests only.

It is a static page that talks to /api/auth from the same origin, so it needs no CORS and
its cookies are first-party. Production never registers it: the service is an API, and a
page served from its origin would widen what a script injection could reach.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Blueprint, Flask, Response, abort, send_from_directory

from config import Settings

log = logging.getLogger(__name__)

WEB_ROOT = Path(__file__).resolve().parents[2] / "examples" / "web"
ENVIRONMENTS = frozenset({"development", "testing"})

# Only these files are served, each with an explicit type: the platform's mimetypes table
# varies (``.js`` is application/javascript on some systems), and nothing else belongs here.
# Werkzeug adds ``charset=utf-8`` to text types.
CONTENT_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
}

# The page loads its own script and style and calls its own origin, nothing else.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

bp = Blueprint("demo", __name__, url_prefix="/demo")


@bp.get("/")
def index() -> Response:
    return demo_file("index.html")


@bp.get("/<path:filename>")
def demo_file(filename: str) -> Response:
    """A file of examples/web/; 404 (the JSON envelope) for anything else."""
    content_type = CONTENT_TYPES.get(Path(filename).suffix)
    if content_type is None:
        abort(404)
    # send_from_directory refuses paths that leave WEB_ROOT (404).
    response = send_from_directory(WEB_ROOT, filename, mimetype=content_type, max_age=0)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def init_app(app: Flask, settings: Settings) -> None:
    """Serve the demo at /demo/ in development and testing; never in production."""
    if settings.env not in ENVIRONMENTS:
        return
    if not WEB_ROOT.is_dir():  # e.g. an image built without examples/
        log.warning("demo not served: %s is missing", WEB_ROOT)
        return
    app.register_blueprint(bp)
