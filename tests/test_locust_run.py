"""The shipped locustfile run by Locust in a subprocess: headless, bad input, and the web UI."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.screenshot_webui import running_web_ui

from .conftest import ROOT, SAMPLE, UNIT, free_port, locust_command, wait_for_requests

INTENTS = {json.loads(line)["Intent"] for line in SAMPLE.read_text(encoding="utf-8").splitlines()}


def run_locust(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        locust_command(*args), cwd=ROOT, capture_output=True, text=True, timeout=timeout_s * UNIT, check=False
    )


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.mark.slow
def test_a_headless_run_against_the_embedded_demo_writes_csvs_per_intent(tmp_path: Path) -> None:
    prefix = tmp_path / "run"
    result = run_locust(
        "--headless", "-u", "4", "-r", "4", "-t", "5s", "--think-time", "0", "--csv", str(prefix),
        "--html", str(tmp_path / "report.html"), "--demo-ttft-ms", "20", "--demo-itl-ms", "2",
        "--demo-chunks", "5", "--demo-error-rate", "0", "--demo-wrong-rate", "0",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "embedded demo chatbot at ws://127.0.0.1:" in result.stderr
    rows = read_rows(prefix.with_name("run_stats.csv"))
    ws = [row for row in rows if row["Type"] == "WS"]
    connects = [row for row in rows if row["Type"] == "CONNECT"]
    assert {row["Name"] for row in ws} <= INTENTS
    assert len({row["Name"] for row in ws}) >= 4  # shuffled: several intents in a short run
    requests = sum(int(row["Request Count"]) for row in ws)
    assert requests > 4 * 4  # 4 users, no think time, ~30 ms a reply, for 5 s
    assert sum(int(row["Failure Count"]) for row in ws) == 0
    assert [int(row["Request Count"]) for row in connects] == [4]
    # 20 ms to the first chunk, 4 gaps of 2 ms: no reply faster than the injected 28 ms
    assert all(float(row["Min Response Time"]) >= 28 for row in ws)
    history = read_rows(prefix.with_name("run_stats_history.csv"))
    assert any(row["Name"] == "Aggregated" and row["User Count"] == "4" for row in history)
    assert (tmp_path / "report.html").stat().st_size > 10_000


@pytest.mark.slow
def test_a_run_pointed_at_a_host_uses_it_with_the_chosen_protocol(tmp_path: Path, demo) -> None:
    url = demo("--protocol", "openai-realtime", "--ttft-ms", "5", "--itl-ms", "1", "--chunks", "3")
    result = run_locust(
        "--headless", "-u", "2", "-r", "2", "-t", "3s", "--host", url, "--protocol", "openai-realtime",
        "--think-time", "0.05", "--csv", str(tmp_path / "rt"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "embedded demo" not in result.stderr
    ws = [row for row in read_rows(tmp_path / "rt_stats.csv") if row["Type"] == "WS"]
    assert sum(int(row["Request Count"]) for row in ws) > 10
    assert sum(int(row["Failure Count"]) for row in ws) == 0


def assert_one_clear_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line or "error:" in line]
    assert len(errors) == 1, result.stderr
    for needle in needles:
        assert needle in errors[0]


@pytest.mark.slow
def test_a_malformed_dataset_line_stops_the_run_naming_file_and_line(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        '{"Intent": "a", "Question": "fine"}\n{"Intent": "b", "Question": \n', encoding="utf-8"
    )
    result = run_locust(
        "--headless", "-u", "1", "-t", "2s", "--prompts", str(prompts), "--csv", str(tmp_path / "x")
    )
    assert_one_clear_error(result, f"{prompts}:2", "not valid JSON")
    assert list(tmp_path.glob("x_*.csv")) == []  # no half-written output


@pytest.mark.slow
def test_an_empty_dataset_stops_the_run(tmp_path: Path) -> None:
    prompts = tmp_path / "empty.txt"
    prompts.write_text("\n\n", encoding="utf-8")
    assert_one_clear_error(
        run_locust("--headless", "-u", "1", "-t", "2s", "--prompts", str(prompts)), "holds no prompt"
    )


@pytest.mark.slow
def test_an_unknown_protocol_is_refused_naming_the_choices() -> None:
    result = run_locust("--headless", "-u", "1", "-t", "2s", "--protocol", "telepathy")
    assert_one_clear_error(result, "telepathy", "openai-realtime")


@pytest.mark.slow
def test_a_host_that_is_not_websocket_is_refused() -> None:
    result = run_locust("--headless", "-u", "1", "-t", "2s", "--host", "http://127.0.0.1:9/")
    assert_one_clear_error(result, "ws:// or wss://")


@pytest.mark.slow
def test_a_bad_think_time_is_refused_naming_the_option() -> None:
    result = run_locust("--headless", "-u", "1", "-t", "2s", "--think-time", "3-1")
    assert_one_clear_error(result, "--think-time")


@pytest.fixture
def web_ui(demo) -> Iterator[tuple[str, str]]:
    """The shipped locustfile's web UI aimed at a demo bot that wants a token; yields (UI URL, bot URL)."""
    bot = demo("--require-header", "Authorization: Bearer ui-s3cret", "--ttft-ms", "5", "--itl-ms", "1")
    port = free_port()
    env = {**os.environ, "UI_TOKEN": "ui-s3cret"}
    command = locust_command(
        "--web-host", "127.0.0.1", "--web-port", str(port), "--host", bot,
        "--header", "Authorization: Bearer ${UI_TOKEN}", "--header", "X-Debug: literal-secret",
    )  # fmt: skip
    with running_web_ui(command, f"http://127.0.0.1:{port}", timeout_s=60 * UNIT, env=env) as base:
        yield base, bot


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10 * UNIT) as response:
        return json.load(response)


