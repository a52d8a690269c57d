"""The redis-cli recipes of docs/redis.md, run as written against the real redis-server.

Each ``### title`` of the recipes section holds one ```sh block. The test runs it with bash
(``set -euo pipefail``, so an unset placeholder fails), with the placeholders $EMAIL, $USER_ID
and $SID in the environment and ``redis-cli`` pointed at the test server's port, on data
created through the API, and checks that it does what the doc says.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest
import redis

from app.store.keys import KeySpace
from tests.conftest import AuthActions
from tests.servers import REPO, RedisServer

pytestmark = pytest.mark.redis

DOC = REPO / "docs" / "redis.md"
KEYS = KeySpace("auth:")  # the recipes are written for the default prefix


def _recipes() -> dict[str, str]:
    """Title -> shell text of each recipe."""
    section = DOC.read_text().split("\n## redis-cli recipes\n", 1)[1]
    recipes = {}
    for title, body in re.findall(r"^### (.+?)\n(.*?)(?=^### |\Z)", section, re.S | re.M):
        blocks = re.findall(r"^```sh\n(.*?)^```", body, re.S | re.M)
        assert len(blocks) == 1, f"recipe {title!r} must have exactly one sh block"
        recipes[title] = blocks[0]
    return recipes


RECIPES = _recipes()


@pytest.fixture
def real_backend(redis_server: RedisServer) -> RedisServer:
    """The recipes are written for a single Redis (docs/redis.md): the server only."""
    return redis_server


@pytest.fixture
def run_recipe(redis_server: RedisServer):
    def run(title: str, **placeholders: str) -> str:
        script = re.sub(r"\bredis-cli\b", f"redis-cli -p {redis_server.port}", RECIPES[title])
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            env={"PATH": os.environ["PATH"], **placeholders},
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "ERR" not in done.stdout, done.stdout
        return done.stdout

    return run


def _login_status(auth: AuthActions, email: str) -> int:
    return auth.client.post(
        "/api/auth/login", json={"email": email, "password": "correct horse battery"}
    ).status_code


def test_every_recipe_is_tested_and_none_uses_keys():
    assert set(RECIPES) == {
        "Find a user id by email",
        "List a user's sessions",
        "Show one session",
        "End one session",
        "End all of a user's sessions",
        "Disable a user",
        "Enable a user",
        "Count all sessions",
    }
    assert not any(re.search(r"\bKEYS\b", script) for script in RECIPES.values())


def test_the_doc_names_every_key_of_the_layout():
    text = DOC.read_text()
    assert all(f"`{row.key}`" in text for row in KEYS.layout())
    assert "maxmemory-policy noeviction" in text


def test_find_a_user_id_by_email(real_auth, run_recipe):
    user = real_auth.register("ana@example.com")
    assert run_recipe("Find a user id by email", EMAIL="ana@example.com") == f"{user['id']}\n"
    assert run_recipe("Find a user id by email", EMAIL="nobody@example.com") == "\n"


def test_list_a_users_sessions(real_auth, run_recipe):
    user = real_auth.register()
    phone = real_auth.login(user["email"])
    laptop = real_auth.login(user["email"])
    real_auth.register_and_login()  # someone else
    lines = run_recipe("List a user's sessions", USER_ID=user["id"]).split()
    assert lines[0::2] == [laptop["session_id"], phone["session_id"]]
    assert all(score.isdigit() for score in lines[1::2])


def test_show_one_session(real_auth, run_recipe):
    user = real_auth.register()
    pair = real_auth.login(user["email"], user_agent="phone")
    lines = run_recipe("Show one session", USER_ID=user["id"], SID=pair["session_id"]).split("\n")
    fields = dict(zip(lines[0:-2:2], lines[1:-2:2], strict=True))
    assert fields["ua"] == "phone" and fields["ip"] == "127.0.0.1" and fields["gen"] == "0"
    assert int(lines[-2]) > 0  # PTTL: ms until the session expires


def test_end_one_session(real_auth, run_recipe, real_redis: redis.Redis):
    user = real_auth.register()
    phone = real_auth.login(user["email"])
    laptop = real_auth.login(user["email"])
    phone = real_auth.refresh(phone["refresh_token"]).json  # so a grace hash exists
    sid = phone["session_id"]
    assert real_redis.exists(KEYS.grace(user["id"], sid)) == 1

    output = run_recipe("End one session", USER_ID=user["id"], SID=sid)
    # The session and grace hashes were deleted, and the id left the index.
    assert output.split() == ["OK", "QUEUED", "QUEUED", "QUEUED", "1", "1", "1"]
    assert real_auth.me(phone["access_token"]).status_code == 401
    assert real_auth.refresh(phone["refresh_token"]).status_code == 401
    assert real_redis.exists(KEYS.session(user["id"], sid), KEYS.grace(user["id"], sid)) == 0
    assert real_redis.zrange(KEYS.sessions(user["id"]), 0, -1) == [laptop["session_id"]]
    assert real_auth.me(laptop["access_token"]).status_code == 200


def test_end_all_of_a_users_sessions(real_auth, run_recipe, real_redis: redis.Redis):
    user = real_auth.register()
    pairs = [real_auth.login(user["email"]) for _ in range(3)]
    other = real_auth.register_and_login()
    run_recipe("End all of a user's sessions", USER_ID=user["id"])
    assert all(real_auth.me(pair["access_token"]).status_code == 401 for pair in pairs)
    assert real_redis.exists(KEYS.sessions(user["id"])) == 0
    assert not any(user["id"] in key for key in real_redis.scan_iter(KEYS.session_pattern()))
    assert real_auth.me(other["access_token"]).status_code == 200


def test_disable_then_enable_a_user(real_auth, run_recipe, real_redis: redis.Redis):
    user = real_auth.register()
    pairs = [real_auth.login(user["email"]) for _ in range(2)]
    run_recipe("Disable a user", USER_ID=user["id"])
    assert _login_status(real_auth, user["email"]) == 401
    assert all(real_auth.me(pair["access_token"]).status_code == 401 for pair in pairs)
    assert real_redis.exists(KEYS.sessions(user["id"])) == 0

    run_recipe("Enable a user", USER_ID=user["id"])
    assert _login_status(real_auth, user["email"]) == 200
    assert all(real_auth.refresh(p["refresh_token"]).status_code == 401 for p in pairs)


def test_count_all_sessions(real_auth, run_recipe):
    ana = real_auth.register_and_login()
    real_auth.refresh(real_auth.login(ana["email"])["refresh_token"])  # with a grace hash
    bob = real_auth.register_and_login()
    real_auth.post("/api/auth/logout", bob["access_token"])  # ended, leaves a denylist key
    real_auth.login(bob["email"])
    assert run_recipe("Count all sessions").strip() == "3"
