"""permessage-deflate (RFC 7692), socket-free: the server's answer checked, messages inflated within a
limit and deflated, the compressed connection's reader and its prompts. Compressed server frames are
made here with zlib itself, not with the code under test."""

from __future__ import annotations

import random
import tracemalloc
import zlib

import pytest

from wslocust.errors import ConnectError, ProtocolError
from wslocust.wire.connection import Close, Connection
from wslocust.wire.deflate import (
    OFFER,
    DeflateFrameReader,
    DeflateParameters,
    Deflater,
    Inflater,
    negotiate,
)
from wslocust.wire.frames import (
    OP_BINARY,
    OP_CONTINUATION,
    OP_PING,
    OP_TEXT,
    RSV1,
    FrameReader,
    encode_frame,
)
from wslocust.wire.protocols import PlainProtocol
from wslocust.wire.reply import Reply

from ..conftest import server_frame

LIMIT = 64 * 1024


def compress(*messages: bytes, window_bits: int = 15, context_takeover: bool = True) -> list[bytes]:
    """Messages as a server compresses them: raw DEFLATE, sync-flushed, the ``00 00 ff ff`` tail cut."""
    encoder = zlib.compressobj(wbits=-window_bits)
    payloads = []
    for message in messages:
        if not context_takeover:
            encoder = zlib.compressobj(wbits=-window_bits)
        data = encoder.compress(message) + encoder.flush(zlib.Z_SYNC_FLUSH)
        assert data.endswith(b"\x00\x00\xff\xff")
        payloads.append(data[:-4])
    return payloads


def compressed_frame(message: bytes, opcode: int = OP_TEXT) -> bytes:
    return server_frame(opcode, compress(message)[0], rsv=4)


def reader(max_message_bytes: int = LIMIT, **parameters: bool | int) -> DeflateFrameReader:
    return DeflateFrameReader(DeflateParameters(**parameters).inflater(), max_message_bytes)  # type: ignore[arg-type]


# -- the server's answer -----------------------------------------------------------------------------


def test_the_offer_names_the_extension_and_lets_the_server_limit_the_clients_window() -> None:
    assert OFFER == "permessage-deflate; client_max_window_bits"


@pytest.mark.parametrize("answer", [None, "", "  "])
def test_no_extension_in_the_answer_means_an_uncompressed_connection(answer: str | None) -> None:
    assert negotiate(answer, offered=True) is None


def test_the_bare_extension_agrees_the_default_parameters() -> None:
    assert negotiate("permessage-deflate", offered=True) == DeflateParameters()


@pytest.mark.parametrize(
    ("answer", "agreed"),
    [
        (
            "permessage-deflate; server_no_context_takeover",
            DeflateParameters(server_no_context_takeover=True),
        ),
        (
            "permessage-deflate; client_no_context_takeover",
            DeflateParameters(client_no_context_takeover=True),
        ),
        ("permessage-deflate; server_max_window_bits=10", DeflateParameters(server_max_window_bits=10)),
        ("permessage-deflate; client_max_window_bits=9", DeflateParameters(client_max_window_bits=9)),
        ('permessage-deflate; client_max_window_bits="12"', DeflateParameters(client_max_window_bits=12)),
        (
            "Permessage-Deflate;Server_No_Context_Takeover ; client_no_context_takeover;"
            " server_max_window_bits=8; client_max_window_bits=15",
            DeflateParameters(True, True, 8, 15),
        ),
    ],
)
def test_each_parameter_of_the_answer_is_agreed(answer: str, agreed: DeflateParameters) -> None:
    assert negotiate(answer, offered=True) == agreed


def test_the_agreed_parameters_read_as_the_header_writes_them() -> None:
    agreed = DeflateParameters(server_no_context_takeover=True, client_max_window_bits=12)
    assert str(agreed) == "permessage-deflate; server_no_context_takeover; client_max_window_bits=12"


