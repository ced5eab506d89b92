"""Failover, close codes and time to recover: a user's connections against real servers on 127.0.0.1."""

from __future__ import annotations

from locust.argument_parser import get_parser
from locust.env import Environment
from locust.event import Events

import socket
from collections.abc import Callable
from typing import Any

import pytest

from wslocust import ChatbotUser
from wslocust.plugin_state import PluginState, attach_state
from wslocust.stats.recorder import Recorder
from wslocust.wire.frames import OP_CLOSE, OP_TEXT, FrameReader, encode_frame

from .conftest import SAMPLE, UNIT, RawServer, free_port, wait_until

Handler = Callable[[socket.socket, dict[str, str]], None]


def _answer(sock: socket.socket, _headers: dict[str, str]) -> None:
    """Answer each prompt with one message (the plain protocol's whole reply)."""
    reader = FrameReader(accept_masked=True)
    while True:
        data = sock.recv(4096)
        if not data:
            return
        for opcode, payload in reader.feed(data):
            if opcode == OP_TEXT:
                sock.sendall(encode_frame(OP_TEXT, b"answer: " + payload, mask=False))


def _close_with(code: int) -> Handler:
    def close(sock: socket.socket, _headers: dict[str, str]) -> None:
        sock.sendall(encode_frame(OP_CLOSE, code.to_bytes(2, "big") + b"bye", mask=False))
        sock.recv(4096)  # the client's close frame

    return close


def _drop(sock: socket.socket, _headers: dict[str, str]) -> None:
    sock.close()  # no close frame: 1006


def _close_mid_reply(sock: socket.socket, _headers: dict[str, str]) -> None:
    sock.recv(4096)  # the prompt
    sock.sendall(encode_frame(OP_CLOSE, (1011).to_bytes(2, "big"), mask=False))
    sock.recv(4096)


def _user(environment: Environment, host: str, failover: list[str], **attributes: Any) -> ChatbotUser:
    bot = type("Bot", (ChatbotUser,), {"abstract": True, "host": host, "prompts": str(SAMPLE),
                                       "failover_hosts": failover, **attributes})  # fmt: skip
    user: ChatbotUser = bot(environment)
    return user


@pytest.fixture
def environment() -> Environment:
    """An environment whose users count into a recorder, with a header holding no secret."""
    options = get_parser().parse_args(["--header", "X-Tenant: acme"])
    env = Environment(events=Events(), parsed_options=options)
    attach_state(env, PluginState(recorder=Recorder()))
    return env


def _recorder(environment: Environment) -> Recorder:
    recorder = environment.wslocust_state.recorder  # type: ignore[attr-defined]
    assert isinstance(recorder, Recorder)
    return recorder


def test_a_user_refused_by_its_host_fails_over_and_names_each_request_for_its_endpoint(
    recorded_env, raw_server
) -> None:
    environment, recorded = recorded_env
    attach_state(environment, PluginState(recorder=Recorder()))
    environment.parsed_options = get_parser().parse_args([])
    backup: RawServer = raw_server(_answer)
    refused = f"ws://127.0.0.1:{free_port()}"
    user = _user(environment, refused, [f"ws://127.0.0.1:{backup.port}"])
    user.on_start()  # refused: the CONNECT event counts it
    user.ask_next()  # on the failover host
    connects = recorded.of("CONNECT")
    assert [event["name"] for event in connects] == [
        f"connect @127.0.0.1:{refused.rsplit(':', 1)[1]}",
        f"connect @127.0.0.1:{backup.port}",
    ]
    assert connects[0]["exception"].kind == "connection_refused"
    [reply] = recorded.of("WS")
    assert reply["exception"] is None
    assert reply["name"].endswith(f" @127.0.0.1:{backup.port}")
    lives = _recorder(environment).stats.lifecycle
    assert lives.failovers == 1
    assert lives.outages == 1  # from the refused connect to the reply
    assert lives.time_to_recover.count == 1
    user.on_stop()


def test_a_dropped_connection_moves_the_user_on_and_it_stays_where_it_works(environment, raw_server) -> None:
    dropping: RawServer = raw_server(_close_mid_reply)
    backup: RawServer = raw_server(_answer)
    user = _user(environment, f"ws://127.0.0.1:{dropping.port}", [f"ws://127.0.0.1:{backup.port}"])
    user.on_start()
    user.ask_next()  # closed mid-reply (1011)
    for _ in range(3):
        user.ask_next()
    lives = _recorder(environment).stats.lifecycle
    assert lives.close_codes == {"1011": 1}
    assert lives.failovers == 1
    assert lives.outages == 1
    assert len(backup.seen_headers) == 1  # one connection, kept
    # The handshake headers go to each endpoint the user was given (its own targets).
    assert [headers["x-tenant"] for headers in dropping.seen_headers + backup.seen_headers] == [
        "acme",
        "acme",
    ]
    user.on_stop()


@pytest.mark.parametrize(
    ("handler", "code"),
    [(_close_with(1001), 1001), (_close_with(4001), 4001), (_close_with(1000), 1000), (_drop, 1006)],
)
def test_a_connection_the_server_closes_while_idle_is_counted_by_close_code(
    environment, raw_server, handler: Handler, code: int
) -> None:
    server: RawServer = raw_server(handler)
    user = _user(environment, f"ws://127.0.0.1:{server.port}", [])
    user.on_start()
    lives = _recorder(environment).stats.lifecycle
    assert wait_until(lambda: bool(lives.close_codes), 5 * UNIT)
    assert lives.close_codes == {str(code): 1}
    assert not user.client.connected
    user.on_stop()


