"""The kit against a real redis-server, with Rotor's keys written as the layout contract says:
no Redis command per request once a session is known, every way a session ends seen within
100 ms, a broken news channel never leading to a revoked token served, a read-only user."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import jwt
import pytest
import redis
from conftest import KEYS, Caller, mint, open_session, resource_server

from rotor_resource_kit import SessionWatch
from rotor_resource_kit.watch import _poll_both
from tests.revocation import ACL_USER, commands_sent, readme_acl_rules, wait_for_refusal
from tests.servers import RedisServer

pytestmark = [pytest.mark.redis, pytest.mark.slow]

HEARTBEAT = ("ping",)  # the channel's heartbeat: by the clock, never by request


def test_a_known_session_costs_no_redis_command_per_request(watch, admin):
    uid, sid = open_session(admin)
    call = Caller(resource_server(watch), mint(uid, sid))
    assert call() == 200  # the first request of the session reads it (one round trip)
    before = commands_sent(admin, ignore=HEARTBEAT)
    statuses = [call() for _ in range(200)]
    assert statuses == [200] * 200
    assert commands_sent(admin, ignore=HEARTBEAT) - before == 0


def test_a_new_session_is_read_once_then_served_from_memory(watch, admin):
    before = commands_sent(admin, ignore=HEARTBEAT)
    uid, sid = open_session(admin)
    after_login = commands_sent(admin, ignore=HEARTBEAT)
    call = Caller(resource_server(watch), mint(uid, sid))
    assert [call() for _ in range(10)] == [200] * 10
    # PTTL, EXISTS and HMGET of the first request; nothing after it.
    assert commands_sent(admin, ignore=HEARTBEAT) - after_login == 3
    assert after_login > before


ENDINGS: list[tuple[str, Callable[[redis.Redis, str, str, str], None]]] = [
    ("session key deleted", lambda r, uid, sid, jti: r.delete(KEYS.session(uid, sid))),
    ("access token denied", lambda r, uid, sid, jti: r.set(KEYS.denied(uid, jti), 1, px=60_000)),
    ("user disabled", lambda r, uid, sid, jti: r.hset(KEYS.user(uid), "disabled", "1")),
    ("user deleted", lambda r, uid, sid, jti: r.delete(KEYS.user(uid))),
    ("FLUSHDB", lambda r, uid, sid, jti: r.flushdb()),
    ("FLUSHALL", lambda r, uid, sid, jti: r.flushall()),
]


@pytest.mark.parametrize(("path", "end"), ENDINGS, ids=[path for path, _ in ENDINGS])
def test_each_way_a_session_ends_is_refused_within_100_ms(watch, admin, path, end):
    uid, sid = open_session(admin)
    token = mint(uid, sid)
    call = Caller(resource_server(watch), token)
    assert [call(), call()] == [200, 200]  # known, served from memory
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    end(admin, uid, sid, jti)
    wait_for_refusal(call, f"kit: {path}")


def test_a_session_whose_ttl_runs_out_is_refused_at_its_deadline(watch, admin):
    uid, sid = open_session(admin)
    call = Caller(resource_server(watch), mint(uid, sid))
    assert call() == 200
    admin.pexpire(KEYS.session(uid, sid), 300)
    expires_at = time.monotonic() + 0.3
    assert call() == 200  # PEXPIRE is news too: read again, with the new deadline
    wait_for_refusal(call, "kit: session TTL ran out", since=expires_at)


@pytest.mark.parametrize("victim", ["channel", "reader"])
def test_a_killed_connection_never_leads_to_a_revoked_token_being_served(watch, admin, victim):
    uid, sid = open_session(admin)
    call = Caller(resource_server(watch), mint(uid, sid))
    assert [call(), call()] == [200, 200]
    flag = "P" if victim == "channel" else "t"  # pub/sub, or tracking on
    [killed] = [c["id"] for c in admin.client_list() if flag in c["flags"] and c["id"] != ""]
    admin.client_kill_filter(_id=killed)
    admin.delete(KEYS.session(uid, sid))  # the news of this is lost with the connection
    wait_for_refusal(call, f"kit: session ended right after CLIENT KILL of the {victim}")
    # Back to memory once both connections are up again.
    assert watch.wait_until_watching()
    other = Caller(resource_server(watch), mint(*open_session(admin)))
    assert other() == 200
    before = commands_sent(admin, ignore=HEARTBEAT)
    assert [other() for _ in range(20)] == [200] * 20
    assert commands_sent(admin, ignore=HEARTBEAT) == before


def test_a_capped_tracking_table_never_leads_to_a_revoked_token_being_served(watch, admin):
    # The README's advice for the channel's cost: past tracking-table-max-keys Redis forgets
    # keys, and a change to a forgotten key sends no news. It sends the forgotten names first.
    admin.config_set("tracking-table-max-keys", 3)
    try:
        uid, sid = open_session(admin)
        first = Caller(resource_server(watch), mint(uid, sid))
        assert first() == 200
        others = [Caller(resource_server(watch), mint(*open_session(admin))) for _ in range(20)]
        assert [call() for call in others] == [200] * 20
        assert admin.info("stats")["tracking_total_keys"] <= 3 + 3  # the table was cut back
        admin.delete(KEYS.session(uid, sid))  # no longer tracked: no news of this one
        wait_for_refusal(first, "kit: session ended after Redis forgot its keys")
        assert others[-1]() == 200
    finally:
        admin.config_set("tracking-table-max-keys", 0)


def test_redis_down_answers_503_then_a_restart_is_followed(tmp_path: Path, make_watch):
    server = RedisServer(tmp_path / "redis").start()
    try:
        admin = server.client()
        uid, sid = open_session(admin)
        watch = make_watch(server.url, timeout=0.5)
        assert watch.wait_until_watching()
        app = resource_server(watch)
        call = Caller(app, mint(uid, sid))
        assert [call(), call()] == [200, 200]
        server.stop()
        response = app.test_client().get("/api/protected", headers=call.headers)
        assert response.status_code == 503
        assert response.json["error"]["code"] == "store_unavailable"
        server.start()  # the same port, an empty database: the session is gone
        assert call() == 401
        uid, sid = open_session(admin)
        again = Caller(app, mint(uid, sid))
        assert watch.wait_until_watching()
        assert again() == 200
        before = commands_sent(admin, ignore=HEARTBEAT)
        assert [again() for _ in range(20)] == [200] * 20
        assert commands_sent(admin, ignore=HEARTBEAT) == before
        admin.close()
    finally:
        server.stop()


def test_a_read_only_acl_user_is_enough_and_cannot_write(kit_redis, admin, make_watch):
    # The README's line: read Rotor's keys, hear invalidations, nothing else.
    admin.execute_command("ACL", "SETUSER", ACL_USER, "reset", *readme_acl_rules("rs-pass-123"))
    try:
        url = f"redis://{ACL_USER}:rs-pass-123@127.0.0.1:{kit_redis.port}/0"
        watch = make_watch(url)
        assert watch.wait_until_watching()
        uid, sid = open_session(admin)
        call = Caller(resource_server(watch), mint(uid, sid))
        assert call() == 200
        before = commands_sent(admin, ignore=HEARTBEAT)
        assert [call() for _ in range(50)] == [200] * 50
        assert commands_sent(admin, ignore=HEARTBEAT) == before
        admin.delete(KEYS.session(uid, sid))
        wait_for_refusal(call, "kit: session key deleted (read-only ACL user)")
        as_resource_server = redis.Redis.from_url(url, decode_responses=True)
        with pytest.raises(redis.exceptions.NoPermissionError):
            as_resource_server.delete(KEYS.user(uid))
        with pytest.raises(redis.exceptions.NoPermissionError):
            as_resource_server.hset(KEYS.user(uid), "disabled", "0")
        assert admin.exists(KEYS.user(uid)) == 1
        as_resource_server.close()
    finally:
        admin.acl_deluser(ACL_USER)


def test_the_watch_can_be_built_before_redis_answers(make_watch):
    watch: SessionWatch = make_watch("redis://127.0.0.1:1/0", timeout=0.2)
    app = resource_server(watch)
    response = Caller(app, mint("u1", "s1"))
    assert response() == 503
    assert not watch.wait_until_watching(timeout=0.2)


def test_news_on_a_tls_connection_is_read_from_it_not_polled_on_its_socket():
    # TLS can hold decrypted news its socket no longer shows: such connections are read on
    # every request, as plain ones are whenever their sockets show anything.
    plain = socket.socket()
    tls = ssl.create_default_context().wrap_socket(
        socket.socket(), server_hostname="redis", do_handshake_on_connect=False
    )
    try:
        assert _poll_both(SimpleNamespace(_sock=plain), SimpleNamespace(_sock=plain)) is not None
        assert _poll_both(SimpleNamespace(_sock=plain), SimpleNamespace(_sock=tls)) is None
    finally:
        plain.close()
        tls.close()
