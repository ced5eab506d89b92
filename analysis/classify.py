"""Error kinds: which side of the test a recorded failure points at.

Every failure Locust records (a row of ``_failures.csv``: Method, Name, Error, Occurrences) gets one
of three kinds. The rules are applied in order; the first that matches wins (docs/analysis.md
lists them with examples):

``client``
    The load generator's or the request's own fault: the test is set up wrong, so more load will
    not tell you anything about the bot. An HTTP status below 500 anywhere in the error (a
    handshake rejected with ``HTTP 401``, a bare ``401``/``403``/``404``/``429``, a ``200`` where an
    upgrade was expected), a ``ConfigurationError`` or ``DatasetError``.
``server``
    The system under test failed in a way load is expected to reveal: an HTTP 5xx status,
    ``ReplyTimeout``, ``ConnectionClosed``, ``BotError``, ``MetricFailure`` (a complete reply that a
    quality metric rejects), ``ConnectError`` (refused, DNS, TLS, connect timeout), a handshake
    rejected without a status, and the standard library's connection and timeout errors.
``unexpected``
    Anything the rules above do not recognise: ``ProtocolError`` (the bot sent something the
    protocol cannot read), an exception class nobody anticipated, a bare message. These point at
    a bug, in the bot or in the test.

The general error rate counts all three kinds.
"""

from __future__ import annotations

import re
from enum import StrEnum

__all__ = [
    "CLIENT_CLASSES",
    "SERVER_CLASSES",
    "WSLOCUST_KINDS",
    "ErrorKind",
    "classify_error",
    "classify_kind",
    "split_error",
]


class ErrorKind(StrEnum):
    """The kind of a recorded failure."""

    CLIENT = "client"
    SERVER = "server"
    UNEXPECTED = "unexpected"


CLIENT_CLASSES = frozenset({"ConfigurationError", "DatasetError", "OpenFileLimitReached"})
"""Exception classes that are always the test's own fault (or its load generator's limits)."""

SERVER_CLASSES = frozenset(
    {
        # wslocust's errors (wslocust/errors.py): the bot failed, slowed down or went away.
        "ConnectError",
        "HandshakeRejected",
        "SessionRefused",
        "OpeningTimeout",
        "ReplyError",
        "ReplyTimeout",
        "ConnectionClosed",
        "BotError",
        "MetricFailure",
        "CaptureMissing",
        "TokenRefreshFailed",
        # The standard library's and common clients' equivalents.
        "TimeoutError",
        "timeout",
        "ConnectionError",
        "ConnectionRefusedError",
        "ConnectionResetError",
        "ConnectionAbortedError",
        "BrokenPipeError",
        "RemoteDisconnected",
        "ConnectTimeout",
        "ReadTimeout",
        "WebSocketTimeoutException",
        "WebSocketConnectionClosedException",
        "WebSocketBadStatusException",
    }
)
"""Exception classes that are the system under test failing (unless an HTTP status says otherwise)."""

WSLOCUST_KINDS = {
    "error": "WsLocustError",
    "configuration": "ConfigurationError",
    "dataset": "DatasetError",
    "connection_refused": "ConnectError",
    "open_file_limit": "OpenFileLimitReached",
    "handshake_rejected": "HandshakeRejected",
    "session_refused": "SessionRefused",
    "opening_timeout": "OpeningTimeout",
    "token_refresh": "TokenRefreshFailed",
    "reply": "ReplyError",
    "timeout": "ReplyTimeout",
    "closed_mid_reply": "ConnectionClosed",
    "protocol_error": "ProtocolError",
    "bot_error": "BotError",
    "capture_missing": "CaptureMissing",
    "metric_failure": "MetricFailure",
}
"""wslocust's ``kind`` words (its ``_failed_replies.jsonl``) and the exception class each stands for."""

# ``Name('message')`` or ``module.Name("message", 2)``: what Locust writes for a failed request's exception.
_REPR = re.compile(r"^\s*(?:[A-Za-z_][\w]*\.)*(?P<cls>[A-Za-z_]\w*)\((?P<args>.*)\)\s*$", re.DOTALL)

# An HTTP status: "HTTP 401", "HTTP/1.1 503", "status 429", "status code: 404", "404 Client Error",
# "503 Service Unavailable". Bare 401/403/404/429 also count (they are unambiguous enough in an error).
_HTTP_STATUS = re.compile(
    r"(?:\bHTTP(?:/\d(?:\.\d)?)?[\s:]*|\bstatus(?:[ _]code)?[\s:=]*)(?P<a>[1-5]\d\d)\b"
    r"|\b(?P<b>[1-5]\d\d)\s+(?:Client Error|Server Error|Unauthorized|Forbidden|Not Found|Too Many Requests"
    r"|Bad Request|Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout)\b"
    r"|(?<![\w.:])(?P<c>401|403|404|429)(?![\w.:])",
    re.IGNORECASE,
)


def split_error(error: str) -> tuple[str | None, str]:
    """Split Locust's rendering of a failure into exception class and message.

    Args:
        error: the ``Error`` column of ``_failures.csv``, e.g.
            ``HandshakeRejected('handshake rejected: HTTP 401 Unauthorized')``.

    Returns:
        ``(class name, message)``; the class is ``None`` when the error is a bare message.
    """
    match = _REPR.match(error)
    if match is None:
        return None, error.strip()
    args = match.group("args").strip()
    if len(args) >= 2 and args[0] == args[-1] and args[0] in "'\"":
        args = args[1:-1]
    return match.group("cls"), args


def _http_status(text: str) -> int | None:
    match = _HTTP_STATUS.search(text)
    if match is None:
        return None
    return int(match.group("a") or match.group("b") or match.group("c"))


def classify_error(error: str) -> ErrorKind:
    """Give the kind of one recorded failure.

    Args:
        error: the ``Error`` column of ``_failures.csv`` (or of wslocust's request CSV).

    Returns:
        The :class:`ErrorKind`, by the first matching rule: a client exception class, then an HTTP
        status (below 500 client, 5xx server), then a server exception class, else unexpected.
    """
    cls, _ = split_error(error)
    if cls in CLIENT_CLASSES:
        return ErrorKind.CLIENT
    status = _http_status(error)
    if status is not None and status < 500:
        return ErrorKind.CLIENT
    if status is not None and status >= 500:
        return ErrorKind.SERVER
    if cls in SERVER_CLASSES:
        return ErrorKind.SERVER
    return ErrorKind.UNEXPECTED


def classify_kind(kind: str, error: str) -> ErrorKind:
    """Give the kind of a failure wslocust recorded as a ``kind`` word and a message.

    Args:
        kind: wslocust's word, e.g. ``handshake_rejected`` (see :data:`WSLOCUST_KINDS`).
        error: the message, e.g. ``handshake rejected: HTTP 401 Unauthorized``.

    Returns:
        What :func:`classify_error` says of ``Class('message')``, the way Locust would have written it.
    """
    return classify_error(f"{WSLOCUST_KINDS.get(kind, kind)}({error!r})")
