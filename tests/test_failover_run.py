"""A run against two demo bots, each killed mid-run and restarted on its port: every user fails over
and back, nothing crashes, and every failure, close code and outage is counted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from wslocust.demo.process import DemoProcess

from .conftest import ROOT, UNIT, bot_counts, free_port, locust_command, wait_until

USERS = 4
BOT = ("--ttft-ms", "5", "--itl-ms", "1", "--chunks", "3")
"""Fast replies with no injected fault: every failure of the run is the kills'."""


def _serving(url: str, *, connections: int, replies: int) -> bool:
    """Whether the demo bot at ``url`` took at least these connections and finished these replies."""
    counts = bot_counts(url)
    return counts["connections"] >= connections and counts["replies"] >= replies


@pytest.mark.slow
def test_users_fail_over_when_an_endpoint_is_killed_and_back_when_the_other_is(tmp_path: Path) -> None:
    port = free_port()
    primary = DemoProcess([*BOT, "--port", str(port)], start_timeout_s=20 * UNIT)
    secondary = DemoProcess(BOT, start_timeout_s=20 * UNIT)
    restarted = DemoProcess([*BOT, "--port", str(port)], start_timeout_s=20 * UNIT)
    primary_url, secondary_url = primary.start(), secondary.start()
    summary_path = tmp_path / "summary.json"
    process = subprocess.Popen(
        locust_command("--headless", "-u", str(USERS), "-r", "100", "-t", "60s", "--think-time", "0.02",
                       "--host", primary_url, "--failover-host", secondary_url,
                       "--summary-json", str(summary_path), "--exit-code-on-error", "0"),
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        # Observable conditions, each within a bound: every user on the primary, then on the secondary
        # once the primary is killed (it takes no connection but the failovers'), then on the primary
        # again once it is back on its port and the secondary is killed.
        assert wait_until(lambda: _serving(primary_url, connections=USERS, replies=2 * USERS), 30 * UNIT)
        primary.stop()  # SIGTERM: the bot closes every connection with 1001
        assert wait_until(lambda: _serving(secondary_url, connections=USERS, replies=2 * USERS), 20 * UNIT)
        assert restarted.start() == primary_url
        secondary.stop()
        assert wait_until(lambda: _serving(primary_url, connections=USERS, replies=2 * USERS), 20 * UNIT)
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=30 * UNIT)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
        for bot in (primary, secondary, restarted):
            bot.stop()
    assert process.returncode == 0, stderr[-3000:]
    assert "Traceback" not in stderr
    summary = json.loads(summary_path.read_text())
    lives = summary["lifecycle"]
    assert lives["failovers"] >= 2 * USERS  # every user, at each kill
    assert lives["close_codes"].get("1001", 0) >= 2 * USERS
    assert set(lives["close_codes"]) <= {"1001", "1006"}
    assert lives["outages"] >= 2 * USERS
    assert 0 < lives["time_to_recover_ms"]["max"] < 20_000 * UNIT
    # Every failure is counted by its kind: the replies' and the connects' together.
    failures = summary["failed_requests"] + summary["connections"]["failures"]
    assert sum(summary["errors_by_kind"].values()) == failures
    assert set(summary["errors_by_kind"]) <= {"closed_mid_reply", "connection_refused"}
    # Each request is named for its endpoint: both served replies.
    endpoints = {name.rpartition(" @")[2] for name in summary["by_name"]}
    assert endpoints == {primary_url.removeprefix("ws://"), secondary_url.removeprefix("ws://")}
    assert "Connections:" in stderr
    assert "closed by the server, by close code: 1001:" in stderr
