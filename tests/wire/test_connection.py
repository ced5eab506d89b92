"""A connection's policy, socket-free: server bytes and their times in, the reply and actions out."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from wslocust.errors import BotError, ConnectionClosed, ProtocolError, ReplyTimeout
from wslocust.wire.connection import Close, Connection, Dropped, Pong
from wslocust.wire.frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
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


def test_a_text_frame_that_is_not_utf8_fails_the_reply_and_the_connection_with_1007() -> None:
    """1007: "inconsistent data", the code RFC 6455 §8.1 gives invalid UTF-8 (not 1002)."""
    connection = Connection(PlainProtocol())
    reply = awaiting(connection)
    assert connection.receive(server_frame(OP_TEXT, b"\xff\xfe"), 1.0) == [Close(1007)]
    assert isinstance(reply.error, ProtocolError)
    assert reply.error.close_code == 1007
    assert str(reply.error) == "text message is not valid UTF-8"


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


# -- the conformance cases (Autobahn's sections in brackets) ----------------------------------------


def fragment(opcode: int, payload: bytes, *, final: bool) -> bytes:
    """An unmasked server frame, final or not (``encode_frame`` always sets FIN)."""
    assert len(payload) < 126
    return bytes(((0x80 if final else 0) | opcode, len(payload))) + payload


def test_a_ping_between_fragments_is_answered_with_its_payload_and_the_message_joined() -> None:
    """[5.6-5.9] A control frame may come between a message's fragments."""
    connection = Connection(PlainProtocol())
    reply = awaiting(connection)
    block = (
        fragment(OP_TEXT, b"frag", final=False)
        + fragment(OP_PING, b"ping payload", final=True)
        + fragment(OP_CONTINUATION, b"ments", final=True)
    )
    assert connection.receive(block, 2.0) == [Pong(b"ping payload")]
    assert reply.ok
    assert reply.text == "fragments"
    assert reply.chunks == 1


def test_fragments_and_pings_in_separate_blocks_make_one_message_at_its_last_fragments_time() -> None:
    """[5.15-5.20] Fragments arrive apart, a ping and an unsolicited pong in between."""
    connection = Connection(PlainProtocol())
    reply = awaiting(connection)
    assert connection.receive(fragment(OP_TEXT, b"one ", final=False), 1.0) is None
    assert connection.receive(fragment(OP_PING, b"", final=True), 2.0) == [Pong(b"")]
    assert connection.receive(fragment(OP_PONG, b"unasked", final=True), 3.0) is None
    assert connection.receive(fragment(OP_CONTINUATION, b"two ", final=False), 4.0) is None
    assert connection.reply is reply
    assert connection.receive(fragment(OP_CONTINUATION, b"three", final=True), 5.0) is None
    assert reply.text == "one two three"
    assert reply.chunk_times_ms == [5.0]


def test_fragments_each_invalid_utf8_alone_that_make_valid_utf8_together_are_accepted() -> None:
    """[6.2, 6.4] UTF-8 is checked on the whole message: a character may straddle fragments."""
    whole = "café €𝄞".encode()
    cuts = [0, 4, 7, 9, len(whole) - 2, len(whole)]  # each cut inside a multi-byte character
    pieces = [whole[start:stop] for start, stop in itertools.pairwise(cuts)]
    for piece in pieces:
        with pytest.raises(UnicodeDecodeError):
            piece.decode()
    connection = Connection(PlainProtocol())
    reply = awaiting(connection)
    block = b"".join(
        fragment(OP_TEXT if index == 0 else OP_CONTINUATION, piece, final=index == len(pieces) - 1)
        for index, piece in enumerate(pieces)
    )
    assert connection.receive(block, 1.0) is None
    assert reply.ok
    assert reply.text == "café €𝄞"


