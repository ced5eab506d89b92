"""Autobahn|Testsuite's client cases against wslocust's wire layer; the tables of docs/conformance.md.

    .venv/bin/python benchmarks/autobahn.py --wstest "$PY2 /tmp/ab-py2/wstest.py"

Starts ``wstest -m fuzzingserver`` on 127.0.0.1 (a free port), then runs every case with a small
echo client built on the client's own sans-I/O core: a :class:`~wslocust.wire.connection.Connection`
(its :class:`~wslocust.wire.frames.FrameReader`, ping, close and failure policy) whose protocol
queues every message it is given, which the client sends back. It does what ``ChatClient`` does
with the connection's actions: a pong at once; for a close, the close frame, then the socket closed.
Then it has the server write its report and prints, from the report's ``index.json``, each
section's cases by outcome and every case that was not OK (a Markdown table, as the doc holds).

The suite is a Python 2 program (``autobahntestsuite`` on PyPI, Twisted 19); ``--wstest`` is the
command that runs it (docs/conformance.md says how to install it beside a Python 2.7). The
compression sections (12, 13) need ``permessage-deflate``: with ``--compression deflate`` the echo
client offers it as ``ChatClient`` does, reads with the compressed connection's reader and sends its
echoes compressed, and the sections are run (left out otherwise).
"""

from __future__ import annotations

import argparse
import collections
import json
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import websocket

from wslocust.errors import ConnectError
from wslocust.wire.connection import Close, Connection, Pong
from wslocust.wire.deflate import OFFER, DeflateFrameReader, DeflateParameters, negotiate
from wslocust.wire.frames import (
    DEFAULT_MAX_MESSAGE_BYTES,
    OP_BINARY,
    OP_TEXT,
    RSV1,
    FrameReader,
    encode_close,
    encode_frame,
)
from wslocust.wire.protocols import Protocol
from wslocust.wire.protocols.base import Event, Message
from wslocust.wire.reply import Reply

__all__ = ["EchoProtocol", "main", "run_case", "summarise"]

