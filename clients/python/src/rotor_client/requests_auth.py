"""Rotor for requests: ``requests.get(url, auth=RequestsAuth(...))``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import partial
from typing import Any

import requests
from requests.auth import AuthBase

from rotor_client._session import (
    NoAnswer,
    RotorSession,
    Tokens,
    TokensCallback,
    needs_refresh,
)


class RequestsAuth(AuthBase):
    """Logs in (when given credentials and no tokens), sends the access token, and after a 401
    ``token_expired`` refreshes, once for every thread of the process, and sends the request
    again, once. Raises ``SessionEnded`` when Rotor ends the session. Share one instance
    between threads."""

    def __init__(
        self,
        base_url: str,
        *,
        email: str | None = None,
        password: str | None = None,
        tokens: Tokens | Mapping[str, Any] | None = None,
        on_tokens: TokensCallback | None = None,
        session: requests.Session | None = None,
        timeout: float = 5.0,
        retry_delays: tuple[float, ...] = (0.25, 1.0),
        retry_window: float = 8.0,
    ) -> None:
        # Rotor's own endpoints go through this session (its adapters, TLS and proxy settings).
        self._http = session if session is not None else requests.Session()
        self._timeout = timeout
        self.session = RotorSession(
            base_url, self._post, email=email, password=password, tokens=tokens,
            on_tokens=on_tokens, retry_delays=retry_delays, retry_window=retry_window,
        )  # fmt: skip

    @property
    def tokens(self) -> Tokens | None:
        return self.session.tokens

    def logout(self) -> None:
        self.session.logout()

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        sent = self.session.access_token()
        request.headers["Authorization"] = f"Bearer {sent}"
        request.register_hook("response", partial(self._retry_after_refresh, sent=sent))
        return request

    def _retry_after_refresh(
        self, response: requests.Response, *, sent: str, **send_kwargs: Any
    ) -> requests.Response:
        """The response hook: after a refreshable 401, the same request once more with the
        fresh token (as requests' own digest auth resends)."""
        if response.status_code != 401 or not needs_refresh(401, _json(response)):
            return response
        fresh = self.session.access_token_after(sent)
        response.close()  # the first answer is read: give its connection back
        retry = response.request.copy()
        retry.headers["Authorization"] = f"Bearer {fresh}"
        second = response.connection.send(retry, **send_kwargs)  # type: ignore[attr-defined]
        second.history.append(response)
        second.request = retry
        return second

    def _post(self, url: str, body: dict[str, Any] | None, token: str | None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = self._http.post(url, json=body, headers=headers, timeout=self._timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise NoAnswer(str(exc)) from exc
        return response.status_code, _json(response)


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, requests.JSONDecodeError, UnicodeDecodeError):
        return None
