"""The session both auth flavours share: the tokens, logging in, and one refresh at a time for
the whole process. Transport-free: each flavour passes in how it POSTs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

SignOutReason = Literal["logout", "session_ended", "token_reused"]

# 401 codes a refresh can cure: an expired access token, or one whose session may have ended
# (the refresh then says so).
REFRESHABLE = frozenset({"token_expired", "token_revoked"})

# One lock for the process: every thread and every auth object takes it to log in or refresh.
# Refreshes are rare and short (bounded by the timeouts), and one lock means no two of them
# ever present the same refresh token at once.
_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Tokens:
    """A session's current pair: what ``on_tokens`` hands over for safekeeping."""

    access_token: str
    refresh_token: str
    session_id: str

    @classmethod
    def from_pair(cls, pair: Mapping[str, Any]) -> Tokens:
        return cls(str(pair["access_token"]), str(pair["refresh_token"]), str(pair["session_id"]))

    def as_dict(self) -> dict[str, str]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "session_id": self.session_id,
        }


class RotorError(Exception):
    """A non-2xx answer of Rotor, from its error envelope."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    @classmethod
    def from_answer(cls, status: int, body: Any) -> RotorError:
        error = envelope(body)
        return cls(
            status,
            str(error.get("code", f"http_{status}")),
            str(error.get("message", f"HTTP {status}")),
            error.get("details"),
        )


class SessionEnded(RotorError):
    """Rotor refused the session's refresh token: the session is over. ``reason`` is
    ``token_reused`` when a copy of the refresh token was used elsewhere (possible theft)."""

    def __init__(self, reason: SignOutReason, status: int = 401, code: str = "") -> None:
        super().__init__(status, code or reason, f"the session has ended ({reason})")
        self.reason = reason


class NoAnswer(Exception):
    """A request that got no answer: it may or may not have reached Rotor."""


def envelope(body: Any) -> dict[str, Any]:
    """The ``error`` of an error envelope; {} for any other body."""
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def needs_refresh(status: int, body: Any) -> bool:
    """Whether a refused call should be retried after a refresh."""
    return status == 401 and envelope(body).get("code") in REFRESHABLE


# POST a JSON body (None: no body) with an optional bearer token to a full URL:
# (status, parsed body or None). Raises NoAnswer when no answer came.
Post = Callable[[str, "dict[str, Any] | None", "str | None"], "tuple[int, Any]"]
TokensCallback = Callable[["Tokens | None"], None]


class RotorSession:
    """One Rotor session for every thread of the process: the auth flavours ask it for the
    access token to send, and for a fresh one after a refusal."""

    def __init__(
        self,
        base_url: str,
        post: Post,
        *,
        email: str | None = None,
        password: str | None = None,
        tokens: Tokens | Mapping[str, Any] | None = None,
        on_tokens: TokensCallback | None = None,
        retry_delays: tuple[float, ...] = (0.25, 1.0),
        retry_window: float = 8.0,
    ) -> None:
        if tokens is None and (email is None or password is None):
            raise ValueError("give tokens, or an email and a password to log in with")
        self._auth_url = base_url.rstrip("/") + "/api/auth"
        self._post = post
        self._credentials = (email, password) if email is not None and password else None
        if tokens is not None and not isinstance(tokens, Tokens):
            tokens = Tokens.from_pair(tokens)
        self._tokens: Tokens | None = tokens
        self._on_tokens = on_tokens
        self._retry_delays = retry_delays
        # Retries go out only this long after the first attempt: inside Rotor's grace window
        # (REFRESH_REUSE_GRACE, 10 s by default). Later, repeating a token Rotor did rotate
        # would be reuse and end the session.
        self._retry_window = retry_window
        self._ended: SignOutReason | None = None

    @property
    def tokens(self) -> Tokens | None:
        return self._tokens

    def access_token(self) -> str:
        """The access token to send; logs in first when there is none (once for all threads)."""
        tokens = self._tokens
        if tokens is not None:
            return tokens.access_token
        with _LOCK:
            return self._tokens_or_login().access_token

    def access_token_after(self, refused: str) -> str:
        """The access token to send again after ``refused`` was refused: refreshed once for every
        thread that met the same refusal; the others find the new token waiting."""
        with _LOCK:
            current = self._tokens_or_login()
            if current.access_token != refused:
                return current.access_token  # another thread refreshed (or logged in) meanwhile
            return self._refresh(current).access_token

    def logout(self) -> None:
        """End the session on Rotor; signed out here even when Rotor could not be told."""
        with _LOCK:
            if self._tokens is None:
                return
            url = f"{self._auth_url}/logout"
            try:
                status, body = self._post(url, None, self._tokens.access_token)
                if needs_refresh(status, body):  # an expired access token still logs out
                    status, body = self._post(url, None, self._refresh(self._tokens).access_token)
            except SessionEnded:
                return  # it had ended already
            finally:
                self._clear("logout")
            if status not in (204, 401):  # 401: it had ended already
                raise RotorError.from_answer(status, body)

    def _tokens_or_login(self) -> Tokens:
        if self._tokens is not None:
            return self._tokens
        if self._credentials is None:
            raise SessionEnded(self._ended or "session_ended")
        email, password = self._credentials
        body = {"email": email, "password": password}
        status, answer = self._post(f"{self._auth_url}/login", body, None)
        if status != 200:
            raise RotorError.from_answer(status, answer)
        return self._keep(Tokens.from_pair(answer))

    def _refresh(self, current: Tokens) -> Tokens:
        """POST /refresh. One that got no answer (or a 5xx) is sent again with the same token:
        Rotor may have rotated already, and within its grace window it answers a repeat with
        the same new pair instead of treating it as reuse. Only a 401 ends the session."""
        body = {"refresh_token": current.refresh_token}
        failure: Exception | None = None
        first_attempt_at = time.monotonic()
        for delay in (0.0, *self._retry_delays):
            if delay:
                if time.monotonic() + delay - first_attempt_at > self._retry_window:
                    break
                time.sleep(delay)
            try:
                status, answer = self._post(f"{self._auth_url}/refresh", body, None)
            except NoAnswer as no_answer:
                failure = no_answer
                continue
            if status == 200:
                return self._keep(Tokens.from_pair(answer))
            code = str(envelope(answer).get("code", ""))
            if status == 401:
                reason: SignOutReason = (
                    "token_reused" if code == "token_reused" else "session_ended"
                )
                self._clear(reason)
                raise SessionEnded(reason, status, code)
            failure = RotorError.from_answer(status, answer)
            if status < 500:
                break  # 400, 403, 429: the same request again will not help
        if isinstance(failure, NoAnswer) and failure.__cause__ is not None:
            raise failure.__cause__  # the transport's own error (httpx.ReadError, ...)
        assert failure is not None
        raise failure

    def _keep(self, tokens: Tokens) -> Tokens:
        self._tokens = tokens
        if self._on_tokens is not None:
            self._on_tokens(tokens)
        return tokens

    def _clear(self, reason: SignOutReason) -> None:
        had_tokens, self._tokens = self._tokens is not None, None
        self._ended = reason
        if had_tokens and self._on_tokens is not None:
            self._on_tokens(None)
