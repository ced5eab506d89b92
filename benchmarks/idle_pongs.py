"""The CPU an idle connection's pong costs the Locust process.

    .venv/bin/python benchmarks/idle_pongs.py --connections 2000 --ping-s 1 --window 10

It starts the target (``benchmarks/idle_target.js``, one process, pinging every connection every
``--ping-s`` seconds) and one Locust process (``--headless``) running ``--connections`` idle users
(``benchmarks/idle_locustfile.py``: a connection each, nothing else); once every connection is
open, it reads the Locust process's CPU time (``/proc/PID/stat``) over ``--window`` seconds while
the target pings, then over as long with the pings paused (Locust's own background: stats,
timers), and prints one JSON document: the pongs the target received in the first window and
the CPU a pong, (CPU pinged - CPU paused) / pongs. ``--pythonpath DIR`` runs the Locust process on
another checkout's ``wslocust`` (a before/after in the same conditions). The machine's load average
is in the output: read the figure against the same run's other checkout, not alone.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from processes import TICKS, ensure_node, read_line  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def target_counts(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as response:
        counts: dict[str, Any] = json.load(response)
        return counts


def cpu_s(pid: int) -> tuple[float, float]:
    """The process's user and system CPU seconds so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[11]) / TICKS, int(fields[12]) / TICKS


def window(pid: int, url: str, seconds: float) -> tuple[float, float, int]:
    """The process's user and system CPU seconds, and the pongs the target received, over ``seconds``."""
    (user, system), pongs = cpu_s(pid), target_counts(url)["pongs"]
    time.sleep(seconds)
    (user_after, system_after), pongs_after = cpu_s(pid), target_counts(url)["pongs"]
    return user_after - user, system_after - system, pongs_after - pongs


def run(args: argparse.Namespace) -> dict[str, Any]:
    deadline = time.monotonic() + args.timeout
    node = ensure_node()
    environment = dict(os.environ)
    if args.pythonpath:
        environment["PYTHONPATH"] = args.pythonpath
    started: list[subprocess.Popen[str]] = []
    try:
        port = free_port()
        target = subprocess.Popen(
            [node, str(HERE / "idle_target.js"), "--port", str(port), "--workers", "1",
             "--ping-s", str(args.ping_s)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            start_new_session=True,
        )  # fmt: skip
        started.append(target)
        log = tempfile.NamedTemporaryFile("w+", prefix="wslocust-pongs-", suffix=".log", delete=False)  # noqa: SIM115
        url = f"http://127.0.0.1:{read_line(target, time.monotonic() + 30, 'target').split()[3]}/stats"
        locust = subprocess.Popen(
            [sys.executable, "-m", "locust", "-f", str(HERE / "idle_locustfile.py"), "IdleUser", "--headless",
             "-u", str(args.connections), "-r", str(args.spawn_rate), "-t", f"{int(args.timeout)}s",
             "--host", f"ws://127.0.0.1:{port}/", "--only-summary", "--loglevel", "WARNING"],
            cwd=ROOT, env=environment, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=log, text=True, start_new_session=True,
        )  # fmt: skip
        started.append(locust)
        while target_counts(url)["connections"] < args.connections:
            if time.monotonic() > deadline or locust.poll() is not None:
                opened = target_counts(url)["connections"]
                raise SystemExit(f"only {opened} connections opened in time: see {log.name}")
            time.sleep(0.5)
        time.sleep(2 * args.ping_s)  # the handshakes' aftermath, two ping rounds
        load_before = os.getloadavg()
        pinged_user_s, pinged_system_s, pongs = window(locust.pid, url, args.window)
        assert target.stdin is not None
        target.stdin.write("pause\n")
        target.stdin.flush()
        time.sleep(args.ping_s)  # the last round's pongs
        paused_user_s, paused_system_s, _ = window(locust.pid, url, args.window)
        counts = target_counts(url)
        return {
            "settings": vars(args),
            "connections": counts["connections"],
            "terminated_for_missed_pong": counts["terminated"],
            "pongs_in_window": pongs,
            "cpu_s_pinged": {"user": pinged_user_s, "system": pinged_system_s},
            "cpu_s_paused": {"user": paused_user_s, "system": paused_system_s},
            "us_a_pong": {
                "user": (pinged_user_s - paused_user_s) / max(pongs, 1) * 1e6,
                "system": (pinged_system_s - paused_system_s) / max(pongs, 1) * 1e6,
                "total": (pinged_user_s + pinged_system_s - paused_user_s - paused_system_s)
                / max(pongs, 1)
                * 1e6,
            },
            "load_average": [load_before, os.getloadavg()],
        }
    finally:
        for process in reversed(started):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, 15)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(20)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 9)
            process.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--ping-s", type=float, default=1.0, help="the target's ping interval")
    parser.add_argument("--window", type=float, default=10.0, help="seconds measured with pings, and without")
    parser.add_argument("--spawn-rate", type=float, default=500.0)
    parser.add_argument("--pythonpath", help="PYTHONPATH of the Locust process (another checkout)")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds for the whole run")
    parser.add_argument("-o", "--output", help="write the JSON here too")
    args = parser.parse_args(argv)
    text = json.dumps(run(args), indent=2)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
