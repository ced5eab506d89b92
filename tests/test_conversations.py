"""Conversations asked by a ChatbotUser against the real demo bot: turn order and names, per-turn
scoring, failed turns, connections, context, pacing, and the settings' bad values."""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching before anything else)
from locust.argument_parser import get_parser
from locust.env import Environment
from locust.event import Events

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from wslocust import ChatbotUser
from wslocust.conversations import CONVERSATION_REQUEST_TYPE, ConversationFailed, ConversationSettings
from wslocust.demo.process import DemoProcess
from wslocust.errors import ConfigurationError
from wslocust.metrics import contains, intent_accuracy

from .conftest import UNIT, Recorded

BILL = "when is my payment due"  # billing questions of the demo bot's dataset
AUTOPAY = "How do I set up AutoPay? I keep forgetting to pay."
FOLLOW_UP = "Sorry, could you go over that again?"

Talk = Callable[..., tuple[ChatbotUser, Recorded]]


@pytest.fixture(scope="module")
def bot_url() -> Iterator[str]:
    process = DemoProcess(["--ttft-ms", "2", "--itl-ms", "1", "--chunks", "2"], start_timeout_s=20 * UNIT)
    yield process.start()
    process.stop()


@pytest.fixture
def talker(bot_url: str, tmp_path: Path) -> Iterator[Talk]:
    """``talker(records, *options, **class_attributes)``: a started user asking those records."""
    users: list[ChatbotUser] = []

    def make(records: list[dict[str, Any]], *args: str, **attributes: Any) -> tuple[ChatbotUser, Recorded]:
        path = tmp_path / f"conversations{len(users)}.jsonl"
        path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
        options = get_parser().parse_args(["--prompts", str(path), *args])
        environment = Environment(events=Events(), parsed_options=options, host=bot_url)
        recorded = Recorded()
        environment.events.request.add_listener(lambda **kwargs: recorded.events.append(kwargs))
        cls = type(
            "Talker",
            (ChatbotUser,),
            {"abstract": True, "protocol": "json", "metrics": (intent_accuracy("Intent"),), **attributes},
        )
        user = cls(environment)
        user.on_start()
        users.append(user)
        return user, recorded

    yield make
    for user in users:
        user.on_stop()


def billing(*turns: Any, **fields: Any) -> dict[str, Any]:
    return {"name": "billing", "Intent": "billing", **fields, "turns": list(turns)}


def test_the_turns_are_asked_in_order_on_one_connection_each_named_by_its_number(talker: Talk) -> None:
    user, recorded = talker([billing(BILL, AUTOPAY, BILL)])

    user.ask_next()

    turns = recorded.of("WS")
    assert [(event["name"], event["response"].prompt) for event in turns] == [
        ("billing #1", BILL), ("billing #2", AUTOPAY), ("billing #3", BILL),
    ]  # fmt: skip
    assert all(event["exception"] is None for event in turns)
    assert len(recorded.of("CONNECT")) == 1
    [conversation] = recorded.of(CONVERSATION_REQUEST_TYPE)
    assert (conversation["name"], conversation["exception"]) == ("billing", None)
    assert conversation["response_time"] >= sum(event["response_time"] for event in turns)


def test_each_turn_is_scored_against_its_own_expected_fields(talker: Talk) -> None:
    record = {"name": "mixed", "turns": [{"prompt": BILL, "Intent": "billing"},
                                         {"prompt": "How long does a refund take?",
                                          "Intent": "refund"}]}  # fmt: skip
    user, recorded = talker([record])

    user.ask_next()

    replies = [event["response"] for event in recorded.of("WS")]
    assert [(reply.record["Intent"], reply.scores["intent"]) for reply in replies] == [
        ("billing", 1.0), ("refund", 1.0),
    ]  # fmt: skip


def test_a_failed_turn_ends_the_conversation_which_counts_as_failed(talker: Talk) -> None:
    user, recorded = talker([billing(BILL, {"prompt": AUTOPAY, "Intent": "refund"}, BILL)])

    user.ask_next()

    assert [event["name"] for event in recorded.of("WS")] == ["billing #1", "billing #2"]
    [conversation] = recorded.of(CONVERSATION_REQUEST_TYPE)
    assert isinstance(conversation["exception"], ConversationFailed)
    assert str(conversation["exception"]).startswith("turn 2 failed: metric failed: intent=0")


def test_continue_after_failed_turn_asks_the_remaining_turns_and_still_fails_it(talker: Talk) -> None:
    user, recorded = talker(
        [billing(BILL, {"prompt": AUTOPAY, "Intent": "refund"}, BILL)], "--continue-after-failed-turn"
    )

    user.ask_next()

    assert [event["exception"] is None for event in recorded.of("WS")] == [True, False, True]
    [conversation] = recorded.of(CONVERSATION_REQUEST_TYPE)
    assert str(conversation["exception"]).startswith("turn 2 failed")


