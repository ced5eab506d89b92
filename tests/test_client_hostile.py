"""ChatClient against hostile servers, written byte by byte on 127.0.0.1:0: redirected upgrades (no
secret leaves the URL's origin), masked server frames, a trickled handshake, close frames that may not
be sent."""

from __future__ import annotations

from locust import constant, task
from locust.env import Environment
from locust.event import Events

import argparse
import base64
import hashlib
import logging
import socket
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import gevent
import gevent.event
import pytest
from gevent.server import StreamServer

from wslocust.client import ChatClient
from wslocust.errors import (
    ConfigurationError,
    ConnectError,
    ConnectionClosed,
    HandshakeRejected,
    ProtocolError,
)
from wslocust.users import WebSocketUser
from wslocust.wire.frames import OP_CLOSE, OP_TEXT, FrameReader, encode_frame, parse_close
from wslocust.wire.protocols import PlainProtocol

from .conftest import UNIT, read_request_head, wait_until

SECRET = "s3cret-token"


@dataclass
class Server:
    """A TCP server on 127.0.0.1:0 whose ``handler(server, sock)`` writes every byte it answers.

    ``received`` holds every byte each connection sent, so a test can show what never reached it.
    """

    handler: Callable[[Server, socket.socket], None]
    received: list[bytes] = field(default_factory=list)
    close_codes: list[int | None] = field(default_factory=list)
    stream: StreamServer | None = None

    @property
    def port(self) -> int:
        assert self.stream is not None
        port: int = self.stream.address[1]
        return port

    @property
    def origin(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def _serve(self, sock: socket.socket, _address: Any) -> None:
        self.handler(self, sock)

    def read_request(self, sock: socket.socket) -> bytes:
        """Read one HTTP request head, recording it."""
        request = read_request_head(sock)
        self.received.append(request)
        return request

    def read_frames(self, sock: socket.socket) -> None:
        """Read the client's frames until it closes the connection, recording its close code."""
        reader = FrameReader(accept_masked=True)
        while data := sock.recv(4096):
            self.received.append(data)
            for opcode, payload in reader.feed(data):
                if opcode == OP_CLOSE:
                    self.close_codes.append(parse_close(payload)[0])


@pytest.fixture
def server() -> Iterator[Callable[[Callable[[Server, socket.socket], None]], Server]]:
    """Start :class:`Server` instances: ``one = server(handler)``; all stop after the test."""
    started: list[Server] = []

    def start(handler: Callable[[Server, socket.socket], None]) -> Server:
        one = Server(handler)
        one.stream = StreamServer(("127.0.0.1", 0), one._serve)
        one.stream.start()
        started.append(one)
        return one

    yield start
    for one in started:
        assert one.stream is not None
        one.stream.stop(timeout=1)


def upgrade_answer(request: bytes) -> bytes:
    """The 101 answer that accepts a recorded upgrade request."""
    key = next(
        line.split(b":", 1)[1].strip()
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key:")
    )
    accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )


def redirecting(
    status: int, location: Callable[[Server], str | None]
) -> Callable[[Server, socket.socket], None]:
    """A handler answering every upgrade with ``status`` and the ``Location`` it gives (none for None)."""

    def handler(server: Server, sock: socket.socket) -> None:
        server.read_request(sock)
        where = location(server)
        header = f"Location: {where}\r\n" if where is not None else ""
        sock.sendall(f"HTTP/1.1 {status} Moved\r\n{header}Content-Length: 0\r\n\r\n".encode())

    return handler


def upgrading_then_echoing(server: Server, sock: socket.socket) -> None:
    """Accept the upgrade, then answer each text message with ``echo: `` and the message."""
    sock.sendall(upgrade_answer(server.read_request(sock)))
    reader = FrameReader(accept_masked=True)
    while data := sock.recv(4096):
        for opcode, payload in reader.feed(data):
            if opcode == OP_TEXT:
                sock.sendall(encode_frame(OP_TEXT, b"echo: " + payload, mask=False))


