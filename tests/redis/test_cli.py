"""The operator CLI (`flask --app wsgi users|sessions|redis-keys|signing-keys`), against the real
redis-server."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import time_machine
from click.testing import Result
from flask import Flask

from app import cli
from app.auth.keys import KeyRing, write_key_pair
from app.store import Store
from config import PemKey, Settings
from tests.conftest import PASSWORD, AuthActions
from tests.servers import REPO, RedisServer

pytestmark = pytest.mark.redis

ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
HOUR = 3600


def _with_cli(app: Flask) -> Flask:
    """``app`` with the operator commands registered, as wsgi.py's app has them."""
    cli.init_app(app)
    return app


@pytest.fixture
def cli_app(real_auth: AuthActions) -> Flask:
    return _with_cli(real_auth.app)


@pytest.fixture
def run(cli_app: Flask) -> Callable[..., Result]:
    """``run("users", "create", EMAIL, input=...)``: one command, as the flask CLI runs it."""
    runner = cli_app.test_cli_runner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(args=list(args), input=input)

    return invoke


@pytest.fixture
def api(real_auth: AuthActions) -> AuthActions:
    """The API of ``cli_app``, as a user calls it."""
    return real_auth


@pytest.fixture
def store(cli_app: Flask) -> Store:
    return cli_app.extensions["rotor.store"]


def _login_status(api: AuthActions, email: str, password: str = PASSWORD) -> int:
    response = api.client.post("/api/auth/login", json={"email": email, "password": password})
    return response.status_code


def _login_at(api: AuthActions, email: str, seconds_ago: int) -> dict:
    """Log in through the API with the clock turned back ``seconds_ago``."""
    with time_machine.travel(time.time() - seconds_ago):
        return api.login(email)


# -- users create ---------------------------------------------------------------------------


