"""A reply that is one message (``plain``'s), read by ``Connection.receive``'s shortcut for a block of
one small whole text frame (``Protocol.reply_text``), gives exactly what the general path gives: the
same blocks fed to a connection with the shortcut and to one without it, every figure compared
(text, chunks and their times, TTFT, total time, bytes, meta, error, the actions asked, the traffic
counted and the reader's state)."""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from wslocust.wire.connection import Connection
from wslocust.wire.deflate import DeflateParameters
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
from wslocust.wire.protocols import PlainProtocol
from wslocust.wire.protocols.base import END, Chunk, Event, Message, Protocol, reply_reader
from wslocust.wire.reply import Reply
from wslocust.wire.traffic import Traffic

from .test_block_reader import figures, text


def compressed(message: str) -> bytes:
    """A text message compressed with permessage-deflate (RSV1 set), as a server sends it."""
    deflate = zlib.compressobj(wbits=-15)
    payload = (deflate.compress(message.encode()) + deflate.flush(zlib.Z_SYNC_FLUSH))[:-4]
    return encode_frame(0x40 | OP_TEXT, payload, mask=False)


PING = encode_frame(OP_PING, b"beat", mask=False)
PONG = encode_frame(OP_PONG, b"", mask=False)

STREAMS: dict[str, list[bytes]] = {
    "one reply a block": [text("hello"), text("caf\u00e9 \u2713"), text(""), text("last")],
    "payloads about the one-byte size's": [text("z" * size) for size in range(120, 131)],
    "a reply split across blocks": [text("split here")[:4], text("split here")[4:], text("next")],
    "a header left pending": [text("abc")[:1], text("abc")[1:], text("d")],
    "two replies in one block: the second is a push": [text("a") + text("b"), text("c")],
    "a ping before the reply, apart and in its block": [PING, text("a"), PING + text("b"), text("c") + PING],
    "a pong": [PONG, text("a")],
    "a fragmented message": [
        bytes((OP_TEXT, 3)) + b"abc",
        encode_frame(OP_CONTINUATION, b"def", mask=False),
        text("after"),
    ],
    "a non-final frame the size of its block": [bytes((OP_TEXT, 1)) + b"x", bytes((0x80, 1)) + b"y"],
    "a 16-bit size for a small payload": [bytes((0x81, 126, 0, 5)) + b"hello", text("after")],
    "binary": [encode_frame(OP_BINARY, b"bin \xff", mask=False), text("after")],
    "not UTF-8": [text("a"), encode_frame(OP_TEXT, b"\xff\xfe", mask=False)],
    "masked": [text("a"), encode_frame(OP_TEXT, b"masked")],
    "reserved bits": [text("a"), bytes((0xC1, 1)) + b"x"],
    "an unknown opcode": [text("a"), bytes((0x83, 1)) + b"x"],
    "a close": [text("a"), encode_frame(OP_CLOSE, encode_close(4001, "gone", mask=False)[2:], mask=False)],
    # Blocks that look like one whole text frame while the reader holds part of a frame or message.
    "a held header whose payload looks like a frame": [
        encode_frame(OP_BINARY, b"\x81\x01y", mask=False)[:2],
        encode_frame(OP_BINARY, b"\x81\x01y", mask=False)[2:],
        text("after"),
    ],
    "a text frame inside a fragmented message": [bytes((OP_TEXT, 3)) + b"abc", text("x"), text("after")],
    "a size byte that does not match the block": [bytes((0x81, 3)) + b"ab", b"c", bytes((0x81, 1)) + b"de"],
}


class _General(PlainProtocol):
    """plain with its own feed: reply_text no longer mirrors it, so every block takes the loop."""

    def feed(self, message: Message) -> Sequence[Event]:
        return super().feed(message)