def test_an_intermittent_user_disconnects_after_its_prompts_and_waits_before_reconnecting(
    recorded_env, raw_server
) -> None:
    environment, recorded = recorded_env
    attach_state(environment, PluginState(recorder=Recorder()))
    environment.parsed_options = get_parser().parse_args(
        ["--lifecycle", "intermittent", "--prompts-per-connection", "2", "--reconnect-wait", "7"]
    )
    server: RawServer = raw_server(_answer)
    user = _user(environment, f"ws://127.0.0.1:{server.port}", [])
    user.on_start()
    user.ask_next()
    assert user.client.connected
    user.ask_next()
    assert not user.client.connected  # closed after its last prompt: away during the wait
    assert user.wait_time() == 7.0
    user.ask_next()
    assert [event["exception"] for event in recorded.of("CONNECT")] == [None, None]
    assert len(recorded.of("WS")) == 3
    assert _recorder(environment).stats.lifecycle.empty  # the user's own disconnects: no failure
    user.on_stop()


def test_a_bursty_user_keeps_its_connection_through_bursts_and_idle_times(recorded_env, raw_server) -> None:
    environment, recorded = recorded_env
    environment.parsed_options = get_parser().parse_args(
        [
            "--lifecycle",
            "bursty",
            "--burst-prompts",
            "2",
            "--burst-think-time",
            "0.25",
            "--idle-time",
            "30-60",
        ]
    )
    server: RawServer = raw_server(_answer)
    user = _user(environment, f"ws://127.0.0.1:{server.port}", [])
    user.on_start()
    waits = []
    for _ in range(4):
        user.ask_next()
        waits.append(user.wait_time())
    assert waits[0] == waits[2] == 0.25
    assert all(30.0 <= wait <= 60.0 for wait in (waits[1], waits[3]))
    assert len(recorded.of("CONNECT")) == 1
    assert user.client.connected
    user.on_stop()


def test_a_conversation_fails_over_as_a_single_prompt_does(recorded_env, raw_server, tmp_path) -> None:
    """A user asking conversations moves to the failover host when its host refuses it, and its
    outage is measured, as a user asking single prompts does."""
    environment, recorded = recorded_env
    attach_state(environment, PluginState(recorder=Recorder()))
    environment.parsed_options = get_parser().parse_args([])
    dialogues = tmp_path / "dialogues.jsonl"
    dialogues.write_text('{"name": "greeting", "turns": ["hello", "and then?"]}\n')
    backup: RawServer = raw_server(_answer)
    user = _user(environment, f"ws://127.0.0.1:{free_port()}", [f"ws://127.0.0.1:{backup.port}"],
                 prompts=str(dialogues))  # fmt: skip
    user.on_start()  # refused: the CONNECT event counts it
    user.ask_next()  # the conversation, on the failover host
    [conversation] = recorded.of("CONVERSATION")
    assert conversation["exception"] is None
    assert [event["name"] for event in recorded.of("WS")] == [
        f"greeting #1 @127.0.0.1:{backup.port}",
        f"greeting #2 @127.0.0.1:{backup.port}",
    ]
    lives = _recorder(environment).stats.lifecycle
    assert lives.failovers == 1
    assert lives.outages == 1
    user.on_stop()


@pytest.mark.parametrize(("handler", "code"), [(_close_with(4001), "4001"), (_drop, "1006")])
def test_a_connection_the_server_ends_during_its_opening_is_counted_by_close_code(
    environment, raw_server, handler: Handler, code: str
) -> None:
    """A bot that closes (an application's 4xxx) or drops the connection before its awaited welcome
    closed a connection: counted by its code, as when it does so later."""
    environment.parsed_options = get_parser().parse_args(
        ["--protocol", "json", "--await-on-connect", "type=welcome", "--connect-timeout", str(2 * UNIT)]
    )
    server: RawServer = raw_server(handler)
    user = _user(environment, f"ws://127.0.0.1:{server.port}", [])
    user.on_start()  # the opening ended by the server: a failed CONNECT
    assert not user.client.connected
    assert _recorder(environment).stats.lifecycle.close_codes == {code: 1}
    user.on_stop()


def test_a_session_connection_the_server_closes_while_idle_is_counted_by_close_code(
    environment, raw_server
) -> None:
    """With captures every message of the connection is read by the session: its close frame still
    counts."""
    environment.parsed_options = get_parser().parse_args(["--protocol", "json", "--capture", "session=id"])
    server: RawServer = raw_server(_close_with(4001))
    user = _user(environment, f"ws://127.0.0.1:{server.port}", [])
    user.on_start()
    lives = _recorder(environment).stats.lifecycle
    assert wait_until(lambda: bool(lives.close_codes), 5 * UNIT)
    assert lives.close_codes == {"4001": 1}
    user.on_stop()


def test_a_connect_this_process_cannot_make_is_named_for_its_endpoint(recorded_env, monkeypatch) -> None:
    """A worker lacking a ${VAR} of --header counts a failed CONNECT, named as its other connects are."""
    monkeypatch.delenv("WSLOCUST_UNSET_FOR_TEST", raising=False)
    environment, recorded = recorded_env
    attach_state(environment, PluginState(recorder=Recorder()))
    environment.parsed_options = get_parser().parse_args(["--header", "X-Key: ${WSLOCUST_UNSET_FOR_TEST}"])
    port = free_port()
    user = _user(environment, f"ws://127.0.0.1:{port}", [f"ws://127.0.0.1:{free_port()}"])
    monkeypatch.setattr(user, "stop", lambda: None)  # no runner's group here to stop it in
    user.on_start()
    [connect] = recorded.of("CONNECT")
    assert connect["name"] == f"connect @127.0.0.1:{port}"
    assert connect["exception"].kind == "configuration"
