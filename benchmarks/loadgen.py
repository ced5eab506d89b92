"""One Locust process under measurement: the child that ``benchmarks/run.py`` starts for each figure.

It runs Locust in-process (an ``Environment`` and a ``LocalRunner``, as ``locust --headless`` builds
them, with wslocust's plugin attached through Locust's ``init`` event: its ``Recorder`` records
every reply into the exact histograms), starts the users, waits until they all run, then measures a
window: its own CPU time (``getrusage``: user + system of this process alone; the target server is
another process), the round trips and chunks completed, and its resident memory. It prints one JSON
line on stdout (and ``MEASURING`` when the window opens, so a reference client can run beside it).

    .venv/bin/python benchmarks/loadgen.py --user wslocust --host ws://127.0.0.1:PORT --users 50 ...

Users:
    wslocust  ChatbotUser (``--protocol`` plain or json), prompts from datasets/support_bot.jsonl
    naive     benchmarks/naive_user.py: websocket-client send + recv, one request event
    idle      connects, then waits (pings answered by the idle I/O watcher); for the connections figure
    paced     ChatbotUser whose think time is tuned so that this process stays near --cpu-target
"""

from __future__ import annotations

import locust
from locust import constant, task
from locust.argument_parser import parse_options
from locust.env import Environment
from locust.stats import stats_history

import argparse
import gc
import json
import os
import random
import resource
import select
import sys
import time
from pathlib import Path
from typing import Any

import gevent

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from naive_user import NaiveWebSocketUser  # noqa: E402

import wslocust  # noqa: E402,F401  (registers the plugin on Locust's events)
from wslocust.plugin_state import state_of  # noqa: E402
from wslocust.users import ChatbotUser, WebSocketUser  # noqa: E402

PROMPTS = ROOT / "datasets" / "support_bot.jsonl"


class BenchChatbotUser(ChatbotUser):
    """wslocust's ChatbotUser as shipped: no wait between prompts."""

    prompts = str(PROMPTS)
    wait_time = constant(0)


class IdleUser(WebSocketUser):
    """Holds a connection and does nothing: between replies only the idle I/O watcher is left."""

    wait_time = constant(24 * 3600)

    @task
    def idle(self) -> None:
        pass


class Pace:
    """The paced users' mean think time, tuned while they run."""

    think_s = 0.5


class PacedChatbotUser(ChatbotUser):
    """ChatbotUser with a think time drawn around :attr:`Pace.think_s` (tuned to hold a CPU load)."""

    prompts = str(PROMPTS)

    def wait_time(self) -> float:
        return random.uniform(0.5, 1.5) * Pace.think_s


USERS: dict[str, type[locust.User]] = {
    "wslocust": BenchChatbotUser,
    "naive": NaiveWebSocketUser,
    "idle": IdleUser,
    "paced": PacedChatbotUser,
}


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def sys_s() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_stime


