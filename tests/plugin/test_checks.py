"""The start-up check (``check_run``): options as the web UI's form sends them, and locustfile class attributes."""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching before anything else)
from locust.argument_parser import get_parser
from locust.env import Environment
from locust.event import Events

import argparse
import math
from typing import Any

import pytest

from wslocust import ChatbotUser, ConfigurationError, WebSocketUser
from wslocust.plugin.checks import check_run
from wslocust.wire.protocols import JsonProtocol

from ..conftest import SAMPLE


class Bot(ChatbotUser):
    """A class with a host, so no demo bot is started."""

    abstract = True
    host = "ws://127.0.0.1:9"
    prompts = str(SAMPLE)


def options(**given: Any) -> argparse.Namespace:
    """Parsed options with no option given, then ``given`` set as the web UI's form sets them."""
    parsed = get_parser().parse_args([])
    for name, value in given.items():
        setattr(parsed, name, value)
    return parsed


def check(user: type[WebSocketUser], **given: Any) -> None:
    environment = Environment(events=Events(), parsed_options=options(**given), host=given.get("host"))
    check_run(environment, [user])


def refusal(user: type[WebSocketUser] = Bot, **given: Any) -> str:
    with pytest.raises(ConfigurationError) as raised:
        check(user, **given)
    return str(raised.value)


def test_the_defaults_pass() -> None:
    check(Bot)


@pytest.mark.parametrize(
    ("option", "value", "flag"),
    [
        ("think_time", "nan", "--think-time"),
        ("think_time", "inf", "--think-time"),
        ("reply_timeout", "nan", "--reply-timeout"),
        ("reply_timeout", "0", "--reply-timeout"),
        ("reply_timeout", math.nan, "--reply-timeout"),  # what type(60.0)("nan") makes of the field
        ("connect_timeout", "-1", "--connect-timeout"),
        ("arrival_rate", "inf", "--arrival-rate"),
        ("arrival_rate", "0", "--arrival-rate"),
        ("prompts_per_connection", "-1", "--prompts-per-connection"),
        ("max_samples", "0", "--max-samples"),
        ("max_message_bytes", "0", "--max-message-bytes"),
        ("max_message_bytes", "-1", "--max-message-bytes"),
        ("max_message_bytes", "nan", "--max-message-bytes"),
        ("max_message_bytes", math.nan, "--max-message-bytes"),
        ("max_message_bytes", "four", "--max-message-bytes"),
        ("insecure", "perhaps", "--insecure"),
        ("tokens", "bytes", "--tokens"),
        ("max_p95_ms", "nan", "--max-p95-ms"),
        ("demo_ttft_ms", "-5", "--demo-ttft-ms"),
        ("demo_error_rate", "2", "--demo-error-rate"),
    ],
)
def test_a_value_typed_into_the_form_is_refused_naming_its_option(
    option: str, value: object, flag: str
) -> None:
    message = refusal(**{option: value})
    assert message.startswith(flag)
    assert repr(value) in message


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("reply_timeout_s", math.nan),
        ("reply_timeout_s", 0.0),
        ("connect_timeout_s", -1.0),
        ("connect_timeout_s", math.inf),
        ("arrival_rate", math.nan),
        ("prompts_per_connection", -2),
        ("max_samples", 0),
        ("max_message_bytes", 0),
        ("max_message_bytes", 1.5),
        ("verify_tls", "maybe"),
    ],
)
def test_a_bad_class_attribute_is_refused_naming_the_attribute(attribute: str, value: object) -> None:
    user = type("LocustfileUser", (Bot,), {attribute: value, "abstract": True})
    message = refusal(user)
    assert message.startswith(f"LocustfileUser.{attribute} must be")


def test_an_option_given_wins_over_a_bad_class_attribute_and_is_checked_instead() -> None:
    user = type("LocustfileUser", (Bot,), {"reply_timeout_s": math.nan, "abstract": True})
    check(user, reply_timeout="2m")
    assert refusal(user, reply_timeout="-2").startswith("--reply-timeout must be")


