"""A connection's policy, socket-free: server bytes and their times in, the reply and actions out."""

from __future__ import annotations

import json
from typing import Any

from wslocust.errors import BotError, ConnectionClosed, ProtocolError, ReplyTimeout
from wslocust.wire.connection import Close, Connection, Dropped, Pong
from wslocust.wire.frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameReader,
    encode_close,
    encode_frame,
)
from wslocust.wire.protocols import JsonProtocol, PlainProtocol
from wslocust.wire.reply import Reply


def server_frame(opcode: int, payload: bytes) -> bytes:
    """A frame as a server sends it: unmasked."""
    return encode_frame(opcode, payload, mask=False)


def text(message: str) -> bytes:
    return server_frame(OP_TEXT, message.encode())


def json_text(document: Any) -> bytes:
    return text(json.dumps(document))


def awaiting(connection: Connection, prompt: str = "hello") -> Reply:
    """A reply whose prompt the connection has started (the prompt's frames are dropped)."""
    reply = Reply(prompt=prompt, name="ask")
    connection.start(reply)
    return reply


def test_start_returns_the_prompt_as_one_masked_text_frame() -> None:
    connection = Connection(PlainProtocol())
    sent = connection.start(Reply(prompt="hello ✓", name="ask"))
    assert sent[1] & 0x80  # masked, as a client must
    assert FrameReader(accept_masked=True).feed(sent) == [(OP_TEXT, "hello ✓".encode())]


def test_a_ping_between_replies_asks_for_a_pong_with_the_same_payload() -> None:
    connection = Connection(PlainProtocol())
    assert connection.receive(server_frame(OP_PING, b"are you there"), 0.0) == [Pong(b"are you there")]


def test_a_pong_action_carries_its_payload_in_a_masked_pong_frame() -> None:
    frame = Pong(b"are you there").frame
    assert frame[1] & 0x80
    assert FrameReader(accept_masked=True).feed(frame) == [(OP_PONG, b"are you there")]


def test_a_ping_mid_reply_is_answered_and_the_reply_still_awaited() -> None:
    connection = Connection(JsonProtocol())
    reply = awaiting(connection)
    actions = connection.receive(json_text({"text": "Hel"}) + server_frame(OP_PING, b"p"), 3.0)
    assert actions == [Pong(b"p")]
    assert connection.reply is reply
    assert connection.receive(json_text({"type": "end", "text": "lo"}), 4.0) is None
    assert reply.text == "Hello"


def test_an_unsolicited_pong_needs_nothing() -> None:
    connection = Connection(PlainProtocol())
    assert connection.receive(server_frame(OP_PONG, b"beat"), 0.0) is None


def test_a_close_from_the_server_mid_reply_fails_it_with_the_code_and_reason() -> None:
    connection = Connection(JsonProtocol())
    reply = awaiting(connection)
    assert connection.receive(json_text({"text": "Hel"}), 3.0) is None
    assert connection.receive(encode_close(1011, "overloaded", mask=False), 7.5) == [Close(1000)]
    assert connection.reply is None
    assert isinstance(reply.error, ConnectionClosed)
    assert reply.error.kind == "closed_mid_reply"
    assert reply.error.code == 1011
    assert "overloaded" in str(reply.error)
    assert reply.total_time_ms == 7.5  # when the close arrived


def test_a_close_from_the_server_between_replies_is_answered_with_1000() -> None:
    connection = Connection(PlainProtocol())
    assert connection.receive(encode_close(1001, mask=False), 0.0) == [Close(1000)]


def test_nothing_after_a_close_is_read() -> None:
    connection = Connection(PlainProtocol())
    block = encode_close(1000, mask=False) + server_frame(OP_PING, b"late") + text("late push")
    assert connection.receive(block, 0.0) == [Close(1000)]


def test_a_close_with_a_code_that_may_not_be_sent_fails_the_reply_and_the_connection_with_1002() -> None:
    connection = Connection(PlainProtocol())
    reply = awaiting(connection)
    assert connection.receive(server_frame(OP_CLOSE, (1005).to_bytes(2, "big")), 2.0) == [Close(1002)]
    assert isinstance(reply.error, ProtocolError)
    assert "1005" in str(reply.error)
    assert connection.reply is None


def test_a_close_with_a_code_that_may_not_be_sent_between_replies_is_answered_with_1002() -> None:
    connection = Connection(PlainProtocol())
    assert connection.receive(server_frame(OP_CLOSE, b"\x03"), 0.0) == [Close(1002)]


def test_a_message_pushed_between_replies_is_dropped_and_not_in_the_next_reply() -> None:
    connection = Connection(PlainProtocol())
    assert connection.receive(text("news!"), 0.0) == [Dropped(OP_TEXT, 5)]
    assert connection.receive(server_frame(OP_BINARY, b"\x00\x01"), 0.0) == [Dropped(OP_BINARY, 2)]
    reply = awaiting(connection)
    assert connection.receive(text("answer"), 1.0) is None
    assert reply.text == "answer"
    assert reply.chunks == 1


def test_a_push_in_the_same_block_as_the_reply_end_is_dropped() -> None:
    connection = Connection(PlainProtocol())
    reply = awaiting(connection)
    assert connection.receive(text("answer") + text("news!"), 1.0) == [Dropped(OP_TEXT, 5)]
    assert reply.text == "answer"


