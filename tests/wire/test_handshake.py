"""The handshake's policy, socket-free: the address dialled, the headers, the redirects followed."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from wslocust.errors import ConfigurationError, HandshakeRejected
from wslocust.wire.handshake import check_headers, dial_address, expand_env, handshake_url, redirect_target

AWKWARD_TOKEN = "a&b=c+d e#f%2F/?é"
"""A token holding what a query string reads as syntax: separators, a plus, a space, a fragment mark,
a percent sign, non-ASCII."""


@pytest.mark.parametrize(
    ("url", "connect_to", "expected"),
    [
        ("ws://bot.example/chat", None, ("bot.example", 80)),
        ("wss://bot.example/chat", None, ("bot.example", 443)),
        ("ws://bot.example:8765/chat", None, ("bot.example", 8765)),
        ("wss://bot.example:8443/chat", "127.0.0.2", ("127.0.0.2", 8443)),
        ("wss://bot.example/chat", "127.0.0.2:9000", ("127.0.0.2", 9000)),
    ],
)
def test_the_address_dialled_is_connect_tos_else_the_urls(
    url: str, connect_to: str | None, expected: tuple[str, int]
) -> None:
    assert dial_address(url, connect_to) == expected


def test_a_header_without_a_colon_is_refused_without_its_value() -> None:
    with pytest.raises(ConfigurationError) as raised:
        check_headers(["Authorization: Bearer x", "s3cret"])
    assert "s3cret" not in str(raised.value)


def test_the_query_is_appended_after_the_urls_own() -> None:
    assert handshake_url("ws://bot.example/chat", None) == "ws://bot.example/chat"
    assert handshake_url("ws://bot.example/chat", "a=1") == "ws://bot.example/chat?a=1"
    assert handshake_url("ws://bot.example/chat?v=2", "a=1") == "ws://bot.example/chat?v=2&a=1"


def test_a_variable_in_the_query_is_percent_encoded_as_one_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOK", AWKWARD_TOKEN)
    url = handshake_url("ws://bot.example/chat?v=2", "token=${TOK}&lang=en")
    parts = urlsplit(url)
    assert (parts.path, parts.fragment) == ("/chat", "")
    assert parse_qs(parts.query) == {"v": ["2"], "token": [AWKWARD_TOKEN], "lang": ["en"]}


def test_a_variable_in_a_header_is_sent_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOK", AWKWARD_TOKEN)
    assert expand_env("Authorization: Bearer ${TOK}") == f"Authorization: Bearer {AWKWARD_TOKEN}"


def test_a_line_break_in_a_query_variable_is_refused_not_encoded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOK", "abc\r\nX-Evil: 1")
    with pytest.raises(ConfigurationError) as raised:
        handshake_url("ws://bot.example/chat", "token=${TOK}")
    assert "abc" not in str(raised.value)
    assert "Evil" not in str(raised.value)


def test_a_relative_redirect_within_the_origin_is_followed_when_allowed() -> None:
    target = redirect_target("ws://bot.example:8765/chat?token=x", 307, "/v2/chat", follow_redirects=True)
    assert target == "ws://bot.example:8765/v2/chat"


def test_a_redirect_naming_the_http_scheme_of_the_same_origin_is_followed_as_websocket() -> None:
    target = redirect_target("wss://bot.example/chat", 301, "https://bot.example/new", follow_redirects=True)
    assert target == "wss://bot.example/new"


def test_a_redirect_within_the_origin_is_refused_unless_allowed() -> None:
    with pytest.raises(HandshakeRejected) as raised:
        redirect_target("ws://bot.example/chat", 302, "/v2", follow_redirects=False)
    assert str(raised.value).endswith("give --follow-redirects")


@pytest.mark.parametrize(
    "location",
    [
        "wss://bot.example/chat",
        "ws://other.example/chat",
        "ws://bot.example:81/chat",
        "ws://u:s3cret@evil/?t=s3cret",
    ],
)
def test_a_redirect_to_another_origin_is_refused_naming_only_its_origin(location: str) -> None:
    with pytest.raises(HandshakeRejected) as raised:
        redirect_target("ws://bot.example/chat", 302, location, follow_redirects=True)
    assert raised.value.status == 302
    assert "another origin than the URL's" in str(raised.value)
    assert "s3cret" not in str(raised.value)
