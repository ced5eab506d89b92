"""One Locust process under measurement: the child that ``benchmarks/run.py`` starts for each figure.

It runs Locust in-process (an ``Environment`` and a ``LocalRunner``, as ``locust --headless`` builds
them, with wslocust's plugin attached through Locust's ``init`` event: its ``Recorder`` records
every reply into the exact histograms), starts the users, waits until they all run, then measures a
window: its own CPU time (``getrusage``: user + system of this process alone; the target server is
another process), the round trips and chunks completed, and its resident memory. It prints one JSON
line on stdout (and ``WARMING`` when the warm-up before the window begins, ``MEASURING`` when the
window opens), with the window's bounds on the system's monotonic clock, so that a reference client
started during the warm-up keeps the samples of that same window.

    .venv/bin/python benchmarks/loadgen.py --user wslocust --host ws://127.0.0.1:PORT --users 50 ...

Users:
    wslocust  ChatbotUser (``--protocol`` plain or json), prompts from datasets/support_bot.jsonl
    naive     benchmarks/naive_user.py: websocket-client send + recv, one request event
    idle      connects, then waits (pings answered by the idle I/O watcher); for the connections figure
    paced     ChatbotUser whose think time is tuned so that this process stays near --cpu-target
    naive-stream  benchmarks/naive_user.py's streaming user (the stream's shape from ``--protocol``)
    llm       ChatbotUser (json) as against an LLM chat bot: ``--think-time`` (5-15 s) between replies,
              each user's first prompt after a random part of its cycle; with ``--cpu-target`` the
              users are added in rounds until this process uses that share of a core (``--max-users``
              at most), then the window is measured

``wss://`` hosts are reached without checking the certificate (``--insecure``; the benchmarks' is
self-signed, made at run time).
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
import math
import os
import random
import resource
import select
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Any

import gevent

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from naive_user import FloorStreamingUser, NaiveStreamingUser, NaiveWebSocketUser  # noqa: E402

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


class LLMChatUser(ChatbotUser):
    """ChatbotUser as against an LLM chat bot: the think time is ``--think-time``'s; the first prompt
    waits a random part of a cycle, so that users spawned together do not ask in step."""

    prompts = str(PROMPTS)
    first_wait_s = 15.0

    def on_start(self) -> None:
        super().on_start()
        gevent.sleep(random.uniform(0.0, self.first_wait_s))


class BenchNaiveStreamingUser(NaiveStreamingUser):
    """The naive streaming reference (its shape set from ``--protocol``)."""


class BenchFloorStreamingUser(FloorStreamingUser):
    """The floor of a chunk's cost: read, not parsed (its shape set from ``--protocol``)."""


USERS: dict[str, type[locust.User]] = {
    "wslocust": BenchChatbotUser,
    "naive": NaiveWebSocketUser,
    "naive-stream": BenchNaiveStreamingUser,
    "floor": BenchFloorStreamingUser,
    "idle": IdleUser,
    "paced": PacedChatbotUser,
    "llm": LLMChatUser,
}
WSLOCUST_USERS = ("wslocust", "paced", "llm")


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
        if args.user in WSLOCUST_USERS:
            locust_args += [
                "--protocol",
                args.protocol,
                "--reply-timeout",
                "30",
                "--compression",
                args.compression,
            ]
        if args.user == "llm":
            locust_args += ["--think-time", args.think_time]
        if args.user == "idle":
            locust_args += ["--protocol", "plain"]
        if args.user in (*WSLOCUST_USERS, "idle") and args.host.startswith("wss:"):
            locust_args += ["--insecure"]
        if args.user == "naive-stream":
            BenchNaiveStreamingUser.shape = args.protocol
        if args.user == "floor":
            BenchFloorStreamingUser.shape = args.protocol
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
        if self.args.user == "naive-stream":
            return NaiveStreamingUser.chunks
        if self.args.user == "floor":
            return FloorStreamingUser.chunks
        return int(self.recorder.stats.total.chunks) if self.recorder is not None else 0

    def clients(self) -> list[Any]:
        users = [greenlet.args[0] for greenlet in self.runner.user_greenlets if greenlet.args]
        return [user.client for user in users if hasattr(user, "client")]

    def start(self, users: int | None = None) -> bool:
        """Start the users (or bring them to ``users``); True once every one runs (and is connected)
        within the start timeout."""
        args = self.args
        users = users or args.users
        added = users - self.runner.user_count
        self.runner.start(users, spawn_rate=args.spawn_rate)
        timeout = args.start_timeout
        if args.user == "llm":  # a ramp's round: the time to spawn the added users, and some
            timeout = min(timeout, 20.0 + 1.5 * added / args.spawn_rate)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            gevent.sleep(0.2)
            if self.runner.user_count >= users and self._all_connected(users):
                return True
        failed = {
            str(error.error)[:200]: error.occurrences for error in self.environment.stats.errors.values()
        }
        message = (
            f"only {self.runner.user_count} of {users} users running "
            f"({sum(c.connected for c in self.clients())} connected) after {timeout:g} s; "
            f"failures: {failed}"
        )
        if args.user not in ("idle", "llm"):
            raise SystemExit(message)
        sys.stderr.write(message + "\n")  # connections: how many it holds is the figure
        return False

    def _all_connected(self, users: int) -> bool:
        if self.args.user in ("naive", "naive-stream", "floor"):
            return True
        connected = sum(bool(client.connected) for client in self.clients())
        return connected >= users


