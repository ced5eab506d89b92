"""Idle connections held from one host across Locust worker processes, and the memory of each.

    .venv/bin/python benchmarks/scale.py --connections 100000 --processes 6 \\
        --source-address 127.0.0.2-127.0.0.11 --target-processes 6

It starts the target (``benchmarks/idle_target.js``: Node's ``ws`` in ``--target-processes``
processes sharing one port on 127.0.0.1, pinging every connection every ``--ping-s`` seconds and
dropping one that missed a pong) and ``locust --processes N`` with the idle users of
``benchmarks/idle_locustfile.py`` dialling from ``--source-address``, in web-UI mode so that the
workers' memory is read before any user starts; then starts the users through the web UI's
``/swarm``, waits until the target holds every connection (or the spawn deadline passes), holds
them ``--hold`` seconds (a ping round at least), and reads:

- connections held: open at the target at the end of the hold, none dropped for a missed pong;
- pings answered: the pongs the target received during the hold, against the pings it sent;
- memory a connection: (the Locust workers' memory holding N - before any user) / N, as resident
  memory (RSS), proportional set size (PSS: a page shared by k processes counts 1/k in each) and
  unique set size (USS: the pages no other process maps), from ``/proc/PID/smaps_rollup``; forked
  workers share the pages their parent had, so RSS counts those once a worker and PSS/USS show what
  the workers add; the target's resident memory likewise;
- with ``--floor``: the same, first, for as many of Locust's bare users (``BareUser``: no client, no
  connection), so the memory of an idle connection splits into Locust's floor and wslocust's part;
- the limits of this machine (open files a process, ephemeral ports, memory) and the arithmetic of
  how many connections they allow, printed before the run.

Every run is bounded: ``--timeout`` seconds in all, after which everything it started is stopped.
It prints one JSON document (``--json PATH`` writes it too).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from processes import ensure_node, read_line  # noqa: E402

from wslocust.source_addresses import parse_source_addresses  # noqa: E402

OPEN_FILES_MARGIN = 100
"""Files a Locust process holds besides its connections (wslocust.plugin.host_limits)."""

BYTES_A_CONNECTION = 13_400
"""Locust memory an idle connection takes across forked workers (RSS; docs/performance.md)."""

CPU_S_A_PONG = 15e-6
"""CPU a pong costs the Locust process, the kernel's part included (benchmarks/idle_pongs.py)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as stream:
        return int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_bytes(pids: list[int]) -> dict[str, int]:
    """The processes' resident (RSS), proportional (PSS) and unique (USS) memory, summed."""
    total = {"rss": 0, "pss": 0, "uss": 0}
    for pid in pids:
        fields = {}
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            name, _, value = line.partition(":")
            fields[name] = int(value.split()[0]) * 1024
        total["rss"] += fields["Rss"]
        total["pss"] += fields["Pss"]
        total["uss"] += fields["Private_Clean"] + fields["Private_Dirty"]
    return total


def children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def limits(addresses: int) -> dict[str, Any]:
    """What this machine allows: open files a process, ephemeral ports an address, memory."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low, high = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    available = int(meminfo["MemAvailable"].split()[0]) * 1024
    return {
        "open_files_soft": soft,
        "open_files_hard": hard,
        "connections_a_process": hard - OPEN_FILES_MARGIN,
        "file_max": int(Path("/proc/sys/fs/file-max").read_text()),
        "nr_open": int(Path("/proc/sys/fs/nr_open").read_text()),
        "ephemeral_ports_an_address": high - low + 1,
        "source_addresses": addresses,
        "memory_available_bytes": available,
        "cores": os.cpu_count(),
    }


def arithmetic(connections: int, found: dict[str, Any], ping_s: float) -> list[str]:
    """How many processes, addresses, bytes and CPU ``connections`` take here."""
    per_process = found["connections_a_process"]
    ports = found["ephemeral_ports_an_address"]
    return [
        f"open files: {connections:,} connections need {math.ceil(connections / per_process)} Locust "
        f"processes and as many target processes at {per_process:,} a process (hard limit "
        f"{found['open_files_hard']:,} - {OPEN_FILES_MARGIN})",
        f"ports: {connections:,} connections to one target address and port need "
        f"{math.ceil(connections / ports)} source addresses at {ports:,} ephemeral ports each "
        f"({found['source_addresses']} given)",
        f"memory: at {BYTES_A_CONNECTION / 1e3:.1f} KB a connection (Locust) + the target's + the "
        f"kernel's, {connections:,} connections take about {connections * BYTES_A_CONNECTION / 1e9:.2f} GB "
        f"in Locust; {found['memory_available_bytes'] / 1e9:.1f} GB available",
        f"CPU: a pong costs about {CPU_S_A_PONG * 1e6:.0f} µs, so a ping to every connection every "
        f"{ping_s:g} s costs {connections * CPU_S_A_PONG / ping_s:.2f} of a core; and every connection "
        f"is a handshake on both sides while the users start",
    ]


class Stopped(Exception):
    """The run's deadline passed."""


