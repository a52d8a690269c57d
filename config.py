"""Rotor's settings: read the environment once, validate, and hand Flask its config.

`Settings.from_env()` is the only place that reads `os.environ`; the rest of the code gets a
frozen `Settings` through `app.settings.get_settings()`.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from limits import parse_many

ENVIRONMENTS = ("development", "production", "testing")
REUSE_POLICIES = ("revoke_session", "revoke_user", "alert_only")
MIN_SECRET_BYTES = 32
JWT_ALGORITHMS = ("HS256", "EdDSA", "ES256", "RS256")
_NUMBERED_KEY = re.compile(r"JWT_PRIVATE_KEY_(\d+)")
# Introspection client ids and secrets: URL-safe characters only, so HTTP Basic carries them
# unchanged whether or not a client form-encodes them first (RFC 6749 2.3.1).
_CLIENT_CREDENTIAL = re.compile(r"[A-Za-z0-9._~-]+")
MIN_CLIENT_SECRET_CHARS = 16
# Cookie mode (API.md "Web clients"): the refresh cookie is sent to the auth endpoints only;
# cookie-authenticated requests with these methods echo the CSRF cookie in the CSRF header.
REFRESH_COOKIE_PATH = "/api/auth"
CSRF_HEADER = "X-CSRF-TOKEN"
CSRF_METHODS = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True, slots=True)
class CookieNames:
    """The cookies of cookie mode: flask-jwt-extended's default names, with the prefixes a
    secure deployment allows (``__Host-``: Path=/ and no Domain; ``__Secure-`` for the
    path-scoped refresh cookie, which cannot be ``__Host-``)."""

    access: str
    refresh: str
    access_csrf: str = "csrf_access_token"
    refresh_csrf: str = "csrf_refresh_token"


class ConfigError(ValueError):
    """A setting is missing or out of range; startup must stop with this message."""


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def _float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be 0 or 1, got {raw!r}")


@dataclass(frozen=True, slots=True)
class PemKey:
    """A signing key's PEM text and where it came from (a file path or a variable name).

    The PEM stays out of ``repr`` so a logged Settings never shows it.
    """

    source: str
    pem: str = field(repr=False)


def _signing_keys(environ: Mapping[str, str]) -> tuple[PemKey, ...]:
    """The keys of JWT_SIGNING_KEYS (PEM files, in order) or of JWT_PRIVATE_KEY_<n> (PEM text,
    by ascending n); the first one signs. Setting both is ambiguous, so it is an error."""
    paths = _list(environ, "JWT_SIGNING_KEYS")
    numbered = sorted(
        (int(match[1]), name)
        for name in environ
        if (match := _NUMBERED_KEY.fullmatch(name)) and environ[name].strip()
    )
    if paths and numbered:
        raise ConfigError(
            "set JWT_SIGNING_KEYS (PEM files) or JWT_PRIVATE_KEY_<n> (PEM text), not both"
        )
    keys = []
    for path in paths:
        try:
            keys.append(PemKey(path, Path(path).read_text()))
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not a PEM text file"
            raise ConfigError(f"JWT_SIGNING_KEYS: cannot read {path}: {reason}") from None
    for _, name in numbered:
        pem = environ[name].strip()
        if "\n" not in pem:  # one line, as .env files and some orchestrators store it
            pem = pem.replace("\\n", "\n")
        keys.append(PemKey(name, pem + "\n"))
    return tuple(keys)


def _list(environ: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated setting, blanks dropped."""
    return tuple(item.strip() for item in environ.get(name, "").split(",") if item.strip())


