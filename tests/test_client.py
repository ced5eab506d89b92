"""ChatClient against real servers: the demo bot in a subprocess, or a raw server in this process."""

from __future__ import annotations

import json
import socket

import gevent
import pytest

from wslocust.client import ChatClient, check_url, parse_connect_to
from wslocust.errors import (
    BotError,
    ConfigurationError,
    ConnectError,
    ConnectionClosed,
    HandshakeRejected,
    ProtocolError,
    ReplyTimeout,
)
from wslocust.wire.frames import OP_TEXT, FrameReader, encode_frame
from wslocust.wire.protocols import JsonProtocol, OpenAIRealtimeProtocol, PlainProtocol, get_protocol
from wslocust.wire.sessions import session_protocol

from .conftest import SAMPLE, UNIT, RawServer, free_port, wait_until

TOLERANCE_MS = 12 * UNIT
"""How far a measured time may exceed the delay the server injected (scheduling, loopback)."""

FIRST = json.loads(SAMPLE.read_text(encoding="utf-8").splitlines()[0])


def client_for(environment, url: str, protocol=None, **kwargs) -> ChatClient:  # type: ignore[no-untyped-def]
    return ChatClient(environment, url, protocol or PlainProtocol(), **kwargs)


@pytest.mark.parametrize("name", ["plain", "json", "apigw", "openai-realtime"])
def test_every_builtin_protocol_gets_the_datasets_answer_from_the_demo_bot(recorded_env, demo, name) -> None:
    environment, recorded = recorded_env
    url = demo("--ttft-ms", "5", "--itl-ms", "1", "--chunks", "4")
    client = client_for(environment, url, get_protocol(name)())
    reply = client.ask(FIRST["Question"], name="billing")
    assert reply.ok, reply.error
    assert reply.text == FIRST["Answer"]
    assert reply.chunks == (1 if name == "plain" else 4)
    [event] = recorded.of("WS")
    assert event["name"] == "billing"
    assert event["exception"] is None
    assert event["response_length"] == reply.bytes > len(FIRST["Answer"].encode()) - 1
    assert event["context"]["reply"] == FIRST["Answer"]
    assert event["context"]["chunks"] == reply.chunks
    client.close()


def test_connect_fires_one_connect_event_with_the_handshake_time(recorded_env, demo) -> None:
    environment, recorded = recorded_env
    client = client_for(environment, demo())
    assert client.connect()
    [event] = recorded.of("CONNECT")
    assert event["exception"] is None
    assert 0 < event["response_time"] < 1000 * UNIT
    client.close()


def test_streamed_timing_matches_the_delays_the_server_injects(recorded_env, demo) -> None:
    environment, recorded = recorded_env
    url = demo("--ttft-ms", "120", "--itl-ms", "25", "--chunks", "6")
    client = client_for(environment, url, JsonProtocol())
    client.connect()
    for _ in range(3):
        reply = client.ask(FIRST["Question"])
        assert reply.ok
        assert reply.time_to_first_chunk_ms is not None
        assert 120 <= reply.time_to_first_chunk_ms <= 120 + TOLERANCE_MS
        assert 120 + 5 * 25 <= reply.total_time_ms <= 120 + 5 * 25 + TOLERANCE_MS
        gaps = [b - a for a, b in zip(reply.chunk_times_ms, reply.chunk_times_ms[1:], strict=False)]
        assert len(gaps) == 5
        assert all(25 - TOLERANCE_MS <= gap <= 25 + TOLERANCE_MS for gap in gaps)
    # response_time keeps sub-millisecond precision
    assert any(event["response_time"] != round(event["response_time"]) for event in recorded.of("WS"))


def test_a_reply_that_never_completes_is_a_timeout_failure_and_the_next_ask_reconnects(
    recorded_env, demo
) -> None:
    environment, recorded = recorded_env
    url = demo("--ttft-ms", "1", "--itl-ms", "1", "--hang-rate", "1")
    client = client_for(environment, url, JsonProtocol(), reply_timeout_s=0.3 * UNIT)
    reply = client.ask("hello")
    assert isinstance(reply.error, ReplyTimeout)
    assert 300 * UNIT <= reply.total_time_ms <= 300 * UNIT + 200
    assert reply.chunks > 0  # chunks came; the end never did
    assert not client.connected
    client.ask("hello")
    assert len(recorded.of("CONNECT")) == 2
    assert [type(event["exception"]) for event in recorded.of("WS")] == [ReplyTimeout, ReplyTimeout]


