"""Settings: defaults of API.md, validation that stops a bad startup with a clear message."""

from __future__ import annotations

import pytest

from config import ConfigError, Settings

GOOD_SECRET = "s" * 32
SENTINELS = {"JWT_SECRET_KEY": GOOD_SECRET, "REDIS_SENTINELS": "h:1", "REDIS_SENTINEL_MASTER": "m"}


def test_defaults_follow_the_contract():
    settings = Settings.from_env({"JWT_SECRET_KEY": GOOD_SECRET})
    assert settings.env == "production"
    assert settings.access_token_ttl == 900
    assert settings.refresh_token_ttl == 604_800
    assert settings.session_max_lifetime == 2_592_000
    assert settings.refresh_reuse_grace == 10
    assert settings.max_sessions_per_user == 20
    assert settings.bcrypt_rounds == 12
    assert settings.redis_key_prefix == "auth:"
    assert (settings.jwt_issuer, settings.jwt_audience) == ("rotor", "rotor")
    assert settings.reuse_policy == "revoke_session"
    assert settings.redis_url is None


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "JWT_SECRET_KEY is not set"),
        ({"ROTOR_ENV": "testing"}, "JWT_SECRET_KEY is not set"),
        ({"JWT_SECRET_KEY": "s" * 31}, "shorter than 32 bytes"),
        ({"ROTOR_ENV": "development", "JWT_SECRET_KEY": "short"}, "shorter than 32 bytes"),
        ({"JWT_SECRET_KEY": GOOD_SECRET, "ACCESS_TOKEN_TTL": "ten"}, "ACCESS_TOKEN_TTL"),
        ({"JWT_SECRET_KEY": GOOD_SECRET, "REFRESH_TOKEN_TTL": "0"}, "REFRESH_TOKEN_TTL"),
        ({"JWT_SECRET_KEY": GOOD_SECRET, "REUSE_POLICY": "shrug"}, "REUSE_POLICY"),
        ({"JWT_SECRET_KEY": GOOD_SECRET, "BCRYPT_ROUNDS": "4"}, "BCRYPT_ROUNDS"),
        ({"JWT_SECRET_KEY": GOOD_SECRET, "ROTOR_ENV": "staging"}, "ROTOR_ENV"),
        ({"JWT_SECRET_KEY": GOOD_SECRET, "RATELIMIT_ENABLED": "maybe"}, "RATELIMIT_ENABLED"),
        ({"JWT_SECRET_KEY": GOOD_SECRET, "REDIS_CLUSTER": "1"}, "REDIS_CLUSTER"),
        ({"JWT_SECRET_KEY": GOOD_SECRET, "REDIS_SENTINELS": "h:26379"}, "set both or neither"),
        ({"JWT_SECRET_KEY": GOOD_SECRET, "REDIS_SENTINEL_MASTER": "m"}, "set both or neither"),
        ({**SENTINELS, "REDIS_SENTINELS": "h:1,h"}, "host:port"),
        ({**SENTINELS, "REDIS_SENTINELS": "h:1,h:0"}, "host:port"),
        ({**SENTINELS, "REDIS_URL": "redis://h:6379/0"}, "only one of them"),
        ({**SENTINELS, "REDIS_CLUSTER": "1", "REDIS_URL": "redis://h:6379/0"}, "only one of them"),
        ({"JWT_SECRET_KEY": GOOD_SECRET, "REDIS_KEY_PREFIX": "{auth}:"}, "must not contain"),
        ({"JWT_SECRET_KEY": GOOD_SECRET, "REDIS_KEY_PREFIX": "auth}"}, "must not contain"),
        ({"JWT_SECRET_KEY": GOOD_SECRET, "REDIS_KEY_PREFIX": "a{"}, "must not contain"),
        ({"JWT_SECRET_KEY": GOOD_SECRET, "PASSWORD_PEPPER": "p" * 31}, "PASSWORD_PEPPER"),
    ],
)
def test_unusable_settings_stop_startup(environ, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(environ)


def test_sentinels_are_a_list_of_addresses():
    settings = Settings.from_env(
        {"JWT_SECRET_KEY": GOOD_SECRET, "REDIS_SENTINEL_MASTER": "rotor",
         "REDIS_SENTINELS": "10.0.0.1:26379, sentinel-b:26380,[::1]:26381"}
    )  # fmt: skip
    assert settings.sentinel_addresses() == [
        ("10.0.0.1", 26379),
        ("sentinel-b", 26380),
        ("::1", 26381),
    ]


def test_the_pepper_never_reaches_the_log_summary():
    pepper = "p" * 32
    settings = Settings.from_env({"JWT_SECRET_KEY": GOOD_SECRET, "PASSWORD_PEPPER": pepper})
    assert settings.password_pepper == pepper
    assert settings.public_summary()["password_pepper"] == "<set>"
    assert pepper not in str(settings.public_summary()) + repr(settings)


def test_development_gets_a_random_secret_per_process():
    first = Settings.from_env({"ROTOR_ENV": "development"})
    second = Settings.from_env({"ROTOR_ENV": "development"})
    assert len(first.jwt_secret_key) >= 32
    assert first.jwt_secret_key != second.jwt_secret_key


@pytest.mark.parametrize(
    ("url", "logged"),
    [
        ("redis://:hunter2@redis:6379/0", "redis://***@redis:6379/0"),
        ("redis://rotor:hunter2@redis:6379/0", "redis://***@redis:6379/0"),
        ("redis://redis:6379/0?password=hunter2", "redis://redis:6379/0?password=***"),
        (
            "rediss://redis:6380/0?db=0&username=rotor&password=hunter2&socket_timeout=2",
            "rediss://redis:6380/0?db=0&username=***&password=***&socket_timeout=2",
        ),
        (
            "unix:///run/redis.sock?db=0&password=hunter2",
            "unix:///run/redis.sock?db=0&password=***",
        ),
        (
            "redis://redis:6379/0?ssl_keyfile_password=hunter2",
            "redis://redis:6379/0?ssl_keyfile_password=***",
        ),
        ("redis://redis:6379/0?Auth_Token=hunter2", "redis://redis:6379/0?Auth_Token=***"),
        ("redis://redis:6379/0", "redis://redis:6379/0"),
    ],
)
def test_no_credential_of_the_redis_url_reaches_the_log_summary(url, logged):
    settings = Settings.from_env({"JWT_SECRET_KEY": GOOD_SECRET, "REDIS_URL": url})
    summary = settings.public_summary()
    assert GOOD_SECRET not in str(summary)
    assert "hunter2" not in str(summary)
    assert "rotor:" not in summary["redis_url"]
    assert summary["redis_url"] == logged
