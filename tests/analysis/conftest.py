"""Real Locust runs for the analysis tests, made once per session, in parallel subprocesses.

- ``synthetic_full``: ``locustfile_synthetic.py`` (steps of 2, 4, 6 users; every error kind) with
  ``--csv-full-history`` and a ``_failed_replies.jsonl`` as wslocust writes it;
- ``synthetic_plain``: the same locustfile with plain ``--csv`` (cumulative history percentiles);
- ``silent``: a run whose users send nothing (zero requests, ``N/A`` everywhere);
- ``chatbot``: the project's ``locustfiles/chatbot.py`` against its embedded demo bot (ramp 2, 4, 6
  users; the demo injects bot errors), with ``--csv-full-history`` and wslocust's own files
  (``_chat_stats.csv``...).

and, apart (``known_run``), ``locustfile_known_replies.py`` against a demo bot whose hung replies
time out far above the successful ones' time, with every reply's end and time in a file.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from wslocust.demo.process import DemoProcess

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SYNTHETIC = HERE / "locustfile_synthetic.py"
KNOWN_REPLIES = HERE / "locustfile_known_replies.py"
CHATBOT = ROOT / "locustfiles" / "chatbot.py"
TIMEOUT_S = 90.0


@dataclass(frozen=True)
class Runs:
    """The ``--csv`` prefixes of the session's real runs."""

    synthetic_full: Path
    synthetic_plain: Path
    silent: Path
    chatbot: Path


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """Run Locust four times at once (about 10 s) and give the prefixes of their CSV files."""
    base = tmp_path_factory.mktemp("locust_runs")
    locust = [sys.executable, "-m", "locust", "--headless", "--only-summary", "--loglevel", "WARNING"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNTH_", "LOCUST_"))}
    chatbot = [
        "-f", str(CHATBOT), "-u", "6", "-r", "2", "-t", "6s", "--think-time", "0.05", "--csv-full-history",
        "--demo-ttft-ms", "20", "--demo-itl-ms", "2", "--demo-chunks", "5", "--demo-error-rate", "0.1",
    ]  # fmt: skip
    plans: dict[str, tuple[list[str], dict[str, str]]] = {
        "synthetic_full": (["-f", str(SYNTHETIC), "--csv-full-history"], {"SYNTH_FAILED_REPLIES": "1"}),
        "synthetic_plain": (["-f", str(SYNTHETIC)], {}),
        "silent": (["-f", str(SYNTHETIC)], {"SYNTH_SILENT": "1", "SYNTH_LEVELS": "1"}),
        "chatbot": (chatbot, {}),
    }
    started = {}
    for name, (arguments, extra) in plans.items():
        prefix = base / name / "run"
        prefix.parent.mkdir()
        log = (base / f"{name}.log").open("wb")
        command = [*locust, *arguments, "--csv", str(prefix)]
        process = subprocess.Popen(
            command, cwd=ROOT, env={**env, **extra}, stdout=log, stderr=subprocess.STDOUT
        )
        started[name] = (prefix, process, log)
    deadline = time.monotonic() + TIMEOUT_S
    try:
        for name, (prefix, process, log) in started.items():
            code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
            log.close()
            # Locust exits 1 when requests failed, which these runs are made to do; the CSVs tell
            if not prefix.with_name("run_stats_history.csv").exists():
                output = (base / f"{name}.log").read_text(errors="replace")
                pytest.fail(f"locust run {name!r} wrote no CSV (exit code {code}):\n{output[-3000:]}")
    finally:
        for _, process, log in started.values():
            if process.poll() is None:
                process.kill()
                process.wait()
            log.close()
    chatbot_prefix, _, _ = started["chatbot"]
    for attempt in range(2):  # the project's locustfile and bot are shared: give a bad moment a retry
        if _has_replies(chatbot_prefix):
            break
        output = (base / "chatbot.log").read_text(errors="replace")
        if attempt == 1:
            pytest.fail(f"locust run 'chatbot' made no WS reply or no chat statistics:\n{output[-3000:]}")
        for stale in chatbot_prefix.parent.iterdir():
            stale.unlink()
        command = [*locust, *plans["chatbot"][0], "--csv", str(chatbot_prefix)]
        with (base / "chatbot.log").open("wb") as log:
            subprocess.run(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=TIMEOUT_S
            )
    return Runs(**{name: prefix for name, (prefix, _, _) in started.items()})


def _has_replies(prefix: Path) -> bool:
    """Whether a run of the chatbot locustfile answered prompts and wrote wslocust's statistics."""
    stats = prefix.with_name("run_stats.csv")
    if not (stats.exists() and prefix.with_name("run_chat_stats.csv").exists()):
        return False
    with stats.open(newline="") as handle:
        return any(row["Type"] == "WS" and int(row["Request Count"]) > 0 for row in csv.DictReader(handle))


@dataclass(frozen=True)
class KnownRun:
    """A chatbot run's ``--csv`` prefix, and the file holding each of its WS replies (JSON lines)."""

    prefix: Path
    replies: Path


@pytest.fixture(scope="session")
def known_run(tmp_path_factory: pytest.TempPathFactory) -> KnownRun:
    """Run wslocust's users for 6 s against a demo bot where 15 % of replies hang (timed out at
    0.3 s, against some 40 ms for a successful reply) and 5 % are bot errors."""
    base = tmp_path_factory.mktemp("known_run")
    prefix, replies = base / "run", base / "replies.jsonl"
    bot = ["--protocol", "json", "--ttft-ms", "20", "--itl-ms", "5", "--chunks", "5"]
    demo = DemoProcess([*bot, "--hang-rate", "0.15", "--error-rate", "0.05", "--seed", "7"])
    url = demo.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    command = [
        sys.executable, "-m", "locust", "-f", str(KNOWN_REPLIES), "--headless", "--only-summary",
        "--loglevel", "WARNING", "-u", "8", "-r", "4", "-t", "6s", "--host", url, "--reply-timeout", "0.3",
        "--csv", str(prefix), "--csv-full-history",
    ]  # fmt: skip
    try:
        done = subprocess.run(
            command,
            cwd=ROOT,
            env={**env, "KNOWN_REPLIES_FILE": str(replies)},
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
    finally:
        demo.stop()
    if not replies.exists() or not prefix.with_name("run_chat_stats_history.csv").exists():
        pytest.fail(
            f"the known-replies run wrote no results (exit {done.returncode}):\n{done.stderr[-3000:]}"
        )
    return KnownRun(prefix, replies)


def known_seconds(known: KnownRun) -> tuple[dict[int, list[float]], list[float]]:
    """The run's successful replies' times by second of reply end, and its failed replies' times."""
    ok: dict[int, list[float]] = {}
    failed: list[float] = []
    for line in known.replies.read_text().splitlines():
        reply = json.loads(line)
        if reply["failed"]:
            failed.append(reply["latency_ms"])
        else:
            ok.setdefault(int(reply["end"]), []).append(reply["latency_ms"])
    return ok, failed


STRESS_SECRET = "s3cr3t-h"
"""The handshake header's secret of ``stress_run``, which must appear in nothing it wrote."""


@pytest.fixture(scope="session")
def stress_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stress test of the chatbot locustfile with gates and ``--summary-json PREFIX.json``, against a
    demo bot that slows a reply by 400 ms for each reply past 2 streaming when it starts: its step of
    2 users is never slowed and passes, its step of 4 users breaks (p95 above 250 ms); one gate passes
    and one fails. Gives the ``--csv`` prefix."""
    prefix = tmp_path_factory.mktemp("stress_run") / "run"
    bot = ["--protocol", "json", "--ttft-ms", "10", "--itl-ms", "2", "--chunks", "3", "--error-rate", "0"]
    slows = ["--degrade-after", "2", "--degrade-ms", "400"]
    demo = DemoProcess([*bot, *slows, "--require-header", f"Authorization: Bearer {STRESS_SECRET}"])
    url = demo.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    command = [
        sys.executable, "-m", "locust", "-f", str(CHATBOT), "--headless", "--only-summary",
        "--loglevel", "WARNING", "--host", f"{url}/?key=s3cr3t-u", "--think-time", "0.02",
        "--header", "Authorization: Bearer ${STRESS_SECRET}", "--shape", "stress",
        "--step-start-users", "2", "--step-users", "2", "--step-duration", "2s", "--max-users", "8",
        "--shape-spawn-rate", "10", "--stress-p95-ms", "250", "--max-p95-ms", "60000",
        "--min-rps", "100000", "--csv", str(prefix), "--summary-json", f"{prefix}.json",
    ]  # fmt: skip
    try:
        done = subprocess.run(
            command,
            cwd=ROOT,
            env={**env, "STRESS_SECRET": STRESS_SECRET},
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
    finally:
        demo.stop()
    if not Path(f"{prefix}.json").exists():
        pytest.fail(f"the stress run wrote no summary (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return prefix


CopyRun = Callable[..., Path]


@pytest.fixture
def copy_run(tmp_path: Path) -> CopyRun:
    """Copy a run's files into the test's directory: ``copy_run(prefix, name, skip) -> new prefix``."""

    def copy(prefix: Path, name: str = "run", skip: tuple[str, ...] = ()) -> Path:
        target = tmp_path / name
        for path in prefix.parent.glob(prefix.name + "_*"):
            suffix = path.name[len(prefix.name) :]
            if path.suffix in {".csv", ".jsonl"} and suffix not in skip:
                shutil.copy(path, target.with_name(name + suffix))
        return target

    return copy
