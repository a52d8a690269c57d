"""What makes an account's email and password acceptable: one set of rules for every door
(the API's schemas use them at the HTTP boundary, the service and the CLI through it)."""

from __future__ import annotations

from marshmallow import ValidationError, validate

from app.auth.passwords import is_common_password

PASSWORD_MIN, PASSWORD_MAX = 8, 1024
EMAIL_MAX = 254

# marshmallow's validators used as plain callables: the same checks, and the same words, as
# the API's schemas, whose fields take them.
EMAIL_LENGTH = validate.Length(max=EMAIL_MAX)
PASSWORD_LENGTH = validate.Length(PASSWORD_MIN, PASSWORD_MAX)
_EMAIL_FORMAT = validate.Email()
COMMON_PASSWORD = "This password is too common: choose a longer or less guessable one."


def normalize_email(email: str) -> str:
    """Emails are one account however they are cased or padded."""
    return email.strip().lower()


def new_account_problems(email: str, password: str) -> dict[str, list[str]]:
    """What is wrong with a new account's (normalized) email and password, by field; empty
    when nothing is."""
    problems: dict[str, list[str]] = {}
    for field, value, checks in (
        ("email", email, (EMAIL_LENGTH, _EMAIL_FORMAT)),
        ("password", password, (PASSWORD_LENGTH,)),
    ):
        for check in checks:
            try:
                check(value)
            except ValidationError as exc:
                problems.setdefault(field, []).extend(map(str, exc.messages))
    if "password" not in problems and is_common_password(password):
        problems["password"] = [COMMON_PASSWORD]
    return problems