def test_an_empty_host_is_refused_even_when_the_class_has_one() -> None:
    assert refusal(host="").startswith("--host is empty")
    assert refusal(host="   ").startswith("--host is empty")


def test_a_broken_host_url_names_the_option_and_quotes_it() -> None:
    assert refusal(host="ws://[::1") == "--host 'ws://[::1': Invalid IPv6 URL"
    assert refusal(host="ws://127.0.0.1:99999/").startswith(
        "--host 'ws://127.0.0.1:99999/': Port out of range"
    )


def test_a_broken_class_host_names_the_attribute() -> None:
    user = type("LocustfileUser", (Bot,), {"host": "ws://[::1", "abstract": True})
    assert refusal(user).startswith("LocustfileUser.host 'ws://[::1'")


def test_a_header_without_a_colon_is_refused_without_showing_it() -> None:
    message = refusal(header=["Authorization Bearer s3cret"])
    assert message.startswith("--header must read 'Name: value'")
    assert "s3cret" not in message


def test_an_unset_variable_in_a_header_or_query_is_refused_naming_the_option_and_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WSLOCUST_TEST_UNSET", raising=False)
    monkeypatch.setenv("WSLOCUST_TEST_SET", "s3cret")
    header = ["A: ${WSLOCUST_TEST_SET}", "B: ${WSLOCUST_TEST_UNSET}"]
    assert (
        refusal(header=header)
        == "--header: environment variable WSLOCUST_TEST_UNSET is referenced but not set"
    )
    assert refusal(query="k=${WSLOCUST_TEST_UNSET}").startswith(
        "--query: environment variable WSLOCUST_TEST_UNSET"
    )
    check(Bot, header=["A: ${WSLOCUST_TEST_SET}"], query="k=${WSLOCUST_TEST_SET}")


def test_an_unset_variable_in_a_class_header_names_the_attribute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WSLOCUST_TEST_UNSET", raising=False)
    user = type("LocustfileUser", (Bot,), {"headers": ("X: ${WSLOCUST_TEST_UNSET}",), "abstract": True})
    assert refusal(user).startswith("LocustfileUser.headers: environment variable WSLOCUST_TEST_UNSET")


@pytest.mark.parametrize(
    "target",
    [
        "127.0.0.1:99999",
        "127.0.0.1:0",
        "127.0.0.1:port",
        ":8080",
        "http://127.0.0.1:8080",
        "a b",
        "::1:x:8443",
        "bot.example/chat",
        "[bot]:8443",
    ],
)
def test_a_bad_connect_to_is_refused_at_start_up(target: str) -> None:
    assert refusal(connect_to=target).startswith(f"--connect-to {target!r}")


@pytest.mark.parametrize("target", ["", "127.0.0.1:", "[::1]:"])
def test_an_empty_connect_to_or_port_is_refused_at_start_up(target: str) -> None:
    assert refusal(connect_to=target).startswith(f"--connect-to {target!r}")


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("header", ["X-A: a\r\nInjected: yes"], "--header holds a control character"),
        ("header", ["X-A: a\nInjected: yes"], "--header holds a control character"),
        ("header", ["X-A: a\x00b"], "--header holds a control character"),
        ("query", "a=1\r\nInjected: yes", "--query holds a space or control character"),
        ("query", "a=1 HTTP/1.1", "--query holds a space or control character"),
        ("query", "a=1\tb", "--query holds a space or control character"),
        ("origin", "https://a.example\r\nInjected: yes", "--origin holds a control character"),
    ],
)
def test_a_control_character_in_a_handshake_setting_is_refused_without_showing_it(
    option: str, value: object, expected: str
) -> None:
    message = refusal(**{option: value})
    assert message.startswith(expected)
    assert "Injected" not in message
    assert "a=1" not in message


def test_a_tab_in_a_header_value_passes() -> None:
    check(Bot, header=["X-A: a\tb"])


