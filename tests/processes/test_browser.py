"""The cookie-mode web demo (examples/web/, on the @rotor/client browser build) in a real
headless Chromium against Rotor under gunicorn: sign-up, sessions, and the client's transparent
single-flight refresh across calls and tabs (Web Locks, a closed tab's lock, the lease fallback)."""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import PASSWORD, SECRET
from tests.servers import Gunicorn, RedisServer, http_call, wait_until

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')"
)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip(
        "no Chromium on PATH (Debian: apt-get install chromium); the browser tests use the "
        "system's Chromium, never a downloaded one",
        allow_module_level=True,
    )

pytestmark = [pytest.mark.slow, pytest.mark.redis]
expect = sync_api.expect

ACCESS_TTL = 2  # seconds: short enough to wait out, long enough for a sign-up to finish
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
# GET /me through the page's fetch wrapper (window.rotor.api), as [status, body].
WRAPPED_ME = "const r = await rotor.api('GET', '/me'); return [r.status, await r.json()];"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    """Rotor as deployed (gunicorn, two workers, a real Redis) with the demo at /demo/."""
    redis_server = RedisServer(tmp_path_factory.mktemp("browser-redis")).start()
    gunicorn = Gunicorn(
        {
            "REDIS_URL": redis_server.url,
            "ROTOR_ENV": "development",
            "JWT_SECRET_KEY": SECRET,
            "COOKIE_SECURE": "0",  # plain http://127.0.0.1: no Secure cookies, no prefixes
            "BCRYPT_ROUNDS": "4",
            "RATELIMIT_ENABLED": "0",
            "ACCESS_TOKEN_TTL": str(ACCESS_TTL),
            "WEB_CONCURRENCY": "2",
        }
    )
    try:
        yield gunicorn.start(tmp_path_factory.mktemp("browser-log") / "gunicorn.log")
    finally:
        gunicorn.stop()
        redis_server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def context(browser: Any, served: Gunicorn) -> Iterator[Any]:
    """A fresh browser profile per test: no cookies, no storage."""
    context = browser.new_context(base_url=served.url)
    yield context
    context.close()


@pytest.fixture
def page(context: Any) -> Any:
    page = context.new_page()
    page.goto("/demo/")
    expect(page.locator("#signed-out")).to_be_visible()
    return page


@pytest.fixture
def refreshes(context: Any) -> list[Any]:
    """Every POST /api/auth/refresh any page of the context sends."""
    seen: list[Any] = []

    def record(request: Any) -> None:
        if request.method == "POST" and request.url.endswith("/api/auth/refresh"):
            seen.append(request)

    context.on("request", record)
    return seen


_user_numbers = iter(range(1, 1_000_000))


def sign_up(page: Any) -> tuple[str, float]:
    """Create an account through the page; the email and when its login answered."""
    email = f"browser{next(_user_numbers)}@example.com"
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    with page.expect_response("**/api/auth/login") as login:
        page.click("#register")
    assert login.value.status == 200
    logged_in_at = time.monotonic()
    expect(page.locator("#me")).to_have_text(email)
    return email, logged_in_at


def wait_past_access_ttl(logged_in_at: float) -> None:
    """Sleep until the login's access token (and its cookie) has just expired. Real time: Rotor
    runs under gunicorn and the page in Chromium, other processes whose clocks a test cannot
    move."""
    time.sleep(max(0.0, logged_in_at + ACCESS_TTL + 0.1 - time.monotonic()))


def call(served: Gunicorn, path: str, body: dict | None = None, headers=None) -> tuple[int, dict]:
    """A non-browser client of the same server (another device)."""
    method = "POST" if body is not None else "GET"
    status, _, raw = http_call(served.url + path, method, body, headers)
    return status, json.loads(raw or b"{}")


def in_page(page: Any, script: str) -> Any:
    """Run an async function body in the page and return its result."""
    return page.evaluate(f"async () => {{ {script} }}")


def test_the_demo_is_served_with_its_content_types(served):
    for path, content_type in (
        ("/demo/", "text/html; charset=utf-8"),
        ("/demo/app.js", "text/javascript; charset=utf-8"),
        ("/demo/rotor.js", "text/javascript; charset=utf-8"),
        ("/demo/style.css", "text/css; charset=utf-8"),
    ):
        with urllib.request.urlopen(served.url + path, timeout=10) as response:
            assert response.headers["Content-Type"] == content_type, path
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    status, body = call(served, "/demo/missing.js")
    assert (status, body["error"]["code"]) == (404, "not_found")


def test_sign_up_logs_in_with_cookies_and_lists_this_session(page, context):
    email, _ = sign_up(page)
    cookies = {cookie["name"]: cookie for cookie in context.cookies()}
    assert cookies["access_token_cookie"]["httpOnly"]
    assert cookies["refresh_token_cookie"]["httpOnly"]
    assert cookies["refresh_token_cookie"]["path"] == "/api/auth"
    # The script sees the CSRF cookies and never a token.
    visible = in_page(page, "return document.cookie;")
    assert "csrf_access_token=" in visible and "csrf_refresh_token=" in visible
    assert "token_cookie" not in visible
    sessions = page.locator("#sessions li")
    expect(sessions).to_have_count(1)
    expect(sessions.first).to_have_class("current")
    expect(sessions.first).to_contain_text("(this browser)")
    expect(page.locator("#me")).to_have_text(email)


