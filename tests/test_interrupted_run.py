"""A headless run ended by a signal (SIGTERM from a CI runner or `kill`, Ctrl+C) writes every output."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from .conftest import ROOT, SAMPLE, UNIT, locust_command, wait_for_requests

INTENTS = {json.loads(line)["Intent"] for line in SAMPLE.read_text(encoding="utf-8").splitlines()}


@pytest.mark.slow
@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_run_ended_by_a_signal_writes_the_html_report_csvs_and_summary(
    tmp_path: Path, signal_number: int
) -> None:
    """Locust writes --html on Ctrl+C but not on SIGTERM: both must leave every file, complete, and print
    the final tables once (against the embedded demo bot, whose stop made SIGTERM print them twice)."""
    prefix, summary_path, html = tmp_path / "run", tmp_path / "summary.json", tmp_path / "report.html"
    process = subprocess.Popen(
        locust_command("--headless", "-u", "3", "-r", "3", "-t", "60s", "--think-time", "0.05",
                       "--demo-ttft-ms", "20", "--demo-itl-ms", "5",
                       "--demo-error-rate", "0", "--demo-wrong-rate", "0",
                       "--csv", str(prefix), "--summary-json", str(summary_path), "--html", str(html)),
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        # More than 10 replies: Locust's total counts the 3 connects too.
        wait_for_requests(tmp_path / "run_stats_history.csv", more_than=10 + 3, timeout_s=30 * UNIT)
        os.killpg(process.pid, signal_number)  # the whole group, as a terminal or a CI runner does
        _, stderr = process.communicate(timeout=30 * UNIT)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert process.returncode == 0, stderr[-2000:]
    assert "Traceback" not in stderr
    assert stderr.count("Shutting down") == 1, stderr[-4000:]
    assert stderr.count("Response time percentiles") == 1, stderr[-4000:]
    summary = json.loads(summary_path.read_text())
    assert summary["total_requests"] > 10
    assert summary["failed_requests"] == 0
    page = html.read_text(encoding="utf-8")
    assert "<html" in page
    assert any(f'"{intent}"' in page for intent in INTENTS)  # the run's request names, in its data
    assert (tmp_path / "run_chat_stats.csv").stat().st_size > 0
    with (tmp_path / "run_stats.csv").open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert sum(int(row["Request Count"]) for row in rows if row["Type"] == "WS") > 10


SWALLOWING_LOCUSTFILE = '''
import time

import gevent
from locust import events

from chatbot import SupportBotUser  # noqa: F401


def busy_and_swallowing_ctrl_c():
    """Like Locust's CSV writer, history and printer greenlets: a KeyboardInterrupt raised here ends it."""
    try:
        while True:
            until = time.perf_counter() + 0.05
            while time.perf_counter() < until:  # busy: most of the time, this greenlet is running
                pass
            gevent.sleep(0)
    except KeyboardInterrupt:
        pass


@events.test_start.add_listener
def start_busy_greenlet(**_):
    gevent.spawn(busy_and_swallowing_ctrl_c)
'''


@pytest.mark.slow
def test_ctrl_c_ends_the_run_even_when_a_greenlet_that_swallows_it_is_running(tmp_path: Path) -> None:
    """Python raises KeyboardInterrupt in whichever greenlet runs; Locust's own CSV writer, history and
    printer greenlets swallow it. Ctrl+C must reach the main greenlet all the same, and end the run."""
    locustfile = tmp_path / "swallowing.py"
    locustfile.write_text(SWALLOWING_LOCUSTFILE, encoding="utf-8")
    command = [*locust_command("--headless", "-u", "3", "-r", "3", "-t", "60s", "--think-time", "0.05",
                               "--csv", str(tmp_path / "run"), "--only-summary",
                               "--demo-ttft-ms", "5", "--demo-itl-ms", "1", "--demo-error-rate", "0",
                               "--demo-wrong-rate", "0")]  # fmt: skip
    command[command.index("-f") + 1] = str(locustfile)
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True, env={**os.environ, "PYTHONPATH": str(ROOT / "locustfiles")},
    )  # fmt: skip
    try:
        wait_for_requests(tmp_path / "run_stats_history.csv", more_than=3, timeout_s=30 * UNIT)
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=20 * UNIT)  # the run time would end 60 s after start
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert process.returncode == 0, stderr[-2000:]
    assert stderr.count("Shutting down") == 1, stderr[-2000:]