class CollectorTime:
    """Python's garbage collections while it is on: how many of each generation, and their CPU time
    (the thread's: a process starved by others would show wall time that is not the collector's)."""

    def __init__(self) -> None:
        self.on = False
        self.counts = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if not self.on:
            return
        if phase == "start":
            self._started = time.thread_time()
        else:
            generation = info["generation"]
            self.counts[generation] += 1
            self.seconds[generation] += time.thread_time() - self._started

    def figures(self) -> dict[str, Any]:
        return {"gc_collections": list(self.counts), "gc_cpu_ms": [round(s * 1000, 1) for s in self.seconds],
                "gc_thresholds": list(gc.get_threshold()), "gc_frozen": gc.get_freeze_count()}  # fmt: skip


# Linux's struct tcp_info from tcpi_segs_out (offset 136): segs_out, segs_in, (notsent_bytes,
# min_rtt), data_segs_in, data_segs_out.
_TCP_SEGMENTS = struct.Struct("=II8xII")
_TCP_SEGMENTS_OFFSET = 136


def tcp_segments(clients: list[Any]) -> dict[Any, tuple[int, int]]:
    """Each open connection's TCP segments so far (the kernel's ``TCP_INFO``, by socket): the pure
    ACKs it sent (segments out without data) and the data segments it received."""
    counts: dict[Any, tuple[int, int]] = {}
    for client in clients:
        raw = getattr(client, "_raw", None)  # the connection's OS socket (None when closed)
        if raw is None:
            continue
        try:
            info = raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
        except OSError:
            continue
        if len(info) >= _TCP_SEGMENTS_OFFSET + _TCP_SEGMENTS.size:
            segs_out, _in, data_in, data_out = _TCP_SEGMENTS.unpack_from(info, _TCP_SEGMENTS_OFFSET)
            counts[raw] = (segs_out - data_out, data_in)
    return counts


def acks_per_segment(before: dict[Any, tuple[int, int]], after: dict[Any, tuple[int, int]]) -> dict[str, Any]:
    """The pure ACKs the connections open throughout sent for the data segments they received
    between ``before`` and ``after``. A client that only reads ACKs every small segment it reads
    at once (the kernel's quick ACK) unless the connection sends soon after reading, as back-to-back
    prompts do (then every second one); on the loopback each ACK's receive at the target is this
    process's CPU too."""
    acks = segments = 0
    for key, (acks1, segments1) in after.items():
        if key in before:
            acks += acks1 - before[key][0]
            segments += segments1 - before[key][1]
    return {"acks_sent": acks, "segments_received": segments,
            "acks_per_segment": acks / segments if segments else None}  # fmt: skip


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


class BeyondSchedule:
    """Each reply's times beyond the target's own: its end message says when it sent the first chunk
    and the end (``first_ms``, ``end_ms`` after the prompt arrived: the llm target's replies are
    random, so two clients' raw times are of different replies, but their times beyond the target's
    are the network's and the client's own, comparable)."""

    def __init__(self, environment: Environment) -> None:
        self.ttft_ms: list[float] = []
        self.total_ms: list[float] = []
        environment.events.request.add_listener(self.on_request)

    def on_request(self, request_type: str, response_time: float, exception: Any, **kwargs: Any) -> None:
        reply = kwargs.get("response")
        if request_type != "WS" or exception is not None or reply is None:
            return
        first, end = reply.meta.get("first_ms"), reply.meta.get("end_ms")
        if isinstance(end, int | float):
            self.total_ms.append(response_time - end)
        if isinstance(first, int | float) and reply.time_to_first_chunk_ms is not None:
            self.ttft_ms.append(reply.time_to_first_chunk_ms - first)

    def clear(self) -> None:
        self.ttft_ms.clear()
        self.total_ms.clear()

    def percentiles(self) -> dict[str, float | None]:
        found: dict[str, float | None] = {}
        for name, samples in (("ttft", self.ttft_ms), ("total", self.total_ms)):
            ordered = sorted(samples)
            for label, fraction in (("p50", 0.5), ("p99", 0.99)):
                rank = min(max(1, math.ceil(fraction * len(ordered))), len(ordered))
                found[f"{name}_beyond_target_{label}_ms"] = ordered[rank - 1] if ordered else None
        return found


def target_lateness(host: str) -> tuple[float, int]:
    """The target's timers' lateness so far: its sum (ms) and count (its ``/stats``); a target that
    does not answer within 30 s is as late as can be (infinitely, once)."""
    import ssl
    import urllib.request

    url = host.replace("ws", "http", 1).rstrip("/") + "/stats"
    context = ssl._create_unverified_context() if url.startswith("https:") else None  # self-signed
    try:
        with urllib.request.urlopen(url, timeout=30, context=context) as response:
            counts = json.load(response)
    except OSError:
        return math.inf, 1
    return float(counts["late_sum_ms"]), int(counts["late_count"])


