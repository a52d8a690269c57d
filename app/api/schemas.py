"""Marshmallow schemas at the HTTP boundary: what requests may carry, what responses show."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, fields, validate

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
    use_cookies = fields.Boolean(
        load_default=False,
        metadata={"description": "Set the tokens as HttpOnly cookies instead of the body."},
    )


class RefreshSchema(_Strict):
    refresh_token = fields.String(validate=validate.Length(1, 4096))
    use_cookies = fields.Boolean(
        load_default=False,
        metadata={"description": "Answer with cookies (implied when the token came by cookie)."},
    )


class PasswordChangeSchema(_Strict):
    current_password = fields.String(required=True, validate=validate.Length(1, PASSWORD_MAX))
    new_password = _password()


class UserSchema(Schema):
    id = fields.String(required=True)
    email = fields.String(required=True)
    created_at = fields.DateTime(format="iso", required=True)


class SessionSchema(Schema):
    id = fields.String(required=True)
    created_at = fields.DateTime(format="iso", required=True)
    last_used_at = fields.DateTime(format="iso", required=True)
    expires_at = fields.DateTime(format="iso", required=True)
    user_agent = fields.String(required=True)
    ip = fields.String(required=True)
    current = fields.Boolean(
        required=True, metadata={"description": "True for the session of the calling token."}
    )


class SessionListSchema(Schema):
    sessions = fields.List(
        fields.Nested(SessionSchema), required=True, metadata={"description": "Newest first."}
    )


class CookieSessionSchema(Schema):
    """A token pair in cookie mode: the tokens are in HttpOnly cookies, never in the body."""

    token_type = fields.String(required=True, validate=validate.OneOf(["Bearer"]))
    expires_in = fields.Integer(
        required=True, metadata={"description": "Seconds until the access token expires."}
    )
    refresh_expires_in = fields.Integer(
        required=True, metadata={"description": "Seconds until the refresh token expires."}
    )
    session_id = fields.String(required=True)


class TokenPairSchema(CookieSessionSchema):
    """A token pair for bearer clients: the cookie-mode fields plus the tokens themselves."""

    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    token = fields.String(
        required=True,
        metadata={"description": "The access token again, for clients of the old login."},
    )


class JwkSchema(Schema):
    """A public key (RFC 7517) that verifies Rotor's tokens: public members only."""

    kty = fields.String(required=True, validate=validate.OneOf(["OKP", "EC", "RSA"]))
    crv = fields.String()
    x = fields.String()
    y = fields.String()
    n = fields.String()
    e = fields.String()
    kid = fields.String(required=True, metadata={"description": "The RFC 7638 thumbprint."})
    alg = fields.String(required=True)
    use = fields.String(required=True, validate=validate.OneOf(["sig"]))


class JwkSetSchema(Schema):
    keys = fields.List(
        fields.Nested(JwkSchema),
        required=True,
        metadata={"description": "Empty with HS256: an HMAC key is a secret."},
    )


class IntrospectionRequestSchema(Schema):
    """RFC 7662 2.1, form-encoded; other parameters are ignored, as the RFC allows."""

    class Meta:
        unknown = EXCLUDE

    token = fields.String(
        required=True,
        validate=validate.Length(min=1),
        metadata={"description": "The token to ask about (an access token of Rotor's)."},
    )
    token_type_hint = fields.String(
        metadata={
            "description": "`access_token` or `refresh_token`; a hint only: only a live "
            "access token is ever active."
        }
    )


class IntrospectionSchema(Schema):
    """RFC 7662 2.2: ``{"active": false}`` and nothing more, unless the token is a live access
    token."""

    active = fields.Boolean(required=True)
    sub = fields.String(metadata={"description": "The user id."})
    sid = fields.String(metadata={"description": "The session id."})
    jti = fields.String()
    exp = fields.Integer(metadata={"description": "Expiry, seconds since the epoch."})
    iat = fields.Integer(metadata={"description": "Issue time, seconds since the epoch."})
    iss = fields.String()
    aud = fields.String()
    token_type = fields.String(validate=validate.OneOf(["access_token"]))


class HealthSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["ok"]))


class ReadinessSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["ready"]))
    maxmemory_policy = fields.String(
        required=True,
        metadata={"description": "Redis's eviction policy (`unknown` when CONFIG is refused)."},
    )
    warnings = fields.List(fields.String())


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"description": "A stable machine code."})
    message = fields.String(required=True, metadata={"description": "Text for people."})
    details = fields.Dict(
        keys=fields.String(), metadata={"description": "Per-field messages, when there are any."}
    )


class ErrorSchema(Schema):
    """The one envelope of every non-2xx answer (API.md)."""

    error = fields.Nested(ErrorBodySchema, required=True)