def test_chunk_times_are_the_times_their_blocks_were_fed() -> None:
    connection = Connection(JsonProtocol())
    reply = awaiting(connection)
    assert connection.receive(json_text({"text": "Hel"}), 5.0) is None
    assert connection.receive(json_text({"text": "lo"}) + json_text({"text": "!"}), 12.5) is None
    assert connection.reply is reply
    assert connection.receive(json_text({"type": "end"}), 20.0) is None
    assert connection.reply is None
    assert reply.ok
    assert reply.text == "Hello!"
    assert reply.chunks == 3
    assert reply.chunk_times_ms == [5.0, 12.5, 12.5]
    assert reply.time_to_first_chunk_ms == 5.0
    assert reply.total_time_ms == 20.0


def test_a_frame_split_across_blocks_is_a_chunk_at_the_time_of_its_last_block() -> None:
    connection = Connection(PlainProtocol())
    reply = awaiting(connection)
    frame = text("answer")
    assert connection.receive(frame[:3], 1.0) is None
    assert connection.reply is reply
    assert connection.receive(frame[3:], 4.0) is None
    assert reply.chunk_times_ms == [4.0]
    assert reply.text == "answer"


def test_reply_bytes_count_the_payloads_of_the_replys_messages_only() -> None:
    connection = Connection(JsonProtocol())
    reply = awaiting(connection)
    chunk, heartbeat, end = (
        json.dumps({"text": "Hi"}),
        json.dumps({"type": "beat"}),
        json.dumps({"type": "end"}),
    )
    connection.receive(text(chunk) + text(heartbeat) + text(end), 1.0)
    assert reply.bytes == len(chunk) + len(end)


def test_the_end_messages_fields_are_the_replys_meta() -> None:
    connection = Connection(JsonProtocol())
    reply = awaiting(connection)
    connection.receive(json_text({"type": "end", "text": "Hi", "intent": "greeting"}), 1.0)
    assert reply.meta["intent"] == "greeting"


def test_an_error_message_is_a_bot_error_that_keeps_the_connection() -> None:
    connection = Connection(JsonProtocol())
    reply = awaiting(connection)
    assert connection.receive(json_text({"type": "error", "message": "model overloaded"}), 9.0) is None
    assert connection.reply is None
    assert isinstance(reply.error, BotError)
    assert reply.error.kind == "bot_error"
    assert str(reply.error) == "bot reported an error: model overloaded"
    assert reply.total_time_ms == 9.0


def test_a_masked_frame_from_the_server_fails_the_reply_and_the_connection_with_1002() -> None:
    connection = Connection(PlainProtocol())
    reply = awaiting(connection)
    assert connection.receive(encode_frame(OP_TEXT, b"answer", mask=True), 1.0) == [Close(1002)]
    assert isinstance(reply.error, ProtocolError)
    assert "masked" in str(reply.error)


def test_a_masked_frame_between_replies_fails_the_connection_with_1002() -> None:
    connection = Connection(PlainProtocol())
    assert connection.receive(encode_frame(OP_TEXT, b"push", mask=True), 0.0) == [Close(1002)]


def test_a_text_frame_that_is_not_utf8_is_a_protocol_error() -> None:
    connection = Connection(PlainProtocol())
    reply = awaiting(connection)
    assert connection.receive(server_frame(OP_TEXT, b"\xff\xfe"), 1.0) == [Close(1002)]
    assert isinstance(reply.error, ProtocolError)
    assert "UTF-8" in str(reply.error)


def test_a_message_the_protocol_cannot_read_is_a_protocol_error() -> None:
    connection = Connection(JsonProtocol())
    reply = awaiting(connection)
    assert connection.receive(text("not json"), 1.0) == [Close(1002)]
    assert isinstance(reply.error, ProtocolError)


def test_a_pong_due_before_a_protocol_error_is_still_asked_for() -> None:
    connection = Connection(JsonProtocol())
    awaiting(connection)
    assert connection.receive(server_frame(OP_PING, b"p") + text("not json"), 1.0) == [
        Pong(b"p"),
        Close(1002),
    ]


def test_a_reply_the_io_gave_up_on_fails_with_its_error_and_keeps_the_chunks_that_came() -> None:
    """A timeout: the I/O stops waiting; the reply keeps what arrived."""
    connection = Connection(JsonProtocol())
    reply = awaiting(connection)
    connection.receive(json_text({"text": "Hel"}), 2.0)
    timeout = ReplyTimeout("no complete reply within 5 s")
    connection.fail(reply, timeout, 5000.0)
    assert connection.reply is None
    assert reply.error is timeout
    assert reply.total_time_ms == 5000.0
    assert reply.text == "Hel"
    assert reply.chunks == 1
    assert reply.time_to_first_chunk_ms == 2.0


def test_a_failure_after_the_reply_completed_keeps_the_replys_times() -> None:
    """A pong that cannot be sent after the block that ended the reply: the reply fails, timed
    when its end arrived."""
    connection = Connection(PlainProtocol())
    reply = awaiting(connection)
    connection.receive(text("answer"), 3.0)
    connection.fail(reply, ConnectionClosed(None, "(BrokenPipeError)"), 3.2)
    assert isinstance(reply.error, ConnectionClosed)
    assert reply.total_time_ms == 3.0
    assert reply.text == "answer"


def test_the_next_reply_starts_with_no_text_of_the_last() -> None:
    connection = Connection(JsonProtocol())
    first = awaiting(connection)
    connection.receive(json_text({"text": "Hel"}), 2.0)
    connection.fail(first, ReplyTimeout("late"), 5000.0)
    second = awaiting(connection, "again")
    connection.receive(json_text({"type": "end", "text": "Bye"}), 3.0)
    assert second.text == "Bye"
    assert second.chunk_times_ms == [3.0]
