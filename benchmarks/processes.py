"""The benchmarks' processes: the Node target, the measured Locust process, the raw reference loops,
and what the machine's other processes use meanwhile (``/proc``). ``run.py`` builds the figures
from them."""

from __future__ import annotations

import json
import math
import os
import selectors
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "FIGURES", "HERE", "PYTHON", "ROOT", "LoadSampler", "Reference", "Target", "busy_cpu_s", "certificate",
    "ensure_node", "nearest_rank", "pool", "proc_cpu_s", "read_line", "run_loadgen",
]  # fmt: skip

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable
TICKS = os.sysconf("SC_CLK_TCK")


def ensure_node() -> str:
    """Node's path, after installing the target's packages (package-lock.json) when missing."""
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is not on PATH: the benchmarks' target is a Node program (Node 18+)")
    if not (HERE / "node_modules" / "ws" / "package.json").is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit("npm is not on PATH: run `npm ci --prefix benchmarks` first")
        print("installing the target's packages: npm ci --prefix benchmarks", file=sys.stderr)
        subprocess.run([npm, "ci", "--prefix", str(HERE), "--no-audit", "--no-fund"], check=True, timeout=300)
    return node


def read_line(process: subprocess.Popen[str], deadline: float, what: str) -> str:
    """The next line the process prints, waiting until ``deadline`` (time.monotonic())."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(f"{what}: nothing printed in time")
            if selector.select(remaining):
                line = process.stdout.readline()
                if not line:
                    raise RuntimeError(f"{what}: exited ({process.wait(5)})")
                return line.strip()


def _stat(path: Path) -> tuple[int, float]:
    """A process's parent and its user + system CPU seconds so far, from its /proc/PID/stat."""
    fields = path.read_text().rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc)."""
    return _stat(Path(f"/proc/{pid}/stat"))[1]


def busy_cpu_s() -> float:
    """CPU seconds every core of the machine has been busy (/proc/stat)."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq + steal) / TICKS


def our_cpu_s() -> dict[int, float]:
    """CPU seconds so far of this process and each of its children (the targets, Locust, references)."""
    me = os.getpid()
    found = {me: proc_cpu_s(me)}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent, cpu = _stat(entry / "stat")
            except OSError:
                continue  # gone meanwhile
            if parent == me:
                found[int(entry.name)] = cpu
    return found


