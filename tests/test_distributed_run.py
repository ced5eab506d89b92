"""Distributed runs that go wrong: a worker killed mid-run, a master killed under its workers.

Each test runs Locust's master and workers as subprocesses on 127.0.0.1 against demo bots, and
checks the results against what the bots say they did (``GET /stats``).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT, UNIT, bot_counts, free_port, locust_command, wait_for_requests, wait_until
from .conftest import processes as processes_options

FAST_BOT = ("--error-rate", "0", "--wrong-rate", "0", "--ttft-ms", "5", "--itl-ms", "1", "--chunks", "4")
FAILING_BOT = ("--error-rate", "1", "--ttft-ms", "5", "--itl-ms", "1", "--chunks", "4")
"""Every reply is a bot error: a failure counted anywhere must come from this bot."""
WORKER_REPORT_INTERVAL_S = 3.0
"""Locust's: a worker reports to the master every 3 s."""


class Processes:
    """Locust processes started by a test, killed at its end if still running."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[str]] = []

    def master(self, port: str, *args: str) -> subprocess.Popen[str]:
        return self._start(
            "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port, *args, output=True
        )

    def worker(self, port: str, *args: str) -> subprocess.Popen[str]:
        return self._start(
            "--worker", "--master-host", "127.0.0.1", "--master-port", port, *args, output=False
        )

    def _start(self, *args: str, output: bool) -> subprocess.Popen[str]:
        pipe = subprocess.PIPE if output else subprocess.DEVNULL
        process = subprocess.Popen(
            locust_command(*args), cwd=ROOT, stdout=pipe, stderr=subprocess.STDOUT, text=True
        )
        self.started.append(process)
        return process


@pytest.fixture
def processes() -> Iterator[Processes]:
    started = Processes()
    yield started
    for process in started.started:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def run_whole(command: list[str], timeout_s: float) -> tuple[int, str]:
    """Run ``command`` (a master and the workers it forks: one process group) to its end; its exit code
    and output (standard error with it). The output closes once every process of the group ended;
    past ``timeout_s`` the wait fails, and the group is killed either way."""
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        output, _ = process.communicate(timeout=timeout_s)
    finally:
        with contextlib.suppress(ProcessLookupError):  # every process of its group ended already
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
    return process.returncode, output


def ready_workers(log: str) -> list[str]:
    return re.findall(r"(\S+) \(index \d+\) reported as ready", log)


def connections_open(metrics_port: int) -> float:
    """The connections open that a master's ``/metrics`` serves (its workers' last reports); 0 while
    it does not answer yet."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=UNIT) as response:
            text = response.read().decode()
    except OSError:
        return 0.0
    values = re.findall(r"^wslocust_connections_open (\S+)$", text, re.MULTILINE)
    return float(values[0]) if values else 0.0


def run_losing_a_worker(
    tmp_path: Path, url: str, processes: Processes, ending: int, *, forked: bool = False
) -> tuple[dict[str, Any], str, list[str], float]:
    """A 10 s run on two workers, one ended by ``ending`` once both reported: summary, log, workers, time.
    With ``forked``, the one ended is a worker host's ``--processes 2`` parent (its two forked workers
    live on: it is they that must end as a worker so signalled does)."""
    summary_path, port, metrics_port = tmp_path / "summary.json", str(free_port()), free_port()
    started = time.monotonic()
    master = processes.master(
        port, "--headless", "-u", "4", "-r", "4", "-t", f"{RUN_TIME_S}s", "--think-time", "0.02",
        "--expect-workers", "3" if forked else "2", "--host", url, "--protocol", "json", "--summary-json", str(summary_path),
        "--prometheus-port", str(metrics_port),
    )  # fmt: skip
    doomed = processes.worker(port, *(("--processes", "2") if forked else ()))
    survivor = processes.worker(port)
    assert wait_until(lambda: bot_counts(url)["replies"] > 20, 30 * UNIT, interval_s=0.1), (
        "replies from both workers: not within 30 s"
    )
    # Both workers have reported to the master since their users connected: the connections open it
    # serves are the sum of each worker's, as its last report gave them (2 users a worker).
    assert wait_until(lambda: connections_open(metrics_port) == 4, 30 * UNIT, interval_s=0.1), (
        "a report from each worker with its 2 connections open: not within 30 s"
    )
    # Then some replies more (both workers' users at ~50 a second each) before one worker ends: the
    # ended worker has replies of its own since its last report (killed, it loses them).
    reported = bot_counts(url)["started"]
    assert wait_until(lambda: bot_counts(url)["started"] >= reported + 40, 30 * UNIT, interval_s=0.02), (
        "40 replies more after both reports: not within 30 s"
    )
    doomed.send_signal(ending)
    output, _ = master.communicate(timeout=60 * UNIT)
    took_s = time.monotonic() - started
    assert master.returncode == 0, output[-3000:]
    assert survivor.wait(10 * UNIT) == 0
    workers = ready_workers(output)
    assert len(workers) == (3 if forked else 2)
    return json.loads(summary_path.read_text()), output, workers, took_s


