"""The demo bot as a process: how it stops."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import wslocust
from wslocust.demo.server import DEFAULT_DATASET
from wslocust.wire.frames import OP_TEXT, encode_frame

from ..conftest import UNIT

DEMO_SERVER = str(Path(sys.executable).with_name("wslocust-demo-server"))
"""The installed command, as a user runs it."""


def start_demo(*args: str) -> tuple[subprocess.Popen[str], int]:
    """Start ``wslocust-demo-server`` on 127.0.0.1, port 0; return the process and its port."""
    process = subprocess.Popen(
        [DEMO_SERVER, "--host", "127.0.0.1", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("listening on ws://127.0.0.1:"), line
    return process, int(line.rsplit(":", 1)[1])


def ask_over_raw_socket(port: int, prompt: str, *, first_bytes: bool = True) -> socket.socket:
    """Open a WebSocket on a raw socket, send ``prompt``, and return once the reply's first bytes came
    (at once without ``first_bytes``)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10 * UNIT)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(4096)
    assert response.startswith(b"HTTP/1.1 101"), response
    sock.sendall(encode_frame(OP_TEXT, prompt.encode()))
    if first_bytes and not response.split(b"\r\n\r\n", 1)[1]:
        assert sock.recv(4096)  # a chunk of the reply: the prompt is being answered
    return sock


def test_sigterm_stops_the_demo_bot_while_a_reply_hangs() -> None:
    """A reply that hangs by design (--hang-rate 1) must not keep the bot alive after SIGTERM."""
    process, port = start_demo(
        "--protocol", "json", "--ttft-ms", "1", "--itl-ms", "1", "--chunks", "2", "--hang-rate", "1"
    )
    sock = ask_over_raw_socket(port, '{"prompt": "hello"}')  # JSON: its chunks go out as they come
    try:
        process.send_signal(signal.SIGTERM)
        try:
            returncode = process.wait(timeout=10 * UNIT)
        except subprocess.TimeoutExpired:
            returncode = None
    finally:
        sock.close()
        if process.poll() is None:
            process.kill()
        process.wait()
        assert process.stdout is not None
        process.stdout.close()
    assert returncode == 0


def test_the_default_dataset_is_package_data_that_the_clones_sample_links_to() -> None:
    """The bot answers from a file inside the installed package; the clone's sample is that file."""
    package = Path(wslocust.__file__).resolve().parent
    assert DEFAULT_DATASET.is_relative_to(package)
    assert DEFAULT_DATASET.is_file()
    assert (
        Path(__file__).resolve().parents[2] / "datasets" / "support_bot.jsonl"
    ).resolve() == DEFAULT_DATASET


def streaming_now(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10 * UNIT) as response:
        return int(json.load(response)["streaming"])


def wait_for_streaming(port: int, count: int) -> int:
    """The demo bot's replies streaming now, once they are ``count`` or 10 units have passed."""
    deadline = time.monotonic() + 10 * UNIT
    while (now := streaming_now(port)) != count and time.monotonic() < deadline:
        time.sleep(0.05 * UNIT)
    return now


def test_a_reply_slowed_by_degradation_is_dropped_when_its_connection_closes() -> None:
    """The next load meets an idle bot: a closed connection's slowed reply no longer counts as streaming."""
    process, port = start_demo("--protocol", "json", "--degrade-after", "0", "--degrade-ms", "600000")
    try:
        sock = ask_over_raw_socket(port, '{"prompt": "hello"}', first_bytes=False)  # slowed 10 minutes
        assert wait_for_streaming(port, 1) == 1
        sock.close()
        assert wait_for_streaming(port, 0) == 0
    finally:
        process.kill()
        process.wait()
        assert process.stdout is not None
        process.stdout.close()
