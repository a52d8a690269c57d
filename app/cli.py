"""Operator commands: ``flask --app wsgi users|sessions|redis-keys|signing-keys ...``.

They call the auth room (``app.auth.operators``, ``app.auth.keys``), never Redis nor the api
room: an operator's revoke takes the same path as the API's. Passwords are read from a hidden
prompt or stdin, never from argv, where ``ps`` and shell history would keep them.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from app.auth import keys as keyring
from app.auth import operators as ops
from app.auth.accounts import new_account_problems, normalize_email
from app.errors import StoreUnavailable
from app.extensions import get_auth

P = ParamSpec("P")
R = TypeVar("R")

DEVICE_WIDTH = 60  # longer user agents are cut in the table (the API shows them whole)
_UNIT_MS = {"d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1000}
_DURATION = re.compile(r"(\d+)([dhms])")


def init_app(app: Flask) -> None:
    """Register the operator commands on the app's ``flask`` CLI."""
    for command in (users, sessions, redis_keys, signing_keys):
        app.cli.add_command(command)


def _fails_cleanly(command: Callable[P, R]) -> Callable[P, R]:
    """Turn an operator error or an unreachable Redis into a one-line message and exit 1."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except ops.OperatorError as exc:
            raise click.ClickException(str(exc)) from exc
        except StoreUnavailable as exc:
            raise click.ClickException(f"Redis did not answer: {exc}") from exc

    return wrapper


class Duration(click.ParamType[int]):
    """A duration like 30d, 12h, 15m or 90s, converted to milliseconds."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        match = _DURATION.fullmatch(str(value).strip())
        if match is None or int(match[1]) == 0:
            self.fail(f"{value!r} is not a duration like 30d, 12h, 15m or 90s", param, ctx)
        return int(match[1]) * _UNIT_MS[match[2]]


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def _stdin_is_tty() -> bool:
    return sys.stdin.isatty()


def _read_password(from_stdin: bool) -> str:
    """The new password: stdin when piped (one trailing newline dropped), else a prompt."""
    if from_stdin or not _stdin_is_tty():
        text = sys.stdin.read()
        return text.removesuffix("\n").removesuffix("\r")
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def _validated(email: str, password: str) -> tuple[str, str]:
    """Email (normalized) and password checked by the rules the API applies (same text)."""
    email = normalize_email(email)
    problems = new_account_problems(email, password)
    if problems:
        text = "; ".join(f"{field}: {' '.join(why)}" for field, why in problems.items())
        raise click.UsageError(text)
    return email, password


# -- users --------------------------------------------------------------------------------

users = AppGroup("users", help="Create users, and disable or enable their logins.")


@users.command("create")
@click.argument("email")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from stdin (the default when stdin is not a terminal).",
)
@_fails_cleanly
def create_user(email: str, password_stdin: bool) -> None:
    """Create a user with EMAIL and print its id.

    The password is asked twice at a hidden prompt, or read from stdin when it is piped
    (e.g. `printf '%s' "$PW" | flask users create ana@example.com`); it is never an argument.
    It must be 8 to 1024 characters; the email is trimmed and lower-cased, as in the API.
    """
    email, password = _validated(email, _read_password(password_stdin))
    click.echo(get_auth().operators.create_user(email, password).id)


@users.command("disable")
@click.argument("email")
@_fails_cleanly
def disable_user(email: str) -> None:
    """Refuse EMAIL's logins and end all their sessions at once.

    The flag is set before the sessions end, so a login racing with this command is refused.
    """
    ended = get_auth().operators.disable_user(email)
    click.echo(f"disabled {normalize_email(email)}; ended {ended} session(s)")


@users.command("enable")
@click.argument("email")
@_fails_cleanly
def enable_user(email: str) -> None:
    """Let EMAIL log in again (sessions ended by disable stay ended)."""
    user = get_auth().operators.enable_user(email)
    click.echo(f"enabled {user.email}")


# -- sessions -----------------------------------------------------------------------------

sessions = AppGroup("sessions", help="List and end sessions (refresh-token families).")


@sessions.command("list")
@click.argument("email")
@_fails_cleanly
def list_sessions(email: str) -> None:
    """Show EMAIL's live sessions, newest first (times are ISO 8601 UTC)."""
    records = get_auth().operators.list_sessions_of(email)
    if not records:
        click.echo("no sessions")
        return
    rows = [
        [
            record.id,
            _shorten(record.user_agent or "-"),
            record.ip or "-",
            _iso(record.created_ms),
            _iso(record.used_ms),
            _iso(record.expires_ms),
        ]
        for record in records
    ]
    click.echo(_table(["id", "device", "ip", "created", "last used", "expires"], rows))


def _shorten(text: str) -> str:
    return text if len(text) <= DEVICE_WIDTH else text[: DEVICE_WIDTH - 1] + "…"


