"""The RFC 6455 codec: bytes in, frames out; frames in, bytes out; no socket."""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest

from wslocust.errors import ProtocolError
from wslocust.wire.frames import (
    DEFAULT_MAX_MESSAGE_BYTES,
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    RSV1,
    FrameReader,
    encode_close,
    encode_frame,
    encode_message,
    parse_close,
)
from wslocust.wire.protocols import Message


def raw_frame(opcode: int, payload: bytes, *, final: bool = True, rsv: int = 0) -> bytes:
    """An unmasked server frame with explicit FIN and reserved bits (encode_frame always sets FIN)."""
    first = (0x80 if final else 0) | (rsv << 4) | opcode
    size = len(payload)
    if size < 126:
        header = bytes((first, size))
    elif size < 65536:
        header = bytes((first, 126)) + struct.pack("!H", size)
    else:
        header = bytes((first, 127)) + struct.pack("!Q", size)
    return header + payload


def test_masked_client_frame_decodes_back_to_its_payload() -> None:
    payload = "héllo, wörld ✓".encode()
    frame = encode_frame(OP_TEXT, payload, mask=True)

    assert frame[1] & 0x80, "the mask bit is set"
    assert payload not in frame, "the payload travels masked"
    assert FrameReader(accept_masked=True).feed(frame) == [(OP_TEXT, payload)]


def test_masked_empty_frame_decodes_to_empty_payload() -> None:
    assert FrameReader(accept_masked=True).feed(encode_frame(OP_BINARY, b"", mask=True)) == [(OP_BINARY, b"")]


def test_every_small_masked_frame_decodes_back_to_its_payload() -> None:
    """Payloads under 126 bytes are masked as one integer: every size, so every last partial word."""
    reader = FrameReader(accept_masked=True)
    for size in range(126):
        payload = bytes((7 * index + size) % 256 for index in range(size))
        frame = encode_frame(OP_BINARY, payload, mask=True)
        assert len(frame) == 6 + size
        assert reader.feed(frame) == [(OP_BINARY, payload)], size


def masked_by_hand(first: int, payload: bytes, key: bytes) -> bytes:
    """A final masked frame as RFC 6455 §5.3 spells it: header, key, payload byte i XOR key byte i % 4."""
    size = len(payload)
    if size < 126:
        header = bytes((first, 0x80 | size))
    elif size < 65536:
        header = bytes((first, 0x80 | 126)) + struct.pack("!H", size)
    else:
        header = bytes((first, 0x80 | 127)) + struct.pack("!Q", size)
    return header + key + bytes(byte ^ key[index % 4] for index, byte in enumerate(payload))


@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY, OP_PING, RSV1 | OP_TEXT])
def test_every_masked_frame_is_its_header_key_and_payload_xored_with_the_key(opcode: int) -> None:
    """Small frames are built as one integer: each size's bytes equal the RFC's byte by byte masking."""
    for size in [*range(130), 300, 70_000]:
        payload = bytes((7 * index + size) % 256 for index in range(size))
        frame = encode_frame(opcode, payload)
        header_size = 2 if size < 126 else 4 if size < 65536 else 10
        assert frame == masked_by_hand(0x80 | opcode, payload, frame[header_size : header_size + 4]), size