class _Prefixed(Protocol):
    """ "c:" messages are a chunk, "r:" ones a chunk that ends the reply, others nothing."""

    def request(self, prompt: str, record: Mapping[str, Any]) -> Sequence[Message]:
        return (prompt,)

    def feed(self, message: Message) -> Sequence[Event]:
        if isinstance(message, str) and message.startswith("c:"):
            return (Chunk(message[2:]),)
        if isinstance(message, str) and message.startswith("r:"):
            return (Chunk(message[2:]), END)
        return ()

    def chunk_text(self, message: Message) -> str | None:
        return message[2:] if isinstance(message, str) and message.startswith("c:") else None

    def reply_text(self, message: Message) -> str | None:
        return message[2:] if isinstance(message, str) and message.startswith("r:") else None


class _PrefixedGeneral(_Prefixed):
    def feed(self, message: Message) -> Sequence[Event]:
        return super().feed(message)


def recorded(
    protocol: Protocol, blocks: list[bytes], reader: FrameReader | None = None, **options: Any
) -> Any:
    """Every figure of the replies after feeding ``blocks`` (a new reply started after each end)."""
    connection = Connection(protocol, reader, traffic=Traffic(), **options)
    replies: list[Reply] = []
    actions: list[Any] = []
    for index, block in enumerate(blocks):
        if connection.reply is None:
            replies.append(Reply(prompt="hello", name="ask", record={}))
            connection.start(replies[-1])
        actions.append(connection.receive(block, 2.0 + index))
    return (
        *figures(connection, replies, actions),
        [reply.meta is END.meta for reply in replies],  # the shortcut's meta is the end's own
        connection.reader.between_messages,
    )


def test_plain_reads_a_whole_reply_through_the_shortcut_and_its_own_feed_turns_it_off() -> None:
    assert reply_reader(PlainProtocol()) is not None
    assert reply_reader(_General()) is None


@pytest.mark.parametrize("stream", STREAMS)
def test_the_same_blocks_give_the_same_figures_with_the_shortcut_or_without(stream: str) -> None:
    blocks = STREAMS[stream]
    assert recorded(PlainProtocol(), blocks) == recorded(_General(), blocks)


def test_every_block_of_a_stream_of_whole_replies_takes_the_shortcut() -> None:
    """The protocol's feed is never called, and the figures are the general path's."""
    blocks = STREAMS["one reply a block"] + STREAMS["payloads about the one-byte size's"][:6]

    class _Counted(PlainProtocol):
        fed = 0

        def feed(self, message: Message) -> Sequence[Event]:
            self.fed += 1
            return super().feed(message)

        def reply_text(self, message: Message) -> str | None:
            return super().reply_text(message)

    protocol = _Counted()
    assert recorded(protocol, blocks) == recorded(_General(), blocks)
    assert protocol.fed == 0


@pytest.mark.parametrize("limit", [0, 3, 4, 124, 125, 126])
def test_a_message_limit_is_kept_by_the_shortcut(limit: int) -> None:
    blocks = [text("abc"), text("abcd"), text("x" * 125), text("x" * 126)]
    ours = recorded(PlainProtocol(), blocks, FrameReader(max_message_bytes=limit))
    assert ours == recorded(_General(), blocks, FrameReader(max_message_bytes=limit))


def test_a_compressed_connection_reads_uncompressed_and_compressed_replies_alike() -> None:
    blocks = [text("plain"), compressed("inflated"), text("again")]
    ours = recorded(PlainProtocol(), blocks, deflate=DeflateParameters())
    assert ours == recorded(_General(), blocks, deflate=DeflateParameters())
    assert [reply[0] for reply in ours[0]] == ["plain", "inflated", "again"]


def test_chunks_before_a_whole_reply_message_are_joined_before_its_text() -> None:
    blocks = [
        text("c:a"),
        text("c:b ") + text("r:c"),
        text("r:alone"),
        text("c:x"),
        text("other"),
        text("r:y"),
    ]
    ours = recorded(_Prefixed(), blocks)
    assert ours == recorded(_PrefixedGeneral(), blocks)
    assert [reply[0] for reply in ours[0]] == ["ab c", "alone", "xy"]