RUN_TIME_S = 10


@pytest.mark.slow
def test_a_worker_killed_mid_run_is_reported_lost_once_and_not_waited_for(
    tmp_path: Path, demo, processes: Processes
) -> None:
    """The summary's duration is the run's, the master ends within one bounded wait, the loss is named once."""
    url = demo(*FAST_BOT)
    summary, output, workers, took_s = run_losing_a_worker(tmp_path, url, processes, signal.SIGKILL)
    # Locust's --run-time timer may fire a little early, never late; no wait for reports is counted.
    assert RUN_TIME_S - 1.5 < summary["duration_s"] < RUN_TIME_S + 1.0
    # Start-up, the run, and one bounded wait for reports at most (two report intervals and a second,
    # the stop timeout being 0): not one such wait a phase of the quit (three of them).
    assert took_s < 5 * UNIT + RUN_TIME_S + 2 * WORKER_REPORT_INTERVAL_S + 1.0
    assert summary["workers"]["expected"] == 2
    assert len(summary["workers"]["lost"]) == 1
    assert summary["workers"]["lost"][0] in workers
    lost_lines = [line for line in output.splitlines() if "was lost" in line]
    assert len(lost_lines) == 1
    assert summary["workers"]["lost"][0] in lost_lines[0]
    assert "(no heartbeat)" in lost_lines[0]
    # its replies since its last report died with it
    assert summary["total_requests"] + summary["in_flight_at_stop"] < bot_counts(url)["started"]


@pytest.mark.slow
@pytest.mark.parametrize("forked", [False, True], ids=["worker", "worker-host-with-processes"])
def test_a_worker_ended_by_sigterm_mid_run_sends_its_last_replies_and_is_not_lost(
    tmp_path: Path, demo, processes: Processes, forked: bool
) -> None:
    """A worker told to terminate stops its users and reports before quitting: the totals still reconcile.
    So do the workers a ``--worker --processes 2`` host forked when their parent is terminated (as
    ``docker stop`` would): Locust's parent passes no signal on, and they outlive it."""
    url = demo(*FAST_BOT)
    summary, output, _, _ = run_losing_a_worker(tmp_path, url, processes, signal.SIGTERM, forked=forked)
    assert RUN_TIME_S - 1.5 < summary["duration_s"] < RUN_TIME_S + 1.0
    log = [line for line in output.splitlines() if "locust.runners" in line or "wslocust" in line]
    assert summary["workers"] == {"expected": 3 if forked else 2, "lost": [], "rejected_reports": 0}, log
    assert summary["run"]["workers"] == (3 if forked else 2)  # those that ended early too
    assert "was lost" not in output
    assert summary["total_requests"] + summary["in_flight_at_stop"] == bot_counts(url)["started"]


@pytest.mark.slow
def test_a_worker_orphaned_by_a_killed_master_is_not_counted_in_the_next_run(
    tmp_path: Path, demo, processes: Processes
) -> None:
    """After kill -9 of the master, a new master on the same port rejects the orphan's reports and stops it."""
    failing, healthy = demo(*FAILING_BOT), demo(*FAST_BOT)
    port = str(free_port())
    first = processes.master(
        port, "--headless", "-u", "2", "-r", "2", "-t", "60s", "--think-time", "0.02",
        "--expect-workers", "1", "--host", failing, "--protocol", "json",
    )  # fmt: skip
    orphan = processes.worker(port)
    assert wait_until(lambda: bot_counts(failing)["errors"] > 10, 30 * UNIT, interval_s=0.1), (
        "the first run's load: not within 30 s"
    )
    first.kill()
    first.wait(10 * UNIT)
    prefix, summary_path = tmp_path / "second", tmp_path / "summary.json"
    second = processes.master(
        port, "--headless", "-u", "2", "-r", "2", "-t", "8s", "--think-time", "0.02",
        "--expect-workers", "1", "--host", healthy, "--protocol", "json",
        "--csv", str(prefix), "--summary-json", str(summary_path),
    )  # fmt: skip
    processes.worker(port)
    output, _ = second.communicate(timeout=60 * UNIT)
    assert second.returncode == 0, output[-3000:]  # no failure reached the new run, not even Locust's
    summary = json.loads(summary_path.read_text())
    counts = bot_counts(healthy)
    assert summary["failed_requests"] == 0
    assert summary["errors_by_kind"] == {}
    assert summary["total_requests"] + summary["in_flight_at_stop"] == counts["started"]
    assert summary["workers"]["expected"] == 1
    assert summary["workers"]["rejected_reports"] >= 1
    rejected = [line for line in output.splitlines() if "rejected a report" in line]
    assert len(rejected) == 1
    assert "not this master's" in rejected[0]
    with (prefix.parent / "second_stats.csv").open(newline="") as stream:
        aggregated = next(row for row in csv.DictReader(stream) if row["Name"] == "Aggregated")
    assert int(aggregated["Request Count"]) > 0
    assert aggregated["Failure Count"] == "0"
    # told to quit at its first rejected report, the orphan stops (before its own 60 s without heartbeat)
    orphan.wait(30 * UNIT)


