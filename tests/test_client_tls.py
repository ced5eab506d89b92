"""``wss://`` on the lean path: TLS through an SSLObject over memory BIOs on the raw socket. The
certificate and the name are checked as before; replies are read with the kernel's receive times;
pings, streamed chunks and closes go through the TLS layer."""

from __future__ import annotations

from locust.env import Environment

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import gevent
from gevent.server import StreamServer

from wslocust.client import ChatClient
from wslocust.errors import ConnectError, ConnectionClosed, ReplyTimeout
from wslocust.tls_context import tls_context
from wslocust.wire.frames import OP_PING, OP_PONG, OP_TEXT, FrameReader, encode_close, encode_frame
from wslocust.wire.protocols import JsonProtocol, PlainProtocol, Protocol, SocketIOProtocol
from wslocust.wire.sessions import session_protocol

from .conftest import UNIT, RawServer, wait_until
from .test_client_lean_path import BLOCK_S, answer_then_block_the_process


def wss_client(
    environment: Environment,
    server: RawServer,
    protocol: Protocol | None = None,
    *,
    host: str = "bot.test",
    **kwargs: Any,
) -> ChatClient:
    """A client of ``server`` (a :func:`~tests.conftest.tls_server`) at ``wss://HOST:PORT/``, dialling
    127.0.0.1: the URL's host is the SNI name and the name checked (verification on by default)."""
    url = f"wss://{host}:{server.port}/"
    return ChatClient(
        environment, url, protocol or PlainProtocol(), connect_to=f"127.0.0.1:{server.port}", **kwargs
    )


def trusting(client: ChatClient, certificate: tuple[Path, Path]) -> ChatClient:
    """The client, trusting the test's certificate as a CA (verification stays on), in a context of
    its own: the process's shared one (:func:`~wslocust.tls_context.shared_tls_context`) stays as it is."""
    assert client._tls is not None
    client._tls = tls_context(True)
    client._tls.load_verify_locations(certificate[0])
    return client


def echo(sock: socket.socket, _headers: dict[str, str]) -> None:
    echo_keeping_pongs(sock, [])


def echo_keeping_pongs(
    sock: socket.socket, pongs: list[bytes], after_reply: Callable[[socket.socket], None] | None = None
) -> None:
    """Echo each prompt (then call ``after_reply`` with the socket), keeping each pong's payload."""
    reader = FrameReader(accept_masked=True)
    while data := sock.recv(4096):
        for opcode, payload in reader.feed(data):
            if opcode == OP_PONG:
                pongs.append(payload)
            elif opcode == OP_TEXT:
                sock.sendall(encode_frame(OP_TEXT, b"echo: " + payload, mask=False))
                if after_reply is not None:
                    after_reply(sock)


def test_a_trusted_certificate_for_the_urls_host_is_accepted_with_sni_and_the_lean_path(
    recorded_env, tls_server, bot_certificate
) -> None:
    environment, _ = recorded_env
    server = tls_server(echo)
    client = trusting(wss_client(environment, server), bot_certificate)
    reply = client.ask("secure?")
    assert reply.ok, reply.error
    assert reply.text == "echo: secure?"
    assert server.server_names == ["bot.test"]  # the URL's host as SNI, though 127.0.0.1 was dialled
    assert server.seen_headers[0]["host"] == f"bot.test:{server.port}"
    assert client._tls_socket is not None
    assert client._raw is not None  # read on the raw socket: recvmsg_into, the watcher and the timer
    assert client._stamped
    assert client.ask("again").text == "echo: again"


def test_a_self_signed_certificate_is_refused_by_default(recorded_env, tls_server) -> None:
    environment, recorded = recorded_env
    client = wss_client(environment, tls_server(echo))
    assert not client.connect()
    error = recorded.of("CONNECT")[0]["exception"]
    assert isinstance(error, ConnectError)
    assert "TLS failed" in str(error)
    assert "self-signed certificate" in str(error)


def test_a_trusted_certificate_for_another_host_name_is_refused(
    recorded_env, tls_server, bot_certificate
) -> None:
    environment, recorded = recorded_env
    client = wss_client(environment, tls_server(echo), host="other.test")
    assert not trusting(client, bot_certificate).connect()
    error = recorded.of("CONNECT")[0]["exception"]
    assert isinstance(error, ConnectError)
    assert "TLS failed" in str(error)
    assert "Hostname mismatch" in str(error)