def assert_messages_framed_by_hand(framer: Callable[[Message], bytes]) -> None:
    """``framer`` makes each message of every size about the short ones the final masked frame RFC
    6455 §5.3 spells (header, key, payload XOR key): text for ``str``, binary for ``bytes``."""
    for size in [*range(130), 300, 70_000]:
        text = "".join(chr(0x61 + (index + size) % 26) for index in range(size - size // 10)) + "é" * (
            size // 20
        )
        for message, first in ((text, 0x81), (text.encode(), 0x82)):
            frame = framer(message)
            payload = text.encode()
            header_size = 2 if len(payload) < 126 else 4 if len(payload) < 65536 else 10
            key = frame[header_size : header_size + 4]
            assert frame == masked_by_hand(first, payload, key), (size, type(message))


def test_a_message_is_framed_text_for_str_binary_for_bytes_masked_byte_for_byte() -> None:
    """encode_message (a connection's prompts) gives the frame encode_frame gives, for every size."""
    assert_messages_framed_by_hand(encode_message)


@pytest.mark.parametrize(
    "frame",
    [
        encode_frame(OP_TEXT, b"hi", mask=True),  # the size a block of one small frame takes
        encode_frame(OP_TEXT, b"x" * 300, mask=True),  # a 16-bit length
        encode_frame(OP_PING, b"", mask=True),
        encode_frame(OP_TEXT, b"after", mask=False) + encode_frame(OP_TEXT, b"masked", mask=True),
    ],
    ids=["small", "16-bit-length", "control", "after-an-unmasked-frame"],
)
def test_a_masked_frame_from_the_server_raises_protocol_error(frame: bytes) -> None:
    """RFC 6455 §5.1: a client must fail the connection on a masked frame from the server."""
    with pytest.raises(ProtocolError, match="masked frame"):
        FrameReader().feed(frame)


def test_a_masked_frame_is_refused_before_its_payload_arrives() -> None:
    reader = FrameReader()

    with pytest.raises(ProtocolError, match="masked frame"):
        reader.feed(encode_frame(OP_TEXT, b"x" * 300, mask=True)[:8])


def test_unmasked_frame_carries_payload_verbatim() -> None:
    frame = encode_frame(OP_TEXT, b"hi", mask=False)

    assert frame == b"\x81\x02hi"
    assert FrameReader().feed(frame) == [(OP_TEXT, b"hi")]


@pytest.mark.parametrize(
    ("size", "length_byte", "header_size"),
    [
        (0, 0, 2),
        (125, 125, 2),
        (126, 126, 4),
        (65535, 126, 4),
        (65536, 127, 10),
        (70000, 127, 10),
    ],
)
@pytest.mark.parametrize("mask", [False, True])
def test_each_length_encoding_round_trips(size: int, length_byte: int, header_size: int, mask: bool) -> None:
    payload = bytes(i % 251 for i in range(size))
    frame = encode_frame(OP_BINARY, payload, mask=mask)

    assert frame[1] & 0x7F == length_byte
    assert len(frame) == header_size + (4 if mask else 0) + size
    assert FrameReader(accept_masked=mask).feed(frame) == [(OP_BINARY, payload)]


def test_stream_split_at_every_byte_boundary_gives_the_same_frames() -> None:
    stream = encode_frame(OP_TEXT, b"first message", mask=True) + encode_frame(
        OP_BINARY, bytes(range(200)), mask=True
    )
    expected = [(OP_TEXT, b"first message"), (OP_BINARY, bytes(range(200)))]

    for cut in range(len(stream) + 1):
        reader = FrameReader(accept_masked=True)
        frames = reader.feed(stream[:cut]) + reader.feed(stream[cut:])
        assert frames == expected, f"split at byte {cut}"
        assert reader.pending == 0


def test_stream_fed_one_byte_at_a_time_gives_the_same_frames() -> None:
    stream = encode_frame(OP_TEXT, b"a" * 300, mask=False) + encode_frame(OP_PING, b"p", mask=False)
    reader = FrameReader()

    frames = [frame for byte in stream for frame in reader.feed(bytes((byte,)))]

    assert frames == [(OP_TEXT, b"a" * 300), (OP_PING, b"p")]


def test_partial_frame_is_kept_pending_until_complete() -> None:
    frame = encode_frame(OP_TEXT, b"hello", mask=False)
    reader = FrameReader()

    assert reader.feed(frame[:4]) == []
    assert reader.pending == 4
    assert reader.feed(frame[4:]) == [(OP_TEXT, b"hello")]
    assert reader.pending == 0


def test_several_frames_in_one_feed_are_returned_in_order() -> None:
    stream = (
        encode_frame(OP_TEXT, b"one", mask=False)
        + encode_frame(OP_PING, b"", mask=False)
        + encode_frame(OP_BINARY, b"\x00\x01", mask=False)
        + encode_frame(OP_PONG, b"x", mask=False)
        + encode_frame(OP_TEXT, b"two", mask=False)
    )

    assert FrameReader().feed(stream) == [
        (OP_TEXT, b"one"),
        (OP_PING, b""),
        (OP_BINARY, b"\x00\x01"),
        (OP_PONG, b"x"),
        (OP_TEXT, b"two"),
    ]


def test_fragmented_message_is_joined_and_interleaved_ping_returned_first() -> None:
    stream = (
        raw_frame(OP_TEXT, b"Hel", final=False)
        + raw_frame(OP_CONTINUATION, b"lo, ", final=False)
        + raw_frame(OP_PING, b"are you there")
        + raw_frame(OP_CONTINUATION, b"world")
    )

    assert FrameReader().feed(stream) == [(OP_PING, b"are you there"), (OP_TEXT, b"Hello, world")]


def test_fragmented_binary_message_keeps_its_opcode_across_feeds() -> None:
    reader = FrameReader()

    assert reader.feed(raw_frame(OP_BINARY, b"\x01", final=False)) == []
    assert reader.feed(raw_frame(OP_CONTINUATION, b"\x02", final=False)) == []
    assert reader.feed(raw_frame(OP_CONTINUATION, b"\x03")) == [(OP_BINARY, b"\x01\x02\x03")]
    assert reader.feed(raw_frame(OP_TEXT, b"next")) == [(OP_TEXT, b"next")]


def test_continuation_without_a_started_message_raises_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="continuation"):
        FrameReader().feed(raw_frame(OP_CONTINUATION, b"orphan"))


