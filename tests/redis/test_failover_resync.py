"""A failover can lose Redis's last writes: a client then holds the successor of a rotation the
store never recorded. Exactly one generation ahead is accepted and re-synchronizes the session;
anything else stays reuse."""

from __future__ import annotations

import logging

import jwt

from app.store.keys import KeySpace
from tests.conftest import SECRET


def _session_key(keys: KeySpace, pair: dict) -> str:
    return keys.session(pair["user_id"], pair["session_id"])


def _lose_writes_since(redis_client, keys: KeySpace, pair: dict, snapshot: dict) -> None:
    """Put the session back as it was at ``snapshot`` (what a replica that missed the last
    writes would hold), grace replay included."""
    key = _session_key(keys, pair)
    redis_client.delete(key, keys.grace(pair["user_id"], pair["session_id"]))
    redis_client.hset(key, mapping=snapshot)
    redis_client.expire(key, 3600)


def _generation(token: str) -> int:
    return jwt.decode(token, SECRET, algorithms=["HS256"], audience="rotor")["gen"]


def test_a_successor_the_store_lost_is_accepted_and_resynchronizes(
    auth, redis_client, keys, caplog
):
    """A failover lost exactly one rotation: the holder of that one successor continues."""
    caplog.set_level(logging.INFO, logger="rotor.audit")
    pair = auth.register_and_login()
    snapshot = redis_client.hgetall(_session_key(keys, pair))
    lost = auth.refresh(pair["refresh_token"]).json  # rotation the failover will lose
    _lose_writes_since(redis_client, keys, pair, snapshot)

    resynced = auth.refresh(lost["refresh_token"])
    assert resynced.status_code == 200
    assert _generation(resynced.json["refresh_token"]) == 2
    assert redis_client.hget(_session_key(keys, pair), "gen") == "2"
    assert auth.me(resynced.json["access_token"]).status_code == 200
    assert auth.refresh(resynced.json["refresh_token"]).status_code == 200
    assert [getattr(r, "outcome", None) for r in caplog.records][-2:] == ["resynced", "rotated"]


def test_the_consumed_token_is_still_reuse_after_a_resync(auth, redis_client, keys):
    pair = auth.register_and_login()
    snapshot = redis_client.hgetall(_session_key(keys, pair))
    lost = auth.refresh(pair["refresh_token"]).json
    _lose_writes_since(redis_client, keys, pair, snapshot)
    resynced = auth.refresh(lost["refresh_token"]).json
    auth.refresh(resynced["refresh_token"])  # move on: no grace left for the old tokens

    replayed = auth.refresh(pair["refresh_token"])  # generation 0: really consumed
    assert replayed.json["error"]["code"] == "token_reused"
    assert auth.me(resynced["access_token"]).status_code == 401  # family ended


def test_two_generations_ahead_is_not_a_lost_write(auth, redis_client, keys):
    """A failover lost two rotations: the session ends at its next refresh."""
    pair = auth.register_and_login()
    snapshot = redis_client.hgetall(_session_key(keys, pair))
    first = auth.refresh(pair["refresh_token"]).json
    second = auth.refresh(first["refresh_token"]).json
    _lose_writes_since(redis_client, keys, pair, snapshot)

    response = auth.refresh(second["refresh_token"])
    assert response.status_code == 401
    assert response.json["error"]["code"] == "token_reused"
    # The session has ended: its tokens, whichever generation, are refused from now on.
    assert not redis_client.exists(_session_key(keys, pair))
    assert auth.me(second["access_token"]).status_code == 401
    assert auth.refresh(pair["refresh_token"]).json["error"]["code"] == "token_revoked"


def test_a_fork_at_the_same_generation_is_reuse(auth, redis_client, keys):
    """The store lost the victim's rotation, then the thief rotated the same old token: two
    different tokens of one generation means two chains, so the family ends."""
    pair = auth.register_and_login()
    snapshot = redis_client.hgetall(_session_key(keys, pair))
    victims = auth.refresh(pair["refresh_token"]).json
    _lose_writes_since(redis_client, keys, pair, snapshot)
    thiefs = auth.refresh(pair["refresh_token"]).json  # the old token matches the store again

    response = auth.refresh(victims["refresh_token"])
    assert response.json["error"]["code"] == "token_reused"
    assert auth.me(thiefs["access_token"]).status_code == 401