def secret_client(environment: Environment, url: str, **kwargs: Any) -> ChatClient:
    """A client whose header and query both carry SECRET, read from the environment."""
    return ChatClient(
        environment,
        url,
        PlainProtocol(),
        headers=["Authorization: Bearer ${BOT_TOKEN}"],
        query="token=${BOT_TOKEN}",
        connect_timeout_s=2 * UNIT,
        **kwargs,
    )


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_TOKEN", SECRET)


# -- redirects --------------------------------------------------------------------------------------


@pytest.mark.parametrize("follow_redirects", [False, True])
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_origin_is_a_failed_connect_and_no_secret_reaches_it(
    recorded_env, server, token, status: int, follow_redirects: bool
) -> None:
    environment, recorded = recorded_env
    elsewhere = server(upgrading_then_echoing)
    redirector = server(redirecting(status, lambda _: f"{elsewhere.origin}/chat"))
    client = secret_client(environment, f"{redirector.origin}/chat", follow_redirects=follow_redirects)
    assert not client.connect()
    assert not client.connected
    [event] = recorded.of("CONNECT")
    error = event["exception"]
    assert isinstance(error, HandshakeRejected)
    assert error.kind == "handshake_rejected"
    assert error.status == status
    assert str(error) == (
        f"handshake redirected (HTTP {status}) to {elsewhere.origin}; not followed: another origin than the URL's"
    )
    assert SECRET.encode() in redirector.received[0]  # it was given for this host
    assert elsewhere.received == []  # the other host was never even dialled
    assert SECRET not in repr(recorded.events)


@pytest.mark.parametrize(
    "location",
    [
        lambda redirector: f"wss://127.0.0.1:{redirector.port}/chat",  # another scheme
        lambda redirector: f"ws://localhost:{redirector.port}/chat",  # another host name
        lambda redirector: f"ws://127.0.0.1:{redirector.port + 1}/chat",  # another port
        lambda redirector: f"ws://user:{SECRET}@127.0.0.1:{redirector.port + 1}/chat?token={SECRET}",
    ],
    ids=["scheme", "host", "port", "userinfo-and-query"],
)
def test_follow_redirects_refuses_every_redirect_that_leaves_the_urls_origin(
    recorded_env, server, token, location: Callable[[Server], str]
) -> None:
    environment, recorded = recorded_env
    redirector = server(redirecting(302, location))
    client = secret_client(environment, f"{redirector.origin}/chat", follow_redirects=True)
    assert not client.connect()
    [event] = recorded.of("CONNECT")
    assert isinstance(event["exception"], HandshakeRejected)
    assert "another origin than the URL's" in str(event["exception"])
    assert len(redirector.received) == 1
    assert SECRET not in repr(recorded.events)  # the Location's user and query are not shown


def test_a_redirect_within_the_origin_is_not_followed_by_default(recorded_env, server, token) -> None:
    environment, recorded = recorded_env
    redirector = server(redirecting(307, lambda _: "/v2/chat"))
    client = secret_client(environment, f"{redirector.origin}/chat")
    assert not client.connect()
    [event] = recorded.of("CONNECT")
    assert str(event["exception"]) == (
        f"handshake redirected (HTTP 307) to {redirector.origin}; not followed: give --follow-redirects"
    )
    assert len(redirector.received) == 1


@pytest.mark.parametrize(
    "location",
    [
        lambda server: "/new",
        lambda server: f"{server.origin}/new",
        lambda server: f"http://127.0.0.1:{server.port}/new",  # the HTTP name of the same origin
    ],
    ids=["relative", "absolute", "http-scheme"],
)
def test_follow_redirects_follows_a_redirect_within_the_origin(
    recorded_env, server, token, location: Callable[[Server], str]
) -> None:
    environment, recorded = recorded_env

    def moved(server: Server, sock: socket.socket) -> None:
        if not server.received:
            redirecting(302, location)(server, sock)
        else:
            upgrading_then_echoing(server, sock)

    bot = server(moved)
    client = secret_client(environment, f"{bot.origin}/old", follow_redirects=True)
    reply = client.ask("hello")
    assert reply.ok, reply.error
    assert reply.text == "echo: hello"
    [event] = recorded.of("CONNECT")
    assert event["exception"] is None
    first, second = bot.received[:2]
    assert first.startswith(b"GET /old?token=" + SECRET.encode())
    assert second.startswith(b"GET /new HTTP/1.1")  # the Location as given
    assert f"Authorization: Bearer {SECRET}".encode() in second  # the same origin: headers go again


