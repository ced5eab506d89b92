"""How many concurrent real-time voice users one core sustains, and the CPU per audio frame sent.

    npm ci --prefix benchmarks                       # once: the target's `ws`
    .venv/bin/python benchmarks/voice_capacity.py    # levels of 250 to 2,000 users, ~2 minutes
    .venv/bin/python benchmarks/voice_capacity.py --users 1000 --seconds 20 -o results/voice.json
    .venv/bin/python benchmarks/voice_capacity.py --users 1000,1200 --seconds 15 --windows 5

"A core" is the figure: with two CPUs or more (``--pin``, the default there) each level runs on one
CPU and the target on another (the last two this process may use), so the level has a core to
itself whatever the target does; ``--no-pin`` lets the scheduler place them. The output says which.
With ``--windows N`` a level measures N consecutive windows of ``--seconds`` in one process, each
reported on its own: a level is sustained when every window is. ``--wss`` speaks TLS to the target
(a self-signed certificate made at run time): each frame is encrypted as the pacer sends it.

Each level runs in a fresh process (one core: one gevent hub, as a Locust worker) holding N users,
each speaking utterances back to back through :func:`wslocust.voice.ask_audio`: 2 s of a tone at
24 kHz PCM16 in 20 ms frames, each frame an OpenAI-Realtime-like JSON message
(``{"type": "input_audio_buffer.append", "audio": BASE64}``, about 1.3 kB), then a commit, which
the target (``benchmarks/voice_target.js``, Node's ``ws``, another process) answers at once. Users
start at random times over the ramp, as real callers do. As in a Locust worker, the objects alive
once every user is connected are frozen out of full garbage collections (the plugin's
``gc.freeze()``) and each turn's figures are folded in as it ends (no reply is kept). Over a
measured window after the ramp it reports, from every frame sent in the window, the lateness
p50/p99/max (send time minus due time), the share of frames more than 5 ms late, the frames a
second, the process's CPU (user + system, ``getrusage``) as a share of one core, and its CPU µs a
frame sent (everything the process did: building and framing the messages, sending, reading the
answers, firing the request events), the users one whole core could carry at that cost (an
estimate from the CPU alone, not a lateness figure: measure the level itself on an idle machine),
the messages and bytes sent (the process's traffic counts), and the target's own CPU share (on a
machine of two cores, the target takes much of the other one).

A level is sustained when the lateness p99 is under 5 ms. The machine's load average is printed
with the results: on a shared machine the figures are of that machine at that time.
"""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching comes first)
from locust.env import Environment
from locust.event import Events

import argparse
import base64
import gc
import json
import os
import random
import resource
import subprocess
import sys
import time
from array import array
from collections.abc import Hashable, Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import gevent

from wslocust.audio.frames import cut_frames
from wslocust.audio.synthetic import synthetic
from wslocust.client import ChatClient
from wslocust.voice import ask_audio, pacer
from wslocust.wire.protocols import END, Event, Message, Protocol
from wslocust.wire.reply import Reply
from wslocust.wire.traffic import PROCESS_TRAFFIC

HERE = Path(__file__).resolve().parent
LATE_MS = 5.0
"""A frame later than this is late (the issue's bar: lateness p99 under 5 ms)."""


class RealtimeLike(Protocol):
    """Audio as OpenAI Realtime takes it: base64 PCM16 at 24 kHz in JSON appends, then a commit."""

    audio_rate = 24000

    def request(self, prompt: str, record: Mapping[str, Any]) -> Sequence[Message]:
        return [json.dumps({"type": "conversation.item.create", "text": prompt})]

    def audio_frames(self, frames: Sequence[bytes]) -> Sequence[Message]:
        head = '{"type":"input_audio_buffer.append","audio":"'
        return [head + base64.b64encode(frame).decode() + '"}' for frame in frames]

    def audio_frames_key(self) -> Hashable | None:
        return "append"  # the same appends every turn: built once a process, shared (as the real one's)

    def audio_end(self) -> Sequence[Message]:
        return ['{"type":"input_audio_buffer.commit"}']

    def feed(self, message: Message) -> Sequence[Event]:
        return [END] if isinstance(message, str) and "response.done" in message else ()


