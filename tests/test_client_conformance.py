"""ChatClient against servers that answer a prompt with exactly the bytes of a conformance case
(Autobahn|Testsuite's sections in brackets), written on 127.0.0.1:0 after a real handshake; each
server records every frame the client sends back (pongs, the close code).

The same cases are checked byte by byte on the sans-I/O core in tests/wire/test_connection.py;
these show that the client does what the core decides: sends the pong, the close code, and drops
the connection.
"""

from __future__ import annotations

from locust.env import Environment

import socket
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from gevent.server import StreamServer

from wslocust.client import ChatClient
from wslocust.errors import ConnectionClosed, ProtocolError
from wslocust.wire.frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameReader,
    parse_close,
)
from wslocust.wire.protocols import PlainProtocol

from .conftest import UNIT, read_request_head, server_frame, wait_until
from .test_client_hostile import upgrade_answer


def fragmented(opcode: int, pieces: Sequence[bytes]) -> bytes:
    """One message in ``pieces``: the first frame with ``opcode``, continuations after it."""
    last = len(pieces) - 1
    return b"".join(
        server_frame(opcode if index == 0 else OP_CONTINUATION, piece, final=index == last)
        for index, piece in enumerate(pieces)
    )


@dataclass
class CaseServer:
    """Answers the first prompt with ``script`` (each item sent with its own ``sendall``), then
    records the client's frames until it closes the connection."""

    script: Sequence[bytes]
    frames: list[tuple[int, bytes]] = field(default_factory=list)
    stream: StreamServer | None = None

    @property
    def url(self) -> str:
        assert self.stream is not None
        return f"ws://127.0.0.1:{self.stream.address[1]}/"

    @property
    def close_codes(self) -> list[int | None]:
        return [parse_close(payload)[0] for opcode, payload in self.frames if opcode == OP_CLOSE]

    def pongs(self) -> list[bytes]:
        return [payload for opcode, payload in self.frames if opcode == OP_PONG]

    def serve(self, sock: socket.socket, _address: Any) -> None:
        request = read_request_head(sock)
        sock.sendall(upgrade_answer(request))
        reader = FrameReader(accept_masked=True)
        prompt: list[tuple[int, bytes]] = []
        while not prompt:
            prompt = reader.feed(sock.recv(4096))
        for block in self.script:
            sock.sendall(block)
        try:
            while data := sock.recv(65536):
                self.frames.extend(reader.feed(data))
        except OSError:  # the client reset a connection it had failed
            pass


@pytest.fixture
def case_server() -> Iterator[Callable[..., CaseServer]]:
    """Start :class:`CaseServer` instances: ``bot = case_server(block, ...)``; all stop after the test."""
    started: list[CaseServer] = []

    def start(*script: bytes) -> CaseServer:
        server = CaseServer(script)
        server.stream = StreamServer(("127.0.0.1", 0), server.serve)
        server.stream.start()
        started.append(server)
        return server

    yield start
    for server in started:
        assert server.stream is not None
        server.stream.stop(timeout=1)


def ask(environment: Environment, bot: CaseServer, **settings: Any) -> tuple[ChatClient, Any]:
    client = ChatClient(environment, bot.url, PlainProtocol(), reply_timeout_s=5 * UNIT, **settings)
    return client, client.ask("hello")


# -- fragmentation and pings -------------------------------------------------------------------------


def test_a_ping_between_fragments_is_ponged_with_its_payload_and_the_reply_is_the_joined_message(
    recorded_env, case_server
) -> None:
    """[5.6-5.9] The ping comes in its own block, between the fragments' blocks."""
    environment, recorded = recorded_env
    bot = case_server(
        server_frame(OP_TEXT, b"Hel", final=False),
        server_frame(OP_PING, b"are you there"),
        server_frame(OP_CONTINUATION, b"lo"),
    )
    client, reply = ask(environment, bot)
    assert reply.ok, reply.error
    assert reply.text == "Hello"
    assert recorded.of("WS")[0]["exception"] is None
    assert wait_until(lambda: bot.pongs() == [b"are you there"], 2 * UNIT), bot.frames
    assert client.pings_answered == 1
    assert client.connected


