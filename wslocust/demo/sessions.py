"""The demo bot's sessions and auth tokens, for trying ``--capture``, ``--await-on-connect`` and
``--token-command`` against it.

- ``--session-mode``: each connection is greeted with ``{"type": "welcome", "session_id": "..."}``,
  and a JSON prompt must carry that id as ``session_id``, else it gets the error reply
  ``{"type": "error", "message": "unknown or missing session_id"}`` (a client counts it as failed).
- ``--require-token SECRET``: the handshake must carry a token this module made with ``SECRET``
  and not expired, as ``Authorization: Bearer TOKEN`` or the query's ``token=TOKEN``, else HTTP 401;
  a JSON prompt that carries a ``token`` field has it checked too (an error reply when bad).

Tokens are JWT-shaped (``header.payload.signature``, HMAC-SHA256, an ``exp`` claim). Print one::

    python -m wslocust.demo.sessions --secret demo-secret --ttl 300

(``DEMO_TOKEN_SECRET`` in the environment stands for ``--secret``: keep it off the command line.)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "SessionSettings",
    "add_session_arguments",
    "main",
    "make_token",
    "prompt_refusal",
    "request_token",
    "session_settings",
    "token_problem",
    "welcome",
]


@dataclass(frozen=True)
class SessionSettings:
    """The demo bot's session mode and token check (off by default)."""

    session_mode: bool = False
    token_secret: str | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sign(secret: str, text: str) -> str:
    return _b64(hmac.new(secret.encode(), text.encode(), hashlib.sha256).digest())


def make_token(secret: str, ttl_s: float, *, now: float | None = None, subject: str = "demo-user") -> str:
    """A JWT-shaped token signed with ``secret``, expiring ``ttl_s`` seconds from ``now``."""
    issued = time.time() if now is None else now
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps({"sub": subject, "iat": int(issued), "exp": issued + ttl_s}).encode())
    return f"{header}.{payload}.{_sign(secret, header + '.' + payload)}"


def token_problem(token: str | None, secret: str, *, now: float | None = None) -> str | None:
    """What is wrong with ``token`` (missing, not ours, expired), or None when it is good."""
    if not token:
        return "missing token"
    parts = token.split(".")
    if len(parts) != 3 or not hmac.compare_digest(parts[2], _sign(secret, parts[0] + "." + parts[1])):
        return "invalid token"
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        expires_at = float(claims["exp"])
    except (ValueError, KeyError, TypeError):
        return "invalid token"
    return "expired token" if (time.time() if now is None else now) >= expires_at else None


def request_token(path: str, authorization: str | None) -> str | None:
    """The token a handshake carries: ``Authorization: Bearer TOKEN``, else the query's ``token``."""
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    found = parse_qs(urlsplit(path).query).get("token")
    return found[0] if found else None


def welcome(settings: SessionSettings) -> tuple[str | None, dict[str, Any] | None]:
    """A new connection's session id and its welcome message (None, None without session mode)."""
    if not settings.session_mode:
        return None, None
    session_id = uuid.uuid4().hex
    return session_id, {"type": "welcome", "session_id": session_id}


def prompt_refusal(settings: SessionSettings, document: dict[str, Any], session_id: str | None) -> str | None:
    """Why a JSON prompt is refused (a wrong session id, a bad token field), or None."""
    if settings.session_mode and document.get("session_id") != session_id:
        return "unknown or missing session_id"
    if settings.token_secret is not None and "token" in document:
        problem = token_problem(str(document["token"]), settings.token_secret)
        if problem:
            return problem
    return None


def add_session_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo bot's session options."""
    parser.add_argument(
        "--session-mode",
        action="store_true",
        help="greet each connection with a session id, refuse JSON prompts without it",
    )
    parser.add_argument(
        "--require-token",
        metavar="SECRET",
        default=None,
        help="refuse handshakes (HTTP 401) without a valid, unexpired token signed with SECRET "
        "(python -m wslocust.demo.sessions prints one)",
    )


def session_settings(options: argparse.Namespace) -> SessionSettings:
    """The session settings of the demo bot's parsed options."""
    return SessionSettings(session_mode=options.session_mode, token_secret=options.require_token)


def main(argv: Sequence[str] | None = None) -> int:
    """Print a token the demo bot accepts with ``--require-token SECRET``."""
    parser = argparse.ArgumentParser(description="Print a demo-bot token (JWT-shaped, with exp).")
    parser.add_argument("--secret", default=os.environ.get("DEMO_TOKEN_SECRET"), help="the signing secret")
    parser.add_argument("--ttl", type=float, default=300.0, help="seconds the token lasts (default 300)")
    options = parser.parse_args(argv)
    if not options.secret:
        parser.error("give --secret or set DEMO_TOKEN_SECRET")
    if not options.ttl > 0:
        parser.error("--ttl must be above 0")
    print(make_token(options.secret, options.ttl))
    return 0


if __name__ == "__main__":
    sys.exit(main())
