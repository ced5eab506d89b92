"""A streamed reply's blocks read where they lie (``Connection.block_reader``) give exactly what
``Connection.receive`` gives for the same bytes: the same frames fed both ways, from a buffer the
I/O reuses for every block, and every figure compared (text, chunk count and times, TTFT, total
time, bytes, meta, error, the actions asked and the traffic counted)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from wslocust.wire.connection import Connection
from wslocust.wire.frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_TEXT,
    FrameReader,
    encode_close,
    encode_frame,
)
from wslocust.wire.protocols import JsonProtocol
from wslocust.wire.protocols.apigw import ApiGatewayProtocol
from wslocust.wire.protocols.base import Protocol
from wslocust.wire.protocols.openai_realtime import OpenAIRealtimeProtocol
from wslocust.wire.reply import Reply
from wslocust.wire.traffic import Traffic


def text(message: str) -> bytes:
    return encode_frame(OP_TEXT, message.encode(), mask=False)


def chunk(words: str) -> bytes:
    return text(json.dumps({"type": "chunk", "text": words}, separators=(",", ":")))


END = text('{"type":"end","intent":"hours"}')
PING = encode_frame(OP_PING, b"beat", mask=False)
FIRST_FRAGMENT = bytes((OP_TEXT, 16)) + b'{"type":"chunk",'  # not final: a continuation follows

STREAMS: dict[str, list[bytes]] = {
    "one chunk a block": [chunk("a"), chunk("b c"), chunk("caf\u00e9"), END],
    "chunks of every size about the one-byte size's": [chunk("z" * size) for size in range(95, 105)] + [END],
    "a burst, then single blocks": [chunk("a") + chunk("b"), chunk("c"), END + chunk("pushed")],
    "a ping mid-reply": [chunk("a"), PING, chunk("b"), END],
    "a frame split across blocks": [chunk("a"), chunk("bcd")[:5], chunk("bcd")[5:], chunk("e"), END],
    # The next frame's header ends a block; the following block's first bytes are that frame's payload.
    "a header left pending": [chunk("a") + b"\x81\x0e", b'\x81\x0c{"text":"x"}', END],
    "a fragmented message": [
        chunk("a"),
        FIRST_FRAGMENT,
        encode_frame(OP_CONTINUATION, b'"text":"joined"}', mask=False),
        chunk("after"),
        END,
    ],
    "not a chunk: heartbeat, empty text, binary": [
        text('{"type":"heartbeat"}'),
        chunk(""),
        encode_frame(OP_BINARY, b'{"type":"chunk","text":"binary"}', mask=False),
        text(' {"type":"chunk","text":"padded"} '),
        chunk("a"),
        END,
    ],
    "the bot's error": [chunk("a"), text('{"type":"error","message":"overloaded"}'), chunk("late")],
    "a text frame that is not UTF-8": [chunk("a"), encode_frame(OP_TEXT, b'{"text":"\xff"}', mask=False)],
    "not JSON": [chunk("a"), text("not json")],
    "a close mid-reply": [
        chunk("a"),
        encode_frame(OP_CLOSE, encode_close(4001, "gone", mask=False)[2:], mask=False),
    ],
    "a masked frame": [chunk("a"), encode_frame(OP_TEXT, b'{"type":"chunk","text":"m"}')],
}


def figures(connection: Connection, replies: list[Reply], actions: list[Any]) -> Any:
    """Every figure of the replies, the actions asked, the traffic counted and the reader's state."""
    traffic = connection.traffic
    return (
        [
            (reply.text, reply.chunks, reply.chunk_times_ms, reply.time_to_first_chunk_ms, reply.total_time_ms,
             reply.bytes, dict(reply.meta), None if reply.error is None else (type(reply.error), str(reply.error)))
            for reply in replies
        ],
        actions,
        [getattr(traffic, name) for name in Traffic.FIELDS],
        connection.reader.pending,
        connection.reply is None,
    )  # fmt: skip


def read_by_receive(protocol: Protocol, blocks: list[bytes], reader: FrameReader | None = None) -> Any:
    connection = Connection(protocol, reader, traffic=Traffic())
    reply = Reply(prompt="hello", name="ask", record={})
    connection.start(reply)
    actions = [connection.receive(block, 2.0 + index) for index, block in enumerate(blocks)]
    return figures(connection, [reply], actions)


