"""The session options at start-up and in the web UI's form: bad values refused naming the option, the
token command fetched once and never shown."""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching before anything else)
from locust.argument_parser import get_parser
from locust.env import Environment
from locust.event import Events

import sys
from pathlib import Path

import pytest

from wslocust import ChatbotUser, ConfigurationError
from wslocust.plugin.webui_form import SECRET_MASK, form_options, shown_values
from wslocust.wire.handshake import provide_variable
from wslocust.wire.protocols import JsonProtocol
from wslocust.wire.sessions import SessionProtocol

from .test_checks import Bot, check, options, refusal


@pytest.fixture(autouse=True)
def no_token_variable() -> object:
    """A token source gives ${TOKEN} to the process: forget it after each test."""
    yield None
    provide_variable("TOKEN", None)


def script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "print_token.py"
    path.write_text("import sys\n" + body)
    return f"{sys.executable} {path} --password hunter2-pw"


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"capture": ["session"]}, "--capture 'session': expected NAME=PATH"),
        ({"capture": ["s=a..b"]}, "--capture s: path"),
        ({"capture": ["Intent=intent"]}, "support_bot.jsonl has a field 'Intent' too"),
        ({"await_on_connect": "=welcome"}, "--await-on-connect: condition"),
        ({"on_connect": ['{"user": "{user}"}']}, "--on-connect"),
        ({"token_ttl": "0"}, "--token-ttl"),
        ({"token_command": "echo 'open"}, "--token-command cannot be split"),
    ],
)
def test_a_bad_session_option_is_refused_naming_it(given: dict[str, object], says: str) -> None:
    assert says in refusal(Bot, **given)


def test_a_failing_token_command_stops_the_start_naming_its_status_never_its_output_or_arguments(
    tmp_path: Path,
) -> None:
    said = refusal(token_command=script(tmp_path, "print('eyJ-secret'); sys.exit(4)"))
    assert said == "--token-command exited with status 4 (its output is not shown)"


def test_a_locustfiles_token_function_and_captures_pass_the_check() -> None:
    class Tokened(Bot):
        abstract = True
        captures = {"session": "session_id"}
        token_function = staticmethod(lambda: "fn-token")

    check(Tokened)


def test_the_session_options_form_their_own_group_and_the_token_command_and_on_connect_are_secrets(
    tmp_path: Path,
) -> None:
    class Sessions(ChatbotUser):
        abstract = True
        host = "ws://127.0.0.1:9"
        captures = {"session": "session_id", "turn": "meta.turn"}

    parser = get_parser()
    options = form_options(parser)
    group = [dest for dest, option in options.items() if option.group == "Sessions"]
    assert group == ["on_connect", "await_on_connect", "capture", "token_command", "token_ttl"]
    assert [dest for dest in group if options[dest].is_secret] == ["on_connect", "token_command"]
    parsed = parser.parse_args(
        ["--token-command", script(tmp_path, ""), "--on-connect", '{"type": "auth", "key": "sk-hunter3"}']
    )
    environment = Environment(user_classes=[Sessions], events=Events(), parsed_options=parsed)
    shown = shown_values(environment, options)
    assert shown["token_command"] == SECRET_MASK
    assert shown["on_connect"] == SECRET_MASK
    assert "hunter2" not in repr(shown)
    assert "hunter3" not in repr(shown)
    assert shown["capture"] == "session=session_id; turn=meta.turn"
    assert options["capture"].convert(shown["capture"]) == ["session=session_id", "turn=meta.turn"]


def test_a_token_command_that_prints_nothing_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="gave no token"):
        check(Bot, token_command=script(tmp_path, ""))


def test_without_session_settings_the_users_protocol_is_the_plain_one_and_with_them_wrapped() -> None:
    """The lean ws:// path is kept unless a session option asks for more."""

    class Json(Bot):
        abstract = True
        protocol = "json"

    def protocol_of(**given: object) -> object:
        environment = Environment(events=Events(), parsed_options=options(**given))
        return Json.connection_settings(environment).protocol

    assert type(protocol_of()) is JsonProtocol
    wrapped = protocol_of(capture=["session=session_id"], await_on_connect="type=welcome")
    assert isinstance(wrapped, SessionProtocol)
    assert wrapped.captures == {"session": "session_id"}
