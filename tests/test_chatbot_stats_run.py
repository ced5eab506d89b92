"""Chatbot statistics of real Locust runs, checked against what the demo bot says it did.

The demo bot counts the prompts it began answering, the replies it completed and the wrong answers
among them (``GET /stats``). With ``--stop-timeout`` every user finishes its round trip before
stopping, so every reply the bot completed reached a user: the reported figures must equal the
bot's, whether one process, two processes, or a master with two workers gathered them.

What reconciles exactly, with or without a stop timeout: the replies reported (successful or failed)
plus the prompts in flight at the stop equal the prompts the bot began answering. (Locust stops a
user that is between two prompts at once, even with a stop timeout, and one just waking up may have
sent its next prompt: that prompt is in flight at the stop.)
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT, UNIT, bot_counts, locust_command, run_master_and_workers
from .conftest import processes as processes_options

BOT = ("--wrong-rate", "0.25", "--error-rate", "0", "--ttft-ms", "5", "--itl-ms", "1", "--chunks", "4")
RUN = ("--headless", "-u", "6", "-r", "6", "-t", "4s", "--stop-timeout", "5", "--think-time", "0.02")


def check_against_bot(prefix: Path, summary_path: Path, counts: dict[str, int]) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads(summary_path.read_text())
    assert counts["replies"] > 50
    assert summary["total_requests"] == counts["replies"]
    assert summary["total_requests"] + summary["in_flight_at_stop"] == counts["started"]
    # every wrong answer names another intent: each one fails the intent metric, nothing else fails
    assert summary["metrics"]["intent"]["missed"] == counts["wrong"] > 0
    assert summary["errors_by_kind"] == {"metric_failure": counts["wrong"]}
    assert summary["failed_requests"] == counts["wrong"]
    failed = prefix.with_name(prefix.name + "_failed_replies.jsonl").read_text().splitlines()
    assert len(failed) == counts["wrong"]
    assert all(json.loads(line)["kind"] == "metric_failure" for line in failed)
    with prefix.with_name(prefix.name + "_chat_stats.csv").open(newline="") as stream:
        aggregated = next(row for row in csv.DictReader(stream) if row["Name"] == "Aggregated")
    assert int(aggregated["Replies"]) == counts["replies"]
    assert int(aggregated["intent Missed"]) == counts["wrong"]
    with prefix.with_name(prefix.name + "_chat_stats_history.csv").open(newline="") as stream:
        history = [row for row in csv.DictReader(stream) if row["Name"] == "Aggregated"]
    assert sum(int(row["Replies/s"]) for row in history) == counts["replies"]
    return summary


def run(*args: str, timeout_s: float = 90) -> subprocess.CompletedProcess[str]:
    """Run Locust; past the timeout, kill its whole group (``--processes`` workers hold its pipes)."""
    command = locust_command(*args)
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout_s * UNIT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        raise AssertionError(f"Locust ran past {timeout_s * UNIT:g} s:\n{stderr[-3000:]}") from None
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


@pytest.mark.slow
@pytest.mark.parametrize("processes", [1, 2])
def test_reported_metric_failures_equal_the_wrong_answers_the_bot_sent(
    tmp_path: Path, demo, processes: int
) -> None:
    url = demo(*BOT)
    prefix, summary = tmp_path / "run", tmp_path / "summary.json"
    extra = processes_options(processes) if processes > 1 else ()
    result = run(
        *RUN,
        *extra,
        "--host",
        url,
        "--protocol",
        "json",
        "--csv",
        str(prefix),
        "--summary-json",
        str(summary),
    )
    assert result.returncode == 1, result.stderr[-3000:]  # Locust's exit code when requests failed
    report = check_against_bot(prefix, summary, bot_counts(url))
    assert "Chatbot statistics" in result.stderr + result.stdout
    assert report["connections"]["successes"] == 6


@pytest.mark.slow
def test_a_master_with_two_workers_reports_what_the_bot_did(tmp_path: Path, demo) -> None:
    url = demo(*BOT)
    prefix, summary = tmp_path / "dist", tmp_path / "summary.json"
    run = run_master_and_workers(
        *RUN, "--host", url, "--protocol", "json", "--csv", str(prefix), "--summary-json", str(summary),
        workers=2,
    )  # fmt: skip
    assert run.returncode == 1, run.master_log[-3000:]
    check_against_bot(prefix, summary, bot_counts(url))


SLOW_BOT = ("--error-rate", "0", "--wrong-rate", "0", "--ttft-ms", "100", "--itl-ms", "20", "--chunks", "20")
"""Replies of about half a second: a stop at any moment finds most users mid-reply."""


def run_slow_replies(tmp_path: Path, url: str, *args: str) -> tuple[dict[str, Any], str]:
    """A 3 s run of 6 users against a bot of slow replies: its summary and Locust's log."""
    summary_path = tmp_path / "summary.json"
    result = run(
        "--headless", "-u", "6", "-r", "6", "-t", "3s", "--think-time", "0.005", *args,
        "--host", url, "--protocol", "json", "--summary-json", str(summary_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(summary_path.read_text()), result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("processes", [1, 2])
def test_without_stop_timeout_the_replies_cut_short_are_counted_in_flight_at_stop(
    tmp_path: Path, demo, processes: int
) -> None:
    """Users stopped mid-reply: replies + in flight at stop == prompts the bot began answering."""
    url = demo(*SLOW_BOT)
    extra = processes_options(processes) if processes > 1 else ()
    summary, log = run_slow_replies(tmp_path, url, *extra)
    counts = bot_counts(url)
    assert summary["in_flight_at_stop"] > 0
    assert summary["total_requests"] + summary["in_flight_at_stop"] == counts["started"]
    assert summary["failed_requests"] == 0
    count = summary["in_flight_at_stop"]
    assert f"{count} {'prompt' if count == 1 else 'prompts'} in flight at stop" in log


@pytest.mark.slow
@pytest.mark.parametrize("processes", [1, 2])
def test_connects_still_under_way_at_the_stop_are_counted_and_a_run_that_opened_none_fails(
    tmp_path: Path, processes: int
) -> None:
    """A bot that takes TCP connections and never answers the upgrade, a run shorter than the
    connect timeout: each user's connect is cut off by the stop. Each is counted (not as an attempt:
    it did not end), and a run that opened no connection exits 1, not 0 with empty tables."""
    summary_path = tmp_path / "summary.json"
    with socket.socket() as silent:  # the kernel accepts the connections; nothing reads them
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        result = run(
            "--headless", "-u", "3", "-r", "3", "-t", "2s", "--connect-timeout", "60",
            *(processes_options(processes) if processes > 1 else ()),
            "--host", f"ws://127.0.0.1:{silent.getsockname()[1]}/", "--summary-json", str(summary_path),
        )  # fmt: skip
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    connections = json.loads(summary_path.read_text())["connections"]
    assert (connections["attempts"], connections["cut_off_at_stop"]) == (0, 3)
    assert "3 connections opening at stop" in result.stderr
    assert "no connection opened: 3 handshakes were still under way when the test stopped" in result.stderr


@pytest.mark.slow
def test_with_a_stop_timeout_the_replies_in_flight_finish_and_are_counted(tmp_path: Path, demo) -> None:
    """Each user mid-reply at the stop finishes it within --stop-timeout: the bot completed no reply unseen."""
    url = demo(*SLOW_BOT)
    summary, log = run_slow_replies(tmp_path, url, "--stop-timeout", "3")
    counts = bot_counts(url)
    assert "Not all users finished their tasks" not in log
    assert summary["total_requests"] + summary["in_flight_at_stop"] == counts["started"]
    assert summary["total_requests"] == counts["replies"]
    assert summary["in_flight_at_stop"] < 6  # at most the users Locust stopped between two prompts
