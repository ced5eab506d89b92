"""Profiles on Locust's runner: the run's classes, the start-up checks, the summary's ``by_profile``,
and runs: bad input at start-up, the web UI, a master and a worker."""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching before anything else)
from locust.argument_parser import get_parser
from locust.env import Environment
from locust.event import Events

import argparse
import json
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scripts.screenshot_webui import running_web_ui
from wslocust import ChatbotUser, ConfigurationError, WebSocketUser
from wslocust.plugin.checks import check_run
from wslocust.plugin.profiles import apply_profiles, by_profile_section, profiled_classes
from wslocust.plugin.webui_form import form_options, shown_values
from wslocust.profiles import ProfiledUser
from wslocust.stats.aggregates import ChatStats

from ..conftest import ROOT, SAMPLE, UNIT, free_port, locust_command, make_reply, run_master_and_workers
from ..test_locust_run import get_json, post

PROFILES = ("active:0.2:think=0.05-0.1", "regular:0.5:think=0.2-0.3", "passive:0.3:think=1-2")


class Bot(ChatbotUser):
    abstract = True
    host = "ws://127.0.0.1:9"
    prompts = str(SAMPLE)


class Other(ChatbotUser):
    abstract = True
    host = "ws://127.0.0.1:9"
    prompts = str(SAMPLE)


class Raw(WebSocketUser):
    abstract = True
    host = "ws://127.0.0.1:9"


def environment(users: list[type[Any]], **given: Any) -> Environment:
    parsed = get_parser().parse_args([])
    for name, value in given.items():
        setattr(parsed, name, value)
    return Environment(events=Events(), user_classes=users, parsed_options=parsed)


def test_the_runs_classes_become_the_profiles_and_stay_them_when_applied_again() -> None:
    env = environment([Bot], user_profile=list(PROFILES))
    apply_profiles(env)
    first = list(env.user_classes)
    assert [cls.__name__ for cls in first] == ["active", "regular", "passive"]
    assert all(issubclass(cls, ProfiledUser) and cls.profile_base is Bot for cls in first)
    apply_profiles(env)  # the web UI's next START, a worker's next test: the same classes
    assert env.user_classes == first
    env.parsed_options = argparse.Namespace(user_profile=None)
    apply_profiles(env)  # profiles cleared in the form: the locustfile's class again
    assert env.user_classes == [Bot]


def test_profiles_over_several_classes_are_refused_naming_them() -> None:
    env = environment([Bot, Other], user_profile=["active:1"])
    with pytest.raises(ConfigurationError) as raised:
        profiled_classes(env, [Bot, Other])
    assert str(raised.value).startswith(
        "--user-profile makes its classes from one user class; this run has 2 (Bot, Other): name one"
    )


def test_profiles_over_a_class_that_asks_no_dataset_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="from a ChatbotUser; Raw is not one"):
        profiled_classes(environment([Raw], user_profile=["active:1"]), [Raw])


def test_the_start_up_check_names_a_profiles_missing_prompts_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.jsonl"
    env = environment([Bot], user_profile=["active:1", f"passive:1:prompts={missing}"])
    with pytest.raises(ConfigurationError, match=f"^{re.escape(str(missing))}: no such file or folder$"):
        check_run(env, [Bot])


def test_the_start_up_check_refuses_a_mix_beside_prompts() -> None:
    env = environment([Bot], prompts=str(SAMPLE), prompt_mix=[f"1:{SAMPLE}"])
    with pytest.raises(ConfigurationError, match="--prompt-mix and --prompts: give one"):
        check_run(env, [Bot])


def test_the_summary_sums_each_profiles_requests_under_by_profile() -> None:
    env = environment([Bot], user_profile=["active:1:think=1-3", "passive:2"])
    apply_profiles(env)
    stats = ChatStats()
    for name in ("active/billing", "active/refund", "active/refund", "passive/billing", "connect"):
        stats.record(make_reply(name))
    section = by_profile_section(env, stats, 10.0)["by_profile"]
    assert list(section) == ["active", "passive"]
    assert (section["active"]["total_requests"], section["passive"]["total_requests"]) == (3, 1)
    assert (section["active"]["think_s"], section["passive"]["think_s"]) == ([1.0, 3.0], None)
    assert section["passive"]["weight"] == 2.0


def test_a_bad_profile_on_the_command_line_stops_the_run_with_one_line_and_exit_2() -> None:
    command = locust_command("--headless", "-u", "1", "-t", "2s", "--user-profile", "active:0.2:foo=1")
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60 * UNIT, check=False)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, errors
    assert errors[0].endswith("--user-profile active: unknown field 'foo=1' (fields: think=, prompts=)")


