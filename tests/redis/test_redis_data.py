"""What Redis holds: digests not tokens, TTLs everywhere, one prefix, one hash tag per user."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from tests.conftest import PASSWORD


def _dump_everything(redis_client) -> str:
    """Every key name and every value in the database, as one string."""
    parts = []
    for key in redis_client.scan_iter("*"):
        parts.append(key)
        kind = redis_client.type(key)
        if kind == "string":
            parts.append(redis_client.get(key))
        elif kind == "hash":
            parts.extend(f"{k}={v}" for k, v in redis_client.hgetall(key).items())
        elif kind == "zset":
            parts.extend(redis_client.zrange(key, 0, -1))
    return "\n".join(parts)


@pytest.mark.redis
def test_redis_holds_no_token_or_password_and_every_session_key_has_a_ttl(real_auth, real_redis):
    auth = real_auth  # the app and the dump must look at the same Redis
    pair = auth.register_and_login()
    rotated = auth.refresh(pair["refresh_token"]).json
    other = auth.login(pair["email"])
    auth.post("/api/auth/logout", other["access_token"])

    dump = _dump_everything(real_redis)
    for secret in (
        pair["refresh_token"],
        pair["access_token"],
        rotated["refresh_token"],
        rotated["access_token"],
        PASSWORD,
    ):
        assert secret not in dump
        for part in secret.split(".")[1:]:  # not even a token's payload or signature
            assert len(part) < 20 or part not in dump

    for key in real_redis.scan_iter("*"):
        ttl = real_redis.pttl(key)
        if key.endswith(":user") or ":email:" in key:
            assert ttl == -1, key
        else:
            assert ttl > 0, key


def test_every_key_starts_with_the_configured_prefix(auth_with, redis_client):
    auth = auth_with(redis_key_prefix="rotor-test:")
    pair = auth.register_and_login()
    auth.refresh(pair["refresh_token"])
    auth.post("/api/auth/logout", pair["access_token"])
    keys = list(redis_client.scan_iter("*"))
    assert keys
    assert all(key.startswith("rotor-test:") for key in keys)


def test_keys_of_one_user_share_a_cluster_slot(auth, redis_client):
    pair = auth.register_and_login()
    auth.refresh(pair["refresh_token"])
    auth.post("/api/auth/logout", auth.login(pair["email"])["access_token"])
    user_keys = [k for k in redis_client.scan_iter("*") if pair["user_id"] in k]
    assert len(user_keys) >= 4  # user, index, session, grace, denied
    assert len({key_slot(k.encode()) for k in user_keys}) == 1


def test_access_fails_closed_when_redis_was_flushed(auth, redis_client):
    pair = auth.register_and_login()
    redis_client.flushdb()
    response = auth.me(pair["access_token"])
    assert response.status_code == 401
    assert response.json["error"]["code"] == "token_revoked"
    assert auth.refresh(pair["refresh_token"]).json["error"]["code"] == "token_revoked"


def test_deleting_the_user_record_ends_access(auth, redis_client, keys):
    pair = auth.register_and_login()
    redis_client.delete(keys.user(pair["user_id"]))
    assert auth.me(pair["access_token"]).status_code == 401
    assert auth.refresh(pair["refresh_token"]).status_code == 401


def test_disabled_user_is_refused_everywhere(auth, client, redis_client, keys):
    pair = auth.register_and_login()
    redis_client.hset(keys.user(pair["user_id"]), "disabled", "1")
    assert auth.me(pair["access_token"]).status_code == 401
    assert auth.refresh(pair["refresh_token"]).status_code == 401
    response = client.post("/api/auth/login", json={"email": pair["email"], "password": PASSWORD})
    assert response.status_code == 401


@pytest.mark.parametrize("email", ["{x}@x.io", "*@x.io", "a'b@x.io", "user+{1}*@x.io"])
def test_emails_with_key_syntax_cannot_reach_other_keys(auth, redis_client, keys, email):
    victim = auth.register_and_login()
    attacker = auth.register(email)
    assert auth.login(email)["access_token"]
    assert auth.me(victim["access_token"]).status_code == 200
    assert redis_client.get(keys.email(email)) == attacker["id"]


def test_grace_successor_is_sealed_not_stored(auth, redis_client, keys):
    pair = auth.register_and_login()
    rotated = auth.refresh(pair["refresh_token"]).json
    grace_key = keys.grace(pair["user_id"], pair["session_id"])
    grace = redis_client.hgetall(grace_key)
    assert set(grace) == {"rt", "pair"}
    assert rotated["refresh_token"] not in grace["pair"]
    assert 0 < redis_client.pttl(grace_key) <= 10_000


@pytest.mark.parametrize("email", ["alice:sessions", "a b@x.io", "a\n@x.io", "*", "{x}"])
def test_emails_that_are_not_addresses_never_reach_redis(client, redis_client, email):
    response = client.post("/api/auth/register", json={"email": email, "password": PASSWORD})
    assert response.status_code == 422
    assert redis_client.dbsize() == 0
