"""Shared fixtures: real servers on 127.0.0.1 with free ports, and a Locust environment per test.

Every timeout is a multiple of ``UNIT`` seconds; set ``WSLOCUST_TEST_UNIT`` to scale them on a slow
machine.
"""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching before anything else)
from locust.env import Environment
from locust.event import Events

import base64
import csv
import hashlib
import json
import os
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
import pytest
from gevent.server import StreamServer

import wslocust  # noqa: F401  (registers the plugin)
from wslocust.demo.process import DemoProcess
from wslocust.errors import WsLocustError
from wslocust.wire.reply import Reply

UNIT = float(os.environ.get("WSLOCUST_TEST_UNIT", "1"))
"""Seconds that one unit of test timeout stands for."""

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "datasets" / "support_bot.jsonl"


@dataclass
class Recorded:
    """The request events a Locust environment fired."""

    events: list[dict[str, Any]] = field(default_factory=list)

    def of(self, request_type: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["request_type"] == request_type]


@pytest.fixture
def recorded_env() -> tuple[Environment, Recorded]:
    """A Locust environment with its own events, recording every request event."""
    environment = Environment(events=Events())
    recorded = Recorded()
    environment.events.request.add_listener(lambda **kwargs: recorded.events.append(kwargs))
    return environment, recorded


@pytest.fixture
def demo() -> Iterator[Callable[..., str]]:
    """Start demo bots: ``url = demo("--ttft-ms", "50", ...)``; all stop after the test."""
    started: list[DemoProcess] = []

    def start(*args: str) -> str:
        process = DemoProcess(args, start_timeout_s=20 * UNIT)
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.stop()


def make_reply(
    name: str = "ask",
    *,
    text: str = "one two three",
    chunk_times_ms: Sequence[float] = (10.0, 20.0, 40.0),
    total_time_ms: float = 100.0,
    error: WsLocustError | None = None,
    started_at: float = 1_000.0,
    scores: dict[str, float] | None = None,
    missed: list[str] | None = None,
    metric_errors: dict[str, str] | None = None,
    meta: dict[str, Any] | None = None,
) -> Reply:
    """A measured reply as the client builds it, named ``name`` (also its record's intent)."""
    return Reply(
        prompt=f"ask {name}",
        name=name,
        record={"Intent": name},
        text=text,
        chunks=len(chunk_times_ms),
        chunk_times_ms=list(chunk_times_ms),
        time_to_first_chunk_ms=chunk_times_ms[0] if chunk_times_ms else None,
        total_time_ms=total_time_ms,
        error=error,
        started_at=started_at,
        scores=dict(scores or {}),
        missed=list(missed or []),
        metric_errors=dict(metric_errors or {}),
        meta=dict(meta or {}),
    )


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@dataclass
class RawServer:
    """A hand-written WebSocket server on 127.0.0.1:0, for what the demo bot will not do.

    ``handler(sock, headers)`` runs after a successful upgrade; ``status`` other than 101 refuses it.
    """

    handler: Callable[[socket.socket, dict[str, str]], None]
    status: int = 101
    seen_headers: list[dict[str, str]] = field(default_factory=list)
    server: StreamServer | None = None
    server_names: list[str] = field(default_factory=list)
    """The names clients asked for with SNI (a server of :func:`tls_server`)."""

    @property
    def port(self) -> int:
        assert self.server is not None
        port: int = self.server.address[1]
        return port

    def _serve(self, sock: socket.socket, _address: Any) -> None:
        request = read_request_head(sock)
        if b"\r\n\r\n" not in request:
            return
        lines = request.split(b"\r\n\r\n")[0].decode().split("\r\n")[1:]
        headers = {
            name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)
        }
        self.seen_headers.append(headers)
        if self.status != 101:
            sock.sendall(f"HTTP/1.1 {self.status} Nope\r\nContent-Length: 0\r\n\r\n".encode())
            return
        accept = base64.b64encode(
            hashlib.sha1((headers["sec-websocket-key"] + _GUID).encode()).digest()
        ).decode()
        sock.sendall(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
            ).encode()
        )
        self.handler(sock, headers)


@pytest.fixture
def raw_server() -> Iterator[Callable[..., RawServer]]:
    """Start :class:`RawServer` instances: ``server = raw_server(handler)``; stopped after the test."""
    servers: list[RawServer] = []

    def start(
        handler: Callable[[socket.socket, dict[str, str]], None],
        status: int = 101,
        ssl_context: ssl.SSLContext | None = None,
    ) -> RawServer:
        raw = RawServer(handler, status)
        tls = {"ssl_context": ssl_context} if ssl_context is not None else {}
        raw.server = StreamServer(("127.0.0.1", 0), raw._serve, **tls)
        raw.server.start()
        servers.append(raw)
        return raw

    yield start
    for raw in servers:
        assert raw.server is not None
        raw.server.stop(timeout=1)


@pytest.fixture(scope="session")
def bot_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for ``bot.test``, made once a session: its file, and its key's."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=bot.test",
         "-addext", "subjectAltName=DNS:bot.test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="session")
