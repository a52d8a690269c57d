"""Realistic clients for load-testing your own Rotor deployment with Locust.

    pip install locust
    locust -f bench/locustfile.py --host https://auth.example.com

Each simulated user registers once, logs in, calls /me repeatedly, refreshes shortly before
its access token expires (as a well-behaved client does, using ``expires_in``), and now and
then logs out and back in. ROTOR_LOCUST_PASSWORD sets the password of the accounts it creates.
Rate limits apply to these clients like any other: turn them off (RATELIMIT_ENABLED=0) or
expect 429s when you push past them.
"""

from __future__ import annotations

import os
import random
import time
import uuid

from locust import HttpUser, between, task  # type: ignore[import-not-found]

PASSWORD = os.environ.get("ROTOR_LOCUST_PASSWORD", "locust load-test passphrase")
REFRESH_MARGIN = 0.8  # refresh once 80% of the access token's lifetime has passed


class RotorClient(HttpUser):
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        self.email = f"locust-{uuid.uuid4().hex[:12]}@load.example"
        self.client.post("/api/auth/register", json={"email": self.email, "password": PASSWORD})
        self._login()

    def _login(self) -> None:
        with self.client.post(
            "/api/auth/login", json={"email": self.email, "password": PASSWORD},
            catch_response=True,
        ) as response:  # fmt: skip
            if response.status_code != 200:
                response.failure(f"login: {response.status_code}")
                return
            self._take(response.json())

    def _take(self, pair: dict) -> None:
        self.access_token = pair["access_token"]
        self.refresh_token = pair["refresh_token"]
        self.refresh_at = time.monotonic() + pair["expires_in"] * REFRESH_MARGIN

    def _refresh_if_due(self) -> None:
        if time.monotonic() < self.refresh_at:
            return
        with self.client.post(
            "/api/auth/refresh", json={"refresh_token": self.refresh_token},
            catch_response=True,
        ) as response:  # fmt: skip
            if response.status_code == 200:
                self._take(response.json())
            else:
                response.failure(f"refresh: {response.status_code}")
                self._login()

    @task(20)
    def me(self) -> None:
        self._refresh_if_due()
        self.client.get("/api/auth/me", headers={"Authorization": f"Bearer {self.access_token}"})

    @task(2)
    def sessions(self) -> None:
        self._refresh_if_due()
        self.client.get(
            "/api/auth/sessions", headers={"Authorization": f"Bearer {self.access_token}"}
        )

    @task(1)
    def logout_and_back(self) -> None:
        if random.random() < 0.2:
            self.client.post(
                "/api/auth/logout", headers={"Authorization": f"Bearer {self.access_token}"}
            )
            self._login()