def get_json(url: str, data: dict[str, Any] | None = None) -> Any:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    with urllib.request.urlopen(url, data=body, timeout=20) as response:
        return json.load(response)


def stop(processes: list[subprocess.Popen[str]]) -> None:
    """Stop the processes' whole groups (forked workers with their parent), the last started first."""
    for process in reversed(processes):
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    for process in reversed(processes):
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(20)
        with contextlib.suppress(ProcessLookupError):  # a worker still quitting: stopped now
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def per(difference: int, count: int) -> float:
    return difference / max(count, 1)


def run_locust(
    args: argparse.Namespace, user_class: str, port: int, stats_url: str, deadline: float
) -> dict[str, Any]:
    """Start ``user_class`` users in ``locust --processes``, hold them, and read what they cost.

    The connections are counted at the target (``stats_url``); for :class:`BareUser`, which connects
    nowhere, the wait ends once Locust runs every user (workers report their count when their
    spawning completes, so there is no growth to watch meanwhile), or at the spawn deadline.
    """
    result: dict[str, Any] = {"user_class": user_class}
    web_port, master_port = free_port(), free_port()
    command = [
        sys.executable, "-m", "locust", "-f", str(HERE / "idle_locustfile.py"), user_class,
        "--processes", str(args.processes), "--web-host", "127.0.0.1", "--web-port", str(web_port),
        "--master-bind-host", "127.0.0.1", "--master-bind-port", str(master_port),
        "--master-port", str(master_port), "--host", f"ws://127.0.0.1:{port}/",
        "--stop-timeout", "5",
    ]  # fmt: skip
    if args.source_address:
        command += ["--source-address", args.source_address]
    log = tempfile.NamedTemporaryFile("w+", prefix="wslocust-scale-", suffix=".log", delete=False)  # noqa: SIM115
    result["locust_log"] = log.name
    locust = subprocess.Popen(
        command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
        text=True, start_new_session=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{web_port}"
        while True:  # the web UI up and every worker ready
            if time.monotonic() > deadline or locust.poll() is not None:
                raise Stopped(f"locust did not come up: see {log.name}")
            try:
                if get_json(base + "/stats/requests").get("worker_count") == args.processes:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        time.sleep(2)
        workers = children(locust.pid)
        before = memory_bytes(workers)
        target_before = get_json(stats_url)
        result["load_average_at_start"] = os.getloadavg()
        spawn_started = time.monotonic()
        answer = get_json(base + "/swarm", {"user_count": args.connections, "spawn_rate": args.spawn_rate})
        if not answer.get("success"):
            raise Stopped(f"the web UI refused the start: {answer}")
        spawn_deadline = min(
            deadline - args.hold - 30, spawn_started + 60 + 3 * args.connections / args.spawn_rate
        )
        connecting = user_class != "BareUser"
        held, last_growth = 0, time.monotonic()
        while time.monotonic() < spawn_deadline:
            if connecting:
                now_held = get_json(stats_url)["connections"] - target_before["connections"]
            else:
                now_held = get_json(base + "/stats/requests").get("user_count", 0)
            if now_held > held:
                held, last_growth = now_held, time.monotonic()
            if held >= args.connections or (connecting and time.monotonic() - last_growth > 30):
                break  # all held, or no more for 30 s (connections that failed are counted by Locust)
            time.sleep(1)
        result["spawn_s"] = time.monotonic() - spawn_started
        result["held_at_spawn_end"] = held
        time.sleep(args.settle)  # the last handshakes settle; the garbage collector's freeze after spawning
        before_hold = get_json(stats_url)
        time.sleep(args.hold)
        after_hold = get_json(stats_url)
        gone = [pid for pid in workers if not Path(f"/proc/{pid}").exists()]
        if gone:
            raise Stopped(f"Locust worker processes {gone} ended during the run: see {log.name}")
        held_memory = memory_bytes(workers)
        result["load_average_at_end"] = os.getloadavg()  # other jobs on the machine show here
        locust_stats = get_json(base + "/stats/requests")
        connected = after_hold["connections"] - target_before["connections"] if connecting else 0
        connects = [row for row in locust_stats["stats"] if row.get("name") == "connect"]
        result.update(
            connections_held=connected,
            pings_sent_during_hold=after_hold["pings"] - before_hold["pings"],
            pongs_received_during_hold=after_hold["pongs"] - before_hold["pongs"],
            terminated_for_missed_pong=after_hold["terminated"] - target_before["terminated"],
            locust_user_count=locust_stats.get("user_count"),
            locust_connects=connects[0]["num_requests"] if connects else 0,
            locust_failures=sum(
                row.get("num_failures", 0) for row in locust_stats["stats"] if row.get("name") != "Aggregated"
            ),
            locust_errors=[
                (error["name"], error["error"][:200], error["occurrences"])
                for error in locust_stats.get("errors", [])
            ][:5],
            locust_workers=len(workers),
            memory_before_bytes=before,
            memory_held_bytes=held_memory,
            bytes_per_user={kind: per(held_memory[kind] - before[kind], args.connections) for kind in before},
        )
        if connecting:
            result["bytes_per_connection"] = {
                kind: per(held_memory[kind] - before[kind], connected) for kind in before
            }
        with contextlib.suppress(OSError):
            get_json(base + "/stop")
    finally:
        stop([locust])
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    deadline = time.monotonic() + args.timeout
    node = ensure_node()
    addresses = parse_source_addresses(args.source_address, "--source-address") if args.source_address else ()
    found = limits(len(addresses))
    result: dict[str, Any] = {
        "settings": vars(args),
        "limits": found,
        "arithmetic": arithmetic(args.connections, found, args.ping_s),
    }
    for line in result["arithmetic"]:
        print(line, file=sys.stderr)
    started: list[subprocess.Popen[str]] = []
    try:
        port = free_port()
        target = subprocess.Popen(
            [node, str(HERE / "idle_target.js"), "--port", str(port), "--workers", str(args.target_processes),
             "--ping-s", str(args.ping_s)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            start_new_session=True,
        )  # fmt: skip
        started.append(target)
        line = read_line(target, time.monotonic() + 30, "target")
        stats_url = f"http://127.0.0.1:{line.split()[3]}/stats"
        if args.floor:
            floor = run_locust(args, "BareUser", port, stats_url, deadline)
            result["floor"] = floor
            print(f"floor: {json.dumps(floor['bytes_per_user'])} bytes a bare user", file=sys.stderr)
        target_workers = children(target.pid)
        target_before = sum(rss_bytes(pid) for pid in target_workers)
        result.update(run_locust(args, "IdleUser", port, stats_url, deadline))
        target_held = sum(rss_bytes(pid) for pid in target_workers)
        result.update(
            target_rss_before_bytes=target_before,
            target_rss_held_bytes=target_held,
            target_bytes_per_connection=per(target_held - target_before, result["connections_held"]),
        )
        if args.floor:
            result["wslocust_bytes_per_user"] = {
                kind: result["bytes_per_user"][kind] - result["floor"]["bytes_per_user"][kind]
                for kind in result["bytes_per_user"]
            }
    finally:
        stop(started)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=100_000)
    parser.add_argument("--processes", type=int, default=6, help="Locust worker processes")
    parser.add_argument("--target-processes", type=int, default=6)
    parser.add_argument("--source-address", default="127.0.0.2-127.0.0.11")
    parser.add_argument("--spawn-rate", type=float, default=1000.0, help="users a second, all workers")
    parser.add_argument("--ping-s", type=float, default=20.0)
    parser.add_argument("--hold", type=float, default=30.0, help="seconds held once all are connected")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds waited before the hold")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds for the whole run")
    parser.add_argument(
        "--floor", action="store_true", help="first measure as many bare Locust users (no connection)"
    )
    parser.add_argument("--json", help="write the result here too")
    args = parser.parse_args(argv)
    result = run(args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