def test_follow_redirects_stops_after_three_redirects(recorded_env, server, token) -> None:
    environment, recorded = recorded_env
    looping = server(redirecting(302, lambda _: "/again"))
    client = secret_client(environment, f"{looping.origin}/chat", follow_redirects=True)
    assert not client.connect()
    [event] = recorded.of("CONNECT")
    assert isinstance(event["exception"], HandshakeRejected)
    assert str(event["exception"]) == "handshake redirected more than 3 times (HTTP 302)"
    assert len(looping.received) == 4


def test_a_redirect_without_a_location_is_a_failed_connect(recorded_env, server) -> None:
    environment, recorded = recorded_env
    bot = server(redirecting(301, lambda _: None))
    client = ChatClient(environment, f"{bot.origin}/", PlainProtocol(), follow_redirects=True)
    assert not client.connect()
    [event] = recorded.of("CONNECT")
    assert str(event["exception"]) == "handshake redirected (HTTP 301) with no Location"


def asking_users(host: str, token: str) -> tuple[Environment, Any, list[BaseException]]:
    """An in-process runner of users asking ``host`` with an ``Authorization`` header of ``token``,
    and the list of the errors that escape them (Locust's ``user_error``)."""

    class Asker(WebSocketUser):
        wait_time = constant(0.05 * UNIT)

        @task
        def ask(self) -> None:
            self.client.ask("hello")

    Asker.host = host
    Asker.headers = (f"Authorization: Bearer {token}",)
    environment = Environment(user_classes=[Asker], events=Events())
    user_errors: list[BaseException] = []
    environment.events.user_error.add_listener(lambda exception, **_: user_errors.append(exception))
    return environment, environment.create_local_runner(), user_errors


def test_users_redirected_elsewhere_keep_running_and_count_each_failed_connect(server, token) -> None:
    """The redirect once killed every user from the idle watcher (a closed socket's fd, -1)."""
    elsewhere = server(upgrading_then_echoing)
    redirector = server(redirecting(302, lambda _: f"{elsewhere.origin}/"))

    environment, runner, user_errors = asking_users(f"{redirector.origin}/", "${BOT_TOKEN}")
    try:
        runner.start(3, spawn_rate=100)
        assert wait_until(lambda: environment.stats.get("connect", "CONNECT").num_failures >= 6, 5 * UNIT)
        assert runner.user_count == 3
        assert all(not greenlet.dead for greenlet in runner.user_greenlets)
    finally:
        runner.quit()
    assert user_errors == []
    assert (
        environment.stats.get("connect", "CONNECT").num_requests
        == environment.stats.get("connect", "CONNECT").num_failures
    )
    assert elsewhere.received == []


# -- header injection -------------------------------------------------------------------------------

INJECTION = "abc\r\nX-Evil: 1"


@pytest.mark.parametrize(
    ("settings", "what"),
    [
        ({"headers": ["Authorization: Bearer ${TOK}"]}, "a handshake header holds a control character"),
        ({"query": "token=${TOK}"}, "the query holds a space or control character"),
        ({"origin": "https://a.example\r\nX-Evil: 1"}, "the origin holds a control character"),
    ],
    ids=["header", "query", "origin"],
)
def test_a_line_break_in_a_handshake_setting_is_refused_before_dialling(
    recorded_env, server, monkeypatch: pytest.MonkeyPatch, settings: dict[str, Any], what: str
) -> None:
    monkeypatch.setenv("TOK", INJECTION)
    environment, _ = recorded_env
    bot = server(upgrading_then_echoing)
    client = ChatClient(environment, bot.origin, PlainProtocol(), connect_timeout_s=2 * UNIT, **settings)
    with pytest.raises(ConfigurationError) as refused:
        client.connect()
    assert str(refused.value).startswith(what)
    assert "X-Evil" not in str(refused.value)
    assert bot.received == []  # not even dialled