def bot_tls_context(bot_certificate: tuple[Path, Path]) -> ssl.SSLContext:
    """A server's TLS context presenting :func:`bot_certificate`, made once a session."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*bot_certificate)
    return context


@pytest.fixture
def tls_server(
    raw_server: Callable[..., RawServer], bot_tls_context: ssl.SSLContext
) -> Iterator[Callable[[Callable[[socket.socket, dict[str, str]], None]], RawServer]]:
    """Start :class:`RawServer` instances over TLS as ``bot.test`` (:func:`bot_certificate`):
    ``server = tls_server(handler)``; the names its clients send with SNI go to ``server.server_names``."""

    def start(handler: Callable[[socket.socket, dict[str, str]], None]) -> RawServer:
        server = raw_server(handler, ssl_context=bot_tls_context)
        bot_tls_context.sni_callback = lambda _sock, name, _context: server.server_names.append(name)  # type: ignore[assignment,misc,func-returns-value]
        return server

    yield start
    bot_tls_context.sni_callback = None


def read_request_head(sock: socket.socket) -> bytes:
    """Read a client's HTTP request head (up to its blank line), or what came before it closed."""
    request = b""
    while b"\r\n\r\n" not in request:
        data = sock.recv(4096)
        if not data:
            break
        request += data
    return request


def server_frame(opcode: int, payload: bytes = b"", *, final: bool = True, rsv: int = 0) -> bytes:
    """A server's (unmasked) frame with explicit FIN and reserved bits, as tests' servers send."""
    first = (0x80 if final else 0) | (rsv << 4) | opcode
    size = len(payload)
    if size < 126:
        return bytes((first, size)) + payload
    if size < 65536:
        return bytes((first, 126)) + struct.pack("!H", size) + payload
    return bytes((first, 127)) + struct.pack("!Q", size) + payload


def wait_until(condition: Callable[[], bool], timeout_s: float, interval_s: float = 0.01) -> bool:
    """Yield to other greenlets until ``condition()`` holds (asked every ``interval_s``) or ``timeout_s`` passes."""
    with gevent.Timeout(timeout_s, False):
        while not condition():
            gevent.sleep(interval_s)
        return True
    return False


def bot_counts(url: str) -> dict[str, int]:
    """What the demo bot at ``url`` did so far (its ``GET /stats``)."""
    with urllib.request.urlopen(url.replace("ws://", "http://") + "/stats", timeout=5) as response:
        counts: dict[str, int] = json.load(response)
        return counts


def wait_for_requests(history: Path, *, more_than: int, timeout_s: float) -> None:
    """Wait until Locust's history CSV (written each second) counts more than ``more_than`` requests."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if history.is_file():
            with history.open(newline="") as stream:
                totals = [row for row in csv.DictReader(stream) if row["Name"] == "Aggregated"]
            if totals and int(totals[-1]["Total Request Count"]) > more_than:
                return
        time.sleep(0.2)
    raise AssertionError(f"{history.name}: no more than {more_than} requests within {timeout_s:g} s")


def run_until(
    command: Sequence[str], ready: Callable[[str], bool], log: Path, *, timeout_s: float
) -> tuple[int, str]:
    """Run ``command`` (a Locust run with a run time longer than any test waits) until ``ready`` holds
    on its standard error so far, then stop it as Ctrl+C would (SIGTERM: the run ends as its run time
    would); return its exit code and standard error. So a test waits for what it needs to see (three
    progress lines, replies flowing) instead of hoping a fixed run time is enough on a loaded machine.

    Args:
        command: the command line.
        ready: whether enough was logged (it is asked every 0.1 s).
        log: where its standard error is written (read back while it runs).
        timeout_s: the most it may take to become ready, then to end (each; killed past it).

    Raises:
        AssertionError: it ended, or was not ready, before ``timeout_s``.
    """
    with log.open("w") as stream:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stream, text=True)
    try:
        waited = wait_until(lambda: process.poll() is not None or ready(log.read_text()), timeout_s, 0.1)
        assert process.poll() is None, f"it ended before it was ready: {log.read_text()[-3000:]}"
        assert waited, f"not ready within {timeout_s:g} s: {log.read_text()[-3000:]}"
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout_s)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return returncode, log.read_text()


def processes(count: int) -> tuple[str, ...]:
    """Locust's options for ``count`` processes (a master and its forked workers) on a free port, not
    Locust's default 5557, which another run on the machine may hold."""
    port = str(free_port())
    return ("--processes", str(count), "--master-port", port, "--master-bind-port", port)


def locust_command(*args: str) -> list[str]:
    """The command line of a Locust run of the shipped locustfile in a subprocess."""
    return [sys.executable, "-m", "locust", "-f", str(ROOT / "locustfiles" / "chatbot.py"), *args]


@dataclass
class DistributedRun:
    """What a master and its workers, run to their end, returned and logged (stderr)."""

    returncode: int
    master_log: str
    worker_logs: list[str]


def run_master_and_workers(
    *master_args: str,
    workers: int = 1,
    timeout_s: float = 90,
    master_env: dict[str, str] | None = None,
    worker_env: dict[str, str] | None = None,
) -> DistributedRun:
    """Run a Locust master of the shipped locustfile on 127.0.0.1 and ``workers`` workers until it ends.

    Every process still running at the end (a failed or overrun test) is killed.
    """
    port = str(free_port())
    master = subprocess.Popen(
        locust_command(*master_args, "--master", "--master-bind-host", "127.0.0.1",
                       "--master-bind-port", port, "--expect-workers", str(workers)),
        cwd=ROOT, env=master_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    started = [master]
    try:
        started += [
            subprocess.Popen(
                locust_command("--worker", "--master-host", "127.0.0.1", "--master-port", port),
                cwd=ROOT,
                env=worker_env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(workers)
        ]
        _, master_log = master.communicate(timeout=timeout_s * UNIT)
        worker_logs = [worker.communicate(timeout=30 * UNIT)[1] for worker in started[1:]]
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
            process.wait(10 * UNIT)
    return DistributedRun(master.returncode, master_log, worker_logs)
