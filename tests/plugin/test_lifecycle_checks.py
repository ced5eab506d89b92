"""The start-up check of lifecycles and failover hosts: one clear line naming the culprit."""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching before anything else)
from locust.argument_parser import get_parser
from locust.env import Environment
from locust.event import Events

import argparse
from typing import Any

import pytest

from wslocust import ChatbotUser, ConfigurationError, WebSocketUser
from wslocust.plugin.checks import check_run

from ..conftest import ROOT, SAMPLE

CONVERSATIONS = ROOT / "datasets" / "support_conversations.jsonl"


class Bot(ChatbotUser):
    abstract = True
    host = "ws://127.0.0.1:9"
    prompts = str(SAMPLE)


def _options(**given: Any) -> argparse.Namespace:
    parsed = get_parser().parse_args([])
    for name, value in given.items():
        setattr(parsed, name, value)
    return parsed


def refusal(user: type[WebSocketUser] = Bot, **given: Any) -> str:
    environment = Environment(events=Events(), parsed_options=_options(**given))
    with pytest.raises(ConfigurationError) as raised:
        check_run(environment, [user])
    return str(raised.value)


def test_lifecycles_and_failover_hosts_that_make_sense_pass() -> None:
    for given in (
        {"lifecycle": "intermittent", "prompts_per_connection": "3", "reconnect_wait": "1-2"},
        {"lifecycle": "intermittent", "connection_time": "30s"},
        {"lifecycle": "bursty", "burst_prompts": "4", "burst_think_time": "0.2", "idle_time": "10-20"},
        {"failover_host": ["ws://127.0.0.1:10", "wss://127.0.0.2/chat"]},
    ):
        check_run(Environment(events=Events(), parsed_options=_options(**given)), [Bot])


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"failover_host": ["http://127.0.0.1:10"]}, "--failover-host: host must be a ws:// or wss:// URL"),
        ({"failover_host": ["ws://127.0.0.1:0"]}, "--failover-host 'ws://127.0.0.1:0': port 0 cannot be dialled"),
        ({"lifecycle": "forever"}, "--lifecycle must be one of"),
        ({"lifecycle": "intermittent"}, "--lifecycle intermittent needs --prompts-per-connection N or --connection-time S"),
        ({"lifecycle": "bursty", "burst_prompts": "0"}, "--burst-prompts must be"),
        ({"lifecycle": "bursty", "idle_time": "9-3"}, "--idle-time must be N or MIN-MAX seconds"),
        ({"burst_prompts": "3"}, "--burst-prompts is for --lifecycle bursty (this run's is persistent)"),
        ({"lifecycle": "bursty", "reconnect_wait": "1"}, "--reconnect-wait is for --lifecycle intermittent"),
        ({"lifecycle": "bursty", "arrival_rate": "5"}, "--lifecycle bursty paces the prompts itself"),
    ],
)  # fmt: skip
def test_a_bad_lifecycle_or_failover_setting_is_refused_naming_it(
    given: dict[str, Any], message: str
) -> None:
    assert message in refusal(**given)


def test_a_failover_url_carrying_a_secret_is_refused_without_showing_it() -> None:
    for url in ("ws://127.0.0.1:10/chat?token=s3cret", "ws://user:s3cret@127.0.0.1:10/chat"):
        message = refusal(failover_host=[url])
        assert message.startswith("--failover-host ws://127.0.0.1:10/chat: no user info, query or fragment")
        assert "s3cret" not in message


def test_a_locustfiles_failover_list_is_checked_naming_its_attribute() -> None:
    class Listed(Bot):
        abstract = True
        failover_hosts = ("ws://127.0.0.1:10", "tcp://127.0.0.1:11")

    assert "Listed.failover_hosts" in refusal(Listed)


def test_the_form_groups_the_lifecycle_options_with_help_and_shows_the_classs_settings() -> None:
    from locust import argument_parser

    from wslocust.plugin.webui_form import form_options, shown_values

    class Bursty(Bot):
        abstract = True
        lifecycle = "bursty"
        failover_hosts = ("ws://127.0.0.1:10", "ws://127.0.0.1:11")
        idle_time_s = "20-40"

    parser = argument_parser.get_parser()
    options = form_options(parser)
    dests = ("lifecycle", "failover_host", "connection_time", "reconnect_wait", "burst_prompts",
             "burst_think_time", "idle_time")  # fmt: skip
    assert [dest for dest in options if options[dest].group == "Lifecycle and failover"] == list(dests)
    assert all(options[dest].action.help for dest in dests)
    environment = Environment(user_classes=[Bursty], events=Events(), parsed_options=parser.parse_args([]))
    shown = shown_values(environment, options)
    assert (shown["lifecycle"], shown["idle_time"]) == ("bursty", "20-40")
    assert shown["failover_host"] == "ws://127.0.0.1:10; ws://127.0.0.1:11"
    with pytest.raises(ValueError, match="--burst-prompts"):
        options["burst_prompts"].convert("0")


@pytest.mark.parametrize(
    ("given", "clash"),
    [
        ({"failover_host": ["ws://127.0.0.1:10"]}, "--failover-host"),
        ({"lifecycle": "bursty"}, "--lifecycle bursty"),
        ({"prompts": "datasets/support_conversations.jsonl"}, "conversations (records with turns)"),
    ],
)
def test_several_prompts_in_flight_are_refused_beside_what_needs_other_connections_or_turns(
    given: dict[str, Any], clash: str
) -> None:
    in_flight = {"in_flight": "4", "protocol": "json", "json_id_path": "request_id"}
    template = {"json_template": '{"prompt": "{prompt}", "request_id": "{request_id}"}'}
    assert refusal(**in_flight, **template, **given) == f"--in-flight 4 is one connection: not with {clash}"


@pytest.mark.parametrize(
    "given",
    [
        {"lifecycle": "intermittent", "prompts_per_connection": "1", "reconnect_wait": "2"},
        {"lifecycle": "bursty", "idle_time": "10-20"},
    ],
)
def test_a_lifecycle_pacing_single_prompts_is_refused_with_conversations(given: dict[str, str]) -> None:
    """Conversations set their own connections and pauses: a lifecycle's would be silently ignored."""
    conversations = type("Talker", (Bot,), {"abstract": True, "prompts": str(CONVERSATIONS)})
    assert refusal(conversations, **given).startswith(
        f"--lifecycle {given['lifecycle']} paces single prompts"
    )