def locust_ws_requests(prefix: Path) -> int:
    """The ``WS`` requests counted in Locust's own ``PREFIX_stats.csv``."""
    with prefix.with_name(prefix.name + "_stats.csv").open(newline="") as stream:
        return sum(int(row["Request Count"]) for row in csv.DictReader(stream) if row["Type"] == "WS")


def printed_ws_requests(log: str) -> int:
    """The ``WS`` requests counted in Locust's end-of-run table (the last one printed, before its
    percentiles)."""
    table = log[: log.rindex("Response time percentiles")].rsplit("# reqs", 1)[1]
    return sum(int(line.split()[2]) for line in table.splitlines() if line.startswith("WS "))


@pytest.mark.slow
@pytest.mark.parametrize("connecting", [False, True], ids=["connected", "still-connecting"])
def test_a_bad_option_under_processes_ends_the_forked_workers_with_their_master(
    tmp_path: Path, connecting: bool
) -> None:
    """The master stops at start-up (exit 2, one line) before its workers connect: they end with it
    rather than minutes later, so the run's output closes at once. So do workers still trying to
    connect (here for ever: sent to a port nothing listens on) when it stops."""
    conversations = tmp_path / "bad.jsonl"
    conversations.write_text('{"name": "a", "turns": [["hello"]]}\n', encoding="utf-8")
    ports = ("--master-port", str(free_port())) if connecting else ()
    returncode, output = run_whole(  # the workers hold the output until they end
        locust_command("--headless", "-u", "2", "-t", "3s", *processes_options(2), *ports,
                       "--prompts", str(conversations)),
        20 * UNIT,
    )  # fmt: skip
    assert returncode == 2, output[-3000:]
    assert f"{conversations}:1: turn 1 is a list, not a prompt string or an object" in output
    assert "Traceback" not in output


@pytest.mark.slow
def test_two_processes_on_the_embedded_demo_bot_count_every_workers_replies(tmp_path: Path) -> None:
    """No --host, --processes 2: the master's demo bot starts while its workers say they are ready, and
    their reports are still its own; Locust's CSV and table count what the summary counts (-t's end)."""
    prefix, summary_path = tmp_path / "run", tmp_path / "summary.json"
    returncode, output = run_whole(
        locust_command("--headless", "-u", "4", "-r", "4", "-t", "3s", *processes_options(2),
                       "--think-time", "0.02", "--demo-ttft-ms", "5", "--demo-itl-ms", "1",
                       "--demo-error-rate", "0", "--demo-wrong-rate", "0",
                       "--csv", str(prefix), "--summary-json", str(summary_path)),
        60 * UNIT,
    )  # fmt: skip
    assert returncode == 0, output[-3000:]
    assert "Traceback" not in output
    assert "rejected a report" not in output
    summary = json.loads(summary_path.read_text())
    assert summary["workers"] == {"expected": 2, "lost": [], "rejected_reports": 0}
    assert summary["run"]["workers"] == 2  # the workers the test ran with, not those left at the end
    assert summary["total_requests"] > 20
    assert locust_ws_requests(prefix) == summary["total_requests"]
    assert printed_ws_requests(output) == summary["total_requests"]


