"""Marshmallow schemas at the HTTP boundary: what requests may carry, what responses show."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, fields, validate

PASSWORD_MIN, PASSWORD_MAX = 8, 1024
EMAIL_MAX = 254


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class _EmailField(fields.Email):
    """An email, trimmed and lower-cased before it is checked."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().lower()
        return super()._deserialize(value, attr, data, **kwargs)


def _password(**kwargs: Any) -> fields.String:
    return fields.String(
        required=True, validate=validate.Length(PASSWORD_MIN, PASSWORD_MAX), **kwargs
    )


class RegisterSchema(_Strict):
    email = _EmailField(required=True, validate=validate.Length(max=EMAIL_MAX))
    password = _password()


class LoginSchema(_Strict):
    email = _EmailField(required=True, validate=validate.Length(max=EMAIL_MAX))
    # No minimum here: a login never reveals the password rules, it only checks.
    password = fields.String(required=True, validate=validate.Length(1, PASSWORD_MAX))


class RefreshSchema(_Strict):
    refresh_token = fields.String(validate=validate.Length(1, 4096))


class PasswordChangeSchema(_Strict):
    current_password = fields.String(required=True, validate=validate.Length(1, PASSWORD_MAX))
    new_password = _password()


class UserSchema(Schema):
    id = fields.String()
    email = fields.String()
    created_at = fields.DateTime(format="iso")


class SessionSchema(Schema):
    id = fields.String()
    created_at = fields.DateTime(format="iso")
    last_used_at = fields.DateTime(format="iso")
    expires_at = fields.DateTime(format="iso")
    user_agent = fields.String()
    ip = fields.String()
    current = fields.Boolean()


class SessionListSchema(Schema):
    sessions = fields.List(fields.Nested(SessionSchema))


class TokenPairSchema(Schema):
    access_token = fields.String()
    refresh_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()
    refresh_expires_in = fields.Integer()
    session_id = fields.String()
    token = fields.String()