def ramp(
    run: Run, target: float, max_users: int, rounds: int, settle_s: float, window_s: float, late_ms: float
) -> tuple[list[dict[str, Any]], str]:
    """Add users in rounds until this process uses ``target`` of a core (within 5%): each round waits
    ``settle_s`` for the added users' replies to reach their pace, measures ``window_s``, and sets
    the next count in proportion (three times the users at most a round).

    It stops short, saying why, at ``max_users``, when users cannot connect, or when the target's
    timers are late by more than ``late_ms`` on average over a round: past that the target, not
    this process, would be what is measured.

    Returns:
        Each round's figures, and why the ramp ended (``reached``, ``ceiling``, ``connect``,
        ``target late``, ``rounds``).
    """
    steps: list[dict[str, Any]] = []
    users = run.args.users
    for _ in range(rounds):
        gevent.sleep(settle_s)
        chunks0, (late0, count0) = run.chunks(), target_lateness(run.args.host)
        share, rate = measure_pace(run, window_s)
        late1, count1 = target_lateness(run.args.host)
        finite = math.isfinite(late0) and math.isfinite(late1)
        lateness = (late1 - late0) / max(count1 - count0, 1) if finite else math.inf
        steps.append({"users": users, "cpu_share": share, "replies_per_s": rate,
                      "chunks_per_s": (run.chunks() - chunks0) / window_s,
                      "target_late_mean_ms": lateness})  # fmt: skip
        if lateness > late_ms:  # first: users held at a late target's slower pace would flatter
            return steps, "target late"
        if share <= 0 or abs(share - target) < 0.05 * target:
            return steps, "reached"
        if users >= max_users and share < target:
            return steps, "ceiling"
        wanted = min(int(users * target / share), 3 * users, max_users)
        if wanted <= users:
            return steps, "reached"
        if not run.start(wanted):
            return steps, "connect"
        users = wanted
    return steps, "rounds"


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
    parser.add_argument("--think-time", default="5-15", help="llm: seconds between replies, LOW-HIGH")
    parser.add_argument("--max-users", type=int, default=1_000_000, help="llm: the ramp's ceiling")
    parser.add_argument("--ramp-rounds", type=int, default=4, help="llm: rounds of the ramp at most")
    parser.add_argument("--settle", type=float, default=10.0, help="llm: seconds after a round's users start")
    parser.add_argument(
        "--late-ms", type=float, default=5.0, help="llm: the target's mean lateness to stop at"
    )
    parser.add_argument("--profile", help="write a cProfile of the window here")
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    Pace.think_s = args.think_ms / 1000.0
    LLMChatUser.first_wait_s = float(args.think_time.split("-")[-1])
    # Each connection is a file: leave room for the process's own (logs, pipes, /proc reads).
    max_users = min(args.max_users, hard - 100)

    run = Run(args)
    beyond = BeyondSchedule(run.environment) if args.user == "llm" else None
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
    if args.user == "llm" and args.cpu_target:
        result["ramp"], result["ramp_ended"] = ramp(
            run, args.cpu_target, max_users, args.ramp_rounds, args.settle, args.tune_window, args.late_ms
        )
        result["users"] = run.runner.user_count
        result["connected"] = sum(bool(client.connected) for client in run.clients())
        result["max_users"] = max_users
    say("WARMING")  # a reference client started now is running before the window opens
    gevent.sleep(args.warmup)
    if beyond is not None:
        beyond.clear()

    if run.recorder is not None:  # the reported figures are of the window alone
        run.recorder.reset_stats()
    window_start = time.monotonic()  # the replies recorded from here on are the window's
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    holding = None
    if args.user == "paced" and args.cpu_target:
        result["holding"] = []
        holding = gevent.spawn(hold_pace, run, args.cpu_target, args.tune_window, result["holding"])
    collector = CollectorTime()
    segments0 = tcp_segments(run.clients()) if args.user == "llm" else {}
    collector.on = True
    say("MEASURING")
    cpu0, sys0, trips0, chunks0, fails0 = cpu_s(), sys_s(), run.round_trips(), run.chunks(), run.failures()
    t0 = time.perf_counter()
    gevent.sleep(args.duration)
    elapsed = time.perf_counter() - t0
    collector.on = False
    if holding is not None:
        holding.kill()
    cpu, system = cpu_s() - cpu0, sys_s() - sys0
    trips, chunks, fails = run.round_trips() - trips0, run.chunks() - chunks0, run.failures() - fails0
    if args.user == "llm":  # read after the window's CPU: what the kernel did for the chunks
        result.update(acks_per_segment(segments0, tcp_segments(run.clients())))
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
        chunks_per_s=chunks / elapsed,
    )
    result.update(collector.figures())
    result["gc_share_of_cpu"] = sum(collector.seconds) / cpu if cpu else None
    # The window of the replies recorded (the system's monotonic clock, which a reference client in
    # another process reads too): nothing is recorded after this, as nothing below yields.
    result["window_monotonic"] = [window_start, time.monotonic()]
    if beyond is not None:
        result.update(beyond.percentiles())
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