def test_the_same_settings_without_a_line_break_reach_the_wire(recorded_env, server, monkeypatch) -> None:
    """The control for the test above: the server records what a client sends it."""
    monkeypatch.setenv("TOK", "abc")
    environment, _ = recorded_env
    bot = server(upgrading_then_echoing)
    client = ChatClient(
        environment, bot.origin, PlainProtocol(), headers=["Authorization: Bearer ${TOK}"], query="token=${TOK}",
        origin="https://a.example", connect_timeout_s=2 * UNIT,
    )  # fmt: skip
    assert client.connect()
    client.close()
    assert wait_until(lambda: bot.received, 2 * UNIT)
    request = bot.received[0]
    assert request.startswith(b"GET /?token=abc HTTP/1.1\r\n")
    assert b"\r\nAuthorization: Bearer abc\r\n" in request
    assert b"\r\nOrigin: https://a.example\r\n" in request


AWKWARD_TOKEN = "a&b=c+d e#f%2F"
"""A token holding what a query string reads as syntax: separators, a plus, a space, a fragment mark."""


def test_a_token_with_query_syntax_reaches_the_server_as_one_percent_encoded_value(
    recorded_env, server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOK", AWKWARD_TOKEN)
    environment, _ = recorded_env
    bot = server(upgrading_then_echoing)
    client = ChatClient(
        environment, f"{bot.origin}/chat", PlainProtocol(), headers=["Authorization: Bearer ${TOK}"],
        query="token=${TOK}&lang=en", connect_timeout_s=2 * UNIT,
    )  # fmt: skip
    assert client.connect()
    client.close()
    assert wait_until(lambda: bot.received, 2 * UNIT)
    request_line, _, head = bot.received[0].partition(b"\r\n")
    assert request_line == b"GET /chat?token=a%26b%3Dc%2Bd%20e%23f%252F&lang=en HTTP/1.1"
    target = urlsplit(request_line.split(b" ")[1].decode())
    assert parse_qs(target.query) == {"token": [AWKWARD_TOKEN], "lang": ["en"]}
    assert f"\r\nAuthorization: Bearer {AWKWARD_TOKEN}\r\n".encode() in b"\r\n" + head


def test_a_refused_handshake_shows_the_token_neither_as_given_nor_encoded(
    recorded_env, server, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TOK", AWKWARD_TOKEN)
    environment, recorded = recorded_env
    bot = server(redirecting(401, lambda _: None))
    client = ChatClient(
        environment, f"{bot.origin}/chat", PlainProtocol(), query="token=${TOK}", connect_timeout_s=2 * UNIT
    )
    with caplog.at_level(logging.DEBUG):
        assert not client.connect()
    [event] = recorded.of("CONNECT")
    assert isinstance(event["exception"], HandshakeRejected)
    shown = f"{event['exception']!r} {event['exception']} {caplog.text}"
    for secret in (AWKWARD_TOKEN, quote(AWKWARD_TOKEN, safe=""), "e#f", "c+d"):
        assert secret not in shown


def test_a_worker_whose_variable_holds_a_line_break_counts_failed_connects_and_sends_nothing(
    server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker expands its own environment: the master's start-up check cannot see this value."""
    monkeypatch.setenv("TOK", INJECTION)
    bot = server(upgrading_then_echoing)

    environment, runner, user_errors = asking_users(bot.origin, "${TOK}")
    try:
        runner.start(2, spawn_rate=100)
        assert wait_until(lambda: environment.stats.get("connect", "CONNECT").num_failures >= 2, 5 * UNIT)
    finally:
        runner.quit()
    connect = environment.stats.get("connect", "CONNECT")
    assert connect.num_requests == connect.num_failures == 2
    [message] = [str(error.error) for error in environment.stats.errors.values()]
    assert "a handshake header holds a control character" in message
    assert "X-Evil" not in message
    assert user_errors == []
    assert bot.received == []


def test_follow_redirects_is_read_from_the_class_and_from_the_option() -> None:
    class Bot(WebSocketUser):
        host = "ws://127.0.0.1:9/"

    class Following(Bot):
        follow_redirects = True

    plain = Environment(events=Events(), parsed_options=argparse.Namespace())
    given = Environment(events=Events(), parsed_options=argparse.Namespace(follow_redirects=True))
    assert not Bot.connection_settings(plain).follow_redirects
    assert Following.connection_settings(plain).follow_redirects
    assert Bot.connection_settings(given).follow_redirects


def test_a_socket_closed_under_the_client_is_dropped_not_watched(recorded_env, server) -> None:
    """A closed socket's fd is -1: watching it would raise in the user's greenlet."""
    environment, _ = recorded_env
    bot = server(upgrading_then_echoing)
    client = ChatClient(environment, f"{bot.origin}/", PlainProtocol())
    assert client.connect()
    sock = client._forget()  # as a connection closed by another hand, still held
    assert sock is not None
    sock.close()
    client._sock, client.connected = sock, True  # held as if open
    client._watch_idle()
    assert not client.connected
    assert client.ask("hello").text == "echo: hello"  # the next prompt reconnects


# -- masked frames ----------------------------------------------------------------------------------


def test_a_masked_frame_from_the_server_fails_the_connection_with_1002(recorded_env, server) -> None:
    environment, recorded = recorded_env

    def masking(server: Server, sock: socket.socket) -> None:
        sock.sendall(upgrade_answer(server.read_request(sock)))
        sock.recv(4096)
        sock.sendall(encode_frame(OP_TEXT, b"masked reply", mask=True))
        server.read_frames(sock)

    bot = server(masking)
    client = ChatClient(environment, f"{bot.origin}/", PlainProtocol())
    reply = client.ask("hello")
    assert isinstance(reply.error, ProtocolError)
    assert reply.error.kind == "protocol_error"
    assert "masked frame" in str(reply.error)
    assert reply.text == ""
    assert recorded.of("WS")[0]["exception"] is reply.error
    assert not client.connected
    assert wait_until(lambda: bot.close_codes == [1002], 2 * UNIT), bot.close_codes


def test_a_masked_frame_between_replies_fails_the_connection_with_1002(recorded_env, server) -> None:
    environment, _ = recorded_env
    replied = gevent.event.Event()

    def answer_then_mask(server: Server, sock: socket.socket) -> None:
        sock.sendall(upgrade_answer(server.read_request(sock)))
        sock.recv(4096)
        sock.sendall(encode_frame(OP_TEXT, b"answer", mask=False))
        replied.wait(2 * UNIT)  # the client has its reply: it is idle, watching the connection
        sock.sendall(encode_frame(OP_TEXT, b"masked push", mask=True))
        server.read_frames(sock)

    bot = server(answer_then_mask)
    client = ChatClient(environment, f"{bot.origin}/", PlainProtocol())
    assert client.ask("hello").text == "answer"
    replied.set()
    assert wait_until(lambda: bot.close_codes == [1002], 2 * UNIT), bot.close_codes
    assert not client.connected
    assert client.pushed_messages == 0


# -- a trickled handshake ---------------------------------------------------------------------------


def test_a_handshake_trickled_byte_by_byte_is_bounded_by_the_connect_timeout(recorded_env, server) -> None:
    """Each byte comes well within the timeout, so only a deadline on the whole connect can end it."""
    environment, recorded = recorded_env

    def trickling(server: Server, sock: socket.socket) -> None:
        answer = upgrade_answer(server.read_request(sock))
        try:
            for byte in answer:
                sock.sendall(bytes((byte,)))
                gevent.sleep(0.1 * UNIT)
        except OSError:  # the client gave up and closed the connection
            return

    bot = server(trickling)
    client = ChatClient(environment, f"{bot.origin}/", PlainProtocol(), connect_timeout_s=0.5 * UNIT)
    with gevent.Timeout(5 * UNIT):  # the whole answer takes 10 s or more: a hang fails here
        assert not client.connect()
    [event] = recorded.of("CONNECT")
    assert isinstance(event["exception"], ConnectError)
    assert str(event["exception"]) == f"no handshake within {0.5 * UNIT:g} s: 127.0.0.1:{bot.port}"
    assert 500 * UNIT <= event["response_time"] < 1000 * UNIT  # the deadline, not a byte's timeout


# -- close frames -----------------------------------------------------------------------------------


def closing_with(payload: bytes) -> Callable[[Server, socket.socket], None]:
    """A handler answering the first prompt with a close frame carrying ``payload``."""

    def handler(server: Server, sock: socket.socket) -> None:
        sock.sendall(upgrade_answer(server.read_request(sock)))
        sock.recv(4096)
        sock.sendall(encode_frame(OP_CLOSE, payload, mask=False))
        server.read_frames(sock)

    return handler


@pytest.mark.parametrize(
    "payload",
    [
        *(struct.pack("!H", code) for code in (999, 1004, 1005, 1006, 1015, 1016, 2999, 5000)),
        b"\x03",
        struct.pack("!H", 1000) + b"caf\xc3",
    ],
    ids=["999", "1004", "1005", "1006", "1015", "1016", "2999", "5000", "1-byte", "reason-not-utf8"],
)
def test_a_close_frame_that_may_not_be_sent_is_a_protocol_error(recorded_env, server, payload: bytes) -> None:
    environment, recorded = recorded_env
    bot = server(closing_with(payload))
    reply = ChatClient(environment, f"{bot.origin}/", PlainProtocol()).ask("hello")
    assert isinstance(reply.error, ProtocolError)
    assert reply.error.kind == "protocol_error"
    assert str(reply.error).startswith("close frame")
    assert recorded.of("WS")[0]["exception"] is reply.error
    assert wait_until(lambda: bot.close_codes == [1002], 2 * UNIT), bot.close_codes


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"", None),
        (struct.pack("!H", 1000), 1000),
        (struct.pack("!H", 1011) + b"overloaded", 1011),
        (struct.pack("!H", 4000), 4000),
    ],
    ids=["no-code", "1000", "1011-with-reason", "4000"],
)
def test_a_valid_close_mid_reply_is_a_closed_failure(
    recorded_env, server, payload: bytes, code: int | None
) -> None:
    environment, _ = recorded_env
    bot = server(closing_with(payload))
    reply = ChatClient(environment, f"{bot.origin}/", PlainProtocol()).ask("hello")
    assert isinstance(reply.error, ConnectionClosed)
    assert reply.error.code == code
    assert wait_until(lambda: bot.close_codes == [1000], 2 * UNIT), bot.close_codes


def test_a_close_that_may_not_be_sent_between_replies_is_answered_with_1002(recorded_env, server) -> None:
    environment, _ = recorded_env

    def answer_then_close(server: Server, sock: socket.socket) -> None:
        sock.sendall(upgrade_answer(server.read_request(sock)))
        sock.recv(4096)
        sock.sendall(encode_frame(OP_TEXT, b"answer", mask=False))
        sock.sendall(encode_frame(OP_CLOSE, struct.pack("!H", 1005), mask=False))
        server.read_frames(sock)

    bot = server(answer_then_close)
    client = ChatClient(environment, f"{bot.origin}/", PlainProtocol())
    assert client.ask("hello").text == "answer"
    assert wait_until(lambda: bot.close_codes == [1002], 2 * UNIT), bot.close_codes
    assert not client.connected
