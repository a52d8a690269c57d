"""examples/resource_server run the way the README says (gunicorn -w 2, environment variables
only, Redis as the read-only user of the README's ACL line), and the kit verifying EdDSA tokens
through Rotor's JWKS served over HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import redis
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from flask import Flask
from jwt.utils import base64url_encode
from werkzeug.serving import make_server

from config import PemKey
from rotor_resource_kit import SessionWatch
from tests.conftest import SECRET, AppFactory, AuthActions
from tests.redis.test_resource_kit import resource_server
from tests.revocation import ACL_USER, readme_acl_rules, wait_for_refusal
from tests.servers import REPO, RedisServer, free_port, http_call, wait_until

pytestmark = [pytest.mark.redis, pytest.mark.slow]

RS_USER, RS_PASSWORD = ACL_USER, "example-rs-password-0123"


@pytest.fixture
def rotor_redis(redis_server: RedisServer) -> Iterator[redis.Redis]:
    admin = redis_server.client()
    admin.flushdb()
    admin.execute_command("ACL", "SETUSER", RS_USER, "reset", *readme_acl_rules(RS_PASSWORD))
    yield admin
    admin.acl_deluser(RS_USER)
    admin.close()


@pytest.fixture
def example(redis_server: RedisServer, rotor_redis: redis.Redis, tmp_path: Path) -> Iterator[str]:
    """gunicorn -w 2 examples.resource_server.app:app from the repository root, configured by
    the environment only."""
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "JWT_SECRET_KEY": SECRET,
        "REDIS_URL": f"redis://{RS_USER}:{RS_PASSWORD}@127.0.0.1:{redis_server.port}/0",
        "JWT_ISSUER": "rotor",
        "JWT_AUDIENCE": "rotor",
    }
    log = (tmp_path / "gunicorn.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "--bind", f"127.0.0.1:{port}",
         "examples.resource_server.app:app"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(url), timeout=30)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def _answers(url: str) -> bool:
    try:
        return http_call(f"{url}/api/protected")[0] == 401
    except OSError:
        return False


def _get(url: str, token: str | None) -> tuple[int, dict, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    status, response_headers, body = http_call(f"{url}/api/protected", headers=headers)
    return status, dict(response_headers), json.loads(body)


def test_the_example_under_gunicorn_serves_live_tokens_and_refuses_ended_sessions(
    example, app_factory: AppFactory, rotor_redis
):
    auth = app_factory(rotor_redis)
    session = auth.register_and_login()
    token = session["access_token"]
    answers = [_get(example, token) for _ in range(20)]  # both workers
    assert {(status, json.dumps(body)) for status, _, body in answers} == {
        (200, json.dumps({"sid": session["session_id"], "sub": session["user_id"]}))
    }
    assert auth.post("/api/auth/logout", token).status_code == 204
    wait_for_refusal(lambda: _get(example, token)[0], "logout (example under gunicorn)")
    # The same 401 as Rotor's own, for a revoked token and for no token at all.
    for presented in (token, None):
        status, headers, body = _get(example, presented)
        theirs = auth.me(presented) if presented else auth.client.get("/api/auth/me")
        assert (status, body) == (theirs.status_code, theirs.json)
        assert headers["WWW-Authenticate"] == theirs.headers["WWW-Authenticate"]


def test_the_example_asks_redis_as_a_user_that_cannot_write(redis_server, rotor_redis, keys):
    as_resource_server = redis.Redis(
        port=redis_server.port, username=RS_USER, password=RS_PASSWORD, decode_responses=True
    )
    rotor_redis.set(keys.user("u1"), "x")
    assert as_resource_server.exists(keys.user("u1")) == 1
    for write in (
        lambda: as_resource_server.delete(keys.user("u1")),
        lambda: as_resource_server.set(keys.denied("u1", "j"), "1"),
        lambda: as_resource_server.flushdb(),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            write()
    assert rotor_redis.get(keys.user("u1")) == "x"
    as_resource_server.close()


def _hs256(header: dict, claims: dict, key: bytes) -> str:
    """A JWS signed by hand: PyJWT itself refuses a PEM key as an HMAC secret."""
    signing_input = b".".join(
        base64url_encode(json.dumps(part).encode()) for part in (header, claims)
    )
    signature = hmac.new(key, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + base64url_encode(signature)).decode()


def _pem(key: ed25519.Ed25519PrivateKey) -> str:
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()


@pytest.fixture
def rotor_over_http(app_factory: AppFactory, rotor_redis) -> Iterator[tuple[Flask, str]]:
    """Rotor signing with EdDSA, its JWKS served over real HTTP (a thread of this process)."""
    signing_keys = (PemKey("key-0", _pem(ed25519.Ed25519PrivateKey.generate())),)
    app = app_factory.app(rotor_redis, jwt_algorithm="EdDSA", jwt_signing_keys=signing_keys)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    server.shutdown()
    thread.join(timeout=10)


def test_the_kit_verifies_eddsa_tokens_by_kid_from_rotors_jwks(
    rotor_over_http, redis_server: RedisServer
):
    rotor, jwks_url = rotor_over_http
    watch = SessionWatch(redis_server.url)
    try:
        assert watch.wait_until_watching()
        resource = resource_server(watch, secret_key=None, jwks_url=jwks_url).test_client()
        auth = AuthActions(rotor.test_client())
        session = auth.register_and_login()
        token = session["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        response = resource.get("/api/protected", headers=headers)
        assert response.status_code == 200, response.json
        assert response.json == {"sub": session["user_id"], "sid": session["session_id"]}
        claims = jwt.decode(token, options={"verify_signature": False})
        header = jwt.get_unverified_header(token)
        public_pem = (
            jwt.PyJWKClient(jwks_url).get_signing_key(header["kid"]).key
            .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        )  # fmt: skip
        forged = [
            # A key of our own under Rotor's kid, under no kid, and an unknown kid.
            jwt.encode(claims, ed25519.Ed25519PrivateKey.generate(), algorithm="EdDSA",
                       headers={"kid": header["kid"]}),
            jwt.encode(claims, ed25519.Ed25519PrivateKey.generate(), algorithm="EdDSA"),
            jwt.encode(claims, ed25519.Ed25519PrivateKey.generate(), algorithm="EdDSA",
                       headers={"kid": "unknown"}),
            # Key confusion: HS256 keyed with Rotor's published public key.
            _hs256({"alg": "HS256", "typ": "JWT", "kid": header["kid"]}, claims, public_pem),
        ]  # fmt: skip
        for token_ in forged:
            refused = resource.get("/api/protected", headers={"Authorization": f"Bearer {token_}"})
            assert refused.status_code == 401
            assert refused.json["error"]["code"] == "invalid_token"
        assert auth.post("/api/auth/logout", token).status_code == 204
        started = time.monotonic()
        wait_for_refusal(
            lambda: resource.get("/api/protected", headers=headers).status_code,
            "logout (EdDSA via JWKS)",
            since=started,
        )
    finally:
        watch.close()
