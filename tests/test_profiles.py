"""User profiles: ``--user-profile`` parsed (and refused), its classes made and weighted, its users' settings."""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching before anything else)
from locust.argument_parser import get_parser
from locust.dispatch import UsersDispatcher
from locust.env import Environment
from locust.event import Events
from locust.runners import WorkerNode

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wslocust import ChatbotUser, ConfigurationError
from wslocust.profiles import (
    ProfiledUser,
    UserProfile,
    parse_user_profile,
    parse_user_profiles,
    profile_class,
    profile_of_name,
)

from .conftest import SAMPLE, Recorded

SEED_003 = ("active:0.2:think=1-3", "regular:0.5:think=5-10", "passive:0.3:think=20-40")
"""The active/regular/passive mix of a chatbot's users."""


class Support(ChatbotUser):
    abstract = True
    prompts = str(SAMPLE)
    request_name = None


def options(**given: Any) -> argparse.Namespace:
    parsed = get_parser().parse_args([])
    for name, value in given.items():
        setattr(parsed, name, value)
    return parsed


def test_a_profile_reads_its_name_weight_think_time_and_prompts() -> None:
    assert parse_user_profile("passive:0.3:think=20-40,prompts=data/a,b:c.jsonl") == UserProfile(
        "passive", 0.3, (20.0, 40.0), "data/a,b:c.jsonl"
    )  # prompts= takes the rest: a path may hold commas and colons


def test_a_profile_needs_only_a_name_and_a_weight() -> None:
    assert parse_user_profile("regular:2") == UserProfile("regular", 2.0)
    assert parse_user_profile("fast:1:think=0.5") == UserProfile("fast", 1.0, (0.5, 0.5))


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("active:0.2:foo=1", "--user-profile active: unknown field 'foo=1' (fields: think=, prompts=)"),
        ("active:0.2:think", "--user-profile active: unknown field 'think'"),
        ("active:0", "--user-profile active: the weight must be a number above 0, got '0'"),
        ("active:-1", "--user-profile active: the weight must be"),
        ("active:nan", "--user-profile active: the weight must be"),
        ("active:heavy", "--user-profile active: the weight must be"),
        ("active", "--user-profile active: the weight is missing (NAME:WEIGHT, e.g. active:0.5)"),
        ("active:1:think=3-1", "--user-profile active: think must be N or MIN-MAX seconds"),
        ("active:1:think=-1", "--user-profile active: think must be N or MIN-MAX seconds"),
        ("active:1:think=1-3,think=2", "--user-profile active: think= is given twice"),
        ("active:1:prompts=", "--user-profile active: prompts= names no file"),
        ("act/ive:1", "--user-profile 'act/ive:1': give NAME:WEIGHT"),
        (":1", "--user-profile ':1': give NAME:WEIGHT"),
    ],
)
def test_a_bad_profile_is_refused_naming_it_and_the_culprit(text: str, said: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse_user_profile(text)
    assert str(raised.value).startswith(said), str(raised.value)


def test_two_profiles_of_one_name_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="--user-profile active: two profiles have this name"):
        parse_user_profiles(["active:1", "regular:1", "active:2"])


def test_each_profile_is_a_class_of_its_name_and_weight_made_from_the_locustfiles() -> None:
    classes = [profile_class(Support, profile) for profile in parse_user_profiles(SEED_003)]
    assert [(cls.__name__, cls.weight, cls.fixed_count) for cls in classes] == [
        ("active", 0.2, 0),
        ("regular", 0.5, 0),
        ("passive", 0.3, 0),
    ]
    assert all(issubclass(cls, Support) and not cls.abstract for cls in classes)
    assert all(cls.tasks == Support.tasks for cls in classes)  # the base's tasks, once each
    assert profile_class(Support, parse_user_profile(SEED_003[0])) is classes[0]  # made once


