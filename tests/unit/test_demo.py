"""The web demo's blueprint: served at /demo/ in development and testing only, static files
with explicit types and a strict CSP, the JSON envelope for anything else.
(tests/processes/test_browser.py drives the page itself in Chromium.)"""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/demo/", "text/html; charset=utf-8"),
        ("/demo/index.html", "text/html; charset=utf-8"),
        ("/demo/app.js", "text/javascript; charset=utf-8"),
        ("/demo/rotor.js", "text/javascript; charset=utf-8"),
        ("/demo/style.css", "text/css; charset=utf-8"),
    ],
)
def test_demo_files_are_served_with_their_types_and_a_strict_csp(client, path, content_type):
    with client.get(path) as response:  # closes the served file
        assert response.status_code == 200
        assert response.headers["Content-Type"] == content_type
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_demo_without_the_slash_redirects_to_the_page(client):
    response = client.get("/demo")
    assert response.status_code == 308
    assert response.headers["Location"].endswith("/demo/")


@pytest.mark.parametrize(
    "path", ["/demo/missing.js", "/demo/../app/api/demo.py", "/demo/%2e%2e/wsgi.py", "/demo/x.png"]
)
def test_anything_else_under_demo_is_a_json_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_production_does_not_serve_the_demo(auth_with):
    client = auth_with(env="production", bcrypt_rounds=10).client
    response = client.get("/demo/")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