def test_ending_another_session_removes_it_from_the_list(page, served):
    email, _ = sign_up(page)
    status, other = call(
        served, "/api/auth/login", {"email": email, "password": PASSWORD},
        headers={"User-Agent": "second-device"},
    )  # fmt: skip
    assert status == 200
    page.click("#reload")
    sessions = page.locator("#sessions li")
    expect(sessions).to_have_count(2)
    with page.expect_response("**/api/auth/sessions/*") as ended:
        sessions.filter(has_text="second-device").get_by_role("button", name="End").click()
    assert ended.value.status == 204  # the DELETE carried the right X-CSRF-TOKEN
    expect(sessions).to_have_count(1)
    expect(sessions.first).to_contain_text("(this browser)")
    status, body = call(served, "/api/auth/refresh", {"refresh_token": other["refresh_token"]})
    assert (status, body["error"]["code"]) == (401, "token_revoked")


@pytest.mark.parametrize(
    ("keep_expired_cookie", "first_answer"),
    [
        # The access cookie expires with its token: the browser stops sending it.
        (False, "missing_token"),
        # A browser that still sends the expired token (clock skew, session cookies).
        (True, "token_expired"),
    ],
)
def test_an_expired_access_token_is_refreshed_transparently(
    page, context, refreshes, keep_expired_cookie, first_answer
):
    email, logged_in_at = sign_up(page)
    access = next(c for c in context.cookies() if c["name"] == "access_token_cookie")
    wait_past_access_ttl(logged_in_at)
    if keep_expired_cookie:
        context.add_cookies([{**access, "expires": -1}])  # -1: a session cookie
    answer = in_page(page, "return (await (await fetch('/api/auth/me')).json()).error.code;")
    assert answer == first_answer  # what the wrapper is about to meet, without the wrapper
    assert refreshes == []

    with page.expect_response(lambda r: r.url.endswith("/api/auth/me") and r.ok):
        page.click("#reload")  # /me and /sessions in parallel
    expect(page.locator("#me")).to_have_text(email)
    expect(page.locator("#sessions li")).to_have_count(1)
    assert len(refreshes) == 1
    status, body = in_page(page, WRAPPED_ME)
    assert (status, body["email"]) == (200, email)
    assert len(refreshes) == 1  # later calls ride on the refreshed token


def test_parallel_calls_after_expiry_share_one_refresh(page, refreshes):
    _, logged_in_at = sign_up(page)
    wait_past_access_ttl(logged_in_at)
    statuses = in_page(
        page,
        """const paths = ['/me', '/sessions', '/me', '/sessions', '/me', '/me', '/sessions', '/me'];
        const responses = await Promise.all(paths.map((path) => rotor.api('GET', path)));
        return responses.map((r) => r.status);""",
    )
    assert statuses == [200] * 8
    assert len(refreshes) == 1


def test_tabs_share_one_refresh_through_the_web_lock(page, context, refreshes):
    email, logged_in_at = sign_up(page)
    other_tab = context.new_page()
    other_tab.goto("/demo/")
    expect(other_tab.locator("#me")).to_have_text(email)
    wait_past_access_ttl(logged_in_at)
    # Stand in for a third tab that is mid-refresh: hold the lock, so both tabs meet the
    # expired token and queue behind it, one lock request per tab (in-tab single flight).
    page.evaluate("""() => new Promise((held) => navigator.locks.request(rotor.client.lockName,
        () => new Promise((release) => { window.releaseLock = release; held(); })))""")
    for tab in (page, other_tab):
        tab.evaluate("""() => { window.done = Promise.all([1, 2, 3, 4].map(
            () => rotor.api('GET', '/me').then((r) => r.status))); }""")
    queued = "async () => (await navigator.locks.query()).pending.length"
    wait_until(lambda: page.evaluate(queued) == 2, timeout=5)
    page.evaluate("() => window.releaseLock()")
    for tab in (page, other_tab):
        assert tab.evaluate("() => window.done") == [200] * 4
    assert len(refreshes) == 1  # the tab that got the lock second found fresh cookies


def test_a_tab_closed_while_holding_the_lock_blocks_no_other(page, context, refreshes):
    email, logged_in_at = sign_up(page)
    closing_tab = context.new_page()
    closing_tab.goto("/demo/")
    expect(closing_tab.locator("#me")).to_have_text(email)
    wait_past_access_ttl(logged_in_at)
    # The closing tab takes the refresh lock and never lets go (a refresh cut off mid-way).
    closing_tab.evaluate("""() => new Promise((held) => navigator.locks.request(
        rotor.client.lockName, () => { held(); return new Promise(() => {}); }))""")
    page.evaluate("() => { window.done = rotor.api('GET', '/me').then((r) => r.status); }")
    queued = "async () => (await navigator.locks.query()).pending.length"
    wait_until(lambda: page.evaluate(queued) == 1, timeout=5)
    assert refreshes == []  # waiting on the lock

    closing_tab.close()  # the browser releases the locks of a tab that goes away

    assert page.evaluate("() => window.done") == 200
    assert len(refreshes) == 1


def test_without_web_locks_tabs_share_one_refresh_through_a_lease(page, context, refreshes):
    # Browsers without the Web Locks API: the client falls back to a lease in localStorage.
    context.add_init_script("delete Navigator.prototype.locks;")
    email, logged_in_at = sign_up(page)
    other_tab = context.new_page()
    for tab in (page, other_tab):
        tab.goto("/demo/")  # (again, for the first tab) without Web Locks
        expect(tab.locator("#me")).to_have_text(email)
        assert tab.evaluate("() => 'locks' in navigator") is False
    wait_past_access_ttl(logged_in_at)

    for tab in (page, other_tab):
        tab.evaluate("""() => { window.done = Promise.all([1, 2, 3].map(
            () => rotor.api('GET', '/me').then((r) => r.status))); }""")
    for tab in (page, other_tab):
        assert tab.evaluate("() => window.done") == [200] * 3

    assert len(refreshes) == 1  # the tab that found the lease taken waited, found fresh cookies
    assert page.evaluate("() => Object.keys(localStorage)") == []  # the lease was given back