def read_where_they_lie(protocol: Protocol, blocks: list[bytes], reader: FrameReader | None = None) -> Any:
    """The hub's way: each block read into one reused buffer; the block reader made after the first."""
    connection = Connection(protocol, reader, traffic=Traffic())
    reply = Reply(prompt="hello", name="ask", record={})
    connection.start(reply)
    buffer = bytearray(256)
    view = memoryview(buffer)
    actions = [connection.receive(blocks[0], 2.0)]
    read = connection.block_reader()
    for index, block in enumerate(blocks[1:], start=1):
        buffer[:] = b"\xee" * len(buffer)  # what the last read left must not be read again
        view[: len(block)] = block
        actions.append(read(view, len(block), 2.0 + index))
    return figures(connection, [reply], actions)


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("protocol_class", [JsonProtocol, ApiGatewayProtocol])
def test_the_same_blocks_give_the_same_figures_read_where_they_lie_or_copied(
    protocol_class: type[Protocol], stream: str
) -> None:
    blocks = STREAMS[stream]
    assert read_where_they_lie(protocol_class(), blocks) == read_by_receive(protocol_class(), blocks)


def test_the_one_byte_size_limit_is_where_the_shortcut_ends() -> None:
    """Blocks of 127 and 128 bytes (payloads of 125, and 126 with a 16-bit size) read as receive reads them."""
    longest = text('{"type":"chunk","text":"' + "x" * (125 - 26) + '"}')
    extended = text('{"type":"chunk","text":"' + "x" * (126 - 26) + '"}')
    assert (len(longest), len(extended)) == (127, 130)
    blocks = [chunk("a"), longest, extended, END]
    ours = read_where_they_lie(JsonProtocol(), blocks)
    assert ours == read_by_receive(JsonProtocol(), blocks)
    assert ours[0][0][1] == 3  # all three chunks counted


def test_a_small_message_limit_is_kept_when_read_where_they_lie() -> None:
    """A reader refusing messages over 20 bytes fails the reply with 1009 both ways."""
    blocks = [chunk("a"), chunk("much longer than the limit"), END]
    ours = read_where_they_lie(JsonProtocol(), blocks, FrameReader(max_message_bytes=20))
    assert ours == read_by_receive(JsonProtocol(), blocks, FrameReader(max_message_bytes=20))
    assert ours[0][0][-1][0].__name__ == "ProtocolError"


def test_decrypted_blocks_given_as_bytes_read_as_receive_reads_them() -> None:
    """wss:// hands the reader the decrypted bytes themselves (not a buffer)."""
    blocks = [chunk("a"), chunk("b"), PING, chunk("c"), END]
    connection = Connection(JsonProtocol(), traffic=Traffic())
    reply = Reply(prompt="hello", name="ask", record={})
    connection.start(reply)
    actions = [connection.receive(blocks[0], 2.0)]
    read = connection.block_reader()
    actions += [read(block, len(block), 3.0 + index) for index, block in enumerate(blocks[1:])]
    reference = Connection(JsonProtocol(), traffic=Traffic())
    expected = Reply(prompt="hello", name="ask", record={})
    reference.start(expected)
    expected_actions = [
        reference.receive(block, time_ms)
        for block, time_ms in zip(blocks, (2.0, 3.0, 4.0, 5.0, 6.0), strict=True)
    ]
    assert figures(connection, [reply], actions) == figures(reference, [expected], expected_actions)


def test_a_realtime_stream_reads_as_receive_reads_it() -> None:
    blocks = [
        text(json.dumps({"type": "response.created", "response": {"id": "r1"}})),
        text(json.dumps({"type": "response.output_text.delta", "response_id": "r1", "delta": "a"})),
        text(json.dumps({"type": "response.done", "response": {"id": "r1", "status": "completed"}})),
    ]
    ours = read_where_they_lie(OpenAIRealtimeProtocol(), blocks)
    assert ours == read_by_receive(OpenAIRealtimeProtocol(), blocks)
    assert ours[0][0][:2] == ("a", 1)