def test_a_close_mid_reply_is_a_failure_naming_the_close_code(recorded_env, demo) -> None:
    environment, recorded = recorded_env
    url = demo("--ttft-ms", "1", "--itl-ms", "1", "--chunks", "6", "--close-rate", "1")
    client = client_for(environment, url, JsonProtocol())
    reply = client.ask("hello")
    assert isinstance(reply.error, ConnectionClosed)
    assert reply.error.code == 1011
    assert "code 1011" in str(reply.error)
    assert not client.connected
    [event] = recorded.of("WS")
    assert event["exception"] is reply.error


def test_a_bot_error_event_is_a_failure_and_the_connection_stays_open(recorded_env, demo) -> None:
    environment, _ = recorded_env
    url = demo("--ttft-ms", "1", "--itl-ms", "1", "--error-rate", "1")
    client = client_for(environment, url, JsonProtocol())
    reply = client.ask("hello")
    assert isinstance(reply.error, BotError)
    assert "model overloaded" in str(reply.error)
    assert client.connected


def test_a_refused_handshake_is_a_connect_failure_carrying_the_http_status(recorded_env, demo) -> None:
    environment, recorded = recorded_env
    url = demo("--require-header", "Authorization: Bearer s3cret-token")
    client = client_for(environment, url)
    reply = client.ask("hello")
    assert not client.connected
    [event] = recorded.of("CONNECT")
    assert isinstance(event["exception"], HandshakeRejected)
    assert event["exception"].status == 401
    assert "401" in str(event["exception"])
    assert isinstance(reply.error, ConnectError)
    assert recorded.of("WS") == []  # the prompt was never sent: the CONNECT event carries the failure


def test_a_header_read_from_the_environment_authenticates_and_never_shows(
    recorded_env, demo, monkeypatch
) -> None:
    environment, recorded = recorded_env
    monkeypatch.setenv("BOT_TOKEN", "s3cret-token")
    url = demo("--require-header", "Authorization: Bearer s3cret-token")
    client = client_for(environment, url, headers=["Authorization: Bearer ${BOT_TOKEN}"])
    assert client.ask("hello").ok
    assert "s3cret" not in repr(recorded.events)


def test_a_header_naming_an_unset_variable_is_a_configuration_error_without_the_value(
    recorded_env, demo
) -> None:
    environment, _ = recorded_env
    client = client_for(environment, demo(), headers=["Authorization: Bearer ${WSLOCUST_SURELY_UNSET}"])
    with pytest.raises(ConfigurationError, match="WSLOCUST_SURELY_UNSET"):
        client.connect()


def test_a_refused_connection_is_a_connect_failure_naming_the_address(recorded_env) -> None:
    environment, recorded = recorded_env
    port = free_port()
    client = client_for(environment, f"ws://127.0.0.1:{port}/")
    assert not client.connect()
    [event] = recorded.of("CONNECT")
    assert isinstance(event["exception"], ConnectError)
    assert f"connection refused: 127.0.0.1:{port}" in str(event["exception"])


def test_repeated_connect_failures_back_off_instead_of_hammering(recorded_env) -> None:
    environment, recorded = recorded_env
    client = client_for(environment, f"ws://127.0.0.1:{free_port()}/")
    with gevent.Timeout(1.0, False):
        while True:
            client.ask("hello")
    # 0.1 + 0.2 + 0.4 s of backoff fit in one second: at most five attempts, not thousands
    assert 2 <= len(recorded.of("CONNECT")) <= 5


def test_a_url_that_is_not_websocket_is_a_configuration_error(recorded_env) -> None:
    environment, _ = recorded_env
    with pytest.raises(ConfigurationError, match=r"ws:// or wss://"):
        client_for(environment, "http://127.0.0.1:1/")


def test_connect_to_dials_another_address_keeping_the_urls_host_header(recorded_env, raw_server) -> None:
    environment, _ = recorded_env
    server: RawServer = raw_server(_echo_plain)
    url = f"ws://bot.example.invalid:{server.port}/prod"
    client = client_for(environment, url, connect_to=f"127.0.0.1:{server.port}")
    reply = client.ask("ping?")
    assert reply.ok
    assert reply.text == "echo: ping?"
    assert server.seen_headers[0]["host"] == f"bot.example.invalid:{server.port}"