def test_new_message_inside_a_fragmented_message_raises_protocol_error() -> None:
    stream = raw_frame(OP_TEXT, b"start", final=False) + raw_frame(OP_TEXT, b"another")

    with pytest.raises(ProtocolError, match="inside a fragmented message"):
        FrameReader().feed(stream)


@pytest.mark.parametrize("rsv", [0b100, 0b010, 0b001])
def test_reserved_bits_raise_protocol_error(rsv: int) -> None:
    with pytest.raises(ProtocolError, match="reserved bits"):
        FrameReader().feed(raw_frame(OP_TEXT, b"compressed?", rsv=rsv))


@pytest.mark.parametrize("opcode", [0x3, 0x7, 0xB, 0xF])
def test_unknown_opcode_raises_protocol_error(opcode: int) -> None:
    with pytest.raises(ProtocolError, match="unknown opcode"):
        FrameReader().feed(raw_frame(opcode, b""))


def test_control_frame_over_125_bytes_raises_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="control frame"):
        FrameReader().feed(raw_frame(OP_PING, b"x" * 126))


def test_fragmented_control_frame_raises_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="control frame"):
        FrameReader().feed(raw_frame(OP_PING, b"x", final=False))


def test_control_frame_of_exactly_125_bytes_is_accepted() -> None:
    assert FrameReader().feed(raw_frame(OP_PONG, b"x" * 125)) == [(OP_PONG, b"x" * 125)]


def test_single_frame_over_max_message_bytes_raises_before_its_payload_arrives() -> None:
    frame = raw_frame(OP_BINARY, b"x" * 101)

    with pytest.raises(
        ProtocolError, match="frame of 101 bytes exceeds the 100-byte message limit"
    ) as raised:
        FrameReader(max_message_bytes=100).feed(frame[:4])
    assert raised.value.close_code == 1009


def test_fragmented_message_over_max_message_bytes_raises_before_the_last_payload_arrives() -> None:
    reader = FrameReader(max_message_bytes=100)
    reader.feed(raw_frame(OP_TEXT, b"x" * 60, final=False))

    with pytest.raises(
        ProtocolError, match="message of 120 bytes exceeds the 100-byte message limit"
    ) as raised:
        reader.feed(raw_frame(OP_CONTINUATION, b"x" * 60)[:2])
    assert raised.value.close_code == 1009


def test_the_limit_counts_each_message_from_zero() -> None:
    reader = FrameReader(max_message_bytes=100)
    for _ in range(3):
        stream = raw_frame(OP_TEXT, b"x" * 60, final=False) + raw_frame(OP_CONTINUATION, b"y" * 40)
        assert reader.feed(stream) == [(OP_TEXT, b"x" * 60 + b"y" * 40)]


def test_control_frames_do_not_count_against_a_small_message_limit() -> None:
    reader = FrameReader(max_message_bytes=10)
    stream = (
        raw_frame(OP_TEXT, b"x" * 5, final=False)
        + raw_frame(OP_PING, b"p" * 125)
        + raw_frame(OP_CONTINUATION, b"y" * 5)
    )

    assert reader.feed(stream) == [(OP_PING, b"p" * 125), (OP_TEXT, b"x" * 5 + b"y" * 5)]