def rss_bytes() -> int:
    with open("/proc/self/statm") as stream:
        return int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Run:
    """The Locust environment and what can be read of it."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.user_class = USERS[args.user]
        self.user_class.host = args.host
        locust_args = ["--headless", "--host", args.host, "--only-summary", "--loglevel", "WARNING"]
        if args.user in ("wslocust", "paced"):
            locust_args += [
                "--protocol",
                args.protocol,
                "--reply-timeout",
                "30",
                "--compression",
                args.compression,
            ]
        if args.user == "idle":
            locust_args += ["--protocol", "plain"]
        options = parse_options(locust_args)
        self.environment = Environment(
            user_classes=[self.user_class], host=args.host, parsed_options=options, events=locust.events
        )
        self.runner = self.environment.create_local_runner()
        locust.events.init.fire(environment=self.environment, runner=self.runner, web_ui=None)
        self.recorder = state_of(self.environment).recorder  # None for a user class not wslocust's
        gevent.spawn(stats_history, self.runner)

    def round_trips(self) -> int:
        return sum(entry.num_requests for (_, method), entry in self.environment.stats.entries.items()
                   if method == "WS")  # fmt: skip

    def failures(self) -> int:
        return sum(entry.num_failures for (_, method), entry in self.environment.stats.entries.items()
                   if method == "WS")  # fmt: skip

    def chunks(self) -> int:
        return int(self.recorder.stats.total.chunks) if self.recorder is not None else 0

    def clients(self) -> list[Any]:
        users = [greenlet.args[0] for greenlet in self.runner.user_greenlets if greenlet.args]
        return [user.client for user in users if hasattr(user, "client")]

    def start(self) -> bool:
        """Start the users; True once every one runs (and is connected) within the start timeout."""
        args = self.args
        self.runner.start(args.users, spawn_rate=args.spawn_rate)
        deadline = time.monotonic() + args.start_timeout
        while time.monotonic() < deadline:
            gevent.sleep(0.2)
            if self.runner.user_count >= args.users and self._all_connected():
                return True
        message = (
            f"only {self.runner.user_count} of {args.users} users running "
            f"({sum(c.connected for c in self.clients())} connected) after {args.start_timeout:g} s"
        )
        if args.user != "idle":
            raise SystemExit(message)
        sys.stderr.write(message + "\n")  # connections: how many it holds is the figure
        return False

    def _all_connected(self) -> bool:
        if self.args.user == "naive":
            return True
        connected = sum(bool(client.connected) for client in self.clients())
        return connected >= int(self.args.users)


def measure_pace(run: Run, window_s: float) -> tuple[float, float]:
    """This process's CPU share and the replies a second, over the next ``window_s``."""
    cpu0, trips0, t0 = cpu_s(), run.round_trips(), time.perf_counter()
    gevent.sleep(window_s)
    elapsed = time.perf_counter() - t0
    return (cpu_s() - cpu0) / elapsed, (run.round_trips() - trips0) / elapsed


def adjust_pace(run: Run, target: float, share: float, rate: float, damping: float = 1.0) -> None:
    """Set the think time that would bring the CPU share from ``share`` to ``target``.

    The CPU share follows the reply rate, and a user's cycle is its reply time plus its think time:
    the cycle is stretched by ``share / target`` (``damping`` < 1 goes part of the way).
    """
    cycle_s = run.args.users / rate  # one user's reply + think time
    reply_s = max(cycle_s - Pace.think_s, 0.0)
    wanted_cycle_s = cycle_s * (1.0 + damping * (share / target - 1.0))
    Pace.think_s = max(wanted_cycle_s - reply_s, 0.001)


def tune_pace(run: Run, target: float, rounds: int, window_s: float) -> list[dict[str, float]]:
    """Adjust the think time until this process's CPU share is near ``target`` (0.5 = half a core)."""
    steps = []
    for _ in range(rounds):
        think_ms = Pace.think_s * 1000
        share, rate = measure_pace(run, window_s)
        steps.append({"think_ms": think_ms, "cpu_share": share, "replies_per_s": rate})
        if rate <= 0 or share <= 0:
            break
        if abs(share - target) < 0.05 * target:  # within 5%
            break
        adjust_pace(run, target, share, rate)
        gevent.sleep(min(Pace.think_s * 2, 2.0))  # let the new pace settle
    return steps


