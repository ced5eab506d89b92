"""Load shapes and open-model load in real Locust runs against the demo bot."""

from __future__ import annotations

import csv
import json
import statistics
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT, UNIT, free_port, locust_command, processes, run_until

FAST = ("--ttft-ms", "10", "--itl-ms", "2", "--chunks", "3", "--wrong-rate", "0", "--error-rate", "0")


def run(
    tmp_path: Path, *args: str, timeout_s: float = 90
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    summary = tmp_path / "summary.json"
    result = subprocess.run(
        locust_command("--headless", "--protocol", "json", "--summary-json", str(summary), *args),
        cwd=ROOT, capture_output=True, text=True, timeout=timeout_s * UNIT, check=False,
    )  # fmt: skip
    assert summary.exists(), result.stderr[-3000:]
    return result, json.loads(summary.read_text())


@pytest.mark.slow
def test_open_model_p99_shows_a_stall_the_closed_model_hides(tmp_path: Path, demo) -> None:
    """Against a bot stalling 1 s every 5 s, closed-model users wait with it; open-model prompts do not."""
    url = demo(*FAST, "--stall-every-s", "5", "--stall-ms", "1000")
    _, closed = run(tmp_path, "--host", url, "-u", "2", "-r", "2", "-t", "11s", "--think-time", "0")
    _, opened = run(tmp_path, "--host", url, "-u", "60", "-r", "60", "-t", "11s", "--arrival-rate", "40")
    # closed: the two users sat out each stall, 2 slow samples among hundreds
    assert closed["latency_ms"]["p99"] < 200
    # open: the ~40 prompts due during each stall all waited for it
    assert opened["latency_ms"]["p99"] > 500
    assert opened["open_model"]["kept_up"] is True
    assert opened["requests_per_second"] == pytest.approx(40, rel=0.15)


@pytest.mark.slow
def test_too_few_users_for_the_rate_are_reported_as_late_sends(tmp_path: Path, demo) -> None:
    url = demo("--ttft-ms", "100", "--itl-ms", "1", "--chunks", "2", "--wrong-rate", "0", "--error-rate", "0")
    result, summary = run(tmp_path, "--host", url, "-u", "2", "-r", "2", "-t", "4s", "--arrival-rate", "50")
    open_model = summary["open_model"]
    # two users at ~100 ms a reply carry ~20 prompts/s of the 50 due
    assert open_model["late_sends"] > 0.3 * open_model["scheduled"]
    assert open_model["kept_up"] is False
    assert "could not keep up" in result.stderr
    # the wait counts: latency from the due time exceeds the bot's own 100 ms by far
    assert summary["latency_ms"]["p95"] > 500


def full_seconds(history: Path) -> list[dict[str, str]]:
    """The ``Aggregated`` rows of a chat history CSV (one a second), less the first and the last (a
    second the run started or stopped in)."""
    if not history.exists():
        return []
    with history.open(newline="") as stream:
        rows = [row for row in csv.DictReader(stream) if row["Name"] == "Aggregated"]
    return rows[1:-1]


@pytest.mark.slow
def test_open_model_rate_is_shared_by_the_processes(tmp_path: Path, demo) -> None:
    """Two processes at --arrival-rate 30 send 30 prompts a second between them, not 30 each: read from
    the seconds in full, once there are three (however long the processes took to start)."""
    url = demo(*FAST)
    summary_path, prefix = tmp_path / "summary.json", tmp_path / "open"
    history = prefix.with_name(prefix.name + "_chat_stats_history.csv")
    arguments = (
        "--headless", "--protocol", "json", "--summary-json", str(summary_path), "--csv", str(prefix),
        "--host", url, *processes(2), "-u", "20", "-r", "20", "-t", "300s", "--arrival-rate", "30",
    )  # fmt: skip
    returncode, output = run_until(
        locust_command(*arguments),
        lambda _: len(full_seconds(history)) >= 3,
        tmp_path / "locust.log",
        timeout_s=60 * UNIT,
    )
    assert returncode == 0, output[-3000:]
    rates = [float(row["Replies/s"]) for row in full_seconds(history)]
    assert statistics.median(rates) == pytest.approx(30, rel=0.15), rates
    open_model = json.loads(summary_path.read_text())["open_model"]
    # no prompt waited for a free user (a late send past the 10 ms of scheduling jitter would say so;
    # a loaded machine's wake-ups may add a few, within the 1% the run itself calls keeping up)
    assert open_model["kept_up"] is True, open_model


@pytest.mark.slow
def test_a_step_run_reports_each_users_level(tmp_path: Path, demo) -> None:
    url = demo(*FAST)
    prefix = tmp_path / "step"
    _, summary = run(
        tmp_path, "--host", url, "--shape", "step", "--step-start-users", "2", "--step-users", "3",
        "--step-duration", "3s", "--max-users", "8", "--think-time", "0.05", "--csv", str(prefix),
    )  # fmt: skip
    with prefix.with_name("step_steps.csv").open(newline="") as stream:
        steps = list(csv.DictReader(stream))
    assert [int(step["Users"]) for step in steps] == [2, 5, 8]
    rates = [float(step["Requests/s"]) for step in steps]
    assert rates[0] < rates[1] < rates[2]  # no think-time bottleneck: more users, more replies
    assert all(float(step["p50 (ms)"]) >= 14 for step in steps)  # 10 ms + 2 gaps of 2 ms
    assert [step["users"] for step in summary["steps"]["steps"]] == [2, 5, 8]
    # the steps count the WS replies: their requests add up to the run's replies (minus the last tick)
    assert sum(int(step["Requests"]) for step in steps) <= summary["total_requests"]


@pytest.mark.slow
def test_stress_stops_at_the_step_where_the_bot_degrades(tmp_path: Path, demo) -> None:
    """The bot slows by 300 ms a reply per reply over 4 streaming at once: 6 users break a 150 ms p95."""
    url = demo(*FAST, "--degrade-after", "4", "--degrade-ms", "300")
    result, summary = run(
        tmp_path, "--host", url, "--shape", "stress", "--step-start-users", "2", "--step-users", "2",
        "--step-duration", "3s", "--max-users", "20", "--stress-p95-ms", "150", "--think-time", "0",
    )  # fmt: skip
    steps = summary["steps"]
    breaking = steps["breaking_point"]
    assert breaking["users"] == 4
    assert breaking["broken_users"] == 6
    assert "p95" in breaking["reason"]
    assert [step["users"] for step in steps["steps"]] == [2, 4, 6]
    assert result.returncode in (0, 1)


@pytest.mark.slow
def test_gates_decide_the_exit_code_and_land_in_the_summary(tmp_path: Path, demo) -> None:
    url = demo(*FAST, "--error-rate", "0.2")  # a fifth of the replies fail: Locust alone would exit 1
    common = (
        "--host",
        url,
        "-u",
        "3",
        "-r",
        "3",
        "-t",
        "3s",
        "--think-time",
        "0.05",
        "--max-ttft-ms",
        "1000",
    )
    passed, summary = run(tmp_path, *common, "--max-error-rate", "40%", "--max-p95-ms", "2000")
    assert passed.returncode == 0, passed.stderr[-2000:]
    assert summary["gates"]["passed"] is True
    assert {gate["gate"] for gate in summary["gates"]["gates"]} == {
        "max_error_rate",
        "max_p95_ms",
        "max_ttft_p95_ms",
    }
    failed, summary = run(tmp_path, *common, "--max-error-rate", "1%")
    assert failed.returncode == 3
    assert summary["gates"]["passed"] is False
    assert "Verdict: FAIL (1 of 2 gates failed)" in failed.stderr


@pytest.mark.slow
def test_a_step_shape_runs_on_the_master_of_two_processes(tmp_path: Path, demo) -> None:
    url = demo(*FAST)
    _, summary = run(
        tmp_path, "--host", url, *processes(2), "--shape", "step", "--step-start-users", "2",
        "--step-users", "2", "--step-duration", "4s", "--max-users", "4", "--think-time", "0.05",
    )  # fmt: skip
    steps = summary["steps"]["steps"]
    assert [step["users"] for step in steps] == [2, 4]
    assert all(step["requests"] > 0 for step in steps)
    assert steps[1]["requests_per_s"] > steps[0]["requests_per_s"]


@pytest.mark.slow
def test_the_class_picker_offers_every_shape_and_runs_the_one_picked(tmp_path: Path, demo) -> None:
    from .test_locust_run import get_json, post

    url = demo(*FAST)
    summary_path = tmp_path / "picked.json"
    port = str(free_port())
    process = subprocess.Popen(
        locust_command("--web-host", "127.0.0.1", "--web-port", port, "--class-picker", "--host", url,
                       "--protocol", "json", "--think-time", "0.05", "--step-start-users", "2",
                       "--step-users", "1", "--step-duration", "2s", "--max-users", "3",
                       "--summary-json", str(summary_path)),
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        page = wait_for_page(base)
        offered = json.loads(
            page.split("window.templateArgs = ", 1)[1].split("</script>", 1)[0].strip().rstrip(";")
        )
        assert {"StepShape", "StressShape", "BurstShape", "SpikeShape", "SteadyShape"} <= set(
            offered["available_shape_classes"]
        )
        fields = {"user_count": "1", "spawn_rate": "1", "host": url, "shape_class": "StepShape",
                  "user_classes": "SupportBotUser"}  # fmt: skip
        assert post(base + "/swarm", fields)["success"]
        deadline = time.monotonic() + 20 * UNIT
        while time.monotonic() < deadline and get_json(base + "/stats/requests")["state"] != "stopped":
            time.sleep(0.5)
        summary = json.loads(summary_path.read_text())
        assert [step["users"] for step in summary["steps"]["steps"]] == [2, 3]
    finally:
        process.terminate()
        process.wait(10)


def wait_for_page(base: str) -> str:
    deadline = time.monotonic() + 20 * UNIT
    while True:
        try:
            with urllib.request.urlopen(base + "/", timeout=2) as response:
                page: str = response.read().decode()
                return page
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
