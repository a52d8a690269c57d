"""Rotor for httpx: ``httpx.Client(auth=HttpxAuth(...))``."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Generator, Mapping
from typing import Any

import httpx

from rotor_client._session import (
    NoAnswer,
    RotorSession,
    Tokens,
    TokensCallback,
    needs_refresh,
)


class HttpxAuth(httpx.Auth):
    """Logs in (when given credentials and no tokens), sends the access token, and after a 401
    ``token_expired`` refreshes, once for every thread of the process, and sends the request
    again, once. Raises ``SessionEnded`` when Rotor ends the session. For ``httpx.Client``;
    share one instance between threads."""

    def __init__(
        self,
        base_url: str,
        *,
        email: str | None = None,
        password: str | None = None,
        tokens: Tokens | Mapping[str, Any] | None = None,
        on_tokens: TokensCallback | None = None,
        client: httpx.Client | None = None,
        retry_delays: tuple[float, ...] = (0.25, 1.0),
        retry_window: float = 8.0,
    ) -> None:
        # Rotor's own endpoints go through this client (its transport, TLS and proxy settings),
        # never through the one being authenticated, whose requests wait on the refresh.
        self._client = client if client is not None else httpx.Client(timeout=5.0)
        self.session = RotorSession(
            base_url, self._post, email=email, password=password, tokens=tokens,
            on_tokens=on_tokens, retry_delays=retry_delays, retry_window=retry_window,
        )  # fmt: skip

    @property
    def tokens(self) -> Tokens | None:
        return self.session.tokens

    def logout(self) -> None:
        self.session.logout()

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        sent = self.session.access_token()
        request.headers["Authorization"] = f"Bearer {sent}"
        response = yield request
        if response.status_code != 401:
            return
        response.read()  # only a 401's body: a download is never buffered here
        if needs_refresh(401, _json(response)):
            request.headers["Authorization"] = f"Bearer {self.session.access_token_after(sent)}"
            yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        raise RuntimeError(
            "HttpxAuth refreshes under a thread lock: use it with httpx.Client, not AsyncClient"
        )
        yield request  # pragma: no cover - makes this an async generator

    def _post(self, url: str, body: dict[str, Any] | None, token: str | None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = self._client.post(url, json=body, headers=headers)
        except httpx.TransportError as exc:  # timeouts included
            raise NoAnswer(str(exc)) from exc
        return response.status_code, _json(response)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