def test_insecure_accepts_a_self_signed_certificate_on_the_lean_path(recorded_env, tls_server) -> None:
    environment, _ = recorded_env
    client = wss_client(environment, tls_server(echo), verify_tls=False)
    reply = client.ask("secure?")
    assert reply.ok, reply.error
    assert reply.text == "echo: secure?"
    assert client._raw is not None


def test_a_wss_reply_is_timed_when_it_arrives_not_when_a_busy_process_reads_it(
    recorded_env, tls_server
) -> None:
    """The kernel's receive timestamps on wss:// too (the TLS records' arrival)."""
    environment, _ = recorded_env
    client = wss_client(environment, tls_server(answer_then_block_the_process), verify_tls=False)
    assert client.connect()
    assert client._stamped
    for _ in range(2):
        started = time.perf_counter()
        reply = client.ask("hello")
        waited_ms = (time.perf_counter() - started) * 1000
        assert reply.ok, reply.error
        assert waited_ms >= BLOCK_S * 1000
        assert reply.total_time_ms < 100 * UNIT


def streamer(sock: socket.socket, _headers: dict[str, str]) -> None:
    """Each prompt: a ping, 5 chunks one send each; once the pong is in, a chunk saying so, then a
    close on the prompt "close", else the end."""
    reader = FrameReader(accept_masked=True)
    while True:
        data = sock.recv(4096)
        if not data:
            return
        for opcode, payload in reader.feed(data):
            if opcode != OP_TEXT:
                continue
            sock.sendall(encode_frame(OP_PING, b"tls-ping", mask=False))
            for index in range(5):
                gevent.sleep(0.005)
                sock.sendall(
                    encode_frame(OP_TEXT, f'{{"type": "chunk", "text": "t{index} "}}'.encode(), mask=False)
                )
            while (OP_PONG, b"tls-ping") not in reader.feed(sock.recv(4096)):
                pass
            sock.sendall(encode_frame(OP_TEXT, b'{"type": "chunk", "text": "pong seen "}', mask=False))
            if b"close" in payload:
                sock.sendall(encode_close(1011, "bye", mask=False))
                return
            sock.sendall(encode_frame(OP_TEXT, b'{"type": "end"}', mask=False))


def test_a_streamed_wss_reply_keeps_its_chunks_answers_pings_and_fails_on_a_close(
    recorded_env, tls_server
) -> None:
    environment, _ = recorded_env
    client = wss_client(environment, tls_server(streamer), JsonProtocol(), verify_tls=False)
    reply = client.ask("hello")
    assert reply.ok, reply.error
    assert reply.text == "t0 t1 t2 t3 t4 pong seen "  # the pong went out through TLS mid-reply
    assert reply.chunks == 6
    assert client.pings_answered == 1
    closed = client.ask("close")
    assert isinstance(closed.error, ConnectionClosed)
    assert "1011" in str(closed.error)
    assert not client.connected


def test_a_prompt_and_reply_of_many_tls_records_go_through_whole(recorded_env, tls_server) -> None:
    """300 KB each way: several 16 KiB records a block, records cut between reads."""
    environment, _ = recorded_env
    client = wss_client(environment, tls_server(echo), verify_tls=False)
    prompt = "".join(f"{index:06d}" for index in range(50_000))
    reply = client.ask(prompt)
    assert reply.ok, reply.error
    assert reply.text == "echo: " + prompt


def push_then_echo(sock: socket.socket, headers: dict[str, str]) -> None:
    """A message pushed right after the upgrade (it may come in the client's read of the upgrade)."""
    sock.sendall(encode_frame(OP_TEXT, b"welcome", mask=False))
    echo(sock, headers)


def test_a_message_pushed_with_the_upgrade_is_dropped_not_counted_in_the_first_reply(
    recorded_env, tls_server
) -> None:
    environment, _ = recorded_env
    client = wss_client(environment, tls_server(push_then_echo), verify_tls=False)
    assert client.connect()
    assert wait_until(lambda: client.pushed_messages == 1, 2 * UNIT)  # read with the upgrade, no prompt
    reply = client.ask("first")
    assert reply.text == "echo: first"
    assert client.pushed_messages == 1


def one_chunk_then_silence(sock: socket.socket, _headers: dict[str, str]) -> None:
    """Each prompt: one chunk, a ping, and never the end."""
    reader = FrameReader(accept_masked=True)
    while True:
        data = sock.recv(4096)
        if not data:
            return
        for opcode, _payload in reader.feed(data):
            if opcode == OP_TEXT:
                sock.sendall(encode_frame(OP_TEXT, b'{"type": "chunk", "text": "half"}', mask=False))
                sock.sendall(encode_frame(OP_PING, b"still here", mask=False))