class LoadSampler(threading.Thread):
    """Every half second, how much CPU (in cores) processes other than ours used: a test suite or a
    build running meanwhile disturbs what is measured (on 2 cores, even briefly: a p99 is 1% of
    the replies)."""

    def __init__(self, interval_s: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.interval_s = interval_s
        self.samples: list[float] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        busy, ours, when = busy_cpu_s(), our_cpu_s(), time.monotonic()
        while not self._stop_event.wait(self.interval_s):
            now_busy, now_ours, now = busy_cpu_s(), our_cpu_s(), time.monotonic()
            used = sum(cpu - ours.get(pid, cpu) for pid, cpu in now_ours.items())
            self.samples.append(max(now_busy - busy - used, 0.0) / (now - when))
            busy, ours, when = now_busy, now_ours, now

    def stop(self) -> float:
        """Stop sampling; return the highest load seen (cores)."""
        self._stop_event.set()
        self.join(5)
        return max(self.samples, default=0.0)


_certificate: tuple[str, str] | None = None


def certificate() -> tuple[str, str]:
    """A self-signed certificate and its key for 127.0.0.1 (PEM files), made once a session."""
    global _certificate
    if _certificate is None:
        openssl = shutil.which("openssl")
        if openssl is None:
            raise SystemExit("openssl is not on PATH: the wss:// figures need a certificate made at run time")
        folder = Path(tempfile.mkdtemp(prefix="wslocust-bench-tls-"))
        cert, key = folder / "cert.pem", folder / "key.pem"
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
             "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        _certificate = (str(cert), str(key))
    return _certificate


class Target:
    """The Node ``ws`` target server, on 127.0.0.1, stopped when its standard input closes; over TLS
    (``wss://``) with ``tls``."""

    def __init__(self, node: str, *args: str, tls: bool = False) -> None:
        if tls:
            cert, key = certificate()
            args = (*args, "--tls-cert", cert, "--tls-key", key)
        self.tls = tls
        self.process = subprocess.Popen(
            [node, str(HERE / "target_server.js"), *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        try:
            line = read_line(self.process, time.monotonic() + 20, "target server")
        except BaseException:
            self.stop()
            raise
        if not line.startswith("LISTENING "):
            self.stop()
            raise RuntimeError(f"target server: {line}")
        self.port = int(line.split()[1])
        self.url = f"{'wss' if tls else 'ws'}://127.0.0.1:{self.port}/"

    def cpu_s(self) -> float:
        return proc_cpu_s(self.process.pid)

    def stats(self, timeout_s: float = 10.0) -> dict[str, Any]:
        url = f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/stats"
        context = ssl._create_unverified_context() if self.tls else None  # our own self-signed one
        with urllib.request.urlopen(url, timeout=timeout_s, context=context) as response:
            counts: dict[str, Any] = json.load(response)
            return counts

    def stop(self) -> None:
        if self.process.poll() is None:
            if self.process.stdin is not None:
                self.process.stdin.close()
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def run_loadgen(
    args: list[str],
    target: Target,
    timeout_s: float,
    beside: Callable[[], Reference] | None = None,
) -> dict[str, Any]:
    """Run one measured Locust process; add the target's CPU share and the machine's other load.

    ``beside`` starts what measures the target beside the Locust process (the raw reference
    loops): it is called when the process's warm-up begins, so that its processes have started
    and connected before the window opens, and are still running when it closes (their start and
    exit would otherwise fall in the Locust process's window, slowing it and the target while the
    reference measured nothing); its samples are then taken over the Locust process's window
    (``result["reference"]``).

    The process prints its result while its users still run; the target's counts are read then
    (``result["server"]``), before its standard input is closed and it quits.
    """
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(
            [PYTHON, str(HERE / "loadgen.py"), "--host", target.url, *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True, cwd=ROOT,
        )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        extra: Reference | None = None
        try:
            while read_line(process, deadline, "loadgen") != "WARMING":
                pass
            extra = beside() if beside is not None else None
            while read_line(process, deadline, "loadgen") != "MEASURING":
                pass
            started, busy, server = time.monotonic(), busy_cpu_s(), target.cpu_s()
            counts_before = target.stats(timeout_s=30)
            sampler = LoadSampler()
            sampler.start()
            result: dict[str, Any] = json.loads(read_line(process, deadline, "loadgen"))
            elapsed = time.monotonic() - started
            result["other_load_peak_cores"] = sampler.stop()
            server_cpu = target.cpu_s() - server
            busy = busy_cpu_s() - busy
            result["server"] = target.stats(timeout_s=30)
            result["load_average"] = os.getloadavg()[0]  # the machine's, as the window ends
            result["server_window"] = {
                key: value - counts_before[key]
                for key, value in result["server"].items()
                if isinstance(value, int | float) and key != "late_max_ms"
            }
            assert process.stdin is not None
            process.stdin.close()
            process.wait(max(deadline - time.monotonic(), 1))
        except BaseException:
            process.kill()
            process.wait(10)
            if extra is not None:
                extra.stop()
            errors.seek(0)
            sys.stderr.write(errors.read()[-3000:])
            raise
    extra_cpu = 0.0
    if extra is not None:  # a reference client ran beside it: its result over the window, its CPU
        start, end = result["window_monotonic"]
        reference, extra_cpu = extra.finish((start, end))
        result["reference"] = reference
    result["server_cpu_share"] = server_cpu / elapsed
    result["other_load_cores"] = max(busy - result["cpu_s"] - server_cpu - extra_cpu, 0.0) / elapsed
    return result


FIGURES = ("ttft", "total", "ttft_beyond_target", "total_beyond_target")
"""The reference's figures, in the order of a sample's fields after the time its reply ended."""


class Reference:
    """``loops`` raw websocket-client loops, each its own process, asking the target one prompt after
    another for ``duration_s`` (see ``reference_client.py``).

    A loop gets a reply every cycle of the target (about 15 a second against the fidelity target),
    so a p99 of one loop's few hundred replies is a handful of them: the samples of the loops are
    pooled, and their percentiles taken.
    """

    def __init__(self, url: str, duration_s: float, loops: int) -> None:
        self.duration_s = duration_s
        self.loops = loops
        self.processes = [
            subprocess.Popen(
                [PYTHON, str(HERE / "reference_client.py"), "--url", url, "--duration", str(duration_s)],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            for _ in range(loops)
        ]

    def finish(self, window: tuple[float, float] | None = None) -> tuple[dict[str, Any], float]:
        """Wait for the loops; return their pooled percentiles and their CPU time.

        Args:
            window: keep only the replies that ended within it (``time.monotonic()``, the system's
                monotonic clock: the Locust process's window); None keeps every reply.
        """
        results: list[dict[str, Any]] = []
        try:
            for process in self.processes:
                results.append(
                    json.loads(read_line(process, time.monotonic() + self.duration_s + 30, "reference"))
                )
        finally:
            if len(results) < len(self.processes):
                self.stop()  # another loop failed: its result is lost anyway
            for process in self.processes:
                process.wait(10)
        samples = [sample for result in results for sample in result["samples"]]
        return pool(samples, self.loops, window), sum(float(result.get("cpu_s", 0.0)) for result in results)

    def stop(self) -> None:
        """Kill the loops still running."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()


def pool(
    samples: list[list[float | None]], loops: int, window: tuple[float, float] | None = None
) -> dict[str, Any]:
    """The reference loops' pooled p50 and p99 of each figure, over the replies that ended within
    ``window`` (every reply when None).

    Args:
        samples: each reply's sample, as ``reference_client.py`` prints it: the time it ended
            (``time.monotonic()``), then its figures in the order of :data:`FIGURES` (None where
            the reply had none).
    """
    if window is not None:
        start, end = window
        samples = [sample for sample in samples if sample[0] is not None and start <= sample[0] <= end]
    pooled: dict[str, Any] = {"loops": loops, "replies": len(samples)}
    for index, figure in enumerate(FIGURES, start=1):
        values = sorted(value for sample in samples if (value := sample[index]) is not None)
        pooled[f"{figure}_p50_ms"] = nearest_rank(values, 0.5)
        pooled[f"{figure}_p99_ms"] = nearest_rank(values, 0.99)
    return pooled


def nearest_rank(sorted_values: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile (``0.99`` → p99) of sorted values, as wslocust's histograms give it."""
    if not sorted_values:
        return None
    return sorted_values[min(max(1, math.ceil(fraction * len(sorted_values))), len(sorted_values)) - 1]
