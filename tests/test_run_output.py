"""What a headless run prints and summarises: the chatbot table, the gates' verdict last, progress lines,
and the run's settings in the JSON summary. Real Locust runs of the shipped locustfile, in subprocesses,
against the demo bot."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wslocust.outputs.figures import summary_paths

from .conftest import ROOT, UNIT, free_port, locust_command, run_master_and_workers, run_until, wait_until

FAST_BOT = ("--ttft-ms", "5", "--itl-ms", "1", "--chunks", "3")
GATES = ("--max-p95-ms", "2000", "--max-error-rate", "90%")


def run_args(url: str, prefix: Path, *more: str) -> list[str]:
    return [
        "--headless", "-u", "3", "-r", "3", "--think-time", "0.05", "--host", url, "--csv", str(prefix),
        "--only-summary", *GATES, *more,
    ]  # fmt: skip


def assert_verdict_last(output: str) -> None:
    """The gates' table ends the output, after Locust's final tables and wslocust's chatbot table."""
    lines = output.rstrip().splitlines()
    assert lines[-1].startswith("Verdict: PASS"), output[-3000:]
    gates = output.rindex("Gates (latency")
    assert gates > output.rindex("Response time percentiles")  # Locust's last tables
    assert gates > output.rindex("Chatbot statistics")


def started_replying(prefix: Path) -> Callable[[], bool]:
    history = prefix.with_name(prefix.name + "_chat_stats_history.csv")
    return lambda: history.exists() and len(history.read_text().splitlines()) > 2