def test_origin_subprotocol_and_headers_reach_the_server(recorded_env, raw_server) -> None:
    environment, _ = recorded_env
    server: RawServer = raw_server(_echo_plain)
    client = client_for(
        environment,
        f"ws://127.0.0.1:{server.port}/",
        origin="https://example.com",
        headers=["X-Tenant: blue"],
    )
    assert client.connect()
    headers = server.seen_headers[0]
    assert headers["origin"] == "https://example.com"
    assert headers["x-tenant"] == "blue"


def test_a_frame_breaking_the_websocket_rules_is_a_protocol_error(recorded_env, raw_server) -> None:
    environment, recorded = recorded_env

    def send_reserved_bits(sock: socket.socket, _headers: dict[str, str]) -> None:
        sock.recv(4096)
        sock.sendall(bytes([0xF1, 0x02]) + b"hi")  # RSV1-3 set, no extension negotiated
        gevent.sleep(1)

    server = raw_server(send_reserved_bits)
    reply = client_for(environment, f"ws://127.0.0.1:{server.port}/").ask("hello")
    assert isinstance(reply.error, ProtocolError)
    assert "reserved bits" in str(reply.error)
    assert recorded.of("WS")[0]["exception"] is reply.error


def test_garbage_instead_of_json_is_a_protocol_error(recorded_env, demo) -> None:
    environment, _ = recorded_env
    url = demo("--ttft-ms", "1", "--itl-ms", "1", "--garbage-rate", "1")
    reply = client_for(environment, url, JsonProtocol()).ask("hello")
    assert isinstance(reply.error, ProtocolError)
    assert "not JSON" in str(reply.error)


def test_a_server_dropping_the_tcp_connection_mid_reply_is_a_closed_failure(recorded_env, raw_server) -> None:
    environment, _ = recorded_env

    def drop(sock: socket.socket, _headers: dict[str, str]) -> None:
        sock.recv(4096)
        sock.sendall(encode_frame(OP_TEXT, json.dumps({"type": "chunk", "text": "par"}).encode(), mask=False))
        sock.close()

    server = raw_server(drop)
    reply = client_for(environment, f"ws://127.0.0.1:{server.port}/", JsonProtocol()).ask("hello")
    assert isinstance(reply.error, ConnectionClosed)
    assert reply.text == "par"


def test_server_pings_are_answered_while_the_user_is_idle(recorded_env, demo) -> None:
    environment, recorded = recorded_env
    url = demo("--ping-interval-s", "0.1", "--ping-timeout-s", "0.3", "--ttft-ms", "1", "--itl-ms", "1")
    client = client_for(environment, url, JsonProtocol())
    assert client.ask("hello").ok
    gevent.sleep(1.0 * UNIT)  # more than three ping timeouts
    assert client.pings_answered >= 3
    assert client.ask("hello").ok
    assert len(recorded.of("CONNECT")) == 1


def test_a_message_pushed_between_replies_is_not_counted_in_the_next_reply(recorded_env, demo) -> None:
    environment, _ = recorded_env
    url = demo("--push-delay-ms", "20", "--ttft-ms", "60", "--itl-ms", "1", "--chunks", "1")
    client = client_for(environment, url, PlainProtocol())
    first = client.ask(FIRST["Question"])
    assert wait_until(lambda: client.pushed_messages == 1, 2 * UNIT)
    second = client.ask(FIRST["Question"])
    assert second.text == first.text == FIRST["Answer"]
    assert second.time_to_first_chunk_ms is not None
    assert second.time_to_first_chunk_ms >= 60


def test_a_push_read_in_the_same_block_as_a_reply_end_is_dropped(recorded_env, raw_server) -> None:
    environment, _ = recorded_env

    def reply_then_push(sock: socket.socket, _headers: dict[str, str]) -> None:
        reader = FrameReader(accept_masked=True)
        for _ in range(2):
            while not reader.feed(sock.recv(4096)):
                pass
            sock.sendall(
                encode_frame(OP_TEXT, b"answer", mask=False) + encode_frame(OP_TEXT, b"push", mask=False)
            )

    server = raw_server(reply_then_push)
    client = client_for(environment, f"ws://127.0.0.1:{server.port}/")
    assert client.ask("one").text == "answer"
    assert client.ask("two").text == "answer"
    assert client.pushed_messages >= 1


