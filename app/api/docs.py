"""``GET /api/docs``: the OpenAPI document in Swagger UI.

The viewer is the Swagger UI bundle that the flask-swagger-ui package ships (its ``dist``
files, served from this origin), started by ``static/docs.js``; the page has no inline script
or style, so its Content-Security-Policy allows scripts and styles from this origin only and
requests to nothing else. Swagger UI shows SVG icons as data URLs: ``img-src`` allows those.
"""

from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, Response, abort, send_from_directory

bp = Blueprint("docs", __name__, url_prefix="/api/docs", static_folder="static")

SWAGGER_UI_DIR = Path(flask_swagger_ui.__file__).parent / "dist"
# The files the page loads; nothing else of the package is served.
SWAGGER_UI_ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js"})

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Rotor API</title>
<link rel="stylesheet" href="/api/docs/swagger-ui/swagger-ui.css">
</head>
<body>
<noscript>The API reference needs JavaScript; the document itself is
<a href="/api/openapi.json">/api/openapi.json</a>.</noscript>
<div id="swagger-ui"></div>
<script src="/api/docs/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/api/docs/static/docs.js"></script>
</body>
</html>
"""

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@bp.after_request
def protect(response: Response) -> Response:
    """Every response of the viewer carries its strict policy."""
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("")
def viewer() -> Response:
    return Response(PAGE, mimetype="text/html")


@bp.get("/swagger-ui/<name>")
def swagger_ui_asset(name: str) -> Response:
    if name not in SWAGGER_UI_ASSETS:
        abort(404)
    return send_from_directory(SWAGGER_UI_DIR, name, max_age=86_400)
