"""Capacity searches in real Locust runs against the demo bot made to degrade at a known load."""

from __future__ import annotations

import csv
import json
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import ROOT, UNIT, locust_command, run_master_and_workers

FAST = ("--ttft-ms", "10", "--itl-ms", "2", "--chunks", "3", "--wrong-rate", "0", "--error-rate", "0")

KNOWN_LIMIT = 6
"""The demo bot slows every reply by 300 ms past this many replies streaming at once."""


@pytest.mark.slow
def test_the_capacity_search_finds_the_bots_known_limit_within_10_percent(tmp_path: Path, demo) -> None:
    """Users with no think time keep that many replies streaming: the 7th slows every reply by 300 ms."""
    url = demo(*FAST, "--degrade-after", str(KNOWN_LIMIT), "--degrade-ms", "300")
    prefix, summary_path = tmp_path / "cap", tmp_path / "summary.json"
    began = time.monotonic()
    result = subprocess.run(
        locust_command(
            "--headless", "--protocol", "json", "--host", url, "--think-time", "0", "--shape", "capacity",
            "--capacity-over", "users", "--capacity-start", "4", "--capacity-settle", "1",
            "--capacity-measure", "2", "--slo", "e2e:200", "--slo-percentile", "95",
            "--csv", str(prefix), "--summary-json", str(summary_path), "--min-capacity", "5",
        ),
        cwd=ROOT, capture_output=True, text=True, timeout=90 * UNIT, check=False,
    )  # fmt: skip
    took_s = time.monotonic() - began
    assert result.returncode == 0, result.stderr[-3000:]
    section = json.loads(summary_path.read_text())["capacity"]
    assert 0.9 * KNOWN_LIMIT <= section["capacity"] <= 1.1 * KNOWN_LIMIT
    assert section["outcome"] == "found"
    assert "e2e p95" in section["next_failed"]["reason"]
    with prefix.with_name("cap_capacity.csv").open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [row["Verdict"] for row in rows] == [level["verdict"] for level in section["levels"]]
    assert f"Capacity: {section['capacity']:g} users" in result.stderr  # the closing table's verdict
    assert took_s < 60 * UNIT, f"the search took {took_s:.0f} s"


@pytest.mark.slow
def test_a_master_judges_each_rate_level_on_its_workers_merged_replies(tmp_path: Path, demo) -> None:
    url = demo(*FAST)
    summary_path = tmp_path / "summary.json"
    run = run_master_and_workers(
        "--headless", "--protocol", "json", "--host", url, "--shape", "capacity", "--arrival-rate", "10",
        "--capacity-settle", "1", "--capacity-measure", "2", "--capacity-max-levels", "2",
        "--capacity-pool", "1", "--slo", "e2e:2000", "--summary-json", str(summary_path),
        workers=2,
    )  # fmt: skip
    assert run.returncode == 0, run.master_log[-3000:]
    section = json.loads(summary_path.read_text())["capacity"]
    first, second = section["levels"]
    assert (first["target"], second["target"]) == (10, 20)
    # the workers' replies of each window, merged: the rate each level offered, the second one's
    # reaching the workers (their schedules moved from 5/s each to 10/s each)
    assert first["achieved_rate_per_s"] == pytest.approx(10, rel=0.25)
    assert second["achieved_rate_per_s"] == pytest.approx(20, rel=0.25)
    assert (section["capacity"], section["outcome"]) == (20, "max_levels")


def test_a_capacity_run_without_an_slo_exits_2_naming_the_option(tmp_path: Path) -> None:
    result = subprocess.run(
        locust_command("--headless", "--shape", "capacity", "--capacity-over", "users", "--host", "ws://127.0.0.1:9"),
        cwd=ROOT, capture_output=True, text=True, timeout=60 * UNIT, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--shape capacity needs at least one --slo" in result.stderr
    assert "Traceback" not in result.stderr