def post(url: str, fields: dict[str, str]) -> Any:
    data = urllib.parse.urlencode(fields).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10 * UNIT) as response:
        return json.load(response)


@pytest.mark.slow
def test_the_web_ui_shows_every_option_masks_secrets_and_runs_a_test(web_ui: tuple[str, str]) -> None:
    base, bot = web_ui
    page = urllib.request.urlopen(base + "/", timeout=10 * UNIT).read().decode()
    for option in (
        "prompts",
        "protocol",
        "reply_timeout",
        "json_template",
        "connect_to",
        "think_time",
        "header",
    ):
        assert f'"{option}"' in page
    assert "UI_TOKEN" not in page
    assert "literal-secret" not in page
    fields = {"user_count": "2", "spawn_rate": "2", "host": bot, "header": "********", "think_time": "0.05"}
    assert post(base + "/swarm", fields)["success"]
    deadline = time.monotonic() + 15 * UNIT
    stats: dict[str, Any] = {}
    while time.monotonic() < deadline:
        stats = {row["name"]: row for row in get_json(base + "/stats/requests")["stats"]}
        if sum(row["num_requests"] for row in stats.values() if row["method"] == "WS") >= 5:
            break
        time.sleep(0.2)
    # the masked header sent back by the form kept its real value: the token-checking bot accepted us
    assert stats["connect"]["num_failures"] == 0, stats
    assert sum(row["num_requests"] for row in stats.values() if row["method"] == "WS") >= 5
    assert "ui-s3cret" not in json.dumps(get_json(base + "/stats/requests"))
    urllib.request.urlopen(urllib.request.Request(base + "/stop", data=b""), timeout=10 * UNIT).read()


@pytest.mark.slow
def test_the_custom_protocol_example_runs_against_the_demo(tmp_path: Path) -> None:
    command = locust_command("--headless", "-u", "2", "-r", "2", "-t", "3s", "--think-time", "0.05")
    command[command.index("-f") + 1] = str(ROOT / "locustfiles" / "custom_protocol.py")
    command += ["--csv", str(tmp_path / "custom"), "--demo-ttft-ms", "10",
                "--demo-error-rate", "0", "--demo-wrong-rate", "0"]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60 * UNIT, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    ws = [row for row in read_rows(tmp_path / "custom_stats.csv") if row["Type"] == "WS"]
    assert sum(int(row["Request Count"]) for row in ws) >= 10
    assert {row["Name"] for row in ws} <= INTENTS


@pytest.mark.slow
def test_ctrl_c_still_writes_every_output_and_spares_the_demo_bot(tmp_path: Path) -> None:
    """A terminal's Ctrl+C reaches the whole process group: the run must stop cleanly and write its files."""
    summary = tmp_path / "summary.json"
    process = subprocess.Popen(
        locust_command("--headless", "-u", "3", "-r", "3", "-t", "60s", "--think-time", "0.05",
                       "--csv", str(tmp_path / "run"), "--summary-json", str(summary),
                       "--demo-ttft-ms", "20", "--demo-itl-ms", "20", "--demo-chunks", "10",
                       "--demo-error-rate", "0", "--demo-wrong-rate", "0"),
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    # More than 10 replies: Locust's total counts the 3 connects too.
    wait_for_requests(tmp_path / "run_stats_history.csv", more_than=10 + 3, timeout_s=30 * UNIT)
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=30 * UNIT)
    assert process.returncode == 0, stderr[-2000:]
    assert "Traceback" not in stderr
    report = json.loads(summary.read_text())
    assert report["total_requests"] > 10
    assert report["failed_requests"] == 0  # the bot was not killed under the last replies
    assert (tmp_path / "run_chat_stats.csv").stat().st_size > 0


@pytest.mark.slow
def test_max_message_bytes_under_the_bots_messages_makes_every_reply_a_failure_naming_the_limit(
    tmp_path: Path,
) -> None:
    """The demo bot's JSON chunks are over 16 bytes: each is refused, counted, and the next prompt
    reconnects (one CONNECT a failed reply)."""
    prefix = tmp_path / "run"
    result = run_locust(
        "--headless", "-u", "2", "-r", "2", "-t", "3s", "--think-time", "0", "--csv", str(prefix),
        "--max-message-bytes", "16", "--demo-ttft-ms", "5", "--demo-itl-ms", "1",
    )  # fmt: skip
    assert result.returncode == 1, result.stderr[-2000:]  # Locust's exit code when requests failed
    assert "Traceback" not in result.stderr
    ws = [row for row in read_rows(prefix.with_name("run_stats.csv")) if row["Type"] == "WS"]
    requests = sum(int(row["Request Count"]) for row in ws)
    assert requests > 2
    assert sum(int(row["Failure Count"]) for row in ws) == requests
    errors = {row["Error"] for row in read_rows(prefix.with_name("run_failures.csv"))}
    assert errors
    assert all("exceeds the 16-byte message limit (--max-message-bytes)" in error for error in errors), errors