def test_openai_realtime_replies_ignore_other_responses_events(recorded_env, raw_server) -> None:
    environment, _ = recorded_env

    def realtime(sock: socket.socket, _headers: dict[str, str]) -> None:
        reader = FrameReader(accept_masked=True)
        received: list[tuple[int, bytes]] = []
        while len(received) < 2:
            received += reader.feed(sock.recv(4096))
        events = [
            {"type": "response.created", "response": {"id": "mine"}},
            {"type": "response.output_text.delta", "response_id": "other", "delta": "NOISE"},
            {"type": "response.output_text.delta", "response_id": "mine", "delta": "Hello"},
            {"type": "response.done", "response": {"id": "other", "status": "completed"}},
            {"type": "response.output_text.delta", "response_id": "mine", "delta": " there"},
            {"type": "response.done", "response": {"id": "mine", "status": "completed"}},
        ]
        sock.sendall(
            b"".join(encode_frame(OP_TEXT, json.dumps(event).encode(), mask=False) for event in events)
        )
        gevent.sleep(1)

    server = raw_server(realtime)
    reply = client_for(environment, f"ws://127.0.0.1:{server.port}/", OpenAIRealtimeProtocol()).ask("hi")
    assert reply.ok
    assert reply.text == "Hello there"
    assert reply.chunks == 2


@pytest.mark.parametrize("on_connect", [(), ('{"type": "session.update", "session": {}}',)])
def test_openai_realtime_reads_a_new_connections_responses_whose_ids_restart(
    recorded_env, raw_server, on_connect
) -> None:
    """A server numbering responses per connection reuses an earlier connection's ids: each
    connection's own response is read, none is taken for a late event of an earlier connection's
    (with an on-connect session around the protocol too)."""
    environment, _ = recorded_env

    def numbered_per_connection(sock: socket.socket, _headers: dict[str, str]) -> None:
        reader = FrameReader(accept_masked=True)
        while data := sock.recv(4096):
            for opcode, payload in reader.feed(data):
                if opcode == OP_TEXT and json.loads(payload)["type"] == "response.create":
                    events = [
                        {"type": "response.created", "response": {"id": "resp_1"}},
                        {"type": "response.output_text.delta", "response_id": "resp_1", "delta": "again"},
                        {"type": "response.done", "response": {"id": "resp_1", "status": "completed"}},
                    ]
                    sock.sendall(
                        b"".join(encode_frame(OP_TEXT, json.dumps(e).encode(), mask=False) for e in events)
                    )

    server = raw_server(numbered_per_connection)
    protocol = session_protocol(OpenAIRealtimeProtocol(), on_connect=on_connect)
    client = client_for(environment, f"ws://127.0.0.1:{server.port}/", protocol, reply_timeout_s=2 * UNIT)
    replies = []
    for prompt in ("first", "second", "third"):
        replies.append(client.ask(prompt))
        client.close()
    assert [(reply.ok, reply.text, str(reply.error or "")) for reply in replies] == [(True, "again", "")] * 3
    assert len(server.seen_headers) == 3


def _echo_plain(sock: socket.socket, _headers: dict[str, str]) -> None:
    reader = FrameReader(accept_masked=True)
    while True:
        data = sock.recv(4096)
        if not data:
            return
        for opcode, payload in reader.feed(data):
            if opcode == OP_TEXT:
                sock.sendall(encode_frame(OP_TEXT, b"echo: " + payload, mask=False))


def test_tls_certificates_are_verified_by_default(recorded_env, tls_server) -> None:
    environment, recorded = recorded_env
    server = tls_server(_echo_plain)
    client = client_for(environment, f"wss://bot.test:{server.port}/", connect_to=f"127.0.0.1:{server.port}")
    assert not client.connect()
    error = recorded.of("CONNECT")[0]["exception"]
    assert isinstance(error, ConnectError)
    assert "TLS failed" in str(error)


def test_insecure_skips_tls_verification_and_keeps_the_server_name(recorded_env, tls_server) -> None:
    environment, _ = recorded_env
    server = tls_server(_echo_plain)
    client = client_for(
        environment, f"wss://bot.test:{server.port}/", connect_to=f"127.0.0.1:{server.port}", verify_tls=False
    )
    reply = client.ask("secure?")
    assert reply.ok
    assert reply.text == "echo: secure?"
    assert server.seen_headers[0]["host"] == f"bot.test:{server.port}"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("10.0.0.1", ("10.0.0.1", 443)),
        ("10.0.0.1:8443", ("10.0.0.1", 8443)),
        ("[::1]:9000", ("::1", 9000)),
        ("::1", ("::1", 443)),
        ("bot-2.internal_lb.example.", ("bot-2.internal_lb.example.", 443)),
    ],
)
def test_connect_to_accepts_host_host_port_and_ipv6(spec: str, expected: tuple[str, int]) -> None:
    assert parse_connect_to(spec, 443) == expected


