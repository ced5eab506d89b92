"""A distributed run of the shipped conversations against the demo bot: the conversation figures in
every output, merged across the workers."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from .conftest import ROOT, bot_counts, run_master_and_workers

BOT = ("--error-rate", "0", "--wrong-rate", "0", "--ttft-ms", "5", "--itl-ms", "1", "--chunks", "3")
USERS = 4


@pytest.mark.slow
def test_a_master_and_two_workers_report_the_conversations_they_asked(tmp_path: Path, demo) -> None:
    url = demo(*BOT)
    prefix, summary_path = tmp_path / "run", tmp_path / "summary.json"
    run = run_master_and_workers(
        "--headless", "-u", str(USERS), "-r", str(USERS), "-t", "3s", "--host", url, "--protocol", "json",
        "--prompts", str(ROOT / "datasets" / "support_conversations.jsonl"), "--think-time", "0",
        "--turn-think-time", "0.01", "--metric", "intent", "--metric", "contains:field=FollowsUp,name=context",
        "--csv", str(prefix), "--summary-json", str(summary_path),
        workers=2,
    )  # fmt: skip

    assert run.returncode == 0, run.master_log[-3000:]
    summary = json.loads(summary_path.read_text())
    conversations = summary["conversations"]
    assert conversations["completed"] > 10
    assert conversations["failed"] == 0
    assert 0 < conversations["duration_ms"]["p50"] <= conversations["duration_ms"]["max"]
    with (tmp_path / "run_stats.csv").open(newline="") as stream:
        rows = [row for row in csv.DictReader(stream) if row["Type"] == "CONVERSATION"]
    with (tmp_path / "run_conversations.csv").open(newline="") as stream:
        rows = {row["Name"]: row for row in csv.DictReader(stream)}
    assert set(rows) == {*conversations["by_name"], "Aggregated"}
    assert (int(rows["Aggregated"]["Completed"]), int(rows["Aggregated"]["Failed"])) == (
        conversations["completed"],
        0,
    )
    assert float(rows["Aggregated"]["Duration p50 (ms)"]) == conversations["duration_ms"]["p50"]
    with (tmp_path / "run_stats.csv").open(newline="") as stream:  # Locust's own has their rows too
        assert {row["Name"] for row in csv.DictReader(stream) if row["Type"] == "CONVERSATION"} == set(
            conversations["by_name"]
        )
    # Each conversation asked its first turn on a new connection, through either worker; the users
    # stopped mid-conversation asked a first turn (and connected) for none counted.
    first_turns = sum(
        section["total_requests"] for name, section in summary["by_name"].items() if name.endswith(" #1")
    )
    assert first_turns - USERS <= conversations["completed"] <= first_turns
    assert (
        conversations["completed"] <= bot_counts(url)["connections"] <= conversations["completed"] + 2 * USERS
    )
    assert summary["total_requests"] > conversations["completed"]  # the turns, not the conversations
    assert summary["metrics"]["context"]["mean"] == 1.0  # every follow-up answered in its context
    assert "CONVERSATION" in run.master_log  # Locust's end-of-run table has the conversation rows
