"""Start-up checks and the ``wslocust`` command, run as a user runs them: Locust in a subprocess.

A bad setting stops the run before it starts: exit code 2, one error line naming the option, no
secret shown, no CSV file left behind.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, UNIT, free_port, locust_command, run_master_and_workers
from .test_locust_run import assert_one_clear_error, read_rows, run_locust

WSLOCUST = Path(sys.executable).parent / "wslocust"


def run_in(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """A headless run of the shipped locustfile writing CSVs to ``tmp_path`` (there must be none after an error)."""
    return subprocess.run(
        locust_command("--headless", "-u", "1", "-t", "3s", "--csv", str(tmp_path / "run"), *args),
        cwd=ROOT, capture_output=True, text=True, timeout=60 * UNIT, check=False,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


@pytest.mark.slow
def test_an_empty_host_is_a_configuration_error_not_a_run_against_the_demo_bot(tmp_path: Path) -> None:
    """``--host "$BOT_URL"`` with the variable unset must not run the demo bot and exit 0 (a false green)."""
    result = run_in(tmp_path, "--host", "")
    assert_one_clear_error(result, "--host is empty")
    assert "demo" not in result.stderr.replace("for the embedded demo bot", "")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_an_empty_locust_host_variable_is_refused_too(tmp_path: Path) -> None:
    assert_one_clear_error(run_in(tmp_path, env={"LOCUST_HOST": ""}), "--host is empty")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_an_empty_host_in_a_config_file_is_refused_too(tmp_path: Path) -> None:
    config = tmp_path / "locust.conf"
    config.write_text("host = \n", encoding="utf-8")
    assert_one_clear_error(run_in(tmp_path, "--config", str(config)), "--host is empty")
    assert [path.name for path in tmp_path.iterdir()] == ["locust.conf"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--header", "X-Token: ${WSLOCUST_TEST_UNSET}"], ["--header", "WSLOCUST_TEST_UNSET"]),
        (["--query", "token=${WSLOCUST_TEST_UNSET}"], ["--query", "WSLOCUST_TEST_UNSET"]),
        (["--header", "NoColonSecretValue"], ["--header", "'Name: value'"]),
        (["--reply-timeout", "-1"], ["--reply-timeout", "'-1'"]),
        (["--connect-timeout", "-1"], ["--connect-timeout", "'-1'"]),
        (["--connect-to", "127.0.0.1:99999"], ["--connect-to", "'127.0.0.1:99999'"]),
        (["--think-time", "nan"], ["--think-time", "'nan'"]),
        (["--reply-timeout", "nan"], ["--reply-timeout", "'nan'"]),
        (["--reply-timeout", "0"], ["--reply-timeout", "above 0"]),
        (["--arrival-rate", "inf"], ["--arrival-rate", "'inf'"]),
        (["--shape", "step", "--shape-spawn-rate", "0"], ["--shape-spawn-rate", "'0'"]),
        (["--demo-itl-ms", "nan"], ["--demo-itl-ms", "'nan'"]),
        (["--max-p95-ms", "inf"], ["--max-p95-ms", "'inf'"]),
        (["--host", "ws://[::1"], ["--host", "'ws://[::1'", "Invalid IPv6 URL"]),
        (["--json-chunk-path", ".."], ["--json-chunk-path", "'..'"]),
        (["--json-chunk-path", "text."], ["--json-chunk-path", "'text.'"]),
        (["--header", "X-A: NoColonSecretValue\r\nInjected: yes"], ["--header", "control character"]),
        (["--header", "X-A: ${SECRET_LINES}"], ["--header, after ${VAR} expansion,", "control character"]),
        (["--query", "a=NoColonSecretValue\r\nInjected: yes"], ["--query", "control character"]),
        (["--query", "a=${SECRET_LINES}"], ["--query, after ${VAR} expansion,", "control character"]),
        (["--origin", "https://a.example\r\nInjected: yes"], ["--origin", "control character"]),
        (["--subprotocol", ""], ["--subprotocol", "a token", "got ''"]),
        (["--connect-to", ""], ["--connect-to", "''", "no host"]),
        (["--connect-to", "127.0.0.1:"], ["--connect-to", "'127.0.0.1:'", "port must be"]),
        (["--shuffle-seed", "-2"], ["--shuffle-seed", "'-2'"]),
        (["--source-address", "0.0.0.0"], ["--source-address", "'0.0.0.0'", "unspecified"]),
        (["--source-address", "127.0.0.2-"], ["--source-address", "'127.0.0.2-'"]),
        (["--host", "ws://127.0.0.1:9", "--source-address", "::1"], ["--source-address: ::1 is IPv6"]),
        (["--max-message-bytes", "0"], ["--max-message-bytes", "'0'", "1 or more"]),
        (["--max-message-bytes", "-5"], ["--max-message-bytes", "'-5'"]),
        (["--max-message-bytes", "nan"], ["--max-message-bytes", "'nan'"]),
        (["--max-message-bytes", "4MiB"], ["--max-message-bytes", "'4MiB'"]),
        (["--shape", "stress", "--stress-error-rate", "150%"], ["--stress-error-rate", "'150%'"]),
        (["--otel", "--otel-endpoint", "not-a-url"], ["--otel-endpoint", "'not-a-url'"]),
        (["--otel", "--otel-endpoint", "127.0.0.1:4318"], ["--otel-endpoint", "'127.0.0.1:4318'"]),
        (["--otel", "--otel-endpoint", "ftp://127.0.0.1/v1/metrics"], ["--otel-endpoint", "ftp://"]),
        (["--otel", "--otel-endpoint", "http://127.0.0.1:99999/v1/metrics"], ["--otel-endpoint", ":99999"]),
        (
            ["--otel", "--otel-endpoint", "http://NoColonSecretValue@[::1"],
            ["--otel-endpoint", "'http://[::1'"],
        ),
        (["--otel", "--otel-endpoint", " "], ["--otel-endpoint", "' '"]),
        (
            ["--prometheus-port", "0", "--prometheus-bind", "127.0.0.1 "],
            ["--prometheus-bind", "'127.0.0.1 '"],
        ),
        (
            ["--prometheus-port", "0", "--prometheus-bind", "[::1]"],
            ["--prometheus-bind", "'[::1]'", "brackets"],
        ),
    ],
)
def test_a_bad_option_stops_the_run_at_start_up_naming_it(
    tmp_path: Path, args: list[str], needles: list[str]
) -> None:
    result = run_in(
        tmp_path, *args, env={"SECRET_SET": "s3cret", "SECRET_LINES": "NoColonSecretValue\r\nInjected: yes"}
    )
    assert_one_clear_error(result, *needles)
    assert "NoColonSecretValue" not in result.stderr + result.stdout
    assert "Injected" not in result.stderr + result.stdout
    assert "embedded demo" not in result.stderr  # checked before the demo bot would start
    assert list(tmp_path.iterdir()) == []  # no CSV half-written


@pytest.mark.slow
def test_a_prometheus_port_that_is_the_web_uis_port_is_refused_before_anything_listens(
    tmp_path: Path,
) -> None:
    port = str(free_port())
    result = subprocess.run(
        locust_command("--web-host", "127.0.0.1", "--web-port", port, "--prometheus-port", port,
                       "--csv", str(tmp_path / "run")),
        cwd=ROOT, capture_output=True, text=True, timeout=60 * UNIT, check=False,
    )  # fmt: skip
    assert_one_clear_error(result, f"--prometheus-port {port}", "--web-port")
    assert "CRITICAL" not in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_prometheus_port_already_taken_stops_the_run_leaving_no_file(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_in(
            tmp_path, "--prometheus-port", str(port), "--failed-replies", str(tmp_path / "f.jsonl")
        )
    assert_one_clear_error(result, f"--prometheus-port: cannot listen on 127.0.0.1:{port}")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_prometheus_bind_name_that_does_not_resolve_stops_the_run_naming_it(tmp_path: Path) -> None:
    result = run_in(tmp_path, "--prometheus-port", "0", "--prometheus-bind", "no-such-host.invalid")
    assert_one_clear_error(result, "--prometheus-bind: cannot listen on no-such-host.invalid:0")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_master_refuses_a_bad_option_before_waiting_for_workers(tmp_path: Path) -> None:
    result = run_in(
        tmp_path, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(free_port()),
        "--expect-workers", "1", "--header", "X-Token: ${WSLOCUST_TEST_UNSET}",
    )  # fmt: skip
    assert_one_clear_error(result, "--header", "WSLOCUST_TEST_UNSET")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_locustfile_attribute_that_is_nan_is_refused_naming_it(tmp_path: Path) -> None:
    locustfile = tmp_path / "nan_timeout.py"
    locustfile.write_text(
        "from wslocust import ChatbotUser\n\n\n"
        "class NanTimeoutUser(ChatbotUser):\n"
        "    reply_timeout_s = float('nan')\n"
        "    demo_when_no_host = True\n",
        encoding="utf-8",
    )
    command = locust_command("--headless", "-u", "1", "-t", "3s")
    command[command.index("-f") + 1] = str(locustfile)
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60 * UNIT, check=False)
    assert_one_clear_error(result, "NanTimeoutUser.reply_timeout_s", "nan")


@pytest.mark.slow
def test_wslocust_help_lists_every_wslocust_option() -> None:
    from locust.argument_parser import get_parser

    import wslocust  # noqa: F401  (registers the options on Locust's parser)

    ours = [
        option
        for group in get_parser()._action_groups
        if group.title and group.title.startswith("wslocust")
        for action in group._group_actions
        for option in action.option_strings
    ]
    result = subprocess.run(
        [str(WSLOCUST), "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60 * UNIT, check=False
    )
    assert result.returncode == 0, result.stderr
    assert len(ours) > 50
    assert [option for option in ours if option not in result.stdout] == []
    assert "--reply-timeout REPLY_TIMEOUT" in result.stdout
    assert "--tokens {chars4,chunks,usage,words}" in result.stdout  # the choices
    assert "Chunks a reply (default 12)" in result.stdout  # a default


def test_wslocust_help_names_wslocust_not_locust() -> None:
    result = subprocess.run(
        [str(WSLOCUST), "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60 * UNIT, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: wslocust [options]")
    examples = result.stdout[result.stdout.index("Examples:") :]
    assert "    wslocust -f my_test.py" in examples
    assert "    locust " not in examples


@pytest.mark.slow
def test_wslocust_runs_a_locustfile_like_locust_does(tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    result = subprocess.run(
        [str(WSLOCUST), "-f", "locustfiles/chatbot.py", "--headless", "-u", "2", "-r", "2", "-t", "3s",
         "--think-time", "0.05", "--summary-json", str(summary), "--csv", str(tmp_path / "run"),
         "--demo-ttft-ms", "10", "--demo-itl-ms", "1", "--demo-error-rate", "0", "--demo-wrong-rate", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60 * UNIT, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "embedded demo chatbot at ws://127.0.0.1:" in result.stderr
    assert json.loads(summary.read_text())["total_requests"] > 10
    assert any(row["Type"] == "WS" for row in read_rows(tmp_path / "run_stats.csv"))


@pytest.mark.slow
def test_tokens_usage_against_a_bot_without_usage_says_how_many_replies_lacked_it(tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    result = run_locust(
        "--headless", "-u", "2", "-r", "2", "-t", "3s", "--think-time", "0.05", "--tokens", "usage",
        "--summary-json", str(summary), "--demo-ttft-ms", "10", "--demo-itl-ms", "1",
        "--demo-error-rate", "0", "--demo-wrong-rate", "0",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(summary.read_text())
    successes = report["successful_requests"]
    assert successes > 10
    assert report["tokens"] == {"counter": "usage", "replies_without_usage": successes}
    warnings = [line for line in result.stderr.splitlines() if "carried no usage report" in line]
    assert len(warnings) == 1
    assert f"{successes} of {successes} successful replies" in warnings[0]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("protocol", "option", "value"),
    [
        ("json", "--header", "X-Token: ${WSLOCUST_TEST_TOKEN}"),
        ("socketio", "--socketio-auth", '{"token": "${WSLOCUST_TEST_TOKEN}"}'),
    ],
)
def test_a_worker_lacking_a_variable_counts_failed_connections_instead_of_crashing(
    tmp_path: Path, demo, protocol: str, option: str, value: str
) -> None:
    """The master checks ``${VAR}`` (of ``--header``, of ``--socketio-auth``) in its own environment;
    a worker lacking it says so once, its users stop, their connections count as failed."""
    url = demo("--protocol", protocol, "--ttft-ms", "5", "--itl-ms", "1")
    summary = tmp_path / "summary.json"
    with_token = {**os.environ, "WSLOCUST_TEST_TOKEN": "s3cret"}
    without_token = {name: value for name, value in os.environ.items() if name != "WSLOCUST_TEST_TOKEN"}
    run = run_master_and_workers(
        "--headless", "-u", "2", "-r", "2", "-t", "3s", "--host", url, "--protocol", protocol,
        option, value, "--summary-json", str(summary),
        timeout_s=60, master_env=with_token, worker_env=without_token,
    )  # fmt: skip
    master_log, [worker_log] = run.master_log, run.worker_logs
    assert "Traceback" not in worker_log + master_log
    errors = [line for line in worker_log.splitlines() if "ERROR" in line]
    assert len(errors) == 1, worker_log
    assert "WSLOCUST_TEST_TOKEN" in errors[0]
    assert "this process's users stop" in errors[0]
    if protocol == "socketio":
        assert option in errors[0]
    assert "s3cret" not in worker_log + master_log
    connections = json.loads(summary.read_text())["connections"]
    assert connections["attempts"] == 2
    assert connections["failures"] == 2
    assert run.returncode == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    ("protocol", "option", "template"),
    [
        ("json", "--json-template", '{"prompt": "{nosuch}"}'),
        ("socketio", "--socketio-template", '{"message": "{prompt}", "x": "{nosuch}"}'),
    ],
)
def test_a_template_field_no_record_has_stops_the_run_naming_option_and_field(
    tmp_path: Path, protocol: str, option: str, template: str
) -> None:
    result = run_in(tmp_path, "--host", "ws://127.0.0.1:9", "--protocol", protocol, option, template)
    assert_one_clear_error(result, f"{option} uses {{nosuch}}", "datasets/support_bot.jsonl")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_template_field_some_records_lack_fails_their_prompts_without_a_traceback(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"prompt": "with a topic", "topic": "billing"}\n{"prompt": "without one"}\n')
    result = run_in(
        tmp_path, "--prompts", str(prompts), "--protocol", "json", "--think-time", "0.05",
        "--json-template", '{"type": "prompt", "prompt": "{prompt}", "topic": "{topic}"}',
        "--demo-error-rate", "0", "--demo-wrong-rate", "0", "--demo-ttft-ms", "5", "--demo-itl-ms", "1",
    )  # fmt: skip
    assert "Traceback" not in result.stderr
    rows = {row["Name"]: row for row in read_rows(tmp_path / "run_stats.csv") if row["Type"] == "WS"}
    assert int(rows["ask"]["Request Count"]) > 4
    failures = read_rows(tmp_path / "run_failures.csv")
    assert [row["Error"] for row in failures] == [
        f"ConfigurationError('--json-template uses {{topic}}, which the record ({prompts}:2) lacks')"
    ]
    assert int(failures[0]["Occurrences"]) * 2 >= int(rows["ask"]["Request Count"]) - 1
    connects = [row for row in read_rows(tmp_path / "run_stats.csv") if row["Type"] == "CONNECT"]
    assert [row["Request Count"] for row in connects] == ["1"]  # the connection was never reopened