def test_an_answer_accepting_deflate_that_was_not_offered_fails_the_connection() -> None:
    with pytest.raises(ConnectError, match="permessage-deflate, which was not offered"):
        negotiate("permessage-deflate", offered=False)


def test_an_answer_accepting_another_extension_fails_the_connection() -> None:
    with pytest.raises(ConnectError, match="'x-webkit-deflate-frame', which was not offered"):
        negotiate("x-webkit-deflate-frame", offered=True)


@pytest.mark.parametrize(
    ("answer", "culprit"),
    [
        ("permessage-deflate; level=9", "unknown parameter 'level'"),
        ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", "given twice"),
        ("permessage-deflate; client_no_context_takeover=1", "takes no value"),
        (
            "permessage-deflate; server_max_window_bits",
            "server_max_window_bits must be a window size of 8 to 15 bits, got none",
        ),
        ("permessage-deflate; client_max_window_bits", "client_max_window_bits must be a window size"),
        ("permessage-deflate; server_max_window_bits=7", "got '7'"),
        ("permessage-deflate; client_max_window_bits=16", "got '16'"),
        ("permessage-deflate; server_max_window_bits=0x0f", "got '0x0f'"),
        ("permessage-deflate, permessage-deflate", "accepted permessage-deflate 2 times"),
    ],
)
def test_an_invalid_answer_fails_the_connection_naming_the_culprit(answer: str, culprit: str) -> None:
    with pytest.raises(ConnectError, match="negotiation failed") as raised:
        negotiate(answer, offered=True)
    assert culprit in str(raised.value)


# -- inflating and deflating --------------------------------------------------------------------------


def test_messages_compressed_with_context_takeover_inflate_in_order() -> None:
    messages = [b"the refund policy is thirty days " * 4, b"the refund policy is thirty days, yes"]
    first, second = compress(*messages)
    assert len(second) < len(compress(messages[1])[0]), "the second message refers to the first"
    inflater = Inflater()
    assert [inflater.inflate(first, LIMIT), inflater.inflate(second, LIMIT)] == messages


def test_without_server_context_takeover_each_message_inflates_afresh() -> None:
    messages = [b"abc " * 50, b"xyz " * 50, b"abc " * 50]
    inflater = Inflater(no_context_takeover=True)
    payloads = compress(*messages, context_takeover=False)
    assert [inflater.inflate(payload, LIMIT) for payload in payloads] == messages


def test_the_inflater_keeps_the_window_agreed_between_messages() -> None:
    # The second message repeats the first, 1,024 bytes back: within a 15-bit window, beyond a 9-bit
    # one (512 bytes), which is all an inflater of 9 bits keeps of the message before.
    block = random.Random(7).randbytes(1024)
    wide = compress(block, block, window_bits=15)
    inflater = Inflater(15)
    assert [inflater.inflate(payload, LIMIT) for payload in wide] == [block, block]
    narrow = Inflater(9)
    narrow.inflate(wide[0], LIMIT)
    with pytest.raises(ProtocolError, match="cannot be inflated"):
        narrow.inflate(wide[1], LIMIT)
    inflater = Inflater(9)
    assert [inflater.inflate(payload, LIMIT) for payload in compress(block, block, window_bits=9)] == [
        block,
        block,
    ]


@pytest.mark.parametrize("window_bits", [8, 9, 12, 15])
def test_the_deflater_writes_what_an_inflater_of_the_agreed_window_reads(window_bits: int) -> None:
    deflater = Deflater(window_bits)
    decoder = zlib.decompressobj(wbits=-window_bits)
    block = bytes(range(256)) * 8
    for message in (block, block, b"short prompt"):
        payload = deflater.deflate(message)
        assert not payload.endswith(b"\x00\x00\xff\xff")
        assert decoder.decompress(payload + b"\x00\x00\xff\xff") == message