def test_pings_of_0_1_and_125_bytes_mid_reply_are_each_ponged_with_exactly_their_payload(
    recorded_env, case_server
) -> None:
    """[2.1-2.4] Binary payloads, every byte value among them."""
    environment, _ = recorded_env
    payloads = [b"", b"\x00", bytes(range(125))]
    bot = case_server(
        *(server_frame(OP_PING, payload) for payload in payloads), server_frame(OP_TEXT, b"answer")
    )
    _, reply = ask(environment, bot)
    assert reply.text == "answer"
    assert wait_until(lambda: bot.pongs() == payloads, 2 * UNIT), bot.frames


def test_a_ping_of_126_bytes_fails_the_reply_and_the_connection_with_1002(recorded_env, case_server) -> None:
    """[2.5] A control frame holds 125 bytes at most."""
    environment, _ = recorded_env
    bot = case_server(server_frame(OP_PING, b"x" * 126))
    client, reply = ask(environment, bot)
    assert isinstance(reply.error, ProtocolError)
    assert str(reply.error) == "control frame of 126 bytes (125 at most, RFC 6455 §5.5)"
    assert wait_until(lambda: bot.close_codes == [1002], 2 * UNIT), bot.frames
    assert bot.pongs() == []
    assert not client.connected


def test_unsolicited_pongs_are_ignored(recorded_env, case_server) -> None:
    """[2.8, 2.9] Nothing is sent back and the reply is unchanged."""
    environment, _ = recorded_env
    bot = case_server(
        server_frame(OP_PONG), server_frame(OP_PONG, b"unsolicited"), server_frame(OP_TEXT, b"answer")
    )
    client, reply = ask(environment, bot)
    assert reply.text == "answer"
    client.close()
    assert wait_until(lambda: bot.close_codes == [1000], 2 * UNIT)
    assert bot.frames == [(OP_CLOSE, struct.pack("!H", 1000))]  # only the close asked for here


# -- UTF-8 -----------------------------------------------------------------------------------------


def test_a_text_message_whose_fragments_are_each_invalid_utf8_but_valid_together_is_a_reply(
    recorded_env, case_server
) -> None:
    """[6.2, 6.4] A character straddling fragments."""
    environment, _ = recorded_env
    bot = case_server(fragmented(OP_TEXT, [b"caf\xc3", b"\xa9 \xe2\x82", b"\xac"]))
    _, reply = ask(environment, bot)
    assert reply.ok, reply.error
    assert reply.text == "café €"


@pytest.mark.parametrize(
    "message",
    [
        server_frame(
            OP_TEXT, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"
        ),  # [6.3.1] a surrogate
        server_frame(OP_TEXT, b"\xff"),  # [6.7-6.8] a byte never in UTF-8
        fragmented(OP_TEXT, [b"caf\xc3", b"\xa9 ", b"\xc0\xaf"]),  # [6.3.2, 6.12] overlong, fragmented
        fragmented(OP_TEXT, [b"ends mid-", b"character \xe2\x82"]),  # [6.6.x] truncated
    ],
    ids=["surrogate", "byte-ff", "overlong-fragmented", "truncated-fragmented"],
)
def test_a_text_message_that_is_not_utf8_fails_the_reply_and_the_connection_with_1007(
    recorded_env, case_server, message: bytes
) -> None:
    """RFC 6455 §8.1: the endpoint fails the connection; 1007 is the code for inconsistent data."""
    environment, recorded = recorded_env
    bot = case_server(message)
    client, reply = ask(environment, bot)
    assert isinstance(reply.error, ProtocolError)
    assert str(reply.error) == "text message is not valid UTF-8"
    assert recorded.of("WS")[0]["exception"] is reply.error
    assert wait_until(lambda: bot.close_codes == [1007], 2 * UNIT), bot.frames
    assert not client.connected


# -- reserved bits, opcodes, masking ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "what"),
    [
        (
            server_frame(OP_TEXT, b"deflated?", rsv=0b100),
            "reserved bits",
        ),  # [3.1-3.7] RSV1, no extension offered
        (server_frame(OP_BINARY, b"\x00", rsv=0b011), "reserved bits"),
        (server_frame(0x3), "unknown opcode 0x3"),  # [4.1.x]
        (server_frame(0xF, b"x"), "unknown opcode 0xf"),  # [4.2.x]
        (server_frame(OP_CONTINUATION, b"orphan"), "continuation"),  # [5.9]
        (server_frame(OP_PING, b"p", final=False), "fragmented control frame"),  # [5.1]
    ],
    ids=["rsv1", "rsv2-rsv3", "opcode-3", "opcode-f", "orphan-continuation", "fragmented-ping"],
)
def test_a_frame_that_breaks_rfc_6455_fails_the_reply_and_the_connection_with_1002(
    recorded_env, case_server, block: bytes, what: str
) -> None:
    environment, _ = recorded_env
    bot = case_server(block)
    client, reply = ask(environment, bot)
    assert isinstance(reply.error, ProtocolError)
    assert what in str(reply.error)
    assert wait_until(lambda: bot.close_codes == [1002], 2 * UNIT), bot.frames
    assert not client.connected