@pytest.mark.slow
def test_a_run_whose_only_worker_quit_at_its_start_is_not_a_pass(
    tmp_path: Path, demo, processes: Processes
) -> None:
    """A worker refusing its own --source-address (an address not this host's: refused at the bind,
    nothing sent) quits once it has its users to spawn; its master runs on to its run time, having
    measured nothing, and says so with exit 1 (it exited 0 with empty tables)."""
    url = demo(*FAST_BOT)
    summary_path, port = tmp_path / "summary.json", str(free_port())
    master = processes.master(
        port, "--headless", "-u", "2", "-r", "2", "-t", "3s", "--expect-workers", "1", "--host", url,
        "--summary-json", str(summary_path),
    )  # fmt: skip
    worker = processes.worker(port, "--source-address", "192.0.2.1")
    output, _ = master.communicate(timeout=60 * UNIT)
    assert worker.wait(30 * UNIT) == 2
    assert master.returncode == 1, output[-3000:]
    assert "nothing measured: no user tried to connect" in output
    summary = json.loads(summary_path.read_text())
    assert (summary["total_requests"], summary["connections"]["attempts"]) == (0, 0)


HELD_WORKER_LOCUSTFILE = """
import gevent
import locust
from gevent.event import Event
from locust.runners import STATE_INIT, WorkerRunner

plugin_listening = Event()


@locust.events.init.add_listener
def take_the_spawn_in_before_wslocust_listens(environment, runner, **_):
    if not isinstance(runner, WorkerRunner):
        return
    spawn = runner.start_worker

    def held(*args, **kwargs):  # the users start after the plugin's init, as they do in the race
        plugin_listening.wait(30)
        return spawn(*args, **kwargs)

    runner.start_worker = held
    for _ in range(2000):  # until Locust took the master's spawn in and fired test_start
        if runner.worker_state != STATE_INIT:
            break
        gevent.sleep(0.01)


from wslocust import ChatbotUser  # its plugin's init listener: after the one above

locust.events.init.add_listener(lambda **_: plugin_listening.set())


class Bot(ChatbotUser):
    protocol = "json"
    prompts = "datasets/support_bot.jsonl"
"""
"""A worker whose plugin starts listening only once Locust took the master's spawn message in and
fired ``test_start``, as a forked worker does when it hears its master while connecting."""


@pytest.mark.slow
def test_a_worker_that_heard_the_test_start_before_the_plugin_listened_still_counts(
    tmp_path: Path, demo
) -> None:
    """Its reports carry the run's id (not refused as another test's), so the totals reconcile; its
    share of an open model's rate comes with the spawn message, not a message it could miss."""
    url = demo(*FAST_BOT)
    locustfile, summary_path = tmp_path / "held_worker.py", tmp_path / "summary.json"
    locustfile.write_text(HELD_WORKER_LOCUSTFILE)
    returncode, output = run_whole(
        [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", "4", "-r", "4", "-t", "3s",
         *processes_options(2), "--stop-timeout", "5", "--host", url, "--arrival-rate", "40",
         "--summary-json", str(summary_path)],
        60 * UNIT,
    )  # fmt: skip
    assert returncode == 0, output[-3000:]
    assert "Traceback" not in output
    assert "Unknown message type" not in output
    assert "rejected a report" not in output
    summary = json.loads(summary_path.read_text())
    assert summary["workers"] == {"expected": 2, "lost": [], "rejected_reports": 0}
    assert summary["total_requests"] + summary["in_flight_at_stop"] == bot_counts(url)["started"]
    # 40 prompts a second shared by two workers for 3 s (less the spawn): 110 on a quiet machine, and
    # about twice that when each worker sent the whole rate
    assert 40 <= summary["total_requests"] <= 140


@pytest.mark.slow
def test_a_master_ended_by_sigterm_writes_locusts_csv_after_its_workers_final_reports(
    tmp_path: Path, demo, processes: Processes
) -> None:
    """A master of two workers told to terminate: Locust's CSV and table count what the summary counts."""
    url = demo(*FAST_BOT)
    prefix, summary_path, port = tmp_path / "run", tmp_path / "summary.json", str(free_port())
    master = processes.master(
        port, "--headless", "-u", "4", "-r", "4", "-t", "60s", "--think-time", "0.02",
        "--expect-workers", "2", "--host", url, "--protocol", "json",
        "--csv", str(prefix), "--summary-json", str(summary_path),
    )  # fmt: skip
    processes.worker(port)
    processes.worker(port)
    wait_for_requests(prefix.with_name("run_stats_history.csv"), more_than=20, timeout_s=30 * UNIT)
    master.send_signal(signal.SIGTERM)
    output, _ = master.communicate(timeout=60 * UNIT)
    assert master.returncode == 0, output[-3000:]
    summary = json.loads(summary_path.read_text())
    assert summary["workers"] == {"expected": 2, "lost": [], "rejected_reports": 0}
    assert summary["run"]["workers"] == 2  # the workers the test ran with, not those left at the end
    assert summary["total_requests"] > 20
    assert locust_ws_requests(prefix) == summary["total_requests"]
    assert printed_ws_requests(output) == summary["total_requests"]
