"""HttpxAuth and RequestsAuth against a real Rotor: login, one refresh for every thread, the
grace replay after a lost answer, and the session's end."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import requests

from rotor_client import HttpxAuth, RequestsAuth, RotorError, SessionEnded, Tokens

THREADS = 20


class Recorder:
    """Counts what an auth object sends to Rotor's own endpoints, by path."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.bodies: list[Any] = []
        self._lock = threading.Lock()

    def saw(self, path: str, body: bytes | None) -> None:
        with self._lock:
            self.paths.append(path)
            self.bodies.append(json.loads(body) if body else None)

    def refreshes(self) -> list[Any]:
        return [b for p, b in zip(self.paths, self.bodies, strict=True) if p.endswith("/refresh")]


def httpx_flavour(rotor, recorder: Recorder, **options: Any):
    """(auth, get): an HttpxAuth whose Rotor calls are recorded, and a GET through it."""
    hooks = {"request": [lambda r: recorder.saw(r.url.path, r.content)]}
    auth = HttpxAuth(rotor.url, client=httpx.Client(event_hooks=hooks, timeout=10), **options)
    app = httpx.Client(auth=auth, timeout=10)

    def get(url: str) -> tuple[int, Any]:
        response = app.get(url)
        return response.status_code, response.json()

    return auth, get


def requests_flavour(rotor, recorder: Recorder, **options: Any):
    """(auth, get): a RequestsAuth whose Rotor calls are recorded, and a GET through it."""
    session = requests.Session()
    session.hooks["response"].append(
        lambda r, **_: recorder.saw(r.request.path_url, r.request.body)
    )
    auth = RequestsAuth(rotor.url, session=session, **options)

    def get(url: str) -> tuple[int, Any]:
        with requests.get(url, auth=auth, timeout=10) as response:  # a new session per call
            return response.status_code, response.json()

    return auth, get


FLAVOURS = [pytest.param(httpx_flavour, id="httpx"), pytest.param(requests_flavour, id="requests")]


def run_at_once(count: int, task: Callable[[], Any]) -> list[Any]:
    """``task`` in ``count`` threads released together by a barrier."""
    barrier = threading.Barrier(count)

    def at_once() -> Any:
        barrier.wait()
        return task()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: at_once(), range(count)))


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_twenty_threads_with_an_expired_token_cause_one_refresh(rotor, flavour):
    user = rotor.new_user()
    recorder = Recorder()
    changes: list[Tokens | None] = []
    auth, get = flavour(rotor, recorder, **user, on_tokens=changes.append)
    status, me = get(f"{rotor.url}/api/auth/me")  # logs in first
    assert (status, me["email"]) == (200, user["email"])
    login = auth.tokens
    rotor.wait_until_expired(login.access_token)

    answers = run_at_once(THREADS, lambda: get(f"{rotor.url}/api/auth/me"))

    assert answers == [(200, me)] * THREADS
    assert recorder.paths.count("/api/auth/login") == 1
    assert recorder.refreshes() == [{"refresh_token": login.refresh_token}]
    assert changes == [login, auth.tokens]  # the login's pair, then the refreshed one
    assert auth.tokens.session_id == login.session_id != ""


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_reused_refresh_token_ends_the_session_with_its_reason(rotor, flavour):
    user = rotor.new_user()
    changes: list[Tokens | None] = []
    auth, get = flavour(rotor, Recorder(), **user, on_tokens=changes.append)
    get(f"{rotor.url}/api/auth/me")
    login = auth.tokens
    # A thief refreshed with a copy of the refresh token and used the successor too.
    stolen = rotor.call("POST", "/refresh", {"refresh_token": login.refresh_token}).json()
    assert rotor.call("POST", "/refresh", {"refresh_token": stolen["refresh_token"]}).is_success
    rotor.wait_until_expired(login.access_token)

    with pytest.raises(SessionEnded) as ended:
        get(f"{rotor.url}/api/auth/me")

    assert (ended.value.reason, ended.value.code) == ("token_reused", "token_reused")
    assert changes == [login, None]
    assert auth.tokens is None


