"""The conversation options on the command line and in the web UI's form."""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching first)
from locust import argument_parser
from locust.env import Environment
from locust.event import Events

import pytest

from wslocust import ChatbotUser
from wslocust.plugin.webui_form import form_options, shown_values

CONVERSATION_OPTIONS = ["turn_think_time", "continue_after_failed_turn", "conversations_per_connection"]


def test_the_form_groups_the_conversation_options_with_their_help() -> None:
    options = form_options(argument_parser.get_parser())

    assert [
        dest for dest, option in options.items() if option.group == "Conversations"
    ] == CONVERSATION_OPTIONS
    assert all(options[dest].action.help for dest in CONVERSATION_OPTIONS)


def test_the_form_shows_a_locustfiles_conversation_settings() -> None:
    class Talker(ChatbotUser):
        abstract = True
        host = "ws://127.0.0.1:9"
        turn_think_time = "1-3"
        continue_after_failed_turn = True
        conversations_per_connection = 5

    parser = argument_parser.get_parser()
    environment = Environment(user_classes=[Talker], events=Events(), parsed_options=parser.parse_args([]))

    shown = shown_values(environment, form_options(parser))

    assert [shown[dest] for dest in CONVERSATION_OPTIONS] == ["1-3", True, "5"]


@pytest.mark.parametrize(
    ("dest", "text", "message"),
    [
        ("turn_think_time", "3-1", r"^--turn-think-time: must be N or MIN-MAX seconds"),
        (
            "conversations_per_connection",
            "0",
            r"^--conversations-per-connection: must be a whole number of 1",
        ),
    ],
)
def test_a_bad_value_typed_in_the_form_is_refused_naming_the_option(
    dest: str, text: str, message: str
) -> None:
    option = form_options(argument_parser.get_parser())[dest]

    with pytest.raises(ValueError, match=message):
        option.convert(text)
