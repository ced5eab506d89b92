"""Auth tokens that expire: one token a process, shared by its users, refreshed before it expires.

A :class:`TokenSource` gets its token from a command's standard output (``--token-command``, say an
``aws cognito-idp initiate-auth ... --output text`` line) or from a locustfile's function. The token
lasts ``--token-ttl`` seconds, else until the ``exp`` claim of a JWT (its payload decoded, not
verified: the server verifies it), else for ever; it is refreshed when a fifth of its life (at most
60 s) is left, at its next use, and no longer sent in its last twentieth (at most 1 s). Users read it
as ``${TOKEN}`` in ``--header``/``--query`` and ``{token}`` in templates.

The command is split into words as a shell would (:func:`shlex.split`) and run without a shell, with
a timeout; pipes or variables need an explicit ``sh -c '...'``. Its output is a secret: no message
shows it, nor the command's error output (a failure names the exit status).

A refresh that fails mid-run is counted (``on_refresh_failed``, a ``TOKEN refresh`` request of kind
``token_refresh``) and retried a second later at the earliest; the users keep the old token until it
expires, then :meth:`TokenSource.current` raises :class:`~wslocust.errors.TokenRefreshFailed`.
"""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching comes first: the command runs in a greenlet)

import base64
import binascii
import contextlib
import json
import math
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

from .errors import ConfigurationError, TokenRefreshFailed, WsLocustError
from .wire.handshake import provide_variable

__all__ = [
    "COMMAND_TIMEOUT_S",
    "RETRY_S",
    "TokenSource",
    "command_fetcher",
    "jwt_expiry",
    "process_token_source",
]

COMMAND_TIMEOUT_S = 30.0
"""Seconds a token command may run."""

RETRY_S = 1.0
"""Seconds between a failed refresh and the next attempt."""

_MAX_MARGIN_S = 60.0


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim (seconds since the epoch) of a JWT's payload, decoded without verifying;
    None when the token is not a JWT or has no numeric ``exp``."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, binascii.Error):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, int | float) or not math.isfinite(exp):
        return None
    return float(exp)


def command_fetcher(command: str, *, timeout_s: float = COMMAND_TIMEOUT_S) -> Callable[[], str]:
    """A function that runs ``command`` (no shell) and returns its standard output, stripped.

    Raises:
        ConfigurationError: the command is empty or cannot be split into words (unbalanced quotes).
    """
    try:
        argv = shlex.split(command)
    except ValueError:
        raise ConfigurationError("--token-command cannot be split into words (unbalanced quotes?)") from None
    if not argv:
        raise ConfigurationError("--token-command is empty: give the command that prints a token")

    def fetch() -> str:
        try:
            # Its own process group: at the timeout, the children it started (the command of an
            # ``sh -c``) are stopped with it, else they would hold its output open and the wait on.
            process = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True
            )
        except OSError as error:
            # Not even its first word is shown: the command is a secret, and a "VAR=value cmd"
            # (which needs a shell, or env) makes an assignment its first word.
            raise TokenRefreshFailed(
                f"--token-command cannot run: {error.strerror or error.__class__.__name__} (its words are "
                "not shown; it runs without a shell: start it with 'env' to set variables, or 'sh -c')"
            ) from None
        try:
            output, _ = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise TokenRefreshFailed(f"--token-command did not finish within {timeout_s:g} s") from None
        if process.returncode != 0:
            raise TokenRefreshFailed(
                f"--token-command exited with status {process.returncode} (its output is not shown)"
            )
        return output.decode("utf-8", "replace").strip()

    return fetch


