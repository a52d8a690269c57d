"""Operator commands: ``flask --app wsgi users|sessions|keys ...``.

They call the auth room (``app.auth.operators``), never Redis: an operator's revoke takes the
same path as the API's. Passwords are read from a hidden prompt or stdin, never from argv,
where ``ps`` and shell history would keep them.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from marshmallow import ValidationError

from app.api.schemas import RegisterSchema
from app.auth import get_auth
from app.auth import operators as ops
from app.auth.service import normalize_email
from app.store import StoreUnavailable

P = ParamSpec("P")
R = TypeVar("R")

DEVICE_WIDTH = 60  # longer user agents are cut in the table (the API shows them whole)
_UNIT_MS = {"d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1000}
_DURATION = re.compile(r"(\d+)([dhms])")


def init_app(app: Flask) -> None:
    """Register the operator commands on the app's ``flask`` CLI."""
    for command in (users, sessions, keys_command):
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


class Duration(click.ParamType):
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
    """Email and password checked by the API's own register schema (same rules, same text)."""
    try:
        data = RegisterSchema().load({"email": email, "password": password})
    except ValidationError as exc:
        problems = exc.normalized_messages()
        text = "; ".join(f"{field}: {' '.join(map(str, why))}" for field, why in problems.items())
        raise click.UsageError(text) from exc
    return data["email"], data["password"]


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
    click.echo(ops.create_user(get_auth(), email, password).id)


@users.command("disable")
@click.argument("email")
@_fails_cleanly
def disable_user(email: str) -> None:
    """Refuse EMAIL's logins and end all their sessions at once.

    The flag is set before the sessions end, so a login racing with this command is refused.
    """
    ended = ops.disable_user(get_auth(), email)
    click.echo(f"disabled {normalize_email(email)}; ended {ended} session(s)")


@users.command("enable")
@click.argument("email")
@_fails_cleanly
def enable_user(email: str) -> None:
    """Let EMAIL log in again (sessions ended by disable stay ended)."""
    user = ops.enable_user(get_auth(), email)
    click.echo(f"enabled {user.email}")


# -- sessions -----------------------------------------------------------------------------

sessions = AppGroup("sessions", help="List and end sessions (refresh-token families).")


@sessions.command("list")
@click.argument("email")
@_fails_cleanly
def list_sessions(email: str) -> None:
    """Show EMAIL's live sessions, newest first (times are ISO 8601 UTC)."""
    records = ops.list_sessions_of(get_auth(), email)
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
    ended = ops.revoke_sessions(get_auth(), email, session_id)
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
    service = get_auth()
    total = ops.count_sessions(service)
    with click.progressbar(length=total, label="scanning sessions", file=sys.stderr) as bar:
        report = ops.flush_sessions(
            service, older_than_ms=older_than, dry_run=dry_run, progress=bar.update
        )
    verb = "would end" if report.dry_run else "ended"
    click.echo(f"scanned {report.scanned} session(s); {verb} {report.ended}")


# -- keys ---------------------------------------------------------------------------------


@click.command("keys")
@with_appcontext
@_fails_cleanly
def keys_command() -> None:
    """Print the Redis key layout under the configured REDIS_KEY_PREFIX, for redis-cli.

    See docs/redis.md for redis-cli recipes that keep the session index consistent.
    """
    service = get_auth()
    layout = ops.key_layout(service)
    click.echo(f"prefix: {service.settings.redis_key_prefix}")
    click.echo(_table(["key", "type", "holds", "ttl"], [list(row) for row in layout]))
    click.echo(
        "\n{<uid>} is a Redis Cluster hash tag: a user's keys share one slot, so one script "
        "can touch them all."
    )