def _introspection_clients(environ: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """INTROSPECTION_CLIENTS: ``id:secret,id:secret`` as (id, secret) pairs."""
    clients = []
    for entry in _list(environ, "INTROSPECTION_CLIENTS"):
        client_id, sep, secret = entry.partition(":")
        if not sep:
            # The entry itself is not quoted: it may be a secret.
            raise ConfigError(
                "INTROSPECTION_CLIENTS takes id:secret,id:secret,...: an entry has no ':'"
            )
        clients.append((client_id, secret))
    return tuple(clients)


def _address(text: str) -> tuple[str, int]:
    """(host, port) of ``host:port`` or ``[ipv6]:port``; ValueError when it is neither."""
    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(text)
    return host, int(port)


@dataclass(frozen=True)
class Settings:
    """Every setting Rotor reads, with the defaults of API.md."""

    env: str = "production"  # development | production | testing
    redis_url: str | None = None
    redis_cluster: bool = False
    redis_sentinels: tuple[str, ...] = ()  # "host:port" of each sentinel
    redis_sentinel_master: str = ""
    redis_key_prefix: str = "auth:"
    redis_timeout: float = 2.0
    jwt_secret_key: str = ""
    # HS256 signs with jwt_secret_key; EdDSA, ES256 and RS256 with the first of
    # jwt_signing_keys (all of them verify, by kid).
    jwt_algorithm: str = "HS256"
    jwt_signing_keys: tuple[PemKey, ...] = ()
    jwt_issuer: str = "rotor"
    jwt_audience: str = "rotor"
    access_token_ttl: int = 900
    refresh_token_ttl: int = 604_800
    session_max_lifetime: int = 2_592_000
    refresh_reuse_grace: int = 10
    max_sessions_per_user: int = 20
    bcrypt_rounds: int = 12
    # Key of the HMAC-SHA-256 pre-hash of passwords; "" for plain SHA-256. Out of repr: it is
    # a secret, and Settings may be printed.
    password_pepper: str = field(default="", repr=False)
    ratelimit_enabled: bool = True
    reuse_policy: str = "revoke_session"
    cookie_secure: bool = True
    metrics_token: str = ""
    # Resource servers that may call POST /api/auth/introspect: (client id, secret) pairs.
    introspection_clients: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    trusted_proxies: int = 0  # reverse proxies in front whose X-Forwarded-For/-Proto to trust
    cors_origins: tuple[str, ...] = ()
    # Rate limits, in Flask-Limiter's notation ("10/minute;100/hour").
    # Failed password checks per email and client address (login and password change).
    ratelimit_login_account: str = "10/minute;50/hour"
    # The brake: failed checks per email from all addresses; "" turns it off.
    ratelimit_login_account_all_ips: str = "100/hour"
    ratelimit_login_ip: str = "60/minute"
    ratelimit_refresh_session: str = "30/minute"
    ratelimit_refresh_ip: str = "600/minute"
    ratelimit_register_ip: str = "20/hour"
    log_level: str = "INFO"
    max_body_bytes: int = 16 * 1024
    max_header_bytes: int = 8 * 1024

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables (``os.environ`` by default)."""
        env = os.environ if environ is None else environ
        d = cls()
        settings = cls(
            env=env.get("ROTOR_ENV", d.env),
            redis_url=env.get("REDIS_URL") or None,
            redis_cluster=_bool(env, "REDIS_CLUSTER", d.redis_cluster),
            redis_sentinels=_list(env, "REDIS_SENTINELS"),
            redis_sentinel_master=env.get("REDIS_SENTINEL_MASTER", d.redis_sentinel_master),
            redis_key_prefix=env.get("REDIS_KEY_PREFIX", d.redis_key_prefix),
            redis_timeout=_float(env, "REDIS_TIMEOUT", d.redis_timeout),
            jwt_secret_key=env.get("JWT_SECRET_KEY", ""),
            jwt_algorithm=env.get("JWT_ALGORITHM", "") or d.jwt_algorithm,
            jwt_signing_keys=_signing_keys(env),
            jwt_issuer=env.get("JWT_ISSUER", d.jwt_issuer),
            jwt_audience=env.get("JWT_AUDIENCE", d.jwt_audience),
            access_token_ttl=_int(env, "ACCESS_TOKEN_TTL", d.access_token_ttl),
            refresh_token_ttl=_int(env, "REFRESH_TOKEN_TTL", d.refresh_token_ttl),
            session_max_lifetime=_int(env, "SESSION_MAX_LIFETIME", d.session_max_lifetime),
            refresh_reuse_grace=_int(env, "REFRESH_REUSE_GRACE", d.refresh_reuse_grace),
            max_sessions_per_user=_int(env, "MAX_SESSIONS_PER_USER", d.max_sessions_per_user),
            bcrypt_rounds=_int(env, "BCRYPT_ROUNDS", d.bcrypt_rounds),
            password_pepper=env.get("PASSWORD_PEPPER", d.password_pepper),
            ratelimit_enabled=_bool(env, "RATELIMIT_ENABLED", d.ratelimit_enabled),
            reuse_policy=env.get("REUSE_POLICY", d.reuse_policy),
            cookie_secure=_bool(env, "COOKIE_SECURE", d.cookie_secure),
            metrics_token=env.get("METRICS_TOKEN", d.metrics_token),
            introspection_clients=_introspection_clients(env),
            trusted_proxies=_int(env, "TRUSTED_PROXIES", d.trusted_proxies),
            cors_origins=_list(env, "CORS_ORIGINS"),
            ratelimit_login_account=env.get("RATELIMIT_LOGIN_ACCOUNT", d.ratelimit_login_account),
            ratelimit_login_account_all_ips=env.get(
                "RATELIMIT_LOGIN_ACCOUNT_ALL_IPS", d.ratelimit_login_account_all_ips
            ),
            ratelimit_login_ip=env.get("RATELIMIT_LOGIN_IP", d.ratelimit_login_ip),
            ratelimit_refresh_session=env.get(
                "RATELIMIT_REFRESH_SESSION", d.ratelimit_refresh_session
            ),
            ratelimit_refresh_ip=env.get("RATELIMIT_REFRESH_IP", d.ratelimit_refresh_ip),
            ratelimit_register_ip=env.get("RATELIMIT_REGISTER_IP", d.ratelimit_register_ip),
            log_level=env.get("LOG_LEVEL", d.log_level).upper(),
        )
        return settings.validated()

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed, validated again (tests, benchmarks)."""
        return replace(self, **changes).validated()

    def validated(self) -> Settings:
        """Check ranges; fill in a development secret; raise ConfigError when unusable."""
        if self.env not in ENVIRONMENTS:
            raise ConfigError(f"ROTOR_ENV must be one of {', '.join(ENVIRONMENTS)}")
        settings = self._with_signing_keys_checked()
        if len(settings.jwt_secret_key.encode()) < MIN_SECRET_BYTES:
            what = "is not set" if not settings.jwt_secret_key else "is shorter than 32 bytes"
            raise ConfigError(
                f"JWT_SECRET_KEY {what}: set it to at least 32 random bytes, e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            )
        positive = {
            "ACCESS_TOKEN_TTL": settings.access_token_ttl,
            "REFRESH_TOKEN_TTL": settings.refresh_token_ttl,
            "SESSION_MAX_LIFETIME": settings.session_max_lifetime,
            "MAX_SESSIONS_PER_USER": settings.max_sessions_per_user,
        }
        for name, value in positive.items():
            if value <= 0:
                raise ConfigError(f"{name} must be positive, got {value}")
        if settings.trusted_proxies < 0:
            raise ConfigError("TRUSTED_PROXIES must be 0 or more")
        if settings.refresh_reuse_grace < 0:
            raise ConfigError("REFRESH_REUSE_GRACE must be 0 or more")
        if not 4 <= settings.bcrypt_rounds <= 31:
            raise ConfigError("BCRYPT_ROUNDS must be between 4 and 31")
        if settings.env == "production" and settings.bcrypt_rounds < 10:
            raise ConfigError("BCRYPT_ROUNDS below 10 is allowed only outside production")
        if settings.password_pepper and len(settings.password_pepper.encode()) < MIN_SECRET_BYTES:
            raise ConfigError(
                "PASSWORD_PEPPER is shorter than 32 bytes: set it to at least 32 random bytes "
                "(or leave it unset)"
            )
        if settings.reuse_policy not in REUSE_POLICIES:
            raise ConfigError(f"REUSE_POLICY must be one of {', '.join(REUSE_POLICIES)}")
        if not settings.redis_key_prefix:
            raise ConfigError("REDIS_KEY_PREFIX must not be empty")
        if "{" in settings.redis_key_prefix or "}" in settings.redis_key_prefix:
            # Redis Cluster hashes the first {...} of a key: a brace in the prefix would make
            # it the hash tag of every key, and put every user in one slot.
            raise ConfigError(
                "REDIS_KEY_PREFIX must not contain { or }: Rotor's keys carry a hash tag of "
                "their own, and one in the prefix would put every user in one Cluster slot"
            )
        for name in ("login_account", "login_account_all_ips", "login_ip", "refresh_session",
                     "refresh_ip", "register_ip"):  # fmt: skip
            rule = getattr(settings, f"ratelimit_{name}")
            if name == "login_account_all_ips" and rule == "":
                continue  # the brake is optional
            try:
                parse_many(rule)
            except ValueError:
                raise ConfigError(
                    f"RATELIMIT_{name.upper()} must look like '10/minute;100/hour'"
                ) from None
        for origin in settings.cors_origins:
            if origin == "*" or not origin.startswith(("https://", "http://")):
                raise ConfigError(
                    "CORS_ORIGINS takes explicit origins like https://app.example.com, "
                    f"got {origin!r}"
                )
        if settings.redis_cluster and not settings.redis_url:
            raise ConfigError("REDIS_CLUSTER=1 needs REDIS_URL naming a cluster node")
        settings._validate_sentinels()
        settings._validate_introspection_clients()
        return settings

    def _validate_introspection_clients(self) -> None:
        ids = [client_id for client_id, _ in self.introspection_clients]
        if len(set(ids)) != len(ids):
            raise ConfigError("INTROSPECTION_CLIENTS names a client id twice")
        for client_id, secret in self.introspection_clients:
            if not _CLIENT_CREDENTIAL.fullmatch(client_id):
                raise ConfigError(
                    "INTROSPECTION_CLIENTS: a client id is 1 or more of A-Z a-z 0-9 . _ ~ -, "
                    f"got {client_id!r}"
                )
            if len(secret) < MIN_CLIENT_SECRET_CHARS or not _CLIENT_CREDENTIAL.fullmatch(secret):
                raise ConfigError(
                    f"INTROSPECTION_CLIENTS: the secret of {client_id!r} must be at least "
                    f"{MIN_CLIENT_SECRET_CHARS} of A-Z a-z 0-9 . _ ~ -, e.g. "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
                )

    def _validate_sentinels(self) -> None:
        if bool(self.redis_sentinels) != bool(self.redis_sentinel_master):
            raise ConfigError(
                "REDIS_SENTINELS and REDIS_SENTINEL_MASTER go together: set both or neither"
            )
        if not self.redis_sentinels:
            return
        if self.redis_url or self.redis_cluster:
            raise ConfigError(
                "REDIS_SENTINELS replaces REDIS_URL and REDIS_CLUSTER: set only one of them"
            )
        for sentinel in self.redis_sentinels:
            try:
                _address(sentinel)
            except ValueError:
                raise ConfigError(
                    f"REDIS_SENTINELS takes host:port,host:port,..., got {sentinel!r}"
                ) from None

    def sentinel_addresses(self) -> list[tuple[str, int]]:
        """(host, port) of each sentinel in REDIS_SENTINELS."""
        return [_address(sentinel) for sentinel in self.redis_sentinels]

    def _with_signing_keys_checked(self) -> Settings:
        """Check JWT_ALGORITHM against the keys given; fill in a secret where one may be random.

        The keys' contents (type, size) are checked where they are loaded, in
        ``app.auth.keys``, which raises ConfigError too when the app is built.
        """
        algorithm = self.jwt_algorithm
        if algorithm not in JWT_ALGORITHMS:
            raise ConfigError(
                f"JWT_ALGORITHM must be one of {', '.join(JWT_ALGORITHMS)}, got {algorithm!r}"
            )
        if algorithm == "HS256" and self.jwt_signing_keys:
            raise ConfigError(
                "JWT_SIGNING_KEYS / JWT_PRIVATE_KEY_<n> are set but JWT_ALGORITHM is HS256 (which "
                "signs with JWT_SECRET_KEY): set JWT_ALGORITHM to EdDSA, ES256 or RS256"
            )
        if algorithm != "HS256" and not self.jwt_signing_keys:
            raise ConfigError(
                f"JWT_ALGORITHM={algorithm} needs a signing key: set JWT_SIGNING_KEYS to PEM "
                "file paths (the first signs, all verify) or JWT_PRIVATE_KEY_1 to PEM text; "
                f"`flask --app wsgi keys generate --alg {algorithm}` writes one"
            )
        if not self.jwt_secret_key and (self.env == "development" or algorithm != "HS256"):
            # A random secret per process. In development tokens do not survive a restart, by
            # design; with key pairs it is only Flask's SECRET_KEY, which Rotor never uses.
            return replace(self, jwt_secret_key=secrets.token_urlsafe(48))
        return self

    @cached_property
    def cookie_names(self) -> CookieNames:
        """The token cookies' names: prefixed when cookies are Secure (browsers accept the
        prefixes only over HTTPS), flask-jwt-extended's plain defaults for local HTTP."""
        if self.cookie_secure:
            return CookieNames("__Host-access_token_cookie", "__Secure-refresh_token_cookie")
        return CookieNames("access_token_cookie", "refresh_token_cookie")

    def flask_config(self) -> dict[str, Any]:
        """The Flask settings derived from ours, flask-jwt-extended's ``JWT_*`` included (Rotor
        uses no Flask session, so no SECRET_KEY).

        The signing and verifying keys are not here: they come from the key ring through
        flask-jwt-extended's key loaders (``app.auth.tokens``), HS256's secret included.
        """
        names = self.cookie_names
        return {
            "MAX_CONTENT_LENGTH": self.max_body_bytes,
            # One algorithm, pinned: a token that names any other is refused.
            "JWT_ALGORITHM": self.jwt_algorithm,
            "JWT_DECODE_ALGORITHMS": [self.jwt_algorithm],
            "JWT_ENCODE_ISSUER": self.jwt_issuer,
            "JWT_DECODE_ISSUER": self.jwt_issuer,
            "JWT_ENCODE_AUDIENCE": self.jwt_audience,
            "JWT_DECODE_AUDIENCE": self.jwt_audience,
            "JWT_IDENTITY_CLAIM": "sub",
            "JWT_VERIFY_SUB": True,
            "JWT_DECODE_LEEWAY": 0,
            "JWT_ENCODE_NBF": False,
            # Lifetimes; each token's exact exp is set from the session's deadlines as issued.
            "JWT_ACCESS_TOKEN_EXPIRES": timedelta(seconds=self.access_token_ttl),
            "JWT_REFRESH_TOKEN_EXPIRES": timedelta(seconds=self.refresh_token_ttl),
            # Where tokens are read: never the query string. The JSON body carries only a
            # refresh token (``refresh_token``); access-token views read headers and cookies.
            "JWT_TOKEN_LOCATION": ("headers", "cookies", "json"),
            "JWT_HEADER_NAME": "Authorization",
            "JWT_HEADER_TYPE": "Bearer",
            "JWT_JSON_KEY": "refresh_token",
            "JWT_REFRESH_JSON_KEY": "refresh_token",
            # Cookie mode: HttpOnly token cookies, signed double-submit CSRF.
            "JWT_ACCESS_COOKIE_NAME": names.access,
            "JWT_REFRESH_COOKIE_NAME": names.refresh,
            "JWT_ACCESS_COOKIE_PATH": "/",
            "JWT_REFRESH_COOKIE_PATH": REFRESH_COOKIE_PATH,
            "JWT_COOKIE_SECURE": self.cookie_secure,
            "JWT_COOKIE_SAMESITE": "Strict",
            "JWT_COOKIE_DOMAIN": None,
            "JWT_SESSION_COOKIE": True,  # each cookie is given its token's lifetime as set
            "JWT_COOKIE_CSRF_PROTECT": True,
            "JWT_CSRF_IN_COOKIES": True,
            "JWT_CSRF_METHODS": list(CSRF_METHODS),
            "JWT_CSRF_CHECK_FORM": False,
            "JWT_ACCESS_CSRF_HEADER_NAME": CSRF_HEADER,
            "JWT_REFRESH_CSRF_HEADER_NAME": CSRF_HEADER,
            "JWT_ACCESS_CSRF_COOKIE_NAME": names.access_csrf,
            "JWT_REFRESH_CSRF_COOKIE_NAME": names.refresh_csrf,
            # Script-readable from any page of the site, so the page can echo them.
            "JWT_ACCESS_CSRF_COOKIE_PATH": "/",
            "JWT_REFRESH_CSRF_COOKIE_PATH": "/",
        }

    def public_summary(self) -> dict[str, Any]:
        """Settings safe to log: everything but the secret."""
        summary = asdict(self)
        summary["jwt_secret_key"] = "<set>" if self.jwt_secret_key else "<unset>"
        summary["jwt_signing_keys"] = [key.source for key in self.jwt_signing_keys]
        summary["metrics_token"] = "<set>" if self.metrics_token else "<unset>"
        summary["password_pepper"] = "<set>" if self.password_pepper else "<unset>"
        summary["introspection_clients"] = [client for client, _ in self.introspection_clients]
        if self.redis_url:
            summary["redis_url"] = redact_url(self.redis_url)
        return summary


# Query parameters of a URL that hold, or may hold, a credential (redis-py passes unknown
# ones to the connection: ?password=..., ?username=..., ssl_keyfile_password=...).
_CREDENTIAL_PARAM = re.compile(r"pass|pwd|secret|token|key|auth|user|cred", re.IGNORECASE)


def redact_url(url: str) -> str:
    """A URL fit for a log: ``user:password@`` and every credential-like query parameter
    (``?password=``, ``?username=``, ``?token=``...) replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    location, query_sep, query = rest.partition("?")
    if "@" in location:  # the last one: a password may hold "@" or "/" (percent-encoded or not)
        location = "***@" + location.rpartition("@")[2]
    if query_sep:
        params = []
        for param in query.split("&"):
            name, eq, _value = param.partition("=")
            secret = _CREDENTIAL_PARAM.search(unquote(name))
            params.append(f"{name}{eq}***" if secret and eq else param)
        query = "&".join(params)
    return f"{scheme}{sep}{location}{query_sep}{query}"