@pytest.mark.parametrize(
    "pieces",
    [
        [b"caf\xc3", b"\xa9 \xed\xa0", b"\x80"],  # a surrogate (U+D800), split
        [b"\xce\xba\xe1", b"\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80"],  # over U+10FFFF
        [b"ok", b" then \xc0\xaf"],  # an overlong "/"
        [b"cut short \xe2\x82"],  # the message ends mid-character
    ],
    ids=["surrogate", "beyond-u10ffff", "overlong", "truncated"],
)
def test_a_fragmented_text_message_invalid_as_a_whole_fails_the_connection_with_1007(
    pieces: list[bytes],
) -> None:
    """[6.3, 6.6-6.21] Invalid UTF-8 fails the connection wherever the fragments are cut."""
    connection = Connection(PlainProtocol())
    reply = awaiting(connection)
    block = b"".join(
        fragment(OP_TEXT if index == 0 else OP_CONTINUATION, piece, final=index == len(pieces) - 1)
        for index, piece in enumerate(pieces)
    )
    assert connection.receive(block, 1.0) == [Close(1007)]
    assert isinstance(reply.error, ProtocolError)
    assert reply.error.close_code == 1007
    assert connection.reply is None


def test_a_binary_message_is_not_checked_as_utf8() -> None:
    """The control for the tests above: only text messages must be UTF-8."""
    connection = Connection(PlainProtocol())
    reply = awaiting(connection)
    assert connection.receive(server_frame(OP_BINARY, b"\xff\xfe"), 1.0) is None
    assert reply.ok


@pytest.mark.parametrize(
    ("frame", "what"),
    [
        (bytes((0x80 | 0x40 | OP_TEXT, 2)) + b"hi", "reserved bits"),  # [3.1] RSV1, nothing negotiated
        (bytes((0x80 | 0x20 | OP_TEXT, 2)) + b"hi", "reserved bits"),  # [3.2] RSV2
        (bytes((0x80 | 0x70 | OP_PING, 0)), "reserved bits"),  # [3.7] on a control frame
        (bytes((0x80 | 0x3, 0)), "unknown opcode 0x3"),  # [4.1.1] reserved data opcode
        (bytes((0x80 | 0xB, 0)), "unknown opcode 0xb"),  # [4.2.1] reserved control opcode
        (bytes((0x80 | OP_PING, 126)) + (126).to_bytes(2, "big") + b"x" * 126, "control frame"),  # [2.5]
        (bytes((OP_PING, 0)), "fragmented control frame"),  # [5.1]
        (fragment(OP_CONTINUATION, b"orphan", final=True), "continuation"),  # [5.9]
        (fragment(OP_TEXT, b"a", final=False) + fragment(OP_TEXT, b"b", final=True), "inside"),  # [5.18]
    ],
    ids=["rsv1", "rsv2", "rsv-control", "opcode-3", "opcode-b", "ping-126", "ping-fragmented",
         "orphan-continuation", "message-inside-message"],
)  # fmt: skip
def test_a_frame_that_breaks_rfc_6455_fails_the_reply_and_the_connection_with_1002(
    frame: bytes, what: str
) -> None:
    connection = Connection(PlainProtocol())
    reply = awaiting(connection)
    assert connection.receive(frame, 1.0) == [Close(1002)]
    assert isinstance(reply.error, ProtocolError)
    assert what in str(reply.error)
    assert reply.total_time_ms == 1.0


def test_every_ping_of_0_to_125_bytes_is_answered_with_a_pong_of_exactly_its_payload() -> None:
    """[2.1-2.4, 2.10] The pong's masked frame (a fast path for each size under 126) decodes back."""
    connection = Connection(PlainProtocol())
    server = FrameReader(accept_masked=True)
    for size in range(126):
        payload = bytes((size * 7 + index) % 256 for index in range(size))  # binary, all byte values
        [pong] = connection.receive(server_frame(OP_PING, payload), 0.0) or []
        assert pong == Pong(payload)
        assert server.feed(pong.frame) == [(OP_PONG, payload)]


def test_unsolicited_pongs_mid_reply_are_ignored() -> None:
    """[2.8, 2.9] A pong this client never asked for, with or without a payload."""
    connection = Connection(PlainProtocol())
    reply = awaiting(connection)
    block = server_frame(OP_PONG, b"") + server_frame(OP_PONG, b"unsolicited") + text("answer")
    assert connection.receive(block, 1.0) is None
    assert reply.text == "answer"