def test_a_control_frame_over_125_bytes_is_refused_before_its_payload_arrives() -> None:
    with pytest.raises(ProtocolError, match="control frame of 65536 bytes"):
        FrameReader().feed(raw_frame(OP_PING, b"x" * 65536)[:10])


def test_the_default_message_limit_is_4_mib() -> None:
    assert FrameReader().max_message_bytes == DEFAULT_MAX_MESSAGE_BYTES == 4 * 1024 * 1024


def test_message_of_exactly_max_message_bytes_is_accepted() -> None:
    reader = FrameReader(max_message_bytes=100)
    stream = raw_frame(OP_TEXT, b"x" * 50, final=False) + raw_frame(OP_CONTINUATION, b"y" * 50)

    assert reader.feed(stream) == [(OP_TEXT, b"x" * 50 + b"y" * 50)]


def test_parse_close_reads_code_and_reason() -> None:
    assert parse_close(struct.pack("!H", 1001) + "going away ✓".encode()) == (1001, "going away ✓")


def test_parse_close_of_code_without_reason_gives_empty_reason() -> None:
    assert parse_close(struct.pack("!H", 1000)) == (1000, "")


def test_parse_close_of_empty_payload_gives_no_code() -> None:
    assert parse_close(b"") == (None, "")


@pytest.mark.parametrize(
    "code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]
)
def test_parse_close_accepts_every_code_that_may_be_sent(code: int) -> None:
    assert parse_close(struct.pack("!H", code) + b"bye") == (code, "bye")


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535])
def test_parse_close_of_a_code_that_may_not_be_sent_raises_protocol_error(code: int) -> None:
    """RFC 6455 §7.4: 1005, 1006 and 1015 are never sent; 1004 and 1016-2999 are reserved."""
    with pytest.raises(ProtocolError, match=f"code {code}, which may not be sent"):
        parse_close(struct.pack("!H", code))


def test_parse_close_of_a_1_byte_payload_raises_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="1-byte payload"):
        parse_close(b"\x03")


def test_parse_close_of_a_reason_that_is_not_utf8_raises_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="not valid UTF-8"):
        parse_close(struct.pack("!H", 1000) + b"caf\xc3")


@pytest.mark.parametrize("mask", [False, True])
def test_encode_close_round_trips_through_reader_and_parse_close(mask: bool) -> None:
    frames = FrameReader(accept_masked=mask).feed(encode_close(4000, "bye ✓", mask=mask))

    assert [opcode for opcode, _ in frames] == [OP_CLOSE]
    assert parse_close(frames[0][1]) == (4000, "bye ✓")


def test_encode_close_defaults_to_normal_closure() -> None:
    frames = FrameReader(accept_masked=True).feed(encode_close())

    assert frames == [(OP_CLOSE, struct.pack("!H", 1000))]


def test_encode_close_truncates_long_reason_to_fit_a_control_frame() -> None:
    [(opcode, payload)] = FrameReader(accept_masked=True).feed(encode_close(1000, "r" * 500))

    assert opcode == OP_CLOSE
    assert len(payload) == 125
    assert parse_close(payload) == (1000, "r" * 123)


def test_encode_close_truncates_multibyte_reason_on_a_character_boundary() -> None:
    # RFC 6455 §5.5.1: the reason is UTF-8; cutting a character in half makes peers fail with 1007.
    [(_, payload)] = FrameReader(accept_masked=True).feed(encode_close(1000, "é" * 100))

    reason = payload[2:]
    assert len(payload) <= 125
    assert reason.decode("utf-8") == "é" * (len(reason) // 2)


def test_the_frames_before_a_broken_one_are_kept_for_the_caller() -> None:
    reader = FrameReader()
    stream = raw_frame(OP_TEXT, b"first") + raw_frame(OP_PING, b"p") + raw_frame(OP_TEXT, b"bad", rsv=0b010)

    with pytest.raises(ProtocolError, match="reserved bits"):
        reader.feed(stream)
    assert reader.read_before_error == [(OP_TEXT, b"first"), (OP_PING, b"p")]