def test_a_wss_reply_that_never_ends_times_out_on_time_after_its_chunks_and_pings(
    recorded_env, tls_server
) -> None:
    """The reply's timer ends a streamed wss:// reply read in the hub, pongs answered meanwhile."""
    environment, _ = recorded_env
    server = tls_server(one_chunk_then_silence)
    client = wss_client(environment, server, JsonProtocol(), verify_tls=False, reply_timeout_s=0.2 * UNIT)
    reply = client.ask("hello")
    assert isinstance(reply.error, ReplyTimeout)
    assert reply.chunks == 1
    assert client.pings_answered == 1
    assert 200 * UNIT <= reply.total_time_ms <= 350 * UNIT
    assert not client.connected  # a late end would be read as the next reply's


def greet_then_echo(pongs: list[bytes]):  # type: ignore[no-untyped-def]
    """A server that pings and pushes a message right after the upgrade (the bytes come with the
    upgrade's answer), then echoes prompts; the pongs it receives go to ``pongs``."""

    def handler(sock: socket.socket, _headers: dict[str, str]) -> None:
        sock.sendall(
            encode_frame(OP_PING, b"there?", mask=False) + encode_frame(OP_TEXT, b"welcome", mask=False)
        )
        echo_keeping_pongs(sock, pongs)

    return handler


def test_a_ping_and_a_message_sent_with_the_upgrade_are_read_while_the_user_is_idle(
    recorded_env, tls_server
) -> None:
    """Bytes read ahead with the upgrade's answer (held in TLS's memory, not in the socket) are
    read at once, not at the next prompt: a server's ping timeout shorter than the think time."""
    environment, _ = recorded_env
    pongs: list[bytes] = []
    server = tls_server(greet_then_echo(pongs))
    client = wss_client(environment, server, verify_tls=False)
    assert client.connect()
    assert wait_until(lambda: client.pings_answered == 1 and client.pushed_messages == 1, 2 * UNIT)
    assert wait_until(lambda: pongs == [b"there?"], 2 * UNIT)
    reply = client.ask("first")
    assert reply.text == "echo: first"
    assert client.pushed_messages == 1


def echo_then_ping_later(pongs: list[bytes]):  # type: ignore[no-untyped-def]
    """A server that echoes each prompt and pings 0.2 s (UNIT) after the reply, while the user thinks;
    the pongs it receives go to ``pongs``."""

    def ping_later(sock: socket.socket) -> None:
        gevent.sleep(0.2 * UNIT)
        sock.sendall(encode_frame(OP_PING, b"still there?", mask=False))

    def handler(sock: socket.socket, _headers: dict[str, str]) -> None:
        echo_keeping_pongs(sock, pongs, ping_later)

    return handler


def test_a_ping_between_replies_is_answered_during_a_long_think_time(recorded_env, tls_server) -> None:
    environment, _ = recorded_env
    pongs: list[bytes] = []
    server = tls_server(echo_then_ping_later(pongs))
    client = wss_client(environment, server, verify_tls=False)
    assert client.ask("first").text == "echo: first"
    assert wait_until(lambda: pongs == [b"still there?"], 3 * UNIT)  # no prompt meanwhile
    assert client.pings_answered == 1
    assert client.ask("second").text == "echo: second"


