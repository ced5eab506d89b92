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
    tmp_path: Path, demo, signal_number: int
) -> None:
    """Locust writes --html on Ctrl+C but not on SIGTERM: both must leave every file, complete."""
    url = demo("--ttft-ms", "20", "--itl-ms", "5", "--error-rate", "0", "--wrong-rate", "0")
    prefix, summary_path, html = tmp_path / "run", tmp_path / "summary.json", tmp_path / "report.html"
    process = subprocess.Popen(
        locust_command("--headless", "-u", "3", "-r", "3", "-t", "60s", "--think-time", "0.05",
                       "--host", url, "--protocol", "json",
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