@pytest.mark.parametrize(
    ("option", "value"), [("header", ["Authorization: Bearer ${TOK}"]), ("query", "t=${TOK}")]
)
def test_a_variable_expanding_to_a_line_break_is_refused_without_showing_it(
    monkeypatch: pytest.MonkeyPatch, option: str, value: object
) -> None:
    monkeypatch.setenv("TOK", "abc\nX-Evil: 1")
    message = refusal(**{option: value})
    assert message.startswith(f"--{option}, after ${{VAR}} expansion, holds a")
    assert "abc" not in message
    assert "X-Evil" not in message


def test_a_class_header_with_a_line_break_names_the_attribute() -> None:
    user = type("LocustfileUser", (Bot,), {"headers": ("X-A: a\r\nB: c",), "abstract": True})
    assert refusal(user).startswith("LocustfileUser.headers holds a control character")


@pytest.mark.parametrize("subprotocol", ["", "chat v1", "chat,v1", "chat/1", "\u00e9"])
def test_a_subprotocol_that_is_not_a_token_is_refused(subprotocol: str) -> None:
    assert refusal(subprotocol=[subprotocol]) == (
        f"--subprotocol must be a token: letters, digits and !#$%&'*+-.^_`|~ (RFC 6455), got {subprotocol!r}"
    )


def test_a_token_subprotocol_passes() -> None:
    check(Bot, subprotocol=["graphql-transport-ws", "v1.chat+json"])


@pytest.mark.parametrize("seed", ["-2", "-100"])
def test_a_shuffle_seed_below_minus_one_is_refused(seed: str) -> None:
    assert refusal(shuffle_seed=seed) == (
        f"--shuffle-seed must be a whole number of 0 or more, or -1 for file order, got {seed!r}"
    )


def test_an_unknown_class_protocol_names_the_attribute() -> None:
    user = type("LocustfileUser", (Bot,), {"protocol": "nonexistent", "abstract": True})
    assert refusal(user).startswith("LocustfileUser.protocol: unknown protocol 'nonexistent'")


@pytest.mark.parametrize("path", ["..", ".", ".text", "text.", "choices..content", " "])
def test_a_malformed_json_chunk_path_is_refused(path: str) -> None:
    message = refusal(protocol="json", json_chunk_path=path)
    assert message.startswith(f"chunk_path (--json-chunk-path) {path!r}: expected a dotted path")
    with pytest.raises(ConfigurationError):
        JsonProtocol(error_path=path)


def test_a_well_formed_json_chunk_path_passes() -> None:
    check(Bot, protocol="json", json_chunk_path="choices.0.delta.content")


def test_a_bad_class_connect_to_names_the_attribute() -> None:
    user = type("LocustfileUser", (Bot,), {"connect_to": "127.0.0.1:99999", "abstract": True})
    assert refusal(user).startswith("LocustfileUser.connect_to '127.0.0.1:99999': port must be")


def test_options_shown_in_the_form_keep_their_text_so_the_form_sends_it_back_unchanged() -> None:
    """Locust's form converts a field with ``type(current_value)(text)``: a float would make ``2m`` an
    error page and ``nan`` a NaN, so the command line's value stays text and the check reads it."""
    parsed = get_parser().parse_args(
        ["--reply-timeout", "2m", "--arrival-rate", "5", "--max-samples", "10", "--step-users", "3"]
    )
    assert (parsed.reply_timeout, parsed.arrival_rate, parsed.max_samples, parsed.step_users) == (
        "2m",
        "5",
        "10",
        "3",
    )
    environment = Environment(events=Events(), parsed_options=parsed)
    assert Bot.connection_settings(environment).reply_timeout_s == 120.0
    assert Bot.open_model_settings(environment) == (5.0, "constant")


def test_max_message_bytes_reaches_the_connection_settings_from_the_option_or_the_class() -> None:
    sized = type("LocustfileUser", (Bot,), {"max_message_bytes": 1000, "abstract": True})
    environment = Environment(events=Events(), parsed_options=options())
    assert Bot.connection_settings(environment).max_message_bytes == 4 * 1024 * 1024
    assert sized.connection_settings(environment).max_message_bytes == 1000
    given = Environment(events=Events(), parsed_options=options(max_message_bytes="65536"))
    assert sized.connection_settings(given).max_message_bytes == 65536
