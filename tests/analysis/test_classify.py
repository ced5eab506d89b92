"""The error kinds: a pure function over the Error texts Locust records."""

from __future__ import annotations

import pytest

from analysis.classify import ErrorKind, classify_error, split_error

CLIENT, SERVER, UNEXPECTED = ErrorKind.CLIENT, ErrorKind.SERVER, ErrorKind.UNEXPECTED


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        # wslocust's errors, as Locust's _failures.csv writes them (repr of the exception)
        ("HandshakeRejected('handshake rejected: HTTP 401 Unauthorized')", CLIENT),
        ("HandshakeRejected('handshake rejected: HTTP 403 Forbidden')", CLIENT),
        ("HandshakeRejected('handshake rejected: HTTP 404')", CLIENT),
        ("HandshakeRejected('handshake rejected: HTTP 429 Too Many Requests')", CLIENT),
        ("HandshakeRejected('handshake rejected: HTTP 200 OK')", CLIENT),
        ("HandshakeRejected('handshake rejected: HTTP 503 Service Unavailable')", SERVER),
        ("HandshakeRejected('handshake rejected')", SERVER),
        ("ConfigurationError('--reply-timeout must be positive')", CLIENT),
        ("DatasetError('prompts.jsonl:3: not JSON')", CLIENT),
        ("ReplyTimeout('no complete reply within 5.0 s')", SERVER),
        ("ConnectionClosed('connection closed mid-reply: code 1011')", SERVER),
        ("ConnectionClosed('connection lost mid-reply')", SERVER),
        ("BotError('bot reported an error: model overloaded, try again')", SERVER),
        ("ConnectError('connection refused: 127.0.0.1:9')", SERVER),
        ("ConnectError('not connected')", SERVER),
        ("ProtocolError(\"unreadable message: b'\\\\x00garbage'\")", UNEXPECTED),
        # the standard library and HTTP clients
        ("ConnectionRefusedError(111, 'Connection refused')", SERVER),
        ("TimeoutError('timed out')", SERVER),
        ("HTTPError('404 Client Error: Not Found for url: http://x/')", CLIENT),
        ("HTTPError('502 Server Error: Bad Gateway for url: http://x/')", SERVER),
        ("CatchResponseError('Got wrong response')", UNEXPECTED),
        ("requests.exceptions.ReadTimeout('read timed out')", SERVER),
        # bare messages and odd texts
        ("status code 401", CLIENT),
        ("unauthorized: 401", CLIENT),
        ("something odd happened", UNEXPECTED),
        ("ValueError('bad value at port 4040')", UNEXPECTED),
        ("KeyError('x')", UNEXPECTED),
        ("", UNEXPECTED),
    ],
)
def test_classify_error(error: str, kind: ErrorKind) -> None:
    assert classify_error(error) is kind


def test_an_http_status_wins_over_the_class() -> None:
    # a 4xx is the test's fault even when the class would say server
    assert classify_error("ConnectError('HTTP 401 from proxy')") is CLIENT


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            "ReplyTimeout('no complete reply within 5.0 s')",
            ("ReplyTimeout", "no complete reply within 5.0 s"),
        ),
        ('ProtocolError("it\'s bad")', ("ProtocolError", "it's bad")),
        ("websocket.WebSocketTimeoutException('x')", ("WebSocketTimeoutException", "x")),
        ("plain text", (None, "plain text")),
    ],
)
def test_split_error(error: str, expected: tuple[str | None, str]) -> None:
    assert split_error(error) == expected


def test_kinds_are_strings_for_json() -> None:
    assert [str(kind) for kind in ErrorKind] == ["client", "server", "unexpected"]
