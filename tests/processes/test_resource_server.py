"""Protecting your own Flask API (README): tests/resource_server.py, a Flask service built on
flask-jwt-extended alone and run as its own process, accepts Rotor's access tokens (HS256 with
the shared secret; a key pair with the public key and its kid) and refuses its refresh tokens."""

from __future__ import annotations

import ast
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import fakeredis
import pytest

from app.auth.keys import write_key_pair
from config import PemKey
from tests.conftest import SECRET, AppFactory, AuthActions
from tests.servers import free_port, http_call, wait_until

SCRIPT = Path(__file__).parent.parent / "resource_server.py"


def test_the_resource_server_imports_nothing_of_rotor():
    tree = ast.parse(SCRIPT.read_text())
    modules = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
               for alias in node.names}  # fmt: skip
    modules |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert {name.split(".")[0] for name in modules} == {
        "os", "sys", "pathlib", "flask", "flask_jwt_extended",
    }  # fmt: skip


@contextmanager
def resource_server(env: dict[str, str], cwd: Path) -> Iterator[str]:
    """The script as its own process, in an environment that holds nothing of Rotor's."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(port)], cwd=cwd,
        env={"PATH": os.environ.get("PATH", ""), **env},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip

    def listening() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"the resource server exited: {process.stdout.read()}")
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_until(listening, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.communicate(timeout=20)


def _fake() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(decode_responses=True)


def _hello(url: str, token: str | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    status, _, body = http_call(url + "/api/hello", headers=headers)
    return status, json.loads(body)


def _accepts_access_tokens_and_refuses_refresh_tokens(auth: AuthActions, url: str) -> None:
    pair = auth.register_and_login()
    assert _hello(url, pair["access_token"]) == (
        200, {"user": pair["user_id"], "session": pair["session_id"]},
    )  # fmt: skip
    rotated = auth.refresh(pair["refresh_token"]).json
    assert _hello(url, rotated["access_token"])[0] == 200
    for refresh_token in (pair["refresh_token"], rotated["refresh_token"]):
        status, body = _hello(url, refresh_token)
        assert (status, body["error"]) == (401, "invalid_token")
    assert _hello(url)[0] == 401


@pytest.mark.slow
def test_a_flask_service_accepts_hs256_access_tokens_with_the_shared_secret(app_factory, tmp_path):
    auth = app_factory(_fake())
    with resource_server({"ROTOR_JWT_SECRET": SECRET}, tmp_path) as url:
        _accepts_access_tokens_and_refuses_refresh_tokens(auth, url)
        # Another secret is another issuer.
        stranger = app_factory(_fake(), jwt_secret_key="another-secret-another-secret-0123456789")
        assert _hello(url, stranger.register_and_login()["access_token"])[0] == 401


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["EdDSA", "ES256"])
def test_a_flask_service_accepts_key_pair_access_tokens_with_the_public_key_and_kid(
    app_factory: AppFactory, tmp_path: Path, algorithm: str
):
    key = write_key_pair(algorithm, tmp_path / "keys")
    auth = app_factory(
        _fake(),
        jwt_algorithm=algorithm,
        jwt_signing_keys=(PemKey(str(key.private_path), key.private_path.read_text()),),
    )
    env = {"ROTOR_JWT_ALGORITHM": algorithm, "ROTOR_PUBLIC_KEY": str(key.public_path),
           "ROTOR_KID": key.kid}  # fmt: skip
    with resource_server(env, tmp_path) as url:
        _accepts_access_tokens_and_refuses_refresh_tokens(auth, url)
        # A key the service was not given (the kid of a key Rotor no longer lists, say).
        rotated = write_key_pair(algorithm, tmp_path / "other")
        stranger = app_factory(
            _fake(),
            jwt_algorithm=algorithm,
            jwt_signing_keys=(PemKey("other", rotated.private_path.read_text()),),
        )
        assert _hello(url, stranger.register_and_login()["access_token"])[0] == 401
