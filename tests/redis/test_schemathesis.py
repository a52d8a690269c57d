"""Schemathesis against the live app: every operation of /api/openapi.json, every check.

In-process WSGI on the real redis-server, without credentials and with the token of a fresh
session per case (so /logout, /logout-all and /password end only that case's session), with rate
limits off so that the cases reach the rules; and once more without credentials, rate limited.
Any 5xx, or any answer the document does not describe, fails the test.
"""

from __future__ import annotations

import base64
import itertools
import re
from typing import Any

import pytest
import redis
import schemathesis
from flask import Flask
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.auth.passwords import is_common_password
from tests.conftest import PASSWORD, AppFactory
from tests.servers import RedisServer

pytestmark = [pytest.mark.redis, pytest.mark.slow]

MAX_EXAMPLES = 30  # fuzzed cases per operation and run; the coverage phase adds its own
SEED = 20261129  # the same cases on every run
# RFC 6750 2.1: `Bearer` 1*SP b64token. Anything else is a malformed request (400).
_RFC6750 = re.compile(r"Bearer [A-Za-z0-9\-._~+/]+=*")
# Statuses that reject a request that breaks the document: schemathesis' defaults, and the
# size limits (a string past its maxLength can make the body too large before it is read).
REJECTED = [400, 401, 403, 404, 405, 406, 409, 413, 414, 415, 422, 428, 429, 431]
_users = itertools.count(1)
# A resource server's credentials for POST /api/auth/introspect (HTTP Basic).
INTROSPECTION_CLIENT = ("fuzz-resource-server", "fuzz-resource-server-secret-0123")


def _fresh_session_auth(app: Flask) -> type:
    """An auth provider that logs a new user in for every case it authenticates, and sends the
    access token, or on /refresh the refresh token (unless the case has one in its body)."""
    client = app.test_client()

    class FreshSession:
        def get(self, case: schemathesis.Case, ctx: schemathesis.AuthContext) -> dict[str, Any]:
            credentials = {"email": f"fuzz{next(_users)}@example.com", "password": PASSWORD}
            registered = client.post("/api/auth/register", json=credentials)
            assert registered.status_code == 201, registered.json
            login = client.post("/api/auth/login", json=credentials)
            assert login.status_code == 200, login.json
            return dict(login.json)

        def set(
            self, case: schemathesis.Case, pair: dict[str, Any], ctx: schemathesis.AuthContext
        ) -> None:
            if "refreshToken" not in _security_schemes(ctx):
                token = pair["access_token"]
            elif isinstance(case.body, dict) and "refresh_token" in case.body:
                return  # both places would be a 400 by design: keep the case as generated
            else:
                token = pair["refresh_token"]
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}

    return FreshSession


def _security_schemes(ctx: schemathesis.AuthContext) -> set[str]:
    return {name for req in ctx.operation.definition.raw.get("security", []) for name in req}


def _takes_a_session_token(ctx: schemathesis.AuthContext) -> bool:
    return bool(_security_schemes(ctx) & {"accessToken", "refreshToken"})


def _takes_a_client(ctx: schemathesis.AuthContext) -> bool:
    return "introspectionClient" in _security_schemes(ctx)


class IntrospectionClient:
    """HTTP Basic as the one client of INTROSPECTION_CLIENTS."""

    def get(self, case: schemathesis.Case, ctx: schemathesis.AuthContext) -> str:
        client_id, secret = INTROSPECTION_CLIENT
        return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()

    def set(self, case: schemathesis.Case, value: str, ctx: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": value}


@pytest.fixture
def real_backend(redis_server: RedisServer) -> RedisServer:
    """The one redis-server only: the HTTP contract is the same on a cluster, and the fuzzing
    budget is better spent on more cases than on a second backend."""
    return redis_server


@pytest.fixture(
    params=[
        pytest.param(("anonymous", False), id="anonymous"),
        pytest.param(("authenticated", False), id="authenticated"),
        # The limiter reads the bodies it counts by: fuzz it too (429s are documented).
        pytest.param(("anonymous", True), id="anonymous-rate-limited"),
    ]
)
def api_schema(
    request: pytest.FixtureRequest, app_factory: AppFactory, real_redis: redis.Redis
) -> Any:
    who, rate_limited = request.param
    # schemathesis 4.32.5's from_fixture reads and writes `_nodeid`, which pytest 9.2 dropped
    # (it has `nodeid` only); give it the attribute so the per-operation subtests can run.
    request.node._nodeid = request.node.nodeid
    app = app_factory.app(
        real_redis, ratelimit_enabled=rate_limited, introspection_clients=(INTROSPECTION_CLIENT,)
    )
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {"max-examples": MAX_EXAMPLES},
            "checks": {"enabled": True, "negative_data_rejection": {"expected-statuses": REJECTED}},
        }
    )
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app, config=config)
    if who == "authenticated":
        schema.auth(refresh_interval=None).apply_to(_takes_a_session_token)(
            _fresh_session_auth(app)
        )
        schema.auth().apply_to(_takes_a_client)(IntrospectionClient)
    return schema


def _refused_by_design(case: schemathesis.Case, response: Any) -> bool:
    """A schema-valid request that Rotor refuses on purpose, for a rule JSON Schema cannot say:

    - 400 ``invalid_request`` for an ``Authorization: Bearer`` value that RFC 6750 calls
      malformed (``Bearer ``, ``Bearer a b``), or for a token sent in more than one place
      (header, cookie, body), where each alternative of the document alone is valid;
    - 422 for a password of the right length that is one of the most common passwords.
    """
    if response.status_code not in (400, 422):
        return False
    error = response.json()["error"]
    if error["code"] == "invalid_request":
        authorization = (case.headers or {}).get("Authorization", "")
        malformed = authorization.startswith("Bearer") and not _RFC6750.fullmatch(authorization)
        body = case.body if isinstance(case.body, dict) else {}
        places = [bool(authorization), *(bool(v) for v in (case.cookies or {}).values()),
                  "refresh_token" in body]  # fmt: skip
        return malformed or sum(places) > 1
    if error["code"] == "validation_error" and isinstance(case.body, dict):
        fields = set(error.get("details", {}))
        return bool(fields) and all(
            isinstance(case.body.get(name), str) and is_common_password(case.body[name])
            for name in fields
        )
    return False


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_api_answers_as_documented(case: schemathesis.Case) -> None:
    response = case.call()
    excused = [positive_data_acceptance] if _refused_by_design(case, response) else []
    case.validate_response(response, excluded_checks=excused)
