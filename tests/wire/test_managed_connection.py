"""The policy of a connection whose protocol manages it (Socket.IO), socket-free: frames in, actions out."""

from __future__ import annotations

from wslocust.errors import ConnectionClosed, ProtocolError, SessionRefused
from wslocust.wire.connection import Close, Connection, Dropped, Pong, Send
from wslocust.wire.frames import OP_PING, OP_TEXT, FrameReader, encode_frame
from wslocust.wire.managed import ManagedConnection, connection_for
from wslocust.wire.protocols import JsonProtocol, SocketIOProtocol
from wslocust.wire.reply import Reply

OPEN = '0{"sid":"e1","upgrades":[],"pingInterval":25000,"pingTimeout":20000}'


def text(message: str) -> bytes:
    """A text frame as a server sends it: unmasked."""
    return encode_frame(OP_TEXT, message.encode(), mask=False)


def sent_messages(actions: list[object] | None) -> list[str]:
    """The text of the frames the actions send."""
    reader = FrameReader(accept_masked=True)
    return [
        payload.decode()
        for action in actions or ()
        if isinstance(action, Send)
        for _, payload in reader.feed(action.frame)
    ]


def opened(protocol: SocketIOProtocol | None = None) -> ManagedConnection:
    connection = ManagedConnection(protocol or SocketIOProtocol())
    assert connection.open() == b""
    connection.receive(text(OPEN) + text('40{"sid":"s1"}'), 0.0)
    assert connection.ready
    return connection


def awaiting(connection: Connection) -> Reply:
    reply = Reply(prompt="hello", name="ask")
    connection.start(reply)
    return reply


def test_a_protocol_that_manages_its_connection_gets_a_managed_one_and_others_the_plain_one() -> None:
    assert type(connection_for(SocketIOProtocol())) is ManagedConnection
    assert type(connection_for(JsonProtocol())) is Connection


def test_the_opening_answers_the_open_packet_and_is_ready_once_the_namespace_is_connected() -> None:
    connection = ManagedConnection(SocketIOProtocol())
    connection.open()
    actions = connection.receive(text(OPEN), 0.0)
    assert sent_messages(actions) == ["40"]
    assert not connection.ready
    assert connection.receive(text('40{"sid":"s1"}'), 0.0) is None
    assert connection.ready


def test_a_refused_namespace_fails_the_opening_and_closes_the_connection() -> None:
    connection = ManagedConnection(SocketIOProtocol())
    connection.open()
    actions = connection.receive(text(OPEN) + text('44{"message":"Not authorized"}'), 0.0)
    assert actions is not None
    assert actions[-1] == Close(1000)
    assert isinstance(connection.error, SessionRefused)
    assert "Not authorized" in str(connection.error)


def test_a_malformed_packet_while_idle_fails_the_connection_with_1002() -> None:
    connection = opened()
    assert connection.receive(text("4zz"), 0.0) == [Close(1002)]
    assert isinstance(connection.error, ProtocolError)


def test_an_engineio_ping_while_idle_is_answered_and_not_counted_as_a_push() -> None:
    connection = opened()
    actions = connection.receive(text("2"), 0.0)
    assert sent_messages(actions) == ["3"]
    assert not any(isinstance(action, Dropped) for action in actions or ())


def test_an_engineio_ping_mid_reply_is_answered_and_is_no_part_of_the_reply() -> None:
    connection = opened()
    reply = awaiting(connection)
    assert sent_messages(connection.receive(text("2"), 5.0)) == ["3"]
    assert connection.reply is reply
    connection.receive(text('42["bot_uttered",{"text":"hi"}]'), 9.0)
    assert connection.reply is None
    assert (reply.text, reply.chunks, reply.total_time_ms) == ("hi", 1, 9.0)
    assert reply.bytes == len('42["bot_uttered",{"text":"hi"}]')


def test_a_websocket_ping_is_still_answered_with_a_pong() -> None:
    connection = opened()
    assert connection.receive(encode_frame(OP_PING, b"p", mask=False), 0.0) == [Pong(b"p")]


def test_a_reply_event_between_replies_is_dropped_and_counted() -> None:
    connection = opened()
    late = '42["bot_uttered",{"text":"late"}]'
    assert connection.receive(text(late), 0.0) == [Dropped(OP_TEXT, len(late))]


def test_a_quiet_period_ends_the_reply_at_its_last_chunks_time() -> None:
    connection = opened(SocketIOProtocol(quiet_ms=100))
    reply = awaiting(connection)
    assert connection.quiet_until_ms is None  # no quiet period before the first chunk
    connection.receive(text('42["bot_uttered","a"]'), 10.0)
    assert connection.quiet_until_ms == 110.0
    connection.receive(text("2"), 60.0)  # a ping does not restart the quiet period
    connection.receive(text('42["bot_uttered","b"]'), 70.0)
    assert connection.quiet_until_ms == 170.0
    connection.end_quietly()
    assert connection.reply is None
    assert (reply.text, reply.chunk_times_ms, reply.total_time_ms) == ("ab", [10.0, 70.0], 70.0)


def test_a_new_reply_starts_with_no_quiet_period_running() -> None:
    connection = opened(SocketIOProtocol(quiet_ms=100))
    awaiting(connection)
    connection.receive(text('42["bot_uttered","a"]'), 10.0)
    connection.end_quietly()
    awaiting(connection)
    assert connection.quiet_until_ms is None


def test_the_server_leaving_the_namespace_mid_reply_fails_it_and_closes() -> None:
    connection = opened()
    reply = awaiting(connection)
    assert connection.receive(text("41"), 7.0) == [Close(1000)]
    assert isinstance(reply.error, ConnectionClosed)
    assert "disconnected the Socket.IO namespace" in str(reply.error)
    assert reply.total_time_ms == 7.0


def test_the_server_closing_the_engineio_session_while_idle_closes_the_connection() -> None:
    connection = opened()
    assert connection.receive(text("1"), 0.0) == [Close(1000)]
    assert isinstance(connection.error, ConnectionClosed)


def test_a_malformed_packet_mid_reply_fails_the_reply_as_a_protocol_error() -> None:
    connection = opened()
    reply = awaiting(connection)
    assert connection.receive(text('42["bot_uttered"'), 3.0) == [Close(1002)]
    assert isinstance(reply.error, ProtocolError)