def test_a_web_ui_run_spawns_the_profiles_typed_in_the_form_and_refuses_a_bad_one() -> None:
    port = free_port()
    command = locust_command(
        "--web-host", "127.0.0.1", "--web-port", str(port), "--demo-ttft-ms", "5", "--demo-itl-ms", "1",
        "--demo-error-rate", "0",
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    with running_web_ui(command, base + "/", timeout_s=60 * UNIT):
        refused = post(
            base + "/swarm", {"user_count": "4", "spawn_rate": "4", "user_profile": "active:1:foo=1"}
        )
        assert refused == {**refused, "success": False}
        assert refused["message"] == "--user-profile active: unknown field 'foo=1' (fields: think=, prompts=)"
        form = {
            "user_count": "4",
            "spawn_rate": "4",
            "user_profile": "active:3:think=0.05; passive:1:think=0.05",
        }
        assert post(base + "/swarm", form)["success"]
        deadline = time.monotonic() + 15 * UNIT
        names: set[str] = set()
        while not {"active", "passive"} <= {name.partition("/")[0] for name in names}:
            assert time.monotonic() < deadline, names
            time.sleep(0.2)
            names = {
                row["name"] for row in get_json(base + "/stats/requests")["stats"] if row["method"] == "WS"
            }
        assert all(name.startswith(("active/", "passive/")) for name in names), names
        assert set(get_json(base + "/tasks")["per_class"]) == {"active", "passive"}
        post(base + "/stop", {})


def test_a_master_and_worker_run_three_profiles_by_weight_and_report_each(
    demo: Callable[..., str], tmp_path: Path
) -> None:
    bot = demo("--ttft-ms", "5", "--itl-ms", "1", "--error-rate", "0", "--wrong-rate", "0")
    summary_path = tmp_path / "summary.json"
    profiles = [argument for profile in PROFILES for argument in ("--user-profile", profile)]
    run = run_master_and_workers(
        "--headless",
        "-u",
        "10",
        "-r",
        "100",
        "-t",
        "4s",
        "--host",
        bot,
        *profiles,
        "--summary-json",
        str(summary_path),
    )  # fmt: skip  (the worker's own command line names no profile: the master's reach it)
    assert run.returncode == 0, run.master_log[-3000:]
    assert all("ERROR" not in log and "Traceback" not in log for log in run.worker_logs), run.worker_logs
    summary: dict[str, Any] = json.loads(summary_path.read_text(encoding="utf-8"))
    by_profile = summary["by_profile"]
    assert list(by_profile) == ["active", "regular", "passive"]
    assert by_profile["regular"]["think_s"] == [0.2, 0.3]
    assert all(section["total_requests"] > 0 for section in by_profile.values()), by_profile
    assert sum(section["total_requests"] for section in by_profile.values()) == summary["total_requests"]
    # The active users think least: each asks more than each passive one (2 and 3 users of each).
    assert by_profile["active"]["total_requests"] / 2 > by_profile["passive"]["total_requests"] / 3
    assert all(name.partition("/")[0] in by_profile for name in summary["by_name"]), list(summary["by_name"])


def test_the_form_shows_a_classs_mix_as_the_option_takes_it_and_takes_profiles_split_at_semicolons() -> None:
    class Mixed(Bot):
        abstract = True
        prompt_mix = {"a.jsonl": 3, "b:c.txt": 1}

    parser = get_parser()
    shown = shown_values(
        Environment(events=Events(), user_classes=[Mixed], parsed_options=parser.parse_args([])),
        form_options(parser),
    )
    assert (shown["prompt_mix"], shown["user_profile"]) == ("3:a.jsonl; 1:b:c.txt", "")
    options = form_options(parser)
    assert options["prompt_mix"].convert(shown["prompt_mix"]) == ["3:a.jsonl", "1:b:c.txt"]
    assert options["user_profile"].convert("active:1:think=1-2; passive:2") == [
        "active:1:think=1-2",
        "passive:2",
    ]


def test_with_the_class_picker_the_profiles_are_made_from_the_picked_class_and_several_are_refused() -> None:
    port = free_port()
    command = locust_command(
        "--web-host", "127.0.0.1", "--web-port", str(port), "--class-picker", "--demo-ttft-ms", "5",
        "--demo-itl-ms", "1", "--user-profile", "fast:1:think=0.05",
    )  # fmt: skip
    command[command.index("-f") + 1] = str(ROOT / "locustfiles" / "profiles.py")  # three classes to pick from
    base = f"http://127.0.0.1:{port}"
    with running_web_ui(command, base + "/", timeout_s=60 * UNIT):
        refused = post(base + "/swarm", {"user_count": "2", "spawn_rate": "2"})  # none picked: all three
        assert refused["success"] is False
        assert refused["message"].startswith(
            "--user-profile makes its classes from one user class; this run has 3"
        )
        assert post(base + "/swarm", {"user_count": "2", "spawn_rate": "2", "user_classes": "regular"})[
            "success"
        ]
        deadline = time.monotonic() + 15 * UNIT
        while not (
            rows := [row for row in get_json(base + "/stats/requests")["stats"] if row["method"] == "WS"]
        ):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert all(row["name"].startswith("fast/") for row in rows), rows
        assert set(get_json(base + "/tasks")["per_class"]) == {"fast"}
        post(base + "/stop", {})
