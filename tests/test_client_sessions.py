"""Sessions against the demo bot's session mode and token check: captured ids, awaited welcomes, tokens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from wslocust.client import ChatClient
from wslocust.demo.process import DemoProcess
from wslocust.demo.sessions import make_token
from wslocust.errors import BotError, CaptureMissing, HandshakeRejected, OpeningTimeout
from wslocust.tokens import TokenSource
from wslocust.wire.handshake import provide_variable
from wslocust.wire.protocols import JsonProtocol
from wslocust.wire.sessions import session_protocol

from .conftest import UNIT

SECRET = "demo-signing-key"
TEMPLATE = '{"session_id": "{session}", "text": "{prompt}"}'


@pytest.fixture(scope="module")
def session_bot() -> Iterator[str]:
    """One demo bot in session mode requiring tokens, for the module."""
    process = DemoProcess(
        ("--session-mode", "--require-token", SECRET, "--ttft-ms", "1", "--itl-ms", "1", "--chunks", "2"),
        start_timeout_s=20 * UNIT,
    )
    yield process.start()
    process.stop()


@pytest.fixture
def token() -> Iterator[TokenSource]:
    """A token source given to the handshake as ${TOKEN}, as --token-command's is."""
    source = TokenSource(lambda: make_token(SECRET, 60.0), what="test")
    source.start()
    provide_variable("TOKEN", source.current)
    yield source
    provide_variable("TOKEN", None)


def client(environment, url: str, protocol, **kwargs) -> ChatClient:  # type: ignore[no-untyped-def]
    return ChatClient(environment, url, protocol, headers=["Authorization: Bearer ${TOKEN}"], **kwargs)


def test_the_welcomes_session_id_is_captured_and_sent_with_every_prompt(
    recorded_env, session_bot, token
) -> None:
    environment, recorded = recorded_env
    protocol = session_protocol(
        JsonProtocol(template=TEMPLATE), await_on_connect="type=welcome", captures={"session": "session_id"}
    )
    chat = client(environment, session_bot, protocol)
    assert [chat.ask("where is my refund").ok for _ in range(3)] == [True, True, True]
    assert [event["exception"] for event in recorded.events] == [None] * 4  # a CONNECT, three WS


def test_a_prompt_without_the_session_id_is_refused_by_the_bot(recorded_env, session_bot, token) -> None:
    environment, _ = recorded_env
    reply = client(environment, session_bot, JsonProtocol()).ask("hello")
    assert isinstance(reply.error, BotError)
    assert "unknown or missing session_id" in str(reply.error)


def test_a_capture_path_that_never_matches_is_a_counted_failure_and_nothing_is_sent(
    recorded_env, session_bot, token
) -> None:
    environment, recorded = recorded_env
    protocol = session_protocol(
        JsonProtocol(template=TEMPLATE), await_on_connect="type=welcome", captures={"session": "session.id"}
    )
    chat = client(environment, session_bot, protocol)
    reply = chat.ask("hello")
    assert isinstance(reply.error, CaptureMissing)
    [event] = recorded.of("WS")
    assert event["exception"].kind == "capture_missing"
    assert "--capture session=session.id" in str(event["exception"])
    assert chat.connected  # nothing went out of step: the connection is kept


def test_an_awaited_message_that_never_comes_is_an_opening_timeout_of_the_connect(
    recorded_env, session_bot, token
) -> None:
    environment, recorded = recorded_env
    protocol = session_protocol(JsonProtocol(), await_on_connect="type=ready")
    chat = client(environment, session_bot, protocol, connect_timeout_s=0.3 * UNIT)
    assert not chat.connect()
    [event] = recorded.of("CONNECT")
    assert isinstance(event["exception"], OpeningTimeout)
    assert "no message matching --await-on-connect 'type=ready'" in str(event["exception"])


def test_a_handshake_without_a_valid_token_is_refused_with_401(recorded_env, session_bot) -> None:
    environment, recorded = recorded_env
    chat = ChatClient(environment, session_bot, JsonProtocol(), query="token=forged")
    assert not chat.connect()
    assert isinstance(recorded.of("CONNECT")[0]["exception"], HandshakeRejected)
    assert recorded.of("CONNECT")[0]["exception"].status == 401
