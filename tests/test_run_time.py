"""``--run-time`` counts from the end of start-up, however long start-up took (a busy machine's)."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from .conftest import ROOT, SAMPLE, UNIT

RUN_TIME_S = 2
START_UP_S = RUN_TIME_S + 1
"""How long the locustfile's import blocks: longer than the run, as heavy imports on a busy machine."""

SLOW_LOCUSTFILE = f"""
from gevent.monkey import get_original

from wslocust import ChatbotUser

get_original("time", "sleep")({START_UP_S})  # blocks without running the event loop


class Asker(ChatbotUser):
    prompts = {str(SAMPLE)!r}
    protocol = "json"
"""


def logged_at(output: str, message: str) -> datetime:
    """When Locust logged the line holding ``message`` (its ``[%Y-%m-%d %H:%M:%S,%f]`` prefix)."""
    found = re.search(r"^\[([\d-]+ [\d:]+,\d+)\] .*" + re.escape(message), output, re.MULTILINE)
    assert found is not None, output[-3000:]
    return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f")


@pytest.mark.slow
def test_a_start_up_longer_than_the_run_time_still_runs_the_whole_run_time(tmp_path: Path, demo) -> None:
    url = demo("--ttft-ms", "5", "--itl-ms", "1", "--chunks", "3")
    locustfile = tmp_path / "slow_start.py"
    locustfile.write_text(SLOW_LOCUSTFILE, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", "1", "-r", "1",
         "-t", f"{RUN_TIME_S}s", "--think-time", "0", "--host", url, "--only-summary"],
        cwd=ROOT, capture_output=True, text=True, timeout=60 * UNIT, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    armed = logged_at(result.stderr, f"Run time limit set to {RUN_TIME_S} seconds")
    reached = logged_at(result.stderr, "--run-time limit reached")
    # The run counts from the end of start-up, a little before Locust logs that it armed the limit:
    # half the run time apart from a run that ended at once (what a stale loop clock did).
    assert (reached - armed).total_seconds() >= RUN_TIME_S / 2