def test_without_client_context_takeover_each_prompt_is_deflated_afresh() -> None:
    deflater = Deflater(no_context_takeover=True)
    prompt = b"how do I get a refund for my order? " * 3
    first, second = deflater.deflate(prompt), deflater.deflate(prompt)
    assert first == second
    assert zlib.decompressobj(wbits=-15).decompress(second + b"\x00\x00\xff\xff") == prompt


def test_with_client_context_takeover_a_repeated_prompt_refers_to_the_last() -> None:
    deflater = Deflater()
    prompt = b"how do I get a refund for my order? " * 3
    first, second = deflater.deflate(prompt), deflater.deflate(prompt)
    assert len(second) < len(first)


def test_a_message_of_exactly_the_limit_inflates() -> None:
    [payload] = compress(b"a" * LIMIT)
    assert Inflater().inflate(payload, LIMIT) == b"a" * LIMIT


def test_a_decompression_bomb_is_a_protocol_error_that_never_holds_more_than_the_limit() -> None:
    bomb = b"\x00" * (64 * 1024 * 1024)
    [payload] = compress(bomb)
    assert len(payload) < 100_000  # 64 MiB of zeros fit in a small frame
    limit = 1024 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(ProtocolError, match=f"inflates past the {limit}-byte message limit"):
            Inflater().inflate(payload, limit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * limit


def test_data_that_is_not_deflate_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="cannot be inflated"):
        Inflater().inflate(b"\xff\xff\xff\xff not deflate", LIMIT)


# -- the compressed connection's frame reader ---------------------------------------------------------


def test_a_compressed_text_message_is_inflated() -> None:
    message = "Refunds take 5 to 7 days. ✓ ".encode() * 20
    assert reader().feed(compressed_frame(message)) == [(OP_TEXT, message)]


def test_a_compressed_binary_message_keeps_its_opcode() -> None:
    assert reader().feed(compressed_frame(b"\x00\x01" * 100, OP_BINARY)) == [(OP_BINARY, b"\x00\x01" * 100)]


def test_an_uncompressed_message_on_a_compressed_connection_is_read_as_it_is() -> None:
    assert reader().feed(server_frame(OP_TEXT, b"plain")) == [(OP_TEXT, b"plain")]


def test_a_fragmented_compressed_message_is_joined_then_inflated_with_a_ping_between() -> None:
    message = b"streamed answer " * 40
    payload = compress(message)[0]
    third = len(payload) // 3
    stream = (
        server_frame(OP_TEXT, payload[:third], final=False, rsv=4)
        + server_frame(OP_PING, b"hb")
        + server_frame(OP_CONTINUATION, payload[third : 2 * third], final=False)
        + server_frame(OP_CONTINUATION, payload[2 * third :])
    )
    one = reader()
    frames = []
    for index in range(len(stream)):  # a byte at a time: the compressed flag outlives every feed
        frames += one.feed(stream[index : index + 1])
    assert frames == [(OP_PING, b"hb"), (OP_TEXT, message)]


def test_compressed_messages_share_their_context_across_frames() -> None:
    messages = [b"order 1234 shipped today " * 5, b"order 1234 shipped today, tracking sent"]
    stream = b"".join(server_frame(OP_TEXT, payload, rsv=4) for payload in compress(*messages))
    assert reader().feed(stream) == [(OP_TEXT, messages[0]), (OP_TEXT, messages[1])]


@pytest.mark.parametrize(
    "frame",
    [
        server_frame(OP_TEXT, b"x", final=False) + server_frame(OP_CONTINUATION, b"y", rsv=4),
        server_frame(OP_PING, b"", rsv=4),
        server_frame(OP_TEXT, b"x", rsv=2),
        server_frame(OP_TEXT, b"x", rsv=1),
        server_frame(OP_TEXT, b"x", rsv=6),
    ],
    ids=["rsv1-on-continuation", "rsv1-on-ping", "rsv2", "rsv3", "rsv1-and-rsv2"],
)
def test_reserved_bits_other_than_rsv1_on_a_messages_first_frame_are_a_protocol_error(frame: bytes) -> None:
    with pytest.raises(ProtocolError, match="RSV1 alone"):
        reader().feed(frame)


