"""Operator actions (app/auth/operators.py) and the store's whole-database SCAN loops they use,
on fakeredis and on the real server."""

from __future__ import annotations

import functools

import pytest

from app.auth import operators as ops
from app.store import Store
from app.store.keys import KeySpace
from tests.conftest import AuthActions


def _sessions(auth: AuthActions, users: int, each: int) -> set[tuple[str, str]]:
    """Log ``users`` users in ``each`` times; their (user id, session id) pairs."""
    refs = set()
    for _ in range(users):
        user = auth.register()
        refs |= {(user["id"], auth.login(user["email"])["session_id"]) for _ in range(each)}
    return refs


def test_scan_sessions_yields_every_session_in_batches_and_no_other_key(app, auth):
    store: Store = app.extensions["rotor.store"]
    refs = _sessions(auth, users=3, each=2)
    pair = auth.register_and_login()
    auth.refresh(pair["refresh_token"])  # a grace hash
    auth.post("/api/auth/logout", pair["access_token"])  # a denylist entry, the session gone
    pages = list(store.scan_sessions(batch=2))
    assert all(1 <= len(page) <= 2 for page in pages)
    assert sorted(ref for page in pages for ref in page) == sorted(refs)
    assert store.count_sessions() == len(refs)


def test_session_pattern_matches_only_its_own_prefix_even_with_glob_characters(
    auth_with, redis_client
):
    plain = auth_with(redis_key_prefix="tx:")
    globby = auth_with(redis_key_prefix="t*:")
    _sessions(plain, users=2, each=1)
    _sessions(globby, users=1, each=1)
    store: Store = globby.app.extensions["rotor.store"]
    matched = list(redis_client.scan_iter(match=store.keys.session_pattern()))
    assert len(matched) == 1 and matched[0].startswith("t*:{")
    assert store.count_sessions() == 1


@pytest.mark.parametrize("prefix", ["auth:", "t*[x]?:", "a\\b:"])
def test_parse_session_inverts_session_and_refuses_other_keys(prefix):
    keys = KeySpace(prefix)
    assert keys.parse_session(keys.session("0a1b", "ff00")) == ("0a1b", "ff00")
    for other in (keys.grace("0a1b", "ff00"), keys.user("0a1b"), keys.email("a@b.c")):
        assert keys.parse_session(other) is None
    assert KeySpace("other:").parse_session(keys.session("0a1b", "ff00")) is None


def test_flush_across_batches_ends_every_session_through_the_index(app, auth, monkeypatch):
    service = app.extensions["rotor.auth"]
    store: Store = service.store
    monkeypatch.setattr(store, "scan_sessions", functools.partial(store.scan_sessions, batch=3))
    refs = _sessions(auth, users=3, each=3)
    seen: list[int] = []
    report = service.operators.flush_sessions(progress=seen.append)
    assert report == ops.FlushReport(scanned=9, ended=9, dry_run=False)
    assert sum(seen) == 9 and len(seen) == 3
    assert store.count_sessions() == 0
    assert all(store.session_ids(uid) == [] for uid, _ in refs)


def test_a_login_that_passed_the_password_check_is_refused_once_disabled(app, auth):
    # disable_user sets the flag before it ends sessions: a login whose bcrypt check ran
    # before the flag reaches create_session after it, and the script must refuse it.
    service = app.extensions["rotor.auth"]
    user = auth.register()
    auth.login(user["email"])
    assert service.operators.disable_user(user["email"]) == 1
    opened = service.store.create_session(
        user["id"], "abc", "0" * 64, now_ms=1, deadline_ms=2**41, absolute_ms=2**41,
        ip="127.0.0.1", user_agent="racer", limit=20, password_epoch=0,
    )  # fmt: skip
    assert opened.outcome == "disabled"
    assert service.store.session_ids(user["id"]) == []
