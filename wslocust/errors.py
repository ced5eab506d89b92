"""The exceptions of wslocust.

Failed round trips are not raised at the user: they travel as the ``exception`` of Locust's request
event. These classes are what that event carries, and what configuration mistakes raise at start-up.

The tree::

    WsLocustError
    ├── ConfigurationError      the user's mistake: an option, a locustfile setting
    │   └── DatasetError        a prompts file that cannot be read (names file and line)
    ├── ConnectError            no WebSocket connection: refused, DNS, TLS, timeout
    │   ├── HandshakeRejected   the server answered the upgrade with an HTTP status (a redirect too)
    │   ├── SessionRefused      the server refused the session opened after the upgrade (a Socket.IO
    │   │                       namespace unknown, or its auth wrong)
    │   ├── OpeningTimeout      no opening (a protocol's, or --await-on-connect's message) in time
    │   └── TokenRefreshFailed  the token command failed mid-run (the old token expired, or not yet)
    └── ReplyError              a round trip that did not end in a complete reply
        ├── ReplyTimeout        no complete reply within the reply timeout
        ├── ConnectionClosed    the connection closed before the reply completed
        ├── ProtocolError       the server sent something the protocol cannot read
        ├── BotError            the bot said the reply failed (an error event)
        ├── CaptureMissing      a template names a captured value this connection has not given
        └── MetricFailure       a complete reply that a metric's failure condition rejects

Each class has a ``kind``: a short stable word used to group errors in summaries.
"""

from __future__ import annotations

__all__ = [
    "BotError",
    "CaptureMissing",
    "ConfigurationError",
    "ConnectError",
    "ConnectionClosed",
    "DatasetError",
    "HandshakeRejected",
    "MetricFailure",
    "OpenFileLimitReached",
    "OpeningTimeout",
    "ProtocolError",
    "ReplyError",
    "ReplyTimeout",
    "SessionRefused",
    "TokenRefreshFailed",
    "WsLocustError",
]


class WsLocustError(Exception):
    """Base class of every wslocust error."""

    kind = "error"


class ConfigurationError(WsLocustError):
    """An option or a locustfile setting is wrong; the run cannot start."""

    kind = "configuration"


class DatasetError(ConfigurationError):
    """A prompts file cannot be read; the message names the file and, where known, the line."""

    kind = "dataset"

    def __init__(self, path: str, message: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line


class ConnectError(WsLocustError):
    """The WebSocket connection could not be opened (refused, DNS, TLS, timeout)."""

    kind = "connection_refused"


class OpenFileLimitReached(ConnectError):
    """The load generator's own limit, not the server: the process's open-file limit leaves no room
    for another connection (a few files are kept free for Locust's own: its CPU reading, logs, CSVs)."""

    kind = "open_file_limit"


class HandshakeRejected(ConnectError):
    """The server refused the WebSocket upgrade with an HTTP status, or redirected it elsewhere.

    Args:
        status: the HTTP status of the server's answer.
        reason: its reason phrase.
        message: the whole message, when the status and reason alone do not say it (a redirect
            that was not followed names where it led).
    """

    kind = "handshake_rejected"

    def __init__(self, status: int, reason: str = "", *, message: str | None = None) -> None:
        super().__init__(message or f"handshake rejected: HTTP {status} {reason}".rstrip())
        self.status = status


class SessionRefused(ConnectError):
    """The server refused the session a protocol opens after the upgrade, in its own words (a Socket.IO
    ``CONNECT_ERROR``: an unknown namespace, a wrong auth)."""

    kind = "session_refused"


class OpeningTimeout(ConnectError):
    """The server accepted the upgrade but did not complete the opening a protocol holds after it
    (Socket.IO's), or sent no message matching ``--await-on-connect``, within the connect timeout:
    often a server that does not speak that protocol."""

    kind = "opening_timeout"


class TokenRefreshFailed(ConnectError):
    """The token command (``--token-command``) failed mid-run. Counted on its own when it happens;
    the users keep the old token until it expires, then their connects and prompts fail with it. The
    message names the command's exit status, never its output (it may hold a secret)."""

    kind = "token_refresh"


class ReplyError(WsLocustError):
    """A prompt did not get a complete, successful reply."""

    kind = "reply"


class ReplyTimeout(ReplyError):
    """No complete reply arrived within the reply timeout."""

    kind = "timeout"


class ConnectionClosed(ReplyError):
    """The connection closed before the reply completed."""

    kind = "closed_mid_reply"

    def __init__(self, code: int | None, reason: str = "") -> None:
        text = (
            f"connection closed mid-reply: code {code}" if code is not None else "connection lost mid-reply"
        )
        super().__init__(f"{text} {reason}".rstrip())
        self.code = code
        self.reason = reason


class ProtocolError(ReplyError):
    """The server sent a frame or message that the protocol cannot read.

    The client fails the connection: it sends a close frame with ``close_code`` and closes the
    socket.

    Args:
        message: what was wrong.
        close_code: the close code that says so (RFC 6455 §7.4.1): 1002 (a protocol error, the
            default), 1007 (a text message that is not UTF-8), 1009 (a message over the limit).
    """

    kind = "protocol_error"

    def __init__(self, message: str, *, close_code: int = 1002) -> None:
        super().__init__(message)
        self.close_code = close_code


class BotError(ReplyError):
    """The bot reported that it failed to answer (an error event or a failed status)."""

    kind = "bot_error"


class CaptureMissing(ReplyError):
    """A template names a value (``--capture NAME=PATH``) that no message of this connection has
    given yet: the prompt is not sent (a request with an empty field would hide the fault)."""

    kind = "capture_missing"


class MetricFailure(ReplyError):
    """A complete reply failed a metric: the message names each metric and its score."""

    kind = "metric_failure"