def test_without_the_extension_rsv1_is_still_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="no extension was negotiated"):
        FrameReader().feed(compressed_frame(b"hello"))


def test_a_small_frame_inflating_past_the_message_limit_is_a_protocol_error() -> None:
    frame = compressed_frame(b"\x00" * (LIMIT + 1))
    assert len(frame) < 1000
    with pytest.raises(ProtocolError, match=f"inflates past the {LIMIT}-byte message limit"):
        reader(LIMIT).feed(frame)


# -- the connection --------------------------------------------------------------------------------------


def client_reader(parameters: DeflateParameters) -> DeflateFrameReader:
    """A server's reader of the client's prompts: masked frames, the client's window and context."""
    inflater = Inflater(
        parameters.client_max_window_bits, no_context_takeover=parameters.client_no_context_takeover
    )
    return DeflateFrameReader(inflater, accept_masked=True)


def test_prompts_go_out_compressed_with_rsv1_and_masked() -> None:
    parameters = DeflateParameters()
    connection = Connection(PlainProtocol(), deflate=parameters)
    server = client_reader(parameters)
    for prompt in ("How do I get a refund? " * 4, "How do I get a refund? And when?"):
        sent = connection.start(Reply(prompt=prompt, name="ask"))
        assert sent[0] == 0x80 | RSV1 | OP_TEXT
        assert sent[1] & 0x80
        assert server.feed(sent) == [(OP_TEXT, prompt.encode())]


def test_without_client_context_takeover_each_prompt_reads_alone() -> None:
    parameters = DeflateParameters(client_no_context_takeover=True, client_max_window_bits=10)
    connection = Connection(PlainProtocol(), deflate=parameters)
    prompt = "Where is my order? " * 5
    connection.start(Reply(prompt=prompt, name="ask"))
    second = connection.start(Reply(prompt=prompt, name="ask"))
    assert client_reader(parameters).feed(second) == [(OP_TEXT, prompt.encode())]


def test_a_compressed_reply_is_read_into_the_reply() -> None:
    connection = Connection(PlainProtocol(), deflate=DeflateParameters())
    reply = Reply(prompt="hi", name="ask")
    connection.start(reply)
    answer = "You can return any item within 30 days. " * 10
    assert connection.receive(compressed_frame(answer.encode()), 12.0) is None
    assert connection.reply is None
    assert reply.ok
    assert reply.text == answer
    assert reply.bytes == len(answer.encode())


def test_a_decompression_bomb_mid_reply_fails_it_and_the_connection_with_1009() -> None:
    connection = Connection(PlainProtocol(), DeflateFrameReader(Inflater(), 1024 * 1024))
    reply = Reply(prompt="hi", name="ask")
    connection.start(reply)
    actions = connection.receive(compressed_frame(b"\x00" * (16 * 1024 * 1024)), 5.0)
    assert actions == [Close(1009)]  # message too big
    assert isinstance(reply.error, ProtocolError)
    assert "inflates past the 1048576-byte message limit (--max-message-bytes)" in str(reply.error)


def test_a_connection_without_deflate_still_sends_uncompressed_prompts() -> None:
    sent = Connection(PlainProtocol()).start(Reply(prompt="hello", name="ask"))
    assert sent[0] == 0x80 | OP_TEXT
    assert FrameReader(accept_masked=True).feed(sent) == [(OP_TEXT, b"hello")]


def test_rsv1_on_an_uncompressed_connection_fails_it_with_1002() -> None:
    connection = Connection(PlainProtocol())
    reply = Reply(prompt="hi", name="ask")
    connection.start(reply)
    assert connection.receive(compressed_frame(b"hello"), 1.0) == [Close(1002)]
    assert isinstance(reply.error, ProtocolError)


def test_encode_frame_sets_rsv1_when_asked() -> None:
    assert encode_frame(RSV1 | OP_TEXT, b"x", mask=False)[0] == 0xC1
