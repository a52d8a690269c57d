"""/api/docs in a real headless Chromium: Swagger UI renders the document under the page's
strict Content-Security-Policy, with no violation reported."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from typing import Any

import fakeredis
import pytest
from werkzeug.serving import make_server

from tests.conftest import AppFactory

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')"
)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("no Chromium on PATH (Debian: apt-get install chromium)", allow_module_level=True)

pytestmark = pytest.mark.slow
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


@pytest.fixture
def base_url(app_factory: AppFactory) -> Iterator[str]:
    """Rotor on fakeredis, served by werkzeug in a thread: the page needs no real backend."""
    app = app_factory.app(fakeredis.FakeRedis(decode_responses=True))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def test_swagger_ui_renders_every_operation_under_the_policy(base_url: str) -> None:
    violations: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        page: Any = browser.new_page()
        page.on(
            "console",
            lambda message: (
                violations.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        page.goto(f"{base_url}/api/docs")
        operations = page.locator(".opblock-summary-path")
        sync_api.expect(operations.filter(has_text="/api/auth/refresh")).to_have_count(1)
        paths = set(operations.all_inner_texts())
        browser.close()
    assert {"/api/auth/login", "/api/auth/me", "/healthz"} <= {p.strip() for p in paths}
    assert violations == []
