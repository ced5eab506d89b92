"""ChatClient speaking Socket.IO v4 to a real Socket.IO server (python-socketio under uvicorn, started
by the test on 127.0.0.1:0), and to hand-written servers for what a real one will not send."""

from __future__ import annotations

from locust.env import Environment
from locust.event import Events

import json
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
import pytest
import websocket

from wslocust.client import ChatClient
from wslocust.demo.process import DemoProcess
from wslocust.errors import (
    BotError,
    ConnectError,
    ConnectionClosed,
    OpeningTimeout,
    ProtocolError,
    SessionRefused,
)
from wslocust.wire.frames import OP_TEXT, FrameReader, encode_frame
from wslocust.wire.protocols import Event, Protocol, RasaProtocol, SocketIOProtocol

from .conftest import ROOT, UNIT, RawServer, locust_command

OPEN = '0{"sid":"e1","upgrades":[],"pingInterval":25000,"pingTimeout":20000}'


@dataclass
class SocketIOServer:
    """A running ``tests/socketio_server.py``."""

    url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> str:
        """Stop it; return what it said on stderr."""
        self.process.kill()
        _, errors = self.process.communicate(timeout=10 * UNIT)
        return errors.decode()


@pytest.fixture
def socketio_server() -> Iterator[Callable[..., SocketIOServer]]:
    """Start real Socket.IO servers: ``server = socketio_server("--mode", "ack")``; stopped after the test."""
    started: list[SocketIOServer] = []

    def start(*args: str) -> SocketIOServer:
        process = subprocess.Popen(
            [sys.executable, "-u", "-m", "tests.socketio_server", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdout is not None
        with gevent.Timeout(20 * UNIT):
            line = process.stdout.readline().decode()
        assert line.startswith("listening on "), line
        server = SocketIOServer(f"ws://127.0.0.1:{int(line.split()[-1])}", process)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.stop()


@dataclass
class Run:
    client: ChatClient
    events: list[dict[str, Any]]

    def of_type(self, request_type: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["request_type"] == request_type]


def client_for(url: str, protocol: Protocol, *, reply_timeout_s: float = 5.0) -> Run:
    environment = Environment(events=Events())
    events: list[dict[str, Any]] = []
    environment.events.request.add_listener(lambda **kwargs: events.append(kwargs))
    client = ChatClient(
        environment, url, protocol, connect_timeout_s=5 * UNIT, reply_timeout_s=reply_timeout_s * UNIT
    )
    return Run(client, events)


class RawSocketIOClient:
    """Socket.IO v4 by hand over websocket-client: the reference a latency is read against. It dates
    a reply when its process reads it (no kernel receive time), so it is never the earlier of the two."""

    def __init__(self, url: str) -> None:
        self.socket = websocket.create_connection(f"{url}/socket.io/?EIO=4&transport=websocket")
        self.socket.recv()  # Engine.IO's open packet
        self.socket.send("40")
        self.socket.recv()  # the namespace's connect

    def ask(self, message: str) -> tuple[float, dict[str, Any]]:
        """The round trip's milliseconds and the reply's payload."""
        start = time.perf_counter()
        self.socket.send(json.dumps(["user_uttered", {"message": message}]).join(("42", "")))
        while True:
            received = self.socket.recv()
            if received == "2":  # Engine.IO's ping
                self.socket.send("3")
            elif received.startswith("42"):
                return (time.perf_counter() - start) * 1000.0, json.loads(received[2:])[1]

    def close(self) -> None:
        self.socket.close()


def test_a_round_trips_latency_is_the_servers_injected_delay_as_closely_as_a_raw_clients(
    socketio_server: Callable[..., SocketIOServer],
) -> None:
    """What a round trip takes beyond the server's own delay (its parsing, its wake-ups, the loopback)
    is no more than a raw client measures of the same server in the same run, within 1 ms at the
    median. The server's wake-ups weigh 1-3 ms on an idle VM: read against the server's delay alone,
    the figure said more of the machine than of the client."""
    server = socketio_server("--delay-ms", "30")
    run = client_for(server.url, SocketIOProtocol())
    raw = RawSocketIOClient(server.url)
    ours, reference = [], []
    for number in range(21):  # alternated: the machine's drift weighs on both alike
        reply = run.client.ask(f"hello {number}")
        assert reply.ok, reply.error
        assert reply.text == f"echo: hello {number}"
        assert reply.total_time_ms >= 30.0
        ours.append(reply.total_time_ms - reply.meta["delay_ms"])
        total_ms, payload = raw.ask(f"raw {number}")
        assert payload["text"] == f"echo: raw {number}"
        reference.append(total_ms - payload["delay_ms"])
    run.client.close()
    raw.close()
    assert 0.0 <= statistics.median(ours) <= statistics.median(reference) + 1.0, (ours, reference)


def test_engineio_pings_mid_reply_and_idle_are_answered_and_never_part_of_a_reply(
    socketio_server: Callable[..., SocketIOServer],
) -> None:
    # A ping every 50 ms, the connection dropped when one is not answered within 100 ms: replies of
    # 4 chunks 60 ms apart, and 400 ms idle between them.
    server = socketio_server(
        "--mode", "chunks", "--chunks", "4", "--gap-ms", "60", "--end",
        "--ping-interval-ms", "50", "--ping-timeout-ms", "100",
    )  # fmt: skip
    run = client_for(server.url, SocketIOProtocol(end_event="bot_done"), reply_timeout_s=2.0)
    for _ in range(3):
        reply = run.client.ask("hello")
        assert reply.ok, reply.error
        assert (reply.text, reply.chunks) == ("part0 part1 part2 part3 ", 4)
        gevent.sleep(0.4)
    assert len(run.of_type("CONNECT")) == 1  # never dropped for want of a pong
    assert "disconnected" not in server.stop()  # stopped before the client leaves: it never dropped one


class WithoutPongs(SocketIOProtocol):
    """Socket.IO that leaves the server's pings unanswered."""

    def feed(self, message: str | bytes) -> Sequence[Event]:
        return () if message == "2" else super().feed(message)


def test_the_ping_test_can_fail_a_client_that_does_not_pong_is_dropped(
    socketio_server: Callable[..., SocketIOServer],
) -> None:
    server = socketio_server("--ping-interval-ms", "50", "--ping-timeout-ms", "100")
    run = client_for(server.url, WithoutPongs())
    assert run.client.ask("hello").ok
    gevent.sleep(0.5)
    reply = run.client.ask("hello")
    assert reply.ok  # on a new connection: the server dropped the first one
    assert len(run.of_type("CONNECT")) == 2
    assert "disconnected" in server.stop()  # the server, not the client, ended the first one


def test_a_quiet_period_ends_a_reply_at_its_last_chunks_time(
    socketio_server: Callable[..., SocketIOServer],
) -> None:
    server = socketio_server("--mode", "chunks", "--chunks", "3", "--gap-ms", "20")
    run = client_for(server.url, SocketIOProtocol(quiet_ms=150))
    started = gevent.get_hub().loop.now()
    reply = run.client.ask("hello")
    waited_ms = (gevent.get_hub().loop.now() - started) * 1000.0
    assert reply.ok, reply.error
    assert reply.chunks == 3
    assert reply.total_time_ms == reply.chunk_times_ms[-1]
    assert 40.0 <= reply.total_time_ms < 150.0
    assert waited_ms >= reply.total_time_ms + 150.0 - 5.0  # it waited out the quiet period
    run.client.close()


def test_an_ack_ends_the_reply_and_reply_events_before_it_are_chunks(
    socketio_server: Callable[..., SocketIOServer],
) -> None:
    server = socketio_server("--mode", "ack", "--chunks", "2", "--gap-ms", "5", "--namespace", "/chat")
    run = client_for(server.url, SocketIOProtocol(ack=True, event="ask", namespace="/chat"))
    for _ in range(2):
        reply = run.client.ask("hello")
        assert reply.ok, reply.error
        assert (reply.text, reply.chunks) == ("part0 part1 echo: hello", 3)
    run.client.close()


def test_a_binary_event_is_read_without_breaking_the_stream(
    socketio_server: Callable[..., SocketIOServer],
) -> None:
    server = socketio_server("--mode", "binary")
    run = client_for(server.url, SocketIOProtocol())
    for _ in range(2):
        reply = run.client.ask("hello")
        assert reply.ok, reply.error
        assert reply.text == "echo: hello"
    run.client.close()


@pytest.mark.parametrize("persistence", [True, False], ids=["session-persistence", "no-persistence"])
def test_rasa_opens_a_session_and_gets_replies(
    socketio_server: Callable[..., SocketIOServer], persistence: bool
) -> None:
    server = socketio_server("--mode", "rasa", *(["--session-persistence"] if persistence else []))
    run = client_for(server.url, RasaProtocol())
    for number in range(2):
        reply = run.client.ask(f"hi {number}")
        assert reply.ok, reply.error
        assert reply.text == f"echo: hi {number}"
    run.client.close()
    (connect,) = run.of_type("CONNECT")
    assert connect["exception"] is None


def test_an_unknown_namespace_is_a_refused_session(socketio_server: Callable[..., SocketIOServer]) -> None:
    server = socketio_server("--namespace", "/chat")
    run = client_for(server.url, SocketIOProtocol(namespace="/nope"))
    reply = run.client.ask("hello")
    assert isinstance(reply.error, ConnectError)
    (connect,) = run.of_type("CONNECT")
    assert isinstance(connect["exception"], SessionRefused)
    assert connect["exception"].kind == "session_refused"
    assert "namespace /nope refused" in str(connect["exception"])
    assert not run.of_type("WS")


def test_a_wrong_auth_is_a_refused_session_that_never_shows_the_auth(
    socketio_server: Callable[..., SocketIOServer],
) -> None:
    server = socketio_server("--token", "right-token")
    run = client_for(server.url, SocketIOProtocol(auth='{"token": "wrong-token"}'))
    run.client.ask("hello")
    (connect,) = run.of_type("CONNECT")
    assert isinstance(connect["exception"], SessionRefused)
    assert "Not authorized" in str(connect["exception"])
    assert "wrong-token" not in str(connect["exception"])
    good = client_for(server.url, SocketIOProtocol(auth='{"token": "right-token"}'))
    assert good.client.ask("hello").ok
    good.client.close()


def test_the_server_leaving_the_namespace_mid_reply_is_a_failure_and_the_next_prompt_reconnects(
    socketio_server: Callable[..., SocketIOServer],
) -> None:
    server = socketio_server("--mode", "disconnect")
    run = client_for(server.url, SocketIOProtocol())
    for _ in range(2):
        reply = run.client.ask("hello")
        assert isinstance(reply.error, ConnectionClosed)
        assert reply.error.kind == "closed_mid_reply"
        assert "disconnected the Socket.IO namespace /" in str(reply.error)
    assert len(run.of_type("CONNECT")) == 2


def engineio_server(
    raw_server: Callable[..., RawServer],
    after_prompt: str,
    first: str = OPEN,
    connected: str = '40{"sid":"s1"}',
) -> RawServer:
    """A hand-written Engine.IO server: ``first``, the namespace's connect answered with
    ``connected``, then ``after_prompt`` sent in answer to each prompt."""

    def handle(sock: socket.socket, _headers: dict[str, str]) -> None:
        reader = FrameReader(accept_masked=True)
        sock.sendall(encode_frame(OP_TEXT, first.encode(), mask=False))
        while True:
            data = sock.recv(65536)
            if not data:
                return
            for opcode, payload in reader.feed(data):
                if opcode != OP_TEXT:
                    return
                if payload.startswith(b"40"):
                    sock.sendall(encode_frame(OP_TEXT, connected.encode(), mask=False))
                elif payload.startswith(b"42"):
                    sock.sendall(encode_frame(OP_TEXT, after_prompt.encode(), mask=False))

    return raw_server(handle)


def test_a_malformed_packet_mid_reply_is_a_protocol_error(raw_server: Callable[..., RawServer]) -> None:
    server = engineio_server(raw_server, '42["bot_uttered",')
    run = client_for(f"ws://127.0.0.1:{server.port}", SocketIOProtocol())
    reply = run.client.ask("hello")
    assert isinstance(reply.error, ProtocolError)
    assert "not JSON" in str(reply.error)
    assert not run.client.connected


def test_the_engineio_session_closed_mid_reply_is_a_failure(raw_server: Callable[..., RawServer]) -> None:
    server = engineio_server(raw_server, "1")
    run = client_for(f"ws://127.0.0.1:{server.port}", SocketIOProtocol())
    reply = run.client.ask("hello")
    assert isinstance(reply.error, ConnectionClosed)
    assert "closed the Engine.IO session" in str(reply.error)


def test_a_first_packet_that_is_no_engineio_v4_open_fails_the_connect(
    raw_server: Callable[..., RawServer],
) -> None:
    server = engineio_server(raw_server, "", first='40{"sid":"s1"}')
    run = client_for(f"ws://127.0.0.1:{server.port}", SocketIOProtocol())
    run.client.ask("hello")
    (connect,) = run.of_type("CONNECT")
    assert isinstance(connect["exception"], ProtocolError)
    assert "expected the Engine.IO v4 open packet" in str(connect["exception"])


def test_a_socketio_v2_server_fails_the_connect_naming_the_version(
    raw_server: Callable[..., RawServer],
) -> None:
    server = engineio_server(raw_server, "", connected="40")  # Engine.IO v3's connect: no sid
    run = client_for(f"ws://127.0.0.1:{server.port}", SocketIOProtocol())
    run.client.ask("hello")
    (connect,) = run.of_type("CONNECT")
    assert isinstance(connect["exception"], ProtocolError)
    assert "a Socket.IO v2 server?" in str(connect["exception"])
    assert not run.of_type("WS")


def test_the_server_leaving_during_the_opening_fails_the_connect(
    raw_server: Callable[..., RawServer],
) -> None:
    server = engineio_server(raw_server, "", connected="41")
    run = client_for(f"ws://127.0.0.1:{server.port}", SocketIOProtocol())
    run.client.ask("hello")
    (connect,) = run.of_type("CONNECT")
    assert isinstance(connect["exception"], ConnectError)
    assert str(connect["exception"]) == (
        "the server ended the socketio opening (the server disconnected the Socket.IO namespace /)"
    )


def test_a_server_that_never_connects_the_namespace_fails_the_connect_within_its_timeout(
    raw_server: Callable[..., RawServer],
) -> None:
    def silent(sock: socket.socket, _headers: dict[str, str]) -> None:
        sock.sendall(encode_frame(OP_TEXT, OPEN.encode(), mask=False))
        gevent.sleep(3 * UNIT)

    server = raw_server(silent)
    environment = Environment(events=Events())
    events: list[dict[str, Any]] = []
    environment.events.request.add_listener(lambda **kwargs: events.append(kwargs))
    client = ChatClient(
        environment, f"ws://127.0.0.1:{server.port}", SocketIOProtocol(), connect_timeout_s=0.3
    )
    assert not client.connect()
    (connect,) = events
    assert "no socketio opening within 0.3 s" in str(connect["exception"])
    assert str(connect["exception"]).endswith(": the namespace connect of / was not answered")
    assert 300.0 <= connect["response_time"] < 300.0 + 500.0 * UNIT


def test_a_silent_plain_websocket_server_is_an_opening_timeout_asking_if_it_speaks_socketio() -> None:
    """The demo bot held to plain WebSocket accepts the upgrade and waits for a prompt: no Engine.IO
    open packet ever comes, which is neither a refused connection nor a hang."""
    demo = DemoProcess(["--protocol", "plain"])
    url = demo.start()
    try:
        environment = Environment(events=Events())
        events: list[dict[str, Any]] = []
        environment.events.request.add_listener(lambda **kwargs: events.append(kwargs))
        client = ChatClient(environment, url, SocketIOProtocol(), connect_timeout_s=0.3)
        assert not client.connect()
    finally:
        demo.stop()
    (connect,) = events
    error = connect["exception"]
    assert isinstance(error, OpeningTimeout)
    assert error.kind == "opening_timeout"
    assert str(error).startswith("no socketio opening within 0.3 s: 127.0.0.1:")
    assert str(error).endswith(": is it a Socket.IO v4 server? (no Engine.IO open packet)")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("protocol", "server_args"),
    [("socketio", ()), ("rasa", ("--mode", "rasa", "--session-persistence"))],
)
def test_a_headless_locust_run_with_a_socketio_protocol_counts_its_replies(
    socketio_server: Callable[..., SocketIOServer],
    tmp_path: Path,
    protocol: str,
    server_args: tuple[str, ...],
) -> None:
    server = socketio_server("--delay-ms", "5", *server_args)
    command = locust_command(
        "--headless", "-u", "3", "-r", "3", "-t", "3s", "--host", server.url, "--protocol", protocol,
        "--socketio-auth", '{"token": "not-needed"}', "--think-time", "0.05", "--csv", str(tmp_path / "sio"),
        "--metric", "contains:text=echo",
    )  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60 * UNIT, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "not-needed" not in result.stderr + result.stdout
    rows = (tmp_path / "sio_stats.csv").read_text().splitlines()
    header = rows[0].split(",")
    table = [dict(zip(header, row.split(","), strict=False)) for row in rows[1:]]
    ws = [row for row in table if row["Type"] == "WS"]
    assert sum(int(row["Request Count"]) for row in ws) > 10
    assert sum(int(row["Failure Count"]) for row in ws) == 0
    summary = json.dumps(table)
    assert "not-needed" not in summary


@pytest.mark.slow
def test_a_bad_socketio_option_stops_the_run_naming_it() -> None:
    command = locust_command(
        "--headless", "-u", "1", "-t", "2s", "--protocol", "socketio", "--socketio-namespace", "chat"
    )  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60 * UNIT, check=False)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "--socketio-namespace must start with /" in result.stderr