@contextmanager
def corked(sock: socket.socket) -> Iterator[None]:
    """The records sent meanwhile leave in one TCP segment (Linux's TCP_CORK), so the client's
    first read takes them all."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    try:
        yield
    finally:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)


def welcome_then_ping(pongs: list[bytes]):  # type: ignore[no-untyped-def]
    """A server that sends a welcome and then a ping (two TLS records, which arrive together) right
    after the upgrade; the pongs it receives go to ``pongs``."""

    def handler(sock: socket.socket, _headers: dict[str, str]) -> None:
        with corked(sock):
            sock.sendall(encode_frame(OP_TEXT, b'{"type": "welcome"}', mask=False))
            sock.sendall(encode_frame(OP_PING, b"there?", mask=False))
        reader = FrameReader(accept_masked=True)
        while data := sock.recv(4096):
            pongs.extend(payload for opcode, payload in reader.feed(data) if opcode == OP_PONG)

    return handler


def test_a_ping_read_with_an_awaited_welcome_is_answered_while_the_user_is_idle(
    recorded_env, tls_server
) -> None:
    """The opening's blocking read takes the welcome's record; the ping's waits in TLS's memory."""
    environment, _ = recorded_env
    pongs: list[bytes] = []
    server = tls_server(welcome_then_ping(pongs))
    protocol = session_protocol(JsonProtocol(), await_on_connect="type=welcome")
    client = wss_client(environment, server, protocol, verify_tls=False)
    assert client.connect()
    assert wait_until(lambda: pongs == [b"there?"], 2 * UNIT)
    assert client.pings_answered == 1


def engineio_connected_then_ping(answers: list[bytes], idle_s: float = 0.0):  # type: ignore[no-untyped-def]
    """An Engine.IO server that answers the namespace's connect and then pings: at once (two TLS
    records, which arrive together), or once the client has been idle ``idle_s``; what the client
    sends after its connect goes to ``answers``."""

    def handler(sock: socket.socket, _headers: dict[str, str]) -> None:
        sock.sendall(encode_frame(OP_TEXT, ENGINEIO_OPEN, mask=False))
        reader = FrameReader(accept_masked=True)
        while data := sock.recv(4096):
            for opcode, payload in reader.feed(data):
                if opcode != OP_TEXT:
                    continue
                if payload.startswith(b"40"):
                    with corked(sock) if not idle_s else nullcontext():
                        sock.sendall(encode_frame(OP_TEXT, b'40{"sid":"s1"}', mask=False))
                        gevent.sleep(idle_s)
                        sock.sendall(encode_frame(OP_TEXT, b"2", mask=False))
                else:
                    answers.append(payload)

    return handler


ENGINEIO_OPEN = b'0{"sid":"e1","upgrades":[],"pingInterval":25000,"pingTimeout":20000}'


def test_a_ping_read_with_the_opening_is_answered_on_the_path_of_a_quiet_period(
    recorded_env, tls_server
) -> None:
    """A protocol whose replies a quiet period ends reads through TLS's blocking methods: what they
    took ahead is read at once too."""
    environment, _ = recorded_env
    answers: list[bytes] = []
    server = tls_server(engineio_connected_then_ping(answers))
    protocol = SocketIOProtocol(quiet_ms=100)
    client = wss_client(environment, server, protocol, verify_tls=False)
    assert client.connect()
    assert client._raw is None  # not the lean path
    assert wait_until(lambda: answers == [b"3"], 2 * UNIT)  # Engine.IO's pong


@contextmanager
def records_in_halves(port: int) -> Iterator[int]:
    """A TCP relay to 127.0.0.1:``port`` that forwards each TLS record the server sends in two
    parts, 50 ms apart (as a slow network may cut one): yields the relay's port."""

    def pump_records(source: socket.socket, sink: socket.socket) -> None:
        held = b""
        while data := source.recv(65536):
            held += data
            while len(held) >= 5 and len(held) >= 5 + int.from_bytes(held[3:5], "big"):
                size = 5 + int.from_bytes(held[3:5], "big")
                record, held = held[:size], held[size:]
                sink.sendall(record[: size // 2])
                gevent.sleep(0.05)
                sink.sendall(record[size // 2 :])

    def pump(source: socket.socket, sink: socket.socket) -> None:
        while data := source.recv(65536):
            sink.sendall(data)

    def serve(client: socket.socket, _address: Any) -> None:
        server = socket.create_connection(("127.0.0.1", port))
        upstream = gevent.spawn(pump, client, server)
        try:
            pump_records(server, client)
        except OSError:
            pass
        finally:
            upstream.kill()
            server.close()

    relay = StreamServer(("127.0.0.1", 0), serve)
    relay.start()
    try:
        yield relay.address[1]
    finally:
        relay.stop(timeout=1)


def test_a_record_arriving_in_parts_while_idle_on_the_path_of_a_quiet_period_is_read_when_whole(
    recorded_env, tls_server
) -> None:
    """The first part of a record read while idle is held by TLS (OpenSSL takes it from the memory
    BIO into its own record buffer, so nothing is left for the idle watch to read again): the watch
    waits for the rest, and the ping it completes is answered."""
    environment, _ = recorded_env
    answers: list[bytes] = []
    server = tls_server(engineio_connected_then_ping(answers, idle_s=UNIT))
    with records_in_halves(server.port) as port:
        url = f"wss://bot.test:{port}/"
        client = ChatClient(
            environment, url, SocketIOProtocol(quiet_ms=100), connect_to=f"127.0.0.1:{port}", verify_tls=False
        )
        assert client.connect()
        assert client._raw is None  # not the lean path
        assert wait_until(lambda: answers == [b"3"], 4 * UNIT)  # Engine.IO's pong, sent while idle
        assert client.connected
