"""A real Rotor for the client's tests: the repository's ``tests.live_rotor`` (a private
redis-server and Rotor under gunicorn on free ports, ACCESS_TOKEN_TTL=2 s), run from the
repository's own virtualenv, which is the one running these tests."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[3]
PASSWORD = "correct horse battery"
_numbers = itertools.count(1)


@dataclass(frozen=True)
class Rotor:
    url: str
    access_token_ttl: int

    def call(self, method: str, path: str, body: dict | None = None, token: str | None = None):
        """One request as another device makes it."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.request(
            method, f"{self.url}/api/auth{path}", json=body, headers=headers, timeout=10
        )

    def new_user(self) -> dict[str, str]:
        email = f"py-{next(_numbers)}-{time.time_ns()}@example.com"
        response = self.call("POST", "/register", {"email": email, "password": PASSWORD})
        assert response.status_code == 201, response.text
        return {"email": email, "password": PASSWORD}

    def wait_until_expired(self, access_token: str) -> None:
        """Poll until Rotor calls this access token expired (real time is the behaviour)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            response = self.call("GET", "/me", token=access_token)
            if response.status_code == 401 and response.json()["error"]["code"] == "token_expired":
                return
            time.sleep(0.1)
        raise TimeoutError("the access token did not expire")


@pytest.fixture(scope="session")
def rotor() -> Iterator[Rotor]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.live_rotor", "--access-token-ttl", "2"],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None and process.stdin is not None
    line = process.stdout.readline()
    if not line:
        process.wait(timeout=30)
        pytest.fail(f"tests.live_rotor exited ({process.returncode}) before it was ready")
    ready = json.loads(line)
    yield Rotor(ready["url"], ready["access_token_ttl"])
    process.stdin.close()  # it stops Rotor and its redis-server
    process.wait(timeout=30)
    process.stdout.close()