class DropRefreshAnswers(httpx.BaseTransport):
    """Sends every request; the first ``count`` refresh answers are read, then lost on the way
    back."""

    def __init__(self, count: int = 1) -> None:
        self.inner = httpx.HTTPTransport()
        self.count = count
        self.dropped: list[dict[str, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if len(self.dropped) < self.count and request.url.path.endswith("/refresh"):
            self.dropped.append(json.loads(response.read()))
            response.close()
            raise httpx.ReadError("connection reset by peer", request=request)
        return response


def test_a_refresh_whose_answer_is_lost_recovers_through_the_grace_replay(rotor):
    user = rotor.new_user()
    transport = DropRefreshAnswers()
    recorder = Recorder()
    hooks = {"request": [lambda r: recorder.saw(r.url.path, r.content)]}
    auth_client = httpx.Client(transport=transport, event_hooks=hooks, timeout=10)
    auth = HttpxAuth(rotor.url, **user, client=auth_client, retry_delays=(0.25,))
    app = httpx.Client(auth=auth, timeout=10)
    assert app.get(f"{rotor.url}/api/auth/me").status_code == 200
    login = auth.tokens
    rotor.wait_until_expired(login.access_token)

    assert app.get(f"{rotor.url}/api/auth/me").status_code == 200

    # The same refresh token twice, and Rotor's replay of the lost pair is what the auth kept.
    assert recorder.refreshes() == [{"refresh_token": login.refresh_token}] * 2
    assert auth.tokens.refresh_token == transport.dropped[0]["refresh_token"]
    assert rotor.call("POST", "/refresh", {"refresh_token": auth.tokens.refresh_token}).is_success


def test_no_retry_leaves_the_grace_window_and_the_session_stays(rotor):
    user = rotor.new_user()
    pair = rotor.call("POST", "/login", user).json()
    recorder = Recorder()
    hooks = {"request": [lambda r: recorder.saw(r.url.path, r.content)]}
    auth_client = httpx.Client(transport=DropRefreshAnswers(count=99), event_hooks=hooks)
    # The window is shorter than the pause: a repeat now could reach Rotor after its grace.
    auth = HttpxAuth(
        rotor.url, tokens=pair, client=auth_client, retry_delays=(0.25,), retry_window=0.1
    )
    app = httpx.Client(auth=auth, timeout=10)
    rotor.wait_until_expired(pair["access_token"])

    with pytest.raises(httpx.ReadError):  # the transport's own error, as without the auth
        app.get(f"{rotor.url}/api/auth/me")

    assert len(recorder.refreshes()) == 1
    assert auth.tokens == Tokens.from_pair(pair)  # kept: no answer is not a sign-out


def test_stored_tokens_are_used_and_an_ended_session_without_credentials_raises(rotor):
    user = rotor.new_user()
    pair = rotor.call("POST", "/login", user).json()
    auth = HttpxAuth(rotor.url, tokens=pair)  # e.g. loaded from where on_tokens saved them
    app = httpx.Client(auth=auth, timeout=10)
    assert app.get(f"{rotor.url}/api/auth/me").json()["email"] == user["email"]

    assert rotor.call("POST", "/logout-all", token=pair["access_token"]).status_code == 204

    with pytest.raises(SessionEnded) as ended:
        app.get(f"{rotor.url}/api/auth/me")
    assert ended.value.reason == "session_ended"
    with pytest.raises(SessionEnded):  # nothing to log in with: it stays signed out
        app.get(f"{rotor.url}/api/auth/me")


def test_with_credentials_an_ended_session_is_followed_by_a_new_login(rotor):
    user = rotor.new_user()
    auth = HttpxAuth(rotor.url, **user)
    app = httpx.Client(auth=auth, timeout=10)
    assert app.get(f"{rotor.url}/api/auth/me").status_code == 200
    first = auth.tokens
    auth.logout()
    assert auth.tokens is None
    assert rotor.call("GET", "/me", token=first.access_token).status_code == 401

    assert app.get(f"{rotor.url}/api/auth/me").status_code == 200
    assert auth.tokens.session_id != first.session_id


def test_wrong_credentials_raise_rotor_error(rotor):
    user = rotor.new_user()
    app = httpx.Client(auth=HttpxAuth(rotor.url, email=user["email"], password="not it"))
    with pytest.raises(RotorError) as refused:
        app.get(f"{rotor.url}/api/auth/me")
    assert (refused.value.status, refused.value.code) == (401, "invalid_credentials")


def test_the_auth_refuses_an_async_client():
    pair = {"access_token": "a", "refresh_token": "r", "session_id": "s"}
    auth = HttpxAuth("http://127.0.0.1:9", tokens=pair)  # refused before anything is sent

    async def call() -> None:
        async with httpx.AsyncClient(auth=auth) as client:
            await client.get("http://127.0.0.1:9/")

    with pytest.raises(RuntimeError, match=r"httpx\.Client"):
        asyncio.run(call())