@pytest.mark.slow
def test_the_verdict_is_printed_last_when_the_run_time_ends(tmp_path: Path, demo) -> None:
    url = demo(*FAST_BOT)
    result = subprocess.run(
        locust_command(*run_args(url, tmp_path / "run", "-t", "3s")),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60 * UNIT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert_verdict_last(result.stderr)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_verdict_is_printed_last_when_the_run_is_stopped_by_a_signal(
    tmp_path: Path, demo, signum: signal.Signals
) -> None:
    url = demo(*FAST_BOT)
    prefix = tmp_path / "run"
    process = subprocess.Popen(
        locust_command(*run_args(url, prefix, "-t", "60s")),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_until(started_replying(prefix), 30 * UNIT)
        process.send_signal(signum)
        _, output = process.communicate(timeout=30 * UNIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output[-3000:]
    assert_verdict_last(output)
    assert output.count("Shutting down") == 1, output[-4000:]
    assert output.count("Response time percentiles") == 1, output[-4000:]


@pytest.mark.slow
def test_the_verdict_is_printed_last_by_a_master(tmp_path: Path, demo) -> None:
    url = demo(*FAST_BOT)
    run = run_master_and_workers(*run_args(url, tmp_path / "run", "-t", "3s"))
    assert run.returncode == 0, run.master_log[-3000:]
    assert_verdict_last(run.master_log)


@pytest.mark.slow
def test_the_chatbot_table_has_latency_percentiles_and_says_what_it_counts(tmp_path: Path, demo) -> None:
    url = demo(*FAST_BOT)
    summary_path = tmp_path / "summary.json"
    result = subprocess.run(
        locust_command(*run_args(url, tmp_path / "run", "-t", "3s", "--summary-json", str(summary_path))),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60 * UNIT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stderr.splitlines()
    title = next(index for index, line in enumerate(lines) if line.startswith("Chatbot statistics"))
    assert "every reply that ended, failed ones included" in lines[title]
    assert "of the successful replies" in lines[title]
    header = lines[title + 1].split()
    assert header[header.index("lat") + 1 : header.index("lat") + 2] == ["p50"]
    aggregated = next(line for line in lines[title:] if line.startswith("Aggregated")).split()
    summary = json.loads(summary_path.read_text())
    latency = summary["latency_ms"]
    # columns: name, replies, fails, good/s, then latency p50, p95, p99 as in the summary (2 digits)
    assert int(aggregated[1]) == summary["total_requests"]
    for cell, key in zip(aggregated[4:7], ("median", "p95", "p99"), strict=True):
        assert float(cell) == pytest.approx(latency[key], abs=0.005)


@pytest.mark.slow
def test_the_summary_says_what_was_run_and_keeps_secrets_out(tmp_path: Path, demo) -> None:
    url = demo(*FAST_BOT, "--require-header", "Authorization: Bearer s3cr3t-h")
    summary_path = tmp_path / "summary.json"
    arguments = run_args(
        f"{url}/?k=s3cr3t-u", tmp_path / "run", "-t", "3s", "--summary-json", str(summary_path),
        "--header", "Authorization: Bearer ${WSL_TEST_SECRET}", "--query", "token=s3cr3t-q",
    )  # fmt: skip
    result = subprocess.run(
        locust_command(*arguments),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60 * UNIT,
        env={**os.environ, "WSL_TEST_SECRET": "s3cr3t-h"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    text = summary_path.read_text()
    assert "s3cr3t" not in text
    summary = json.loads(text)
    assert summary["successful_requests"] > 0  # the header reached the bot
    run = summary["run"]
    assert run["host"] == f"{url}/"
    assert Path(run["locustfile"]).name == "chatbot.py"
    assert (run["users"], run["spawn_rate"], run["run_time_s"]) == (3, 3.0, 3)
    assert (run["protocol"], run["shape"], run["workers"]) == ("json", None, None)
    options = run["options"]
    assert options["think_time"] == "0.05"
    assert options["max_p95_ms"] == "2000"  # as given
    assert options["summary_json"] == str(summary_path)
    assert "tokens" not in options  # left at its default
    assert "header" not in options
    assert "query" not in options
    assert "num_users" not in options  # Locust's own options are the keys above


@pytest.mark.slow
def test_every_field_of_a_real_runs_summary_is_named_in_the_table_of_figures(tmp_path: Path, demo) -> None:
    summary_path = tmp_path / "summary.json"
    arguments = run_args(demo(*FAST_BOT), tmp_path / "run", "-t", "2s", "--summary-json", str(summary_path))
    result = subprocess.run(
        locust_command(*arguments), cwd=ROOT, capture_output=True, text=True, timeout=60 * UNIT
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(summary_path.read_text())
    named = {path.split(".")[0] for path in summary_paths()}
    assert {"run", "gates", "connections", "by_name"} <= set(summary) <= named
    for section in summary["by_name"].values():
        assert set(section) <= named


PROGRESS = re.compile(
    r"INFO/wslocust: (\d+:\d\d) elapsed, (\d+) users: ([\d.]+) replies/s, (\d+) failed, TTFT p95 (\d+) ms "
    r"\(replies that ended (\d+:\d\d)-(\d+:\d\d)\)$"
)


def progress_lines(output: str) -> list[re.Match[str]]:
    return [match for line in output.splitlines() if (match := PROGRESS.search(line))]


def check_progress(lines: list[re.Match[str]], summary: dict[str, Any]) -> None:
    """Each line: 3 users, replies flowing, failures and TTFT p95 within what the whole run saw."""
    ttft = summary["time_to_first_chunk_ms"]
    for line in lines:
        assert int(line[2]) == 3
        assert float(line[3]) > 0
        assert int(line[4]) <= summary["failed_requests"]
        assert ttft["min"] - 0.5 <= int(line[5]) <= ttft["max"] + 0.5
        assert line[6] < line[7]  # a span of finished seconds
    spans = [(line[6], line[7]) for line in lines]
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))  # each line takes on where the last ended


@pytest.mark.slow
def test_a_headless_run_logs_a_progress_line_every_interval(tmp_path: Path, demo) -> None:
    url = demo(*FAST_BOT)
    summary_path = tmp_path / "summary.json"
    arguments = run_args(url, tmp_path / "run", "-t", "300s", "--progress-interval", "1")
    returncode, output = run_until(
        locust_command(*arguments, "--summary-json", str(summary_path)),
        lambda output: len(progress_lines(output)) >= 3,
        tmp_path / "locust.log",
        timeout_s=60 * UNIT,
    )
    assert returncode == 0, output[-3000:]
    lines = progress_lines(output)
    assert len(lines) >= 3, output[-3000:]
    check_progress(lines, json.loads(summary_path.read_text()))


@pytest.mark.slow
def test_a_master_logs_progress_of_its_workers_replies(tmp_path: Path, demo) -> None:
    url = demo(*FAST_BOT)
    summary_path = tmp_path / "summary.json"
    port = str(free_port())
    worker = subprocess.Popen(
        locust_command("--worker", "--master-host", "127.0.0.1", "--master-port", port),
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    master = (
        "--summary-json", str(summary_path), "--master", "--master-bind-host", "127.0.0.1",
        "--master-bind-port", port, "--expect-workers", "1",
    )  # fmt: skip
    try:
        returncode, master_log = run_until(
            locust_command(
                *run_args(url, tmp_path / "run", "-t", "300s", "--progress-interval", "1"), *master
            ),
            lambda output: len(progress_lines(output)) >= 2,  # the seconds every worker reported
            tmp_path / "master.log",
            timeout_s=60 * UNIT,
        )
        _, worker_log = worker.communicate(timeout=30 * UNIT)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert returncode == 0, master_log[-3000:]
    lines = progress_lines(master_log)
    assert len(lines) >= 2, master_log[-3000:]
    check_progress(lines, json.loads(summary_path.read_text()))
    assert not progress_lines(worker_log)


@pytest.mark.slow
@pytest.mark.parametrize(
    "mode",
    [("--headless", "--progress-interval", "0"), ("--autostart", "--autoquit", "0", "--web-port", "0")],
    ids=["interval-0", "web-ui"],
)
def test_no_progress_lines_when_off_or_in_the_web_ui_mode(
    tmp_path: Path, demo, mode: tuple[str, ...]
) -> None:
    url = demo(*FAST_BOT)
    prefix = tmp_path / "run"
    arguments = [
        "-u", "3", "-r", "3", "-t", "300s", "--think-time", "0.05", "--host", url, *mode,
        "--csv", str(prefix), "--web-host", "127.0.0.1",
    ]  # fmt: skip
    history = prefix.with_name(prefix.name + "_chat_stats_history.csv")
    returncode, output = run_until(
        locust_command(*arguments),
        lambda _: (
            history.exists() and len(history.read_text().splitlines()) > 3
        ),  # replies flowed for seconds
        tmp_path / "locust.log",
        timeout_s=60 * UNIT,
    )
    assert returncode == 0, output[-3000:]
    assert len(history.read_text().splitlines()) > 3
    assert not progress_lines(output)


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "soon"])
def test_a_bad_progress_interval_is_one_line_naming_the_option(tmp_path: Path, value: str) -> None:
    prefix = tmp_path / "run"
    arguments = ["--headless", "-t", "1s", "--csv", str(prefix), f"--progress-interval={value}"]
    result = subprocess.run(
        locust_command(*arguments), cwd=ROOT, capture_output=True, text=True, timeout=60 * UNIT
    )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()  # the program's name: locust, or __main__.py with -m
    assert line.endswith(
        ": error: argument --progress-interval: must be a duration of 0 or more "
        f"(seconds, or a number with an s, m or h suffix: 90, 90s, 2m, 1h30m), got {value!r}"
    )
    assert not list(tmp_path.iterdir())  # nothing written
