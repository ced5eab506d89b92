"""The open-file limit raised for the users a process runs; a worker's own source addresses kept."""

from __future__ import annotations

from locust.env import Environment
from locust.event import Events

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from wslocust.errors import ConfigurationError
from wslocust.plugin.checks import check_run
from wslocust.plugin.host_limits import OPEN_FILES_MARGIN, raise_open_file_limit, users_per_process
from wslocust.source_addresses import keep_this_hosts
from wslocust.users import WebSocketUser

from ..conftest import ROOT, UNIT, bot_counts, locust_command


@pytest.fixture
def limits() -> Iterator[tuple[int, int]]:
    """The open-file limits, put back after the test."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    yield soft, hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _lower_soft(to: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (to, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


def test_a_soft_limit_below_the_users_needs_is_raised_to_the_hard_one_in_one_line(limits, caplog) -> None:
    _, hard = limits
    _lower_soft(1024)
    with caplog.at_level(logging.INFO, logger="wslocust"):
        raise_open_file_limit(2000)
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard
    [line] = caplog.messages
    assert line.startswith(f"open files: soft limit raised from 1024 to {hard}")
    assert f"2,000 users a process need about {2000 + OPEN_FILES_MARGIN:,}" in line


def test_a_soft_limit_that_suffices_is_left_alone_silently(limits, caplog) -> None:
    _lower_soft(1024)
    with caplog.at_level(logging.INFO, logger="wslocust"):
        raise_open_file_limit(1024 - OPEN_FILES_MARGIN)
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == 1024
    assert caplog.messages == []


def test_users_not_known_here_get_the_hard_limit(limits, caplog) -> None:
    _, hard = limits
    _lower_soft(1024)
    with caplog.at_level(logging.INFO, logger="wslocust"):
        raise_open_file_limit(None)
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard
    assert len(caplog.messages) == 1


def test_a_hard_limit_below_the_users_needs_is_said_in_one_warning(limits, caplog) -> None:
    _, hard = limits
    with caplog.at_level(logging.INFO, logger="wslocust"):
        raise_open_file_limit(hard)
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"the hard limit of {hard} is below" in warnings[0]
    assert "--processes" in warnings[0]


def test_a_soft_limit_already_at_the_hard_one_is_not_said_raised() -> None:
    """Soft and hard limit both below the users' needs: one warning, no line saying 256 was raised to 256
    (in a process of its own: a hard limit lowered cannot be raised again)."""
    code = (
        "import logging, resource\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))\n"
        "logging.basicConfig(format='%(levelname)s %(message)s')\n"
        "logging.getLogger('wslocust').setLevel(logging.INFO)\n"
        "from wslocust.plugin.host_limits import raise_open_file_limit\n"
        "raise_open_file_limit(500)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60 * UNIT)
    lines = result.stderr.splitlines()
    assert lines == [line for line in lines if line.startswith("WARNING open files: the hard limit of 256")]
    assert len(lines) == 1


def _limit_open_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


@pytest.mark.slow
def test_users_past_the_open_file_limit_fail_their_connects_as_such_and_the_run_goes_on(
    tmp_path: Path, demo
) -> None:
    """300 users in a process limited to 256 files: the connects past the limit fail as the load
    generator's limit (not the server's refusal), files are kept free for Locust's own (its CPU
    reading of /proc crashed and ended the run at the limit), and the run lasts its run time."""
    url = demo("--ttft-ms", "5", "--itl-ms", "1", "--chunks", "2", "--error-rate", "0", "--wrong-rate", "0")
    summary_path = tmp_path / "summary.json"
    result = subprocess.run(
        locust_command("--headless", "-u", "300", "-r", "300", "-t", "12s", "--think-time", "0.05",
                       "--host", url, "--summary-json", str(summary_path)),
        cwd=ROOT, capture_output=True, text=True, timeout=90 * UNIT, preexec_fn=_limit_open_files,
    )  # fmt: skip
    assert "Traceback" not in result.stderr
    assert "CRITICAL" not in result.stderr
    assert result.returncode == 1, result.stderr[-3000:]  # the failed connects
    summary = json.loads(summary_path.read_text())
    assert summary["duration_s"] > 11.0  # Locust reads /proc every 5 s: it crashed at the 2nd
    errors = summary["connections"]["errors_by_kind"]
    assert list(errors) == ["open_file_limit"]
    assert summary["connections"]["successes"] > 150
    assert summary["total_requests"] + summary["in_flight_at_stop"] == bot_counts(url)["started"]


@pytest.mark.parametrize(
    ("options", "users"),
    [
        ({"num_users": 1000}, 1000),
        ({"num_users": 1000, "worker": True, "processes": 3}, 334),  # a forked worker's share
        ({"num_users": 1000, "worker": True, "processes": None}, None),  # its master decides
        ({"num_users": None}, None),  # the web UI decides
    ],
)
def test_the_users_a_process_runs_are_read_from_its_options(
    options: dict[str, object], users: int | None
) -> None:
    assert users_per_process(argparse.Namespace(**options)) == users


class FromNowhereUser(WebSocketUser):
    host = "ws://127.0.0.1:9"
    source_addresses = ("127.0.0.2", "192.0.2.1")


def test_the_start_up_check_binds_a_class_attributes_addresses_naming_it() -> None:
    environment = Environment(
        user_classes=[FromNowhereUser], events=Events(), parsed_options=argparse.Namespace()
    )
    with pytest.raises(
        ConfigurationError, match=r"FromNowhereUser\.source_addresses must be an address of this host"
    ):
        check_run(environment, [FromNowhereUser], profiles=False)


class ToIPv6FailoverUser(WebSocketUser):
    host = "ws://localhost:9"
    failover_hosts = ("ws://[::1]:9",)
    source_addresses = ("127.0.0.2",)


def test_the_start_up_check_refuses_addresses_of_another_family_than_an_ip_host_dialled() -> None:
    """Every connection to [::1] from 127.0.0.2 would fail as it dials; the name (localhost) is not judged."""
    environment = Environment(
        user_classes=[ToIPv6FailoverUser], events=Events(), parsed_options=argparse.Namespace()
    )
    with pytest.raises(
        ConfigurationError,
        match=r"^ToIPv6FailoverUser\.source_addresses: 127\.0\.0\.2 is IPv4 and the target ::1 is IPv6",
    ):
        check_run(environment, [ToIPv6FailoverUser], profiles=False)
    environment.parsed_options = argparse.Namespace(failover_host=["ws://127.0.0.1:9"])
    check_run(environment, [ToIPv6FailoverUser], profiles=False)


def test_a_workers_own_addresses_win_over_its_masters() -> None:
    options = argparse.Namespace(source_address="127.0.0.5")  # what the master sent
    environment = Environment(user_classes=[FromNowhereUser], events=Events(), parsed_options=options)
    keep_this_hosts(("127.0.0.7",))
    try:
        assert FromNowhereUser.connection_settings(environment).source_addresses == ("127.0.0.7",)
    finally:
        keep_this_hosts(())
    assert FromNowhereUser.connection_settings(environment).source_addresses == ("127.0.0.5",)


def test_the_source_address_option_is_in_the_web_ui_form_in_its_own_group_with_help() -> None:
    from locust import argument_parser

    from wslocust.plugin.webui_form import form_options

    option = form_options(argument_parser.get_parser())["source_address"]
    assert option.group == "Scale"
    assert "127.0.0.2-127.0.0.40" in str(option.action.help)


def test_the_form_shows_the_values_of_a_locustfile_of_websocket_users_only() -> None:
    """A class without ChatbotUser's attributes (``continue_after_failed_turn``) has its form too."""
    from locust import argument_parser

    from wslocust.plugin.webui_form import form_options, shown_values

    environment = Environment(
        user_classes=[FromNowhereUser], events=Events(), parsed_options=argparse.Namespace()
    )
    shown = shown_values(environment, form_options(argument_parser.get_parser()))
    assert shown["source_address"] == "127.0.0.2; 192.0.2.1"
    assert shown["continue_after_failed_turn"] is False