@sessions.command("revoke")
@click.argument("email")
@click.option("--session", "session_id", metavar="ID", help="End this one session.")
@click.option("--all", "everything", is_flag=True, help="End every session of the user.")
@_fails_cleanly
def revoke_sessions(email: str, session_id: str | None, everything: bool) -> None:
    """End one session (--session ID) or every session (--all) of EMAIL.

    Its refresh token and access tokens stop working on their next request.
    """
    if (session_id is None) == (not everything):
        raise click.UsageError("give exactly one of --session ID or --all")
    ended = get_auth().operators.revoke_sessions(email, session_id)
    click.echo(f"ended {ended} session(s)")


@sessions.command("flush")
@click.option(
    "--older-than",
    type=Duration(),
    metavar="DURATION",
    help="Only sessions created more than DURATION ago (30d, 12h, 15m, 90s).",
)
@click.option("--dry-run", is_flag=True, help="Count what would end; change nothing.")
@click.option("--yes", is_flag=True, help="Do not ask before ending every session.")
@_fails_cleanly
def flush_sessions(older_than: int | None, dry_run: bool, yes: bool) -> None:
    """End sessions of every user: all of them, or those older than --older-than.

    Not atomic: a loop over the whole database with SCAN in batches (never KEYS), ending each
    batch user by user through the API's end-session script. Sessions opened while it runs
    may survive; counts are approximate if Redis changes meanwhile. A first SCAN pass counts
    the sessions to size the progress bar.
    """
    if older_than is None and not dry_run and not yes:
        click.confirm("End every session of every user?", abort=True)
    operators = get_auth().operators
    total = operators.count_sessions()
    with click.progressbar(length=total, label="scanning sessions", file=sys.stderr) as bar:
        report = operators.flush_sessions(
            older_than_ms=older_than, dry_run=dry_run, progress=bar.update
        )
    verb = "would end" if report.dry_run else "ended"
    click.echo(f"scanned {report.scanned} session(s); {verb} {report.ended}")


# -- redis-keys ---------------------------------------------------------------------------


@click.command("redis-keys")
@with_appcontext
@_fails_cleanly
def redis_keys() -> None:
    """Print the Redis key layout under the configured REDIS_KEY_PREFIX, for redis-cli.

    Every key Rotor writes, the rate limiter's included. See docs/redis.md for redis-cli
    recipes that keep the session index consistent.
    """
    service = get_auth()
    layout = service.operators.key_layout()
    click.echo(f"prefix: {service.settings.redis_key_prefix}")
    click.echo(_table(["key", "type", "holds", "ttl"], [list(row) for row in layout]))
    click.echo(
        "\n{<uid>} is a Redis Cluster hash tag: a user's keys share one slot, so one script "
        "can touch them all."
    )


# -- signing-keys -------------------------------------------------------------------------

signing_keys = AppGroup("signing-keys", help="The keys that sign and verify Rotor's tokens.")


@signing_keys.command("list")
def list_signing_keys() -> None:
    """Show the token signing keys loaded from the configuration: kid, algorithm, whether it
    signs or only verifies, and where it came from. Never any key material."""
    ring = get_auth().tokens.keys
    rows = [
        [
            key.kid or "-",
            key.algorithm,
            "signing" if key is ring.signing else "verify-only",
            key.source,
        ]
        for key in ring.keys
    ]
    click.echo(_table(["kid", "alg", "use", "source"], rows))
    if ring.algorithm == "HS256":
        click.echo(
            "\nHS256 signs with the shared secret JWT_SECRET_KEY: its tokens carry no kid and "
            "/.well-known/jwks.json publishes no key."
        )


@signing_keys.command("generate", with_appcontext=False)
@click.option(
    "--alg",
    "algorithm",
    type=click.Choice(keyring.ASYMMETRIC_ALGORITHMS),
    required=True,
    help="The JWT algorithm the key is for (EdDSA: Ed25519; ES256: P-256; RS256: RSA 2048).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default="the current directory",
    help="Directory for the new PEM files (created if missing).",
)
def generate_signing_key(algorithm: str, out_dir: Path) -> None:
    """Write a new private key (PKCS#8 PEM, mode 0600) and its public key; print its kid.

    The kid is the key's RFC 7638 thumbprint, the one Rotor derives when it loads the file.
    To rotate, add the private key's path to JWT_SIGNING_KEYS (README: Signing keys and
    rotation).
    """
    try:
        generated = keyring.write_key_pair(algorithm, out_dir)
    except OSError as exc:
        raise click.ClickException(f"cannot write the key: {exc}") from exc
    click.echo(f"kid: {generated.kid}")
    click.echo(f"private key: {generated.private_path} (mode 0600; keep it secret)")
    click.echo(f"public key: {generated.public_path}")