def hold_pace(run: Run, target: float, window_s: float, steps: list[dict[str, float]]) -> None:
    """Keep the CPU share near ``target`` while the window is measured (it drifts as caches and the
    target warm up), by half-steps, so the load changes gently; runs until killed."""
    while True:
        think_ms = Pace.think_s * 1000
        share, rate = measure_pace(run, window_s)
        steps.append({"think_ms": think_ms, "cpu_share": share, "replies_per_s": rate})
        if rate > 0 and share > 0 and abs(share - target) >= 0.03 * target:
            adjust_pace(run, target, share, rate, damping=0.5)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--user", choices=sorted(USERS), required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--protocol", default="plain")
    parser.add_argument("--compression", default="none", help="wslocust, paced: none or deflate")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--spawn-rate", type=float, default=1000.0)
    parser.add_argument("--start-timeout", type=float, default=120.0)
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds after every user runs")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured")
    parser.add_argument("--cpu-target", type=float, default=0.0, help="paced: CPU share to hold")
    parser.add_argument("--think-ms", type=float, default=500.0, help="paced: first think time")
    parser.add_argument("--tune-rounds", type=int, default=4)
    parser.add_argument("--tune-window", type=float, default=2.0)
    parser.add_argument("--profile", help="write a cProfile of the window here")
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    Pace.think_s = args.think_ms / 1000.0

    run = Run(args)
    gc.collect()
    rss_idle = rss_bytes()
    open_files = len(os.listdir("/proc/self/fd"))
    started = time.perf_counter()
    all_started = run.start()
    result: dict[str, Any] = {
        "user": args.user,
        "users": args.users,
        "start_s": time.perf_counter() - started,
    }
    if args.user == "paced" and args.cpu_target:
        result["tuning"] = tune_pace(run, args.cpu_target, args.tune_rounds, args.tune_window)
        result["think_ms"] = Pace.think_s * 1000
    gevent.sleep(args.warmup)

    if run.recorder is not None:  # the reported figures are of the window alone
        run.recorder.reset_stats()
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    holding = None
    if args.user == "paced" and args.cpu_target:
        result["holding"] = []
        holding = gevent.spawn(hold_pace, run, args.cpu_target, args.tune_window, result["holding"])
    say("MEASURING")
    cpu0, sys0, trips0, chunks0, fails0 = cpu_s(), sys_s(), run.round_trips(), run.chunks(), run.failures()
    t0 = time.perf_counter()
    gevent.sleep(args.duration)
    elapsed = time.perf_counter() - t0
    if holding is not None:
        holding.kill()
    cpu, system = cpu_s() - cpu0, sys_s() - sys0
    trips, chunks, fails = run.round_trips() - trips0, run.chunks() - chunks0, run.failures() - fails0
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    result.update(
        window_s=elapsed,
        cpu_s=cpu,
        cpu_share=cpu / elapsed,
        sys_share_of_cpu=system / cpu if cpu else None,
        round_trips=trips,
        failures=fails,
        chunks=chunks,
        us_per_round_trip=cpu * 1e6 / trips if trips else None,
        us_per_chunk=cpu * 1e6 / chunks if chunks else None,
        round_trips_per_s=trips / elapsed,
    )
    if run.recorder is not None:
        total = run.recorder.stats.total
        ttft = total.ttft.percentiles((0.5, 0.99))
        latency = total.latency.percentiles((0.5, 0.99))
        result.update(
            ttft_p50_ms=ttft[0], ttft_p99_ms=ttft[1], total_p50_ms=latency[0], total_p99_ms=latency[1],
            replies_recorded=total.replies,
        )  # fmt: skip
    clients = run.clients()
    if args.user == "idle":
        gc.collect()
        rss_held = rss_bytes()
        connected = sum(client.connected for client in clients)
        result.update(
            all_started=all_started,
            open_files_before_users=open_files,
            open_files_limit=resource.getrlimit(resource.RLIMIT_NOFILE)[0],
            connected=connected,
            pings_answered=sum(client.pings_answered for client in clients),
            connections_without_pong=sum(
                client.connected and not client.pings_answered for client in clients
            ),
            rss_idle_bytes=rss_idle,
            rss_held_bytes=rss_held,
            bytes_per_connection=(rss_held - rss_idle) / max(connected, 1),
        )
    say(json.dumps(result))
    # Users keep running (connections open) until the parent has looked at the target and closes
    # our standard input, or for a minute at most.
    select.select([sys.stdin], [], [], 60.0)
    run.runner.quit()


if __name__ == "__main__":
    main()