def test_a_reply_that_ends_before_a_broken_frame_in_the_same_block_succeeds(
    recorded_env, case_server
) -> None:
    """[3.2, 4.1.3, 5.15] One block: the reply, then a frame with a reserved opcode, then a ping.
    The reply counts; the connection fails at the broken frame; the ping after it is not answered."""
    environment, recorded = recorded_env
    bot = case_server(server_frame(OP_TEXT, b"answer") + server_frame(0x5) + server_frame(OP_PING, b"late"))
    client, reply = ask(environment, bot)
    assert reply.ok, reply.error
    assert reply.text == "answer"
    assert recorded.of("WS")[0]["exception"] is None
    assert wait_until(lambda: bot.close_codes == [1002], 2 * UNIT), bot.frames
    assert bot.pongs() == []
    assert not client.connected


# -- close -----------------------------------------------------------------------------------------


def test_what_follows_a_close_in_the_same_block_is_ignored(recorded_env, case_server) -> None:
    """[7.1.x] A text message and a ping after the close: no pong, no reply, one close back."""
    environment, _ = recorded_env
    bot = case_server(
        server_frame(OP_CLOSE, struct.pack("!H", 1000))
        + server_frame(OP_TEXT, b"late")
        + server_frame(OP_PING, b"x")
    )
    client, reply = ask(environment, bot)
    assert isinstance(reply.error, ConnectionClosed)
    assert reply.error.code == 1000
    assert reply.text == ""
    assert wait_until(lambda: bot.close_codes == [1000], 2 * UNIT), bot.frames
    assert bot.pongs() == []
    assert not client.connected


def test_a_close_whose_reason_is_124_bytes_is_answered_with_1002(recorded_env, case_server) -> None:
    """[7.3.6] The close frame is over 125 bytes: a protocol error, not a close to echo."""
    environment, _ = recorded_env
    bot = case_server(server_frame(OP_CLOSE, struct.pack("!H", 1000) + b"x" * 124))
    _, reply = ask(environment, bot)
    assert isinstance(reply.error, ProtocolError)
    assert wait_until(lambda: bot.close_codes == [1002], 2 * UNIT), bot.frames


# -- the message limit -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "block",
    [server_frame(OP_TEXT, b"x" * 1001), fragmented(OP_TEXT, [b"x" * 600, b"x" * 401])],
    ids=["one-frame", "fragmented"],
)
def test_a_message_over_max_message_bytes_is_a_counted_failure_naming_the_limit_and_closes_with_1009(
    recorded_env, case_server, block: bytes
) -> None:
    environment, recorded = recorded_env
    bot = case_server(block)
    client, reply = ask(environment, bot, max_message_bytes=1000)
    assert isinstance(reply.error, ProtocolError)
    assert "exceeds the 1000-byte message limit (--max-message-bytes)" in str(reply.error)
    [event] = recorded.of("WS")
    assert event["exception"] is reply.error
    assert wait_until(lambda: bot.close_codes == [1009], 2 * UNIT), bot.frames
    assert not client.connected


def test_a_message_of_exactly_max_message_bytes_is_a_reply(recorded_env, case_server) -> None:
    environment, _ = recorded_env
    bot = case_server(fragmented(OP_TEXT, [b"x" * 600, b"y" * 400]))
    _, reply = ask(environment, bot, max_message_bytes=1000)
    assert reply.ok, reply.error
    assert reply.text == "x" * 600 + "y" * 400


def test_the_default_limit_refuses_a_message_over_4_mib(recorded_env, case_server) -> None:
    """Only its header is sent: the client refuses the message before its payload arrives."""
    environment, _ = recorded_env
    bot = case_server(bytes((0x80 | OP_BINARY, 127)) + struct.pack("!Q", 4 * 1024 * 1024 + 1))
    _, reply = ask(environment, bot)
    assert isinstance(reply.error, ProtocolError)
    assert str(reply.error) == (
        "frame of 4194305 bytes exceeds the 4194304-byte message limit (--max-message-bytes)"
    )
    assert wait_until(lambda: bot.close_codes == [1009], 2 * UNIT), bot.frames