@pytest.mark.parametrize("value", ["-2", "0", "100000", "two"])
def test_a_processes_count_locust_cannot_use_is_refused_in_one_line_naming_the_option(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """0 ran one process, -2 exited 1 without argparse's line, 100,000 forked for ever: each exits 2."""
    from locust import argument_parser

    with pytest.raises(SystemExit) as exited:
        argument_parser.get_parser().parse_args(["--processes", value])
    assert exited.value.code == 2
    [line] = capsys.readouterr().err.strip().splitlines()[-1:]
    assert "argument --processes: must be -1 (one a core) or a whole number from 1 to" in line
    assert f"got {value!r}" in line


@pytest.mark.parametrize("value", ["-1", "1", "2", str(16 * (os.cpu_count() or 1))])
def test_one_a_core_and_up_to_sixteen_processes_a_core_are_taken(value: str) -> None:
    from locust import argument_parser

    assert argument_parser.get_parser().parse_args(["--processes", value]).processes == int(value)


def test_locusts_default_options_are_computed_once_a_process() -> None:
    """A worker tests every option of each spawn message against them: rebuilding Locust's parser
    for each cost it seconds a message while users ramped up."""
    from locust import argument_parser

    from wslocust.plugin.spawn_messages import read_spawn_messages_quickly

    read_spawn_messages_quickly()
    read_spawn_messages_quickly()  # idempotent: one cache
    assert argument_parser.default_args_dict() is argument_parser.default_args_dict()
    assert argument_parser.default_args_dict.cache_info().misses <= 1  # type: ignore[attr-defined]
    assert "num_users" in argument_parser.default_args_dict()