@pytest.mark.parametrize(
    ("close", "code"),
    [
        (b"", None),  # [7.3.1] no code
        ((1000).to_bytes(2, "big"), 1000),  # [7.3.3]
        ((1000).to_bytes(2, "big") + "bye ✓".encode(), 1000),  # [7.3.4] a UTF-8 reason
        ((1001).to_bytes(2, "big") + b"x" * 123, 1001),  # [7.3.5] the longest reason
        ((3000).to_bytes(2, "big"), 3000),  # [7.7.x] a registered code
        ((4999).to_bytes(2, "big"), 4999),  # [7.7.x] an application's code
    ],
    ids=["no-code", "1000", "1000-utf8-reason", "1001-123-byte-reason", "3000", "4999"],
)
def test_a_valid_close_is_answered_with_1000_and_fails_the_reply_with_its_code(
    close: bytes, code: int | None
) -> None:
    connection = Connection(PlainProtocol())
    reply = awaiting(connection)
    assert connection.receive(server_frame(OP_CLOSE, close), 1.0) == [Close(1000)]
    assert isinstance(reply.error, ConnectionClosed)
    assert reply.error.code == code


def test_a_close_with_a_reason_of_124_bytes_fails_the_connection_with_1002() -> None:
    """[7.3.6] A control frame's 125 bytes hold a code and 123 bytes of reason at most."""
    connection = Connection(PlainProtocol())
    reply = awaiting(connection)
    close = (1000).to_bytes(2, "big") + b"x" * 124
    block = bytes((0x80 | OP_CLOSE, 126)) + len(close).to_bytes(2, "big") + close
    assert connection.receive(block, 1.0) == [Close(1002)]
    assert isinstance(reply.error, ProtocolError)


def test_a_message_over_the_readers_limit_fails_the_reply_and_the_connection_with_1009() -> None:
    """[9.x] 1009: "message too big"; the error names the limit and the option setting it."""
    connection = Connection(PlainProtocol(), FrameReader(max_message_bytes=1000))
    reply = awaiting(connection)
    assert connection.receive(fragment(OP_TEXT, b"x" * 100, final=False), 1.0) is None
    header = bytes((0x80 | OP_CONTINUATION, 126)) + (901).to_bytes(2, "big")
    assert connection.receive(header, 2.0) == [Close(1009)]  # refused on the header
    assert isinstance(reply.error, ProtocolError)
    assert reply.error.close_code == 1009
    assert str(reply.error) == (
        "fragmented message of 1001 bytes exceeds the 1000-byte message limit (--max-message-bytes)"
    )


def test_a_message_of_exactly_the_readers_limit_is_a_reply() -> None:
    connection = Connection(PlainProtocol(), FrameReader(max_message_bytes=1000))
    reply = awaiting(connection)
    block = bytes((0x80 | OP_TEXT, 126)) + (1000).to_bytes(2, "big") + b"x" * 1000
    assert connection.receive(block, 1.0) is None
    assert reply.ok
    assert len(reply.text) == 1000


def test_a_reply_that_ends_before_a_broken_frame_in_the_same_block_succeeds_then_the_connection_fails() -> (
    None
):
    """[3.2-3.4, 4.x, 5.15] The frames before the broken one are read; the pong they ask for is due."""
    connection = Connection(PlainProtocol())
    reply = awaiting(connection)
    block = server_frame(OP_PING, b"p") + text("answer") + bytes((0x80 | 0x20 | OP_TEXT, 0))
    assert connection.receive(block, 1.0) == [Pong(b"p"), Close(1002)]
    assert reply.ok
    assert reply.text == "answer"


def test_a_reply_cut_by_a_broken_frame_fails_with_the_frames_error() -> None:
    connection = Connection(JsonProtocol())
    reply = awaiting(connection)
    block = json_text({"text": "Hel"}) + bytes((0x80 | 0x5, 0))
    assert connection.receive(block, 1.0) == [Close(1002)]
    assert isinstance(reply.error, ProtocolError)
    assert str(reply.error) == "unknown opcode 0x5"
    assert reply.text == "Hel"
