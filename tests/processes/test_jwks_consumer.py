"""A resource server that never sees a secret: Rotor under gunicorn with EdDSA keys, its access
tokens verified in a separate process by PyJWT's PyJWKClient reading the JWKS over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from jwt.utils import base64url_encode

from app.auth.keys import GeneratedKey, write_key_pair
from tests.conftest import PASSWORD
from tests.servers import Gunicorn, RedisServer

pytestmark = [pytest.mark.redis, pytest.mark.slow]

# The whole resource server: the JWKS URL, and one token per stdin line; a verdict per line.
CONSUMER = """
import json, sys
import jwt

client = jwt.PyJWKClient(sys.argv[1])
for token in sys.stdin.read().split():
    try:
        key = client.get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key.key, algorithms=["EdDSA"], audience="rotor",
                            issuer="rotor", options={"require": ["exp", "iat", "sub", "jti"]})
        print(json.dumps({"ok": True, "kid": key.key_id, "sub": claims["sub"]}))
    except jwt.PyJWTError as exc:
        print(json.dumps({"ok": False, "error": type(exc).__name__}))
"""


def _call(url: str, body: dict | None = None) -> tuple[int, dict[str, str], bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


@pytest.fixture
def signing_keys(tmp_path: Path) -> list[GeneratedKey]:
    """The current key and a previous one, written as `signing-keys generate` writes them."""
    return [write_key_pair("EdDSA", tmp_path / "keys") for _ in range(2)]


@pytest.fixture
def rotor(
    redis_server: RedisServer, signing_keys: list[GeneratedKey], tmp_path: Path
) -> Iterator[str]:
    server = Gunicorn(
        {
            "REDIS_URL": redis_server.url,
            "REDIS_KEY_PREFIX": "jwks-consumer:",
            "ROTOR_ENV": "production",
            "JWT_ALGORITHM": "EdDSA",
            "JWT_SIGNING_KEYS": ",".join(str(key.private_path) for key in signing_keys),
            "BCRYPT_ROUNDS": "10",
            "WEB_CONCURRENCY": "2",
        }
    ).start(tmp_path / "gunicorn.log")
    yield server.url
    server.stop()


def _verify_elsewhere(jwks_url: str, tokens: list[str], cwd: Path) -> list[dict]:
    """Run the consumer as its own process, with an environment that holds nothing of Rotor."""
    done = subprocess.run(
        [sys.executable, "-c", CONSUMER, jwks_url], input="\n".join(tokens), cwd=cwd,
        env={"PATH": os.environ.get("PATH", "")}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_a_separate_process_verifies_access_tokens_with_the_jwks_alone(
    rotor, signing_keys, tmp_path
):
    api = rotor + "/api/auth"
    credentials = {"email": "consumer@example.com", "password": PASSWORD}
    assert _call(api + "/register", credentials)[0] == 201
    pair = json.loads(_call(api + "/login", credentials)[2])
    refreshed = json.loads(_call(api + "/refresh", {"refresh_token": pair["refresh_token"]})[2])

    status, headers, body = _call(rotor + "/.well-known/jwks.json")
    assert status == 200
    assert "public" in headers["Cache-Control"] and "max-age=" in headers["Cache-Control"]
    assert [key["kid"] for key in json.loads(body)["keys"]] == [key.kid for key in signing_keys]
    assert b"PRIVATE" not in body and b'"d"' not in body

    header, _, signature = pair["access_token"].split(".")
    claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
    changed = base64url_encode(json.dumps({**claims, "sub": "x"}).encode()).decode()
    impostor = jwt.encode(
        {**claims, "sub": "someone-else"}, ed25519.Ed25519PrivateKey.generate(),
        algorithm="EdDSA", headers={"kid": signing_keys[0].kid},
    )  # fmt: skip
    verdicts = _verify_elsewhere(
        rotor + "/.well-known/jwks.json",
        [pair["access_token"], refreshed["access_token"], f"{header}.{changed}.{signature}",
         impostor],
        tmp_path,
    )  # fmt: skip
    user_id = claims["sub"]
    assert verdicts[0] == {"ok": True, "kid": signing_keys[0].kid, "sub": user_id}
    assert verdicts[1] == {"ok": True, "kid": signing_keys[0].kid, "sub": user_id}
    assert verdicts[2] == {"ok": False, "error": "InvalidSignatureError"}
    assert verdicts[3] == {"ok": False, "error": "InvalidSignatureError"}