def test_create_user_prints_its_id_and_the_user_can_log_in(run, api, store):
    result = run("users", "create", "  Ana@Example.COM ", input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    user_id = result.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{16}", user_id)
    user = store.find_user_by_email("ana@example.com")
    assert user is not None and user.id == user_id
    assert api.login("ana@example.com")["session_id"]


def test_create_user_asks_twice_at_a_hidden_prompt_on_a_terminal(run, api, monkeypatch):
    monkeypatch.setattr(cli, "_stdin_is_tty", lambda: True)
    result = run("users", "create", "ana@example.com", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.output
    assert PASSWORD not in result.output
    assert api.login("ana@example.com")["session_id"]


def test_create_user_with_mismatched_prompts_creates_nobody(run, store, monkeypatch):
    monkeypatch.setattr(cli, "_stdin_is_tty", lambda: True)
    result = run("users", "create", "ana@example.com", input=f"{PASSWORD}\nsomething else\n")
    assert result.exit_code != 0
    assert store.find_user_by_email("ana@example.com") is None


@pytest.mark.parametrize(
    "args",
    [
        ("users", "create", "ana@example.com", PASSWORD),
        ("users", "create", "ana@example.com", "--password", PASSWORD),
        ("users", "create", f"--password={PASSWORD}", "ana@example.com"),
    ],
)
def test_create_user_never_takes_the_password_as_an_argument(run, store, args):
    result = run(*args, input=PASSWORD + "\n")
    assert result.exit_code == 2
    assert store.find_user_by_email("ana@example.com") is None


@pytest.mark.parametrize(
    ("email", "password", "exit_code", "message"),
    [
        ("ana@example.com", "x" * 7, 2, "password"),
        ("ana@example.com", "x" * 1025, 2, "password"),
        ("not-an-email", PASSWORD, 2, "email"),
        ("ana@example.com", "x" * 8, 0, ""),
        ("ana@example.com", "x" * 1024, 0, ""),
    ],
)
def test_create_user_applies_the_api_rules(run, store, email, password, exit_code, message):
    result = run("users", "create", email, input=password + "\n")
    assert result.exit_code == exit_code, result.output
    assert message in result.output
    assert (store.find_user_by_email("ana@example.com") is not None) == (exit_code == 0)


def test_create_user_with_a_taken_email_fails_with_a_message(run, api):
    api.register("ana@example.com")
    result = run("users", "create", "ANA@example.com", input=PASSWORD + "\n")
    assert result.exit_code == 1
    assert "already exists" in result.output


# -- users disable / enable -----------------------------------------------------------------


def test_disable_ends_every_session_and_refuses_login_and_enable_restores_login(run, api):
    user = api.register("ana@example.com")
    phone, laptop = api.login(user["email"]), api.login(user["email"])
    other = api.register_and_login()

    result = run("users", "disable", "Ana@Example.com")
    assert result.exit_code == 0, result.output
    assert "ended 2 session(s)" in result.output
    for pair in (phone, laptop):
        assert api.me(pair["access_token"]).status_code == 401
        assert api.refresh(pair["refresh_token"]).status_code == 401
    assert _login_status(api, user["email"]) == 401
    assert api.me(other["access_token"]).status_code == 200

    result = run("users", "enable", "ana@example.com")
    assert result.exit_code == 0, result.output
    assert api.me(api.login(user["email"])["access_token"]).status_code == 200
    assert api.refresh(phone["refresh_token"]).status_code == 401  # ended sessions stay ended


@pytest.mark.parametrize("command", ["disable", "enable"])
def test_disable_or_enable_of_an_unknown_email_fails_with_a_message(run, command):
    result = run("users", command, "nobody@example.com")
    assert result.exit_code == 1
    assert "no user with email nobody@example.com" in result.output


# -- sessions list --------------------------------------------------------------------------


def test_sessions_list_shows_each_session_newest_first_with_device_ip_and_times(run, api, store):
    user = api.register("ana@example.com")
    phone = api.login(user["email"], user_agent="phone")
    laptop = api.login(user["email"], user_agent="laptop")
    stranger = api.register_and_login()

    result = run("sessions", "list", "ana@example.com")
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.strip().splitlines()
    assert header.split() == ["id", "device", "ip", "created", "last", "used", "expires"]
    assert [row.split()[:3] for row in rows] == [
        [laptop["session_id"], "laptop", "127.0.0.1"],
        [phone["session_id"], "phone", "127.0.0.1"],
    ]
    record = store.get_session(user["id"], phone["session_id"])
    assert record is not None
    times = ISO_UTC.findall(rows[1])
    assert len(times) == 3
    assert times[2] == cli._iso(record.expires_ms)
    assert stranger["session_id"] not in result.stdout


def test_sessions_list_of_a_user_without_sessions_says_so(run, api):
    api.register("ana@example.com")
    result = run("sessions", "list", "ana@example.com")
    assert result.exit_code == 0
    assert result.stdout.strip() == "no sessions"


# -- sessions revoke ------------------------------------------------------------------------


def test_revoke_one_session_ends_only_it(run, api, store):
    user = api.register("ana@example.com")
    phone, laptop = api.login(user["email"]), api.login(user["email"])
    result = run("sessions", "revoke", "ana@example.com", "--session", phone["session_id"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "ended 1 session(s)"
    assert api.me(phone["access_token"]).status_code == 401
    assert api.me(laptop["access_token"]).status_code == 200
    assert store.session_ids(user["id"]) == [laptop["session_id"]]


def test_revoke_all_ends_every_session_of_that_user_only(run, api, store):
    user = api.register("ana@example.com")
    pairs = [api.login(user["email"]) for _ in range(3)]
    other = api.register_and_login()
    result = run("sessions", "revoke", "ana@example.com", "--all")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "ended 3 session(s)"
    assert all(api.me(pair["access_token"]).status_code == 401 for pair in pairs)
    assert store.session_ids(user["id"]) == []
    assert api.me(other["access_token"]).status_code == 200


def test_revoke_of_an_unknown_or_someone_elses_session_fails_with_a_message(run, api):
    api.register("ana@example.com")
    other = api.register_and_login()
    for session_id in ("0" * 24, other["session_id"]):
        result = run("sessions", "revoke", "ana@example.com", "--session", session_id)
        assert result.exit_code == 1
        assert f"no live session {session_id} for ana@example.com" in result.output
    assert api.me(other["access_token"]).status_code == 200


@pytest.mark.parametrize("options", [(), ("--all", "--session", "abc")])
def test_revoke_needs_exactly_one_of_session_or_all(run, api, options):
    pair = api.register_and_login()
    result = run("sessions", "revoke", pair["email"], *options)
    assert result.exit_code == 2
    assert "exactly one of --session ID or --all" in result.output
    assert api.me(pair["access_token"]).status_code == 200


# -- sessions flush -------------------------------------------------------------------------


def _old_and_new_sessions(api: AuthActions) -> tuple[list[dict], list[dict]]:
    """Two users, each with a session created more than an hour ago and one since."""
    ana, bob = api.register(), api.register()

    def login(user: dict, seconds_ago: int) -> dict:
        return {**_login_at(api, user["email"], seconds_ago), "user_id": user["id"]}

    old = [login(ana, 2 * HOUR), login(bob, 3 * HOUR)]
    new = [login(ana, 0), login(bob, HOUR // 2)]
    return old, new


def _alive(store: Store, pair: dict) -> bool:
    return store.get_session(pair["user_id"], pair["session_id"]) is not None


def test_flush_dry_run_counts_and_changes_nothing(run, api, store, real_redis):
    old, new = _old_and_new_sessions(api)
    before = sorted(real_redis.scan_iter("*"))
    result = run("sessions", "flush", "--older-than", "1h", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "scanned 4 session(s); would end 2"
    assert sorted(real_redis.scan_iter("*")) == before
    assert all(_alive(store, pair) for pair in old + new)


def test_flush_older_than_ends_only_sessions_created_before_it(run, api, store):
    old, new = _old_and_new_sessions(api)
    result = run("sessions", "flush", "--older-than", "1h")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "scanned 4 session(s); ended 2"
    assert "scanning sessions" in result.stderr  # the progress bar, kept off stdout
    assert not any(_alive(store, pair) for pair in old)
    for pair in old:
        assert api.refresh(pair["refresh_token"]).status_code == 401
    for pair in new:  # each index lists only its survivor
        assert store.session_ids(pair["user_id"]) == [pair["session_id"]]
        assert api.refresh(pair["refresh_token"]).status_code == 200


def test_flush_without_older_than_asks_then_ends_every_session(run, api, store):
    pairs = [api.register_and_login() for _ in range(3)]
    refused = run("sessions", "flush", input="n\n")
    assert refused.exit_code == 1
    assert all(api.me(pair["access_token"]).status_code == 200 for pair in pairs)

    result = run("sessions", "flush", "--yes")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "scanned 3 session(s); ended 3"
    assert all(api.me(pair["access_token"]).status_code == 401 for pair in pairs)
    assert all(store.session_ids(pair["user_id"]) == [] for pair in pairs)
    assert store.count_sessions() == 0


@pytest.mark.parametrize("duration", ["1x", "0s", "h", "-5m", "1h30m"])
def test_flush_refuses_a_malformed_duration(run, api, duration):
    pair = api.register_and_login()
    result = run("sessions", "flush", "--older-than", duration, "--yes")
    assert result.exit_code == 2
    assert "is not a duration like 30d, 12h, 15m or 90s" in result.output
    assert api.me(pair["access_token"]).status_code == 200


@pytest.mark.parametrize(
    ("text", "ms"),
    [("30d", 30 * 86_400_000), ("12h", 43_200_000), ("15m", 900_000), ("90s", 90_000)],
)
def test_durations_convert_to_milliseconds(text, ms):
    assert cli.Duration().convert(text, None, None) == ms


# -- keys and help --------------------------------------------------------------------------


def test_redis_keys_prints_the_layout_under_the_configured_prefix(app_factory, real_redis):
    app = _with_cli(app_factory.app(real_redis, redis_key_prefix="rotor-ops:"))
    result = app.test_cli_runner().invoke(args=["redis-keys"])
    assert result.exit_code == 0, result.output
    assert "prefix: rotor-ops:" in result.stdout
    for key in (
        "rotor-ops:email:<email>",
        "rotor-ops:{<uid>}:user",
        "rotor-ops:{<uid>}:sessions",
        "rotor-ops:{<uid>}:session:<sid>",
        "rotor-ops:{<uid>}:grace:<sid>",
        "rotor-ops:{<uid>}:denied:<jti>",
        "rotor-ops:ratelimit:LIMITER/session:<sid>/auth.refresh/<limit>",
    ):
        assert key in result.stdout
    assert "auth:" not in result.stdout


def test_signing_keys_list_shows_each_loaded_key_and_no_key_material(
    app_factory, real_redis, tmp_path
):
    new, old = (write_key_pair("EdDSA", tmp_path) for _ in range(2))
    pems = tuple(PemKey(str(k.private_path), k.private_path.read_text()) for k in (new, old))
    app = _with_cli(app_factory.app(real_redis, jwt_algorithm="EdDSA", jwt_signing_keys=pems))
    result = app.test_cli_runner().invoke(args=["signing-keys", "list"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["kid", "alg", "use", "source"]
    assert lines[1].split() == [new.kid, "EdDSA", "signing", str(new.private_path)]
    assert lines[2].split() == [old.kid, "EdDSA", "verify-only", str(old.private_path)]
    assert "PRIVATE" not in result.output
    assert new.private_path.read_text().splitlines()[1] not in result.output


def test_signing_keys_list_on_hs256_says_nothing_is_published(run):
    result = run("signing-keys", "list")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1].split() == ["-", "HS256", "signing", "JWT_SECRET_KEY"]
    assert "publishes no key" in " ".join(result.stdout.split())


@pytest.mark.parametrize("algorithm", ["EdDSA", "ES256", "RS256"])
def test_signing_keys_generate_writes_a_0600_private_key_and_prints_its_kid(
    run, tmp_path, algorithm
):
    out = tmp_path / "keys"
    result = run("signing-keys", "generate", "--alg", algorithm, "--out", str(out))
    assert result.exit_code == 0, result.output
    printed = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    private = Path(printed["private key"].split(" (")[0])
    public = Path(printed["public key"])
    assert private.parent == public.parent == out
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert "PRIVATE KEY" in private.read_text() and "PUBLIC KEY" in public.read_text()
    assert private.read_text().splitlines()[1] not in result.output
    loaded = KeyRing.from_settings(
        Settings.from_env({"JWT_ALGORITHM": algorithm, "JWT_SIGNING_KEYS": str(private)})
    )
    assert loaded.signing.kid == printed["kid"]


def test_signing_keys_generate_needs_a_known_algorithm(run, tmp_path):
    assert run("signing-keys", "generate", "--out", str(tmp_path)).exit_code == 2
    generate = ("signing-keys", "generate", "--alg", "HS256", "--out", str(tmp_path))
    assert run(*generate).exit_code == 2
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "command",
    [
        ("users",),
        ("users", "create"),
        ("users", "disable"),
        ("users", "enable"),
        ("sessions",),
        ("sessions", "list"),
        ("sessions", "revoke"),
        ("sessions", "flush"),
        ("redis-keys",),
        ("signing-keys",),
        ("signing-keys", "list"),
        ("signing-keys", "generate"),
    ],
)
def test_every_command_has_help(run, command):
    result = run(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_flush_help_says_it_is_a_non_atomic_scan_loop(run):
    text = " ".join(run("sessions", "flush", "--help").output.split())
    assert "Not atomic" in text and "SCAN" in text and "never KEYS" in text


@pytest.mark.slow
def test_flask_cli_lists_the_users_commands(redis_server: RedisServer):
    env = {**os.environ, "ROTOR_ENV": "development", "REDIS_URL": redis_server.url}
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "users", "--help"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert all(name in done.stdout for name in ("create", "disable", "enable"))