@pytest.mark.slow
def test_a_quiet_period_not_below_the_reply_timeout_stops_the_run_naming_both(tmp_path: Path) -> None:
    command = locust_command(
        "--headless", "-u", "1", "-t", "2s", "--host", "ws://127.0.0.1:9", "--protocol", "socketio",
        "--socketio-quiet-ms", "2000", "--reply-timeout", "2",
    )  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60 * UNIT, check=False)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    (error,) = [line for line in result.stderr.splitlines() if "ERROR" in line or "error:" in line]
    assert "--socketio-quiet-ms 2000 is not below --reply-timeout (2 s)" in error


def test_against_the_demo_bot_an_acked_reply_counts_its_streamed_answer_once() -> None:
    # The demo bot streams an answer as reply events, then acks with the whole answer again (or,
    # for a prompt asking no ack, sends its end event).
    args = ["--protocol", "socketio", "--ttft-ms", "0", "--itl-ms", "1", "--chunks", "4"]
    demo = DemoProcess([*args, "--error-rate", "0", "--wrong-rate", "0", "--socketio-end-event", "bot_done"])
    url = demo.start()
    try:
        acked = client_for(url, SocketIOProtocol(ack=True)).client
        ended = client_for(url, SocketIOProtocol(end_event="bot_done")).client
        for prompt in ("How do I get a refund?", "Where is my order?"):
            with_ack, with_end = acked.ask(prompt), ended.ask(prompt)
            assert with_ack.ok, with_ack.error
            assert with_end.ok, with_end.error
            assert (with_ack.text, with_ack.chunks) == (with_end.text, with_end.chunks)
            assert with_ack.chunks == 4
        acked.close()
        ended.close()
    finally:
        demo.stop()


@pytest.mark.parametrize(
    ("mode", "bot_args", "settings"),
    [
        ("the one reply event", (), {}),
        ("the ack", (), {"ack": True}),
        ("the end event", ("--socketio-end-event", "bot_done"), {"end_event": "bot_done"}),
    ],
)
def test_against_the_demo_bot_its_bot_errors_are_bot_error_failures(
    mode: str, bot_args: tuple[str, ...], settings: dict[str, Any]
) -> None:
    """The demo bot, erring on every prompt, says so in ``error`` of its last payload: each reply fails."""
    args = ["--protocol", "socketio", "--ttft-ms", "0", "--itl-ms", "1", "--chunks", "3", "--error-rate", "1"]
    demo = DemoProcess([*args, *bot_args])
    url = demo.start()
    try:
        client = client_for(url, SocketIOProtocol(**settings)).client
        for prompt in ("How do I get a refund?", "Where is my order?"):
            reply = client.ask(prompt)
            assert isinstance(reply.error, BotError), (mode, reply.error)
            assert reply.error.kind == "bot_error"
            assert "model overloaded" in str(reply.error)
        assert client.connected  # a bot error ends the reply, not the connection
        client.close()
    finally:
        demo.stop()