def percentile(values: list[float], share: float) -> float:
    return values[min(int(len(values) * share), len(values) - 1)] if values else 0.0


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) process ``pid`` has used (Linux's /proc), 0.0 when unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_steal_s(cpu: int) -> float:
    """The time the hypervisor gave CPU ``cpu`` to others while it had work (Linux's /proc/stat
    ``steal``), 0.0 when unknown: a level's frames are late then, whatever the process does."""
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith(f"cpu{cpu} "):
                return int(line.split()[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        pass
    return 0.0


class CollectorPauses:
    """The garbage collector's pauses, by generation (``gc.callbacks``): what stalls every frame due
    while one runs."""

    def __init__(self) -> None:
        self.pauses: list[list[float]] = [[], [], []]
        self._started = 0.0
        gc.callbacks.append(self._note)

    def _note(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses[info["generation"]].append((time.perf_counter() - self._started) * 1000.0)

    def counts(self) -> list[int]:
        return [len(pauses) for pauses in self.pauses]

    def figures(self, before: list[int], after: list[int]) -> dict[str, Any]:
        """Each generation's collections between two :meth:`counts`: how many, the longest and the
        total pause, in ms."""
        figures: dict[str, Any] = {}
        for generation, pauses in enumerate(self.pauses):
            window = pauses[before[generation] : after[generation]]
            figures[f"gc{generation}"] = [
                len(window),
                round(max(window, default=0.0), 2),
                round(sum(window), 1),
            ]
        return figures


def run_level(
    url: str,
    users: int,
    ramp_s: float,
    seconds: float,
    utterance_s: float,
    target_pid: int = 0,
    windows: int = 1,
) -> list[dict[str, Any]]:
    """One level, in this process: ``users`` speaking for the ramp then ``windows`` consecutive
    measured windows of ``seconds`` each; the figures of each window."""
    environment = Environment(events=Events())
    frames = cut_frames(synthetic(utterance_s, RealtimeLike.audio_rate), 20.0)
    interval_s = frames.frame_ms / 1000.0
    clients = [  # wss://: the target's certificate is self-signed
        ChatClient(environment, url, RealtimeLike(), reply_timeout_s=30.0, verify_tls=False)
        for _ in range(users)
    ]
    for start in range(0, users, 100):  # connect in batches (the target's accept queue)
        batch = [gevent.spawn(client.connect) for client in clients[start : start + 100]]
        gevent.joinall(batch)
    connected = sum(client.connected for client in clients)
    gc.freeze()  # as the plugin does once every user runs (wslocust/plugin/gc_freeze.py)
    collector = CollectorPauses()
    cpu = os.sched_getaffinity(0)
    pinned_cpu = next(iter(cpu)) if len(cpu) == 1 else None
    # Each turn's figures are folded in as it ends and the reply let go, as a Locust worker does
    # (its recorder keeps histograms, not replies): the lateness of every frame sent in a window,
    # by window.
    lateness = [array("d") for _ in range(windows)]
    first_edge = [float("inf")]  # the first window's start, time.time(): none yet
    turns = {"turns": 0, "failed": 0, "frames_sent": 0}
    stop = False

    def note(reply: Reply) -> None:
        turns["turns"] += 1
        turns["failed"] += reply.error is not None
        voice = reply.voice
        if voice is None:
            return
        turns["frames_sent"] += voice.frames_sent
        started_at, window_start = reply.started_at, first_edge[0]
        if started_at + len(voice.lateness_ms) * interval_s < window_start:
            return  # ended before the first window (the ramp)
        for index, late_ms in enumerate(voice.lateness_ms):
            window = int((started_at + index * interval_s + late_ms / 1000.0 - window_start) // seconds)
            if 0 <= window < windows:
                lateness[window].append(late_ms)

    def speak(client: ChatClient) -> None:
        gevent.sleep(random.uniform(0.0, ramp_s))
        while not stop:
            note(ask_audio(client, frames, prompt="utterance"))

    def sample() -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "at": time.time(),
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "system_s": usage.ru_stime,
            "ticks": pacer().ticks,
            "target_cpu_s": cpu_seconds(target_pid) if target_pid else 0.0,
            "messages_sent": PROCESS_TRAFFIC.messages_sent,
            "bytes_sent": PROCESS_TRAFFIC.bytes_sent,
            "load": os.getloadavg()[0],
            "involuntary_switches": usage.ru_nivcsw,
            "steal_s": cpu_steal_s(pinned_cpu) if pinned_cpu is not None else 0.0,
            "gc": collector.counts(),
        }

    speakers = [gevent.spawn(speak, client) for client in clients]
    gevent.sleep(ramp_s + 1.0)
    samples = [sample()]
    first_edge[0] = samples[0]["at"]
    for window in range(1, windows + 1):
        gevent.sleep(max(first_edge[0] + window * seconds - time.time(), 0.0))
        samples.append(sample())
    stop = True
    gevent.joinall(speakers, timeout=utterance_s + 10.0)
    return [
        _window_figures(users, connected, interval_s, sorted(lateness[window]), before, after, turns)
        | {"window": window}
        | collector.figures(before["gc"], after["gc"])
        for window, (before, after) in enumerate(pairwise(samples))
    ]


def _window_figures(
    users: int,
    connected: int,
    interval_s: float,
    ordered: list[float],
    before: dict[str, Any],
    after: dict[str, Any],
    turns: dict[str, int],
) -> dict[str, Any]:
    """A window's figures: from the lateness of its frames, sorted, and the samples at its edges."""
    window_s = after["at"] - before["at"]
    cpu_s = after["cpu_s"] - before["cpu_s"]
    system_s = after["system_s"] - before["system_s"]
    sent = len(ordered)
    return {
        "users": users,
        "connected": connected,
        "window_s": round(window_s, 2),
        "frames": sent,
        "frames_per_s": round(sent / window_s, 1),
        "expected_frames_per_s": round(users / interval_s, 1),
        "lateness_p50_ms": round(percentile(ordered, 0.50), 3),
        "lateness_p99_ms": round(percentile(ordered, 0.99), 3),
        "lateness_max_ms": round(ordered[-1], 3) if ordered else 0.0,
        "late_share": round(sum(late > LATE_MS for late in ordered) / max(sent, 1), 5),
        "cpu_share_of_core": round(cpu_s / window_s, 3),
        "cpu_us_per_frame": round(cpu_s / max(sent, 1) * 1e6, 2),
        "system_us_per_frame": round(system_s / max(sent, 1) * 1e6, 2),
        "pacer_ticks_per_s": round((after["ticks"] - before["ticks"]) / window_s, 1),
        # What one whole core could carry at this CPU cost a frame: an estimate from the CPU alone,
        # which says nothing of lateness (a core near 100% busy cannot be on time).
        "users_per_core_by_cpu": round(1e6 / (cpu_s / max(sent, 1) * 1e6 * (1.0 / interval_s)), 0)
        if sent
        else 0,
        # The process's traffic counts over the window (messages and bytes handed to the sockets,
        # counted a turn as it ends: they lag the frames by up to a turn).
        "messages_sent": after["messages_sent"] - before["messages_sent"],
        "bytes_sent": after["bytes_sent"] - before["bytes_sent"],
        "target_cpu_share_of_core": round((after["target_cpu_s"] - before["target_cpu_s"]) / window_s, 3),
        "turns": turns["turns"],  # the level's, every window's
        "failed_turns": turns["failed"],
        "load_average_1m": round(after["load"], 2),
        # What took the level's CPU from it: other tasks preempting the process, the hypervisor
        # running others on the CPU (pinned levels only).
        "involuntary_switches": after["involuntary_switches"] - before["involuntary_switches"],
        "cpu_steal_ms": round((after["steal_s"] - before["steal_s"]) * 1000.0),
        "sustained": bool(sent) and percentile(ordered, 0.99) < LATE_MS,
    }


def pinning(pin: bool) -> tuple[int, int] | None:
    """The CPUs of the level processes and of the target when pinned (the last two this process may
    use: the levels on the last), or None: not asked, or fewer than two CPUs to use."""
    allowed = sorted(os.sched_getaffinity(0))
    if not pin or len(allowed) < 2:
        return None
    return allowed[-1], allowed[-2]


def start_target(wss: bool = False) -> tuple[subprocess.Popen[str], str]:
    if not (HERE / "node_modules" / "ws").exists():
        subprocess.run(["npm", "ci", "--prefix", str(HERE)], check=True, capture_output=True)
    tls: tuple[str, ...] = ()
    if wss:
        from processes import certificate  # benchmarks/processes.py: a self-signed one, made at run time

        cert, key = certificate()
        tls = ("--tls-cert", cert, "--tls-key", key)
    target = subprocess.Popen(
        ["node", str(HERE / "voice_target.js"), *tls],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert target.stdout is not None
    line = target.stdout.readline().split()
    if not line or line[0] != "LISTENING":
        raise SystemExit("the voice target did not start (is node installed?)")
    return target, f"{'wss' if wss else 'ws'}://127.0.0.1:{line[1]}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", default="250,500,1000,1500,2000", help="levels, comma-separated")
    parser.add_argument("--ramp", type=float, default=3.0, help="seconds over which users start (default 3)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window a level (default 10)")
    parser.add_argument(
        "--windows",
        type=int,
        default=1,
        help="consecutive measured windows a level, each --seconds (default 1)",
    )
    parser.add_argument("--utterance", type=float, default=2.0, help="seconds an utterance (default 2)")
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="each level on one CPU and the target on another (default: on with 2 CPUs or more)",
    )
    parser.add_argument("--wss", action="store_true", help="over TLS (wss://, a self-signed certificate)")
    parser.add_argument("-o", "--output", type=Path, help="write the results here as JSON")
    parser.add_argument("--level", type=int, help=argparse.SUPPRESS)  # a child: one level, JSON out
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--target-pid", type=int, default=0, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.seconds <= 0 or options.windows < 1:
        parser.error("--seconds must be above 0 and --windows at least 1")
    if options.level is not None:
        results = run_level(
            options.url, options.level, options.ramp, options.seconds, options.utterance, options.target_pid,
            options.windows,
        )  # fmt: skip
        for result in results:
            print(json.dumps(result), flush=True)
        return 0
    pinned = pinning(options.pin is not False)
    if pinned is None:
        print("not pinned: the levels and the target share the CPUs", flush=True)
    else:
        print(f"pinned: each level on CPU {pinned[0]}, the target on CPU {pinned[1]}", flush=True)
    target, url = start_target(options.wss)
    if pinned is not None:
        os.sched_setaffinity(target.pid, {pinned[1]})
    levels = []
    try:
        for users in (int(level) for level in options.users.split(",")):
            child = subprocess.run(
                [sys.executable, __file__, "--level", str(users), "--url", url,
                 "--target-pid", str(target.pid), "--ramp", str(options.ramp),
                 "--seconds", str(options.seconds), "--windows", str(options.windows),
                 "--utterance", str(options.utterance)],
                capture_output=True, text=True, check=False,
                preexec_fn=None if pinned is None else lambda: os.sched_setaffinity(0, {pinned[0]}),
            )  # fmt: skip
            if child.returncode != 0:
                raise SystemExit(f"level {users} failed:\n{child.stderr[-2000:]}")
            for line in child.stdout.strip().splitlines()[-options.windows :]:
                levels.append(json.loads(line))
                print(json.dumps(levels[-1]), flush=True)
    finally:
        if target.stdin is not None:
            target.stdin.close()
        target.wait(timeout=10)
    held = {level["users"] for level in levels}
    held -= {level["users"] for level in levels if not level["sustained"]}
    most = max(held, default=0)
    load = os.getloadavg()
    report = {
        "load_average": load,
        "cpus": os.cpu_count(),
        "pinned": None if pinned is None else {"levels_cpu": pinned[0], "target_cpu": pinned[1]},
        "url": url,
        "levels": levels,
        "most_users_sustained": most,
    }
    windows = f"in each of {options.windows} windows of {options.seconds:g} s" if options.windows > 1 else ""
    print(
        f"most users one core sustained with lateness p99 < {LATE_MS:g} ms{' ' if windows else ''}{windows}: "
        f"{most} (load average {load[0]:.2f} on {os.cpu_count()} CPUs; "
        f"{'pinned' if pinned is not None else 'not pinned'})"
    )
    if options.output is not None:
        options.output.parent.mkdir(parents=True, exist_ok=True)
        options.output.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