def test_locust_spawns_the_profiles_users_by_weight() -> None:
    classes = [profile_class(Support, profile) for profile in parse_user_profiles(SEED_003)]
    dispatcher = UsersDispatcher(worker_nodes=[WorkerNode("one")], user_classes=list(classes))
    dispatcher.new_dispatch(target_user_count=20, spawn_rate=1000)
    *_, spawned = list(dispatcher)
    assert spawned["one"] == {"active": 4, "regular": 10, "passive": 6}


def test_a_profiles_settings_win_over_the_options_which_win_over_the_class() -> None:
    active = profile_class(Support, parse_user_profile("active:1:think=1-2,prompts=other.jsonl"))
    plain = profile_class(Support, parse_user_profile("plain:1"))
    environment = Environment(
        events=Events(), parsed_options=options(think_time="7", prompt_mix=["1:a.txt", "2:b.txt"])
    )
    assert active.think_time_s(environment) == (1.0, 2.0)
    assert active.dataset_settings(environment).path == "other.jsonl"
    assert active.mix_settings(environment) is None  # its own prompts, not the run's mix
    assert plain.think_time_s(environment) == (7.0, 7.0)
    assert plain.mix_settings(environment) == (("a.txt", 1.0), ("b.txt", 2.0))


def test_a_request_name_is_read_back_as_its_profile() -> None:
    assert profile_of_name("active/billing", ["active", "passive"]) == "active"
    assert profile_of_name("billing", ["active"]) is None
    assert profile_of_name("other/billing", ["active"]) is None


def test_a_profiles_user_names_its_requests_after_the_profile_and_thinks_its_time(
    demo: Callable[..., str], recorded_env: tuple[Environment, Recorded], tmp_path: Path
) -> None:
    named = tmp_path / "named.jsonl"
    named.write_text('{"prompt": "Where is my order?", "Intent": "order_status"}\n', encoding="utf-8")
    unnamed = tmp_path / "unnamed.txt"
    unnamed.write_text("hello\n", encoding="utf-8")
    environment, recorded = recorded_env
    environment.host = demo("--ttft-ms", "1", "--itl-ms", "1", "--chunks", "2", "--error-rate", "0")
    environment.parsed_options = options()
    for text in (f"active:1:think=0.25-0.5,prompts={named}", f"passive:1:prompts={unnamed}"):
        user = profile_class(Support, parse_user_profile(text))(environment)
        assert isinstance(user, ProfiledUser)
        user.on_start()
        user.ask_next()
        user.on_stop()
        if user.profile_name() == "active":
            assert all(0.25 <= user.wait_time() <= 0.5 for _ in range(20))
    names = [(event["name"], event["exception"]) for event in recorded.of("WS")]
    assert names == [("active/order_status", None), ("passive/ask", None)]


class active(ProfiledUser, Support):  # a locustfile's profile: Locust's weight, its own wait_time
    abstract = True
    weight = 2
    prompt_mix = {str(SAMPLE): 1}


def test_a_locustfiles_profile_class_is_named_after_itself_and_weighted_by_locust() -> None:
    environment = Environment(events=Events(), parsed_options=options())
    assert active.profile_name() == "active"
    assert active.profile_settings() == {"weight": 2, "think_s": None, "prompts": None}
    assert active.think_time_s(environment) is None  # its wait_time
    assert active.mix_settings(environment) == ((str(SAMPLE), 1.0),)


def test_the_command_lines_prompts_win_over_a_classs_mix_and_both_options_are_refused() -> None:
    assert active.mix_settings(Environment(events=Events(), parsed_options=options(prompts="a.txt"))) is None
    both = Environment(events=Events(), parsed_options=options(prompts="a.txt", prompt_mix=["1:b.txt"]))
    with pytest.raises(ConfigurationError, match="--prompt-mix and --prompts: give one"):
        active.mix_settings(both)


def test_a_user_profile_over_a_locustfiles_profile_class_is_made_from_it() -> None:
    made = profile_class(active, parse_user_profile("busy:1:think=1"))
    assert made.__mro__[1] is active
    assert (made.profile_name(), made.profile_base) == ("busy", active)