def test_connect_to_with_a_bad_port_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="port"):
        parse_connect_to("127.0.0.1:http", 443)


def test_a_reply_on_a_connection_opened_by_ask_is_read_whole(recorded_env, demo) -> None:
    """The idle watch of a fresh connection must not read frames of the reply being collected."""
    environment, _ = recorded_env
    url = demo("--ttft-ms", "2", "--itl-ms", "2", "--chunks", "30")
    for _ in range(5):
        client = client_for(environment, url, JsonProtocol(), reply_timeout_s=5 * UNIT)
        reply = client.ask(FIRST["Question"])  # no connect() first: ask opens the connection
        assert reply.ok, reply.error
        assert reply.chunks == 30
        assert client.pushed_messages == 0
        client.close()


def test_the_idle_watch_is_off_while_a_reply_is_collected(recorded_env, demo) -> None:
    """Whether ask() connects or reuses the connection, nothing but ask() reads during a round trip:
    the idle reader cannot be woken once the prompt is being made (the lean path's watcher then
    wakes the round trip's own waiter)."""
    environment, _ = recorded_env
    watching: list[bool] = []

    class Spy(JsonProtocol):
        def request(self, prompt, record):  # type: ignore[no-untyped-def]
            watcher = client._idle_watcher
            watching.append(
                watcher is not None and watcher.active and watcher.callback == client._on_idle_readable
            )
            return super().request(prompt, record)

    client = client_for(environment, demo("--ttft-ms", "1", "--itl-ms", "1"), Spy())
    assert client.ask("first").ok  # connects inside ask
    assert client.ask("second").ok  # reuses the connection
    assert watching == [False, False]


def _tcp_server(handler):  # type: ignore[no-untyped-def]
    from gevent.server import StreamServer

    server = StreamServer(("127.0.0.1", 0), handler)
    server.start()
    return server


def test_a_server_that_never_answers_the_handshake_is_a_connect_timeout(recorded_env) -> None:
    environment, recorded = recorded_env
    server = _tcp_server(lambda sock, _address: gevent.sleep(5))
    try:
        client = client_for(environment, f"ws://127.0.0.1:{server.address[1]}/", connect_timeout_s=0.3 * UNIT)
        assert not client.connect()
    finally:
        server.stop(timeout=0)
    [event] = recorded.of("CONNECT")
    assert isinstance(event["exception"], ConnectError)
    assert "no handshake within" in str(event["exception"])
    assert event["response_time"] >= 300 * UNIT


def test_a_server_answering_the_upgrade_with_garbage_is_a_connect_failure(recorded_env) -> None:
    environment, recorded = recorded_env

    def garbage(sock: socket.socket, _address: object) -> None:
        sock.recv(4096)
        sock.sendall(b"\x00\x01 not http at all\r\n\r\n")

    server = _tcp_server(garbage)
    try:
        client = client_for(environment, f"ws://127.0.0.1:{server.address[1]}/", connect_timeout_s=2 * UNIT)
        assert not client.connect()
    finally:
        server.stop(timeout=0)
    [event] = recorded.of("CONNECT")
    assert isinstance(event["exception"], ConnectError)
    assert f"127.0.0.1:{server.address[1]}" in str(event["exception"])


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://bot.example/chat?token=s3cret", "'http://bot.example/chat?***'"),
        ("ws://user:s3cret@[::1/chat", "'ws://***@[::1/chat'"),
        ("ws://bot.example:0/chat#s3cret", "'ws://bot.example:0/chat#***'"),
    ],
)
def test_a_refused_url_is_quoted_without_its_user_info_query_or_fragment(url: str, shown: str) -> None:
    """A token put in --host's query or user info must not reach the log through the error."""
    with pytest.raises(ConfigurationError) as raised:
        check_url(url, "--host")
    assert "s3cret" not in str(raised.value)
    assert shown in str(raised.value)