AGENT = "wslocust"
OUTCOMES = ("OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "WRONG CODE", "UNCLEAN", "FAILED")
"""Autobahn's verdicts, best first (a case is judged on its messages and on its close); the tables
show those that occur, and any other after them."""


class EchoProtocol(Protocol):
    """Queues every message it is fed, to be echoed; its reply never ends, so the connection hands
    it every message (none is dropped as a push between replies)."""

    def __init__(self) -> None:
        self.echoes: list[Message] = []

    def request(self, prompt: str, record: Mapping[str, Any]) -> Sequence[Message]:
        return [prompt]

    def feed(self, message: Message) -> Sequence[Event]:
        self.echoes.append(message)
        return ()


def _dial(url: str, timeout_s: float, *, compression: bool) -> tuple[socket.socket, DeflateParameters | None]:
    """Open a WebSocket connection (websocket-client's handshake, as ChatClient's, offering
    permessage-deflate with ``compression``) and return its socket and the compression agreed; the
    frames that follow are read by wslocust's reader."""
    handshake = websocket.WebSocket(skip_utf8_validation=True, enable_multithread=False)
    headers = [f"Sec-WebSocket-Extensions: {OFFER}"] if compression else []
    handshake.connect(url, timeout=timeout_s, header=headers)
    sock = handshake.sock
    assert sock is not None  # connected
    sock.settimeout(timeout_s)
    answer = (handshake.getheaders() or {}).get("sec-websocket-extensions")
    return sock, negotiate(answer, offered=compression)


def run_case(url: str, *, max_message_bytes: int, timeout_s: float, compression: bool = False) -> None:
    """Run one case: echo every message until the connection closes (or is failed, or goes quiet
    for ``timeout_s``)."""
    sock, agreed = _dial(url, timeout_s, compression=compression)
    protocol = EchoProtocol()
    if agreed is None:
        connection = Connection(protocol, FrameReader(max_message_bytes))
        deflate = None
    else:
        reader = DeflateFrameReader(agreed.inflater(), max_message_bytes)
        connection = Connection(protocol, reader, deflate=agreed)
        deflate = agreed.deflater().deflate
    connection.start(Reply(prompt="", name="echo"))  # sends nothing: the server speaks first
    try:
        while data := sock.recv(256 * 1024):
            actions = connection.receive(data, 0.0) or []
            # A block's pongs first (as ChatClient answers them), then its echoes, then a close.
            for action in actions:
                if type(action) is Pong:
                    sock.sendall(action.frame)
            for echo in protocol.echoes:
                opcode = OP_TEXT if isinstance(echo, str) else OP_BINARY
                payload = echo.encode() if isinstance(echo, str) else echo
                if deflate is not None:
                    opcode, payload = RSV1 | opcode, deflate(payload)
                sock.sendall(encode_frame(opcode, payload))
            protocol.echoes.clear()
            if any(type(action) is Close for action in actions):
                [code] = [action.code for action in actions if type(action) is Close]
                sock.sendall(encode_close(code))
                return
    except TimeoutError:
        return
    finally:
        sock.close()


def _control(url: str, timeout_s: float) -> str:
    """The text of a control endpoint's one message (``/getCaseCount``), or "" (``/updateReports``)."""
    connection = websocket.create_connection(url, timeout=timeout_s)
    try:
        message = connection.recv()
    except websocket.WebSocketConnectionClosedException:
        message = ""
    connection.close()
    text: str = message if isinstance(message, str) else bytes(message).decode()
    return text


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_listening(port: int, server: subprocess.Popen[bytes], deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"wstest exited with code {server.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"wstest did not listen on 127.0.0.1:{port} within {deadline_s:g} s")


def _section(case: str) -> int:
    return int(case.split(".", 1)[0])


def _case_key(case: str) -> tuple[int, ...]:
    return tuple(int(part) for part in case.split("."))


def summarise(index: Mapping[str, Mapping[str, Any]]) -> str:
    """Markdown tables of a report's ``index.json`` entries for one agent: cases by section and
    outcome (a case's outcome is the worse of its message and close verdicts), then each case that
    was not OK with both verdicts and the close code the client sent."""
    rank = {outcome: position for position, outcome in enumerate(OUTCOMES)}

    def outcome(result: Mapping[str, Any]) -> str:
        verdicts: tuple[str, str] = (result["behavior"], result["behaviorClose"])
        return max(verdicts, key=lambda verdict: rank.get(verdict, len(OUTCOMES)))

    by_section: dict[int, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for case, result in index.items():
        by_section[_section(case)][outcome(result)] += 1
    seen = {name for counts in by_section.values() for name in counts}
    columns = [name for name in OUTCOMES if name in seen or name == "OK"] + sorted(seen - set(OUTCOMES))
    lines = ["| section | cases | " + " | ".join(columns) + " |", "|---" * (len(columns) + 2) + "|"]
    total: collections.Counter[str] = collections.Counter()
    for section in sorted(by_section):
        counts = by_section[section]
        total.update(counts)
        cells = " | ".join(str(counts[name]) for name in columns)
        lines.append(f"| {section} | {sum(counts.values())} | {cells} |")
    cells = " | ".join(str(total[name]) for name in columns)
    lines.append(f"| all | {sum(total.values())} | {cells} |")
    others = [case for case in sorted(index, key=_case_key) if outcome(index[case]) != "OK"]
    if others:
        lines += ["", "| case | behaviour | close behaviour | client's close code |", "|---|---|---|---|"]
        for case in others:
            result = index[case]
            code = result.get("remoteCloseCode")
            lines.append(f"| {case} | {result['behavior']} | {result['behaviorClose']} | {code} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--wstest", default="wstest", help="the command that runs wstest (default: wstest)")
    parser.add_argument("--cases", default="*", help="comma-separated case patterns (default: all)")
    parser.add_argument(
        "--exclude",
        help="case patterns left out (default: 12.*,13.*, compression, unless --compression deflate)",
    )
    parser.add_argument(
        "--compression",
        choices=("none", "deflate"),
        default="none",
        help="deflate: offer permessage-deflate, as --compression deflate does (default: none)",
    )
    parser.add_argument(
        "--max-message-bytes",
        type=int,
        default=DEFAULT_MAX_MESSAGE_BYTES,
        help=f"the echo client's message limit (default {DEFAULT_MAX_MESSAGE_BYTES}, wslocust's)",
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds a case may stay quiet (default 30)"
    )
    parser.add_argument("-o", "--output", help="write the report here (default: a temporary folder)")
    args = parser.parse_args(argv)
    compression = args.compression == "deflate"
    exclude = args.exclude if args.exclude is not None else ("" if compression else "12.*,13.*")
    output = Path(args.output or tempfile.mkdtemp(prefix="autobahn-"))
    output.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    spec = {
        "url": f"ws://127.0.0.1:{port}",
        "outdir": str(output.resolve()),
        "cases": args.cases.split(","),
        "exclude-cases": [pattern for pattern in exclude.split(",") if pattern],
        "exclude-agent-cases": {},
    }
    spec_path = output / "fuzzingserver.json"
    spec_path.write_text(json.dumps(spec, indent=2))
    command = [*shlex.split(args.wstest), "-m", "fuzzingserver", "-s", str(spec_path), "--webport", "0"]
    with open(output / "wstest.log", "wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_listening(port, server, 60.0)
        base = f"ws://127.0.0.1:{port}"
        count = int(_control(f"{base}/getCaseCount", args.timeout))
        started = time.monotonic()
        for number in range(1, count + 1):
            try:
                run_case(
                    f"{base}/runCase?case={number}&agent={AGENT}",
                    max_message_bytes=args.max_message_bytes,
                    timeout_s=args.timeout,
                    compression=compression,
                )
            except (OSError, websocket.WebSocketException, ConnectError) as error:
                print(f"case {number}: {error.__class__.__name__}: {error}", file=sys.stderr)
        _control(f"{base}/updateReports?agent={AGENT}", 120.0)
        elapsed_s = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(10)
    index = json.loads((output / "index.json").read_text())[AGENT]
    limit = args.max_message_bytes
    print(f"{len(index)} cases in {elapsed_s:.0f} s, message limit {limit} bytes; report: {output}")
    print(summarise(index))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