def test_each_conversation_starts_on_a_new_connection_by_default(talker: Talk) -> None:
    user, recorded = talker([billing(BILL, AUTOPAY)])

    for _ in range(3):
        user.ask_next()

    assert len(recorded.of(CONVERSATION_REQUEST_TYPE)) == 3
    assert [event["exception"] for event in recorded.of("CONNECT")] == [None, None, None]


def test_conversations_per_connection_keeps_one_connection_for_that_many(talker: Talk) -> None:
    user, recorded = talker([billing(BILL, AUTOPAY)], conversations_per_connection=2)

    for _ in range(3):
        user.ask_next()

    assert len(recorded.of(CONVERSATION_REQUEST_TYPE)) == 3
    assert len(recorded.of("CONNECT")) == 2


def test_a_follow_up_keeps_the_context_of_its_conversation_and_a_fresh_connections_does_not(
    talker: Talk,
) -> None:
    follow_up = {"prompt": FOLLOW_UP, "FollowsUp": BILL}
    user, recorded = talker(
        [billing(BILL, follow_up), billing(follow_up, BILL)],
        metrics=(intent_accuracy("Intent"), contains(field="FollowsUp", name="context")),
        continue_after_failed_turn=True,
    )

    user.ask_next()
    user.ask_next()

    kept, fresh = (event["response"] for event in recorded.of("WS") if event["response"].prompt == FOLLOW_UP)
    assert (kept.scores["context"], kept.scores["intent"], kept.error) == (1.0, 1.0, None)
    assert (fresh.scores["context"], fresh.scores["intent"]) == (0.0, 0.0)
    assert [event["exception"] is None for event in recorded.of(CONVERSATION_REQUEST_TYPE)] == [True, False]


def test_the_turn_think_time_pauses_between_turns(talker: Talk) -> None:
    user, recorded = talker([billing(BILL, AUTOPAY)], "--turn-think-time", "0.3")

    user.ask_next()

    first, second = recorded.of("WS")
    assert second["start_time"] - (first["start_time"] + first["response_time"] / 1000.0) >= 0.3


def test_an_arrival_rate_paces_the_conversations_not_their_turns(talker: Talk) -> None:
    user, recorded = talker([billing(BILL, AUTOPAY, BILL)], "--arrival-rate", "4")

    user.ask_next()
    user.ask_next()

    first, second = recorded.of(CONVERSATION_REQUEST_TYPE)
    assert second["start_time"] - first["start_time"] >= 0.24  # a due time every 0.25 s
    assert first["response_time"] < 240  # its three turns went without waiting for due times
    assert len(recorded.of("WS")) == 6


@pytest.mark.parametrize(
    ("given", "flag"),
    [
        ({"conversations_per_connection": "0"}, "--conversations-per-connection"),
        ({"turn_think_time": "3-1"}, "--turn-think-time"),
        ({"turn_think_time": "nan"}, "--turn-think-time"),
        ({"continue_after_failed_turn": "perhaps"}, "--continue-after-failed-turn"),
    ],
)
def test_a_bad_option_is_refused_naming_it(given: dict[str, str], flag: str) -> None:
    options = get_parser().parse_args([])
    for name, value in given.items():
        setattr(options, name, value)
    with pytest.raises(ConfigurationError) as raised:
        ConversationSettings.of(ChatbotUser, Environment(events=Events(), parsed_options=options))
    assert str(raised.value).startswith(flag)


@pytest.mark.parametrize(
    ("attribute", "value"),
    [("conversations_per_connection", 0), ("turn_think_time", -1), ("continue_after_failed_turn", "maybe")],
)
def test_a_bad_class_attribute_is_refused_naming_it(attribute: str, value: object) -> None:
    user = type("LocustfileUser", (ChatbotUser,), {"abstract": True, attribute: value})
    with pytest.raises(ConfigurationError) as raised:
        ConversationSettings.of(
            user, Environment(events=Events(), parsed_options=get_parser().parse_args([]))
        )
    assert str(raised.value).startswith(f"LocustfileUser.{attribute}")


def test_a_turn_lacking_a_field_its_template_uses_is_a_failed_turn_never_sent(talker: Talk) -> None:
    record = billing({"prompt": BILL, "Topic": "bills"}, AUTOPAY)
    user, recorded = talker([record], "--json-template", '{"prompt": "{prompt}", "topic": "{Topic}"}')

    user.ask_next()

    first, second = recorded.of("WS")
    assert (first["exception"], second["response_time"]) == (None, 0.0)
    assert str(second["exception"]).startswith("--json-template uses {Topic}, which turn 2 of ")
    assert str(recorded.of(CONVERSATION_REQUEST_TYPE)[0]["exception"]).startswith(
        "turn 2 failed: --json-template"
    )
