"""benchmarks/autobahn.py without the suite (a Python 2 program, not installed here): its echo client
against a server sending a case's bytes on 127.0.0.1:0, and its summary of a report."""

from __future__ import annotations

import importlib.util
import socket
import struct
from types import ModuleType
from typing import Any

import gevent.event
from gevent.server import StreamServer

from wslocust.wire.frames import OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT, FrameReader

from .conftest import ROOT, UNIT, read_request_head
from .test_client_hostile import upgrade_answer


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("autobahn_script", ROOT / "benchmarks" / "autobahn.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_echo_client_pongs_echoes_the_joined_message_then_answers_the_close() -> None:
    """Autobahn's case 5.6: a ping between two fragments; then the server closes."""
    received: list[tuple[int, bytes]] = []
    done = gevent.event.Event()

    def case(sock: socket.socket, _address: Any) -> None:
        request = read_request_head(sock)
        sock.sendall(upgrade_answer(request))
        sock.sendall(bytes((OP_TEXT, 4)) + b"frag" + bytes((0x80 | OP_PING, 1)) + b"p")
        sock.sendall(bytes((0x80 | OP_CONTINUATION, 4)) + b"ment")
        reader = FrameReader(accept_masked=True)
        while len(received) < 2 and (data := sock.recv(4096)):
            received.extend(reader.feed(data))
        sock.sendall(bytes((0x80 | OP_CLOSE, 2)) + struct.pack("!H", 4000))
        while data := sock.recv(4096):
            received.extend(reader.feed(data))
        done.set()

    server = StreamServer(("127.0.0.1", 0), case)
    server.start()
    try:
        url = f"ws://127.0.0.1:{server.address[1]}/runCase?case=1&agent=test"
        load_script().run_case(url, max_message_bytes=1000, timeout_s=5 * UNIT)
        assert done.wait(2 * UNIT)  # the server read until the client closed the connection
    finally:
        server.stop(timeout=1)
    assert received == [(OP_PONG, b"p"), (OP_TEXT, b"fragment"), (OP_CLOSE, struct.pack("!H", 1000))]


def test_the_summary_counts_each_case_by_its_worse_verdict_and_lists_those_not_ok() -> None:
    index = {
        "1.1.1": {"behavior": "OK", "behaviorClose": "OK", "remoteCloseCode": 1000},
        "1.1.2": {"behavior": "OK", "behaviorClose": "OK", "remoteCloseCode": 1000},
        "6.4.1": {"behavior": "NON-STRICT", "behaviorClose": "OK", "remoteCloseCode": 1007},
        "6.3.1": {"behavior": "OK", "behaviorClose": "WRONG CODE", "remoteCloseCode": 1002},
        "9.1.5": {"behavior": "FAILED", "behaviorClose": "FAILED", "remoteCloseCode": 1009},
    }
    assert load_script().summarise(index).splitlines() == [
        "| section | cases | OK | NON-STRICT | WRONG CODE | FAILED |",
        "|---|---|---|---|---|---|",
        "| 1 | 2 | 2 | 0 | 0 | 0 |",
        "| 6 | 2 | 0 | 1 | 1 | 0 |",
        "| 9 | 1 | 0 | 0 | 0 | 1 |",
        "| all | 5 | 2 | 1 | 1 | 1 |",
        "",
        "| case | behaviour | close behaviour | client's close code |",
        "|---|---|---|---|",
        "| 6.3.1 | OK | WRONG CODE | 1002 |",
        "| 6.4.1 | NON-STRICT | OK | 1007 |",
        "| 9.1.5 | FAILED | FAILED | 1009 |",
    ]
