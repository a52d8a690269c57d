"""The hot-path script runner (`HotScript`): its own connection per thread and process, and the
client's normal path whenever something is off (a script Redis forgot, a dropped connection)."""

from __future__ import annotations

import os
import threading

import fakeredis
import pytest
import redis

from app.store.client import HotScript

pytestmark = pytest.mark.redis

COUNT = "return redis.call('INCRBY', KEYS[1], ARGV[1])"


@pytest.fixture
def private_redis_client(private_server):
    """A Redis client of this test's own server: these tests flush scripts and kill
    connections."""
    redis_client = private_server.client()
    yield redis_client
    redis_client.close()


def test_runs_the_script_on_a_connection_of_its_own(private_redis_client, monkeypatch):
    script = HotScript(private_redis_client, COUNT)
    assert script(["counter"], [1]) == 1  # the first call also loads the script

    def no_pool(*args, **kwargs):
        raise AssertionError("the hot path asked the pool for a connection")

    monkeypatch.setattr(private_redis_client.connection_pool, "get_connection", no_pool)
    assert [script(["counter"], [1]) for _ in range(3)] == [2, 3, 4]


def test_loads_the_script_again_after_redis_forgot_it(private_redis_client):
    script = HotScript(private_redis_client, COUNT)
    assert script(["counter"], [5]) == 5
    private_redis_client.script_flush()
    assert script(["counter"], [5]) == 10
    assert script(["counter"], [5]) == 15


def test_reconnects_after_its_connection_is_dropped(private_redis_client):
    script = HotScript(private_redis_client, COUNT)
    assert script(["counter"], [1]) == 1
    killed = private_redis_client.client_kill_filter(_type="normal", skipme=True)
    assert killed >= 1
    assert script(["counter"], [1]) == 2  # the dropped connection was replaced, once
    assert script(["counter"], [1]) == 3


def test_a_timed_out_script_is_not_sent_again(private_server):
    """A script that timed out may still run (a rotation must not run twice): the call fails
    instead of sending it again, and the next one goes out on a fresh connection."""
    impatient = private_server.client(socket_timeout=0.2)
    script = HotScript(impatient, COUNT)
    assert script(["counter"], [1]) == 1
    admin = private_server.client()
    admin.execute_command("CLIENT", "PAUSE", 600, "ALL")
    with pytest.raises(redis.TimeoutError):
        script(["counter"], [1])
    # Answers once the pause is over: the timed-out call was not sent again (its connection
    # was dropped, so Redis discarded it; a retry would have queued behind the pause and run).
    assert admin.get("counter") == "1"
    assert script(["counter"], [1]) == 2
    impatient.close()
    admin.close()


def test_a_forked_child_uses_a_connection_of_its_own(private_redis_client):
    script = HotScript(private_redis_client, COUNT)
    assert script(["counter"], [1]) == 1
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os._exit(0 if script(["counter"], [10]) == 11 else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert script(["counter"], [100]) == 111  # the parent's connection was not disturbed


def test_a_script_error_reaches_the_caller_and_the_connection_stays_usable(private_redis_client):
    failing = HotScript(private_redis_client, "return redis.call('INCR', KEYS[1], 'extra')")
    with pytest.raises(redis.ResponseError):
        failing(["counter"])
    assert failing._connection().can_read() is False  # nothing half-read left behind
    assert HotScript(private_redis_client, COUNT)(["counter"], [2]) == 2


def test_closing_the_client_closes_every_thread_s_connection_and_a_later_call_reconnects(
    private_redis_client,
):
    """Whoever closes the client they gave the store leaves no socket open behind it."""
    script = HotScript(private_redis_client, COUNT)
    connections = []

    def call() -> None:
        script(["counter"], [1])
        connections.append(script._connection())

    call()
    other = threading.Thread(target=call)
    other.start()
    other.join()
    assert len({id(connection) for connection in connections}) == 2
    private_redis_client.close()
    assert all(connection._sock is None for connection in connections)
    assert script(["counter"], [1]) == 3


@pytest.mark.parametrize("make_client", [lambda: fakeredis.FakeRedis(decode_responses=True)])
def test_other_clients_go_the_client_s_own_way(make_client):
    script = HotScript(make_client(), COUNT)
    assert script._pool is None
    assert script(["counter"], [3]) == 3