class TokenSource:
    """A token shared by a process's users, refreshed before it expires (see the module).

    Args:
        fetch: returns a new token; raises :class:`~wslocust.errors.TokenRefreshFailed` (or any
            exception, a locustfile function's) when it cannot.
        what: names the source in messages (``--token-command``, ``MyUser.token_function``).
        ttl_s: how long a token lasts; None reads a JWT's ``exp`` (a token without: for ever).
        clock: the time, in seconds since the epoch (a JWT's ``exp`` is one).
        on_refresh_failed: told of each refresh that fails once the source has started.
    """

    def __init__(
        self,
        fetch: Callable[[], str],
        *,
        what: str,
        ttl_s: float | None = None,
        clock: Callable[[], float] = time.time,
        on_refresh_failed: Callable[[TokenRefreshFailed], None] | None = None,
    ) -> None:
        self._fetch = fetch
        self.what = what
        self.ttl_s = ttl_s
        self._clock = clock
        self.on_refresh_failed = on_refresh_failed
        self._token: str | None = None
        self._expires_at = math.inf
        self._refresh_at = math.inf
        self._retry_at = -math.inf
        self._lock = threading.Lock()  # gevent's: one refresh at a time, the others keep the old token
        self.refreshes = 0
        """Tokens fetched after the first."""
        self.failed_refreshes = 0
        """Refreshes that failed."""

    def __repr__(self) -> str:
        return f"TokenSource({self.what})"  # never the token

    @property
    def started(self) -> bool:
        """True once a token was fetched."""
        return self._token is not None

    def start(self) -> None:
        """Fetch the first token now (at start-up).

        Raises:
            ConfigurationError: it cannot be fetched (names the source and why, never its output).
        """
        try:
            self._take(self._get(), self._clock())
        except TokenRefreshFailed as error:
            raise ConfigurationError(str(error)) from None

    def current(self) -> str:
        """The token, refreshed first when it is due.

        Raises:
            TokenRefreshFailed: no valid token: the refreshes failed and the last token expired.
        """
        now = self._clock()
        if (now >= self._refresh_at and now >= self._retry_at) or self._token is None:
            expired = self._token is None or now >= self._expires_at
            if self._lock.acquire(blocking=expired):
                try:
                    if self._clock() >= self._refresh_at or self._token is None:  # not done meanwhile
                        self._refresh()
                finally:
                    self._lock.release()
        token = self._token
        if token is None or self._clock() >= self._expires_at:
            raise TokenRefreshFailed(f"no valid token: {self.what} failed and the last token expired")
        return token

    def values(self) -> dict[str, str]:
        """The token as the templates' ``{token}``."""
        return {"token": self.current()}

    def _refresh(self) -> None:
        now = self._clock()
        first = self._token is None
        try:
            self._take(self._get(), now)
        except TokenRefreshFailed as error:
            self.failed_refreshes += 1
            self._retry_at = now + RETRY_S
            if self.on_refresh_failed is not None:
                self.on_refresh_failed(error)
            return
        if not first:
            self.refreshes += 1

    def _get(self) -> str:
        try:
            token = self._fetch()
        except WsLocustError as error:
            raise TokenRefreshFailed(str(error)) from None
        except Exception as error:  # a locustfile's function: its message may hold a secret
            raise TokenRefreshFailed(f"{self.what} raised {error.__class__.__name__}") from None
        if not isinstance(token, str) or not token:
            raise TokenRefreshFailed(f"{self.what} gave no token (empty output)")
        if any(char.isspace() or ord(char) < 32 for char in token):
            raise TokenRefreshFailed(f"{self.what} gave more than one word (spaces or lines): not a token")
        return token

    def _take(self, token: str, now: float) -> None:
        expires_at = now + self.ttl_s if self.ttl_s is not None else jwt_expiry(token)
        if expires_at is None:
            expires_at = math.inf
        if expires_at <= now:
            raise TokenRefreshFailed(f"{self.what} gave a token that has expired already (its exp)")
        lifetime = expires_at - now
        self._token = token
        # Not sent in its last moments (a twentieth of its life, at most a second): it would expire
        # on its way to the server.
        self._expires_at = expires_at - min(1.0, lifetime / 20.0)
        self._refresh_at = expires_at - min(_MAX_MARGIN_S, lifetime / 5.0)


_sources: dict[Any, TokenSource] = {}


def process_token_source(key: Any, make: Callable[[], TokenSource], *, start: bool) -> TokenSource:
    """This process's token source for ``key`` (a command and its ttl, or a function), made once and
    shared, and given to the handshake as ``${TOKEN}``.

    Args:
        key: what identifies the source.
        make: builds it.
        start: fetch its first token now when it has none (at start-up: a failure stops the run);
            else the first use fetches it (a worker's users: a failure is counted).

    Raises:
        ConfigurationError: ``start``, and the first token cannot be fetched.
    """
    source = _sources.get(key)
    if source is None:
        source = _sources[key] = make()
    if start and not source.started:
        source.start()
    provide_variable("TOKEN", source.current)
    return source
