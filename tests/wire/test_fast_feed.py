"""The JSON protocols' per-message fast path gives exactly the events of the general one: the same
recorded messages fed both ways, a chunk's text read without events (``chunk_text``) as ``feed``
reads it, and a burst read by the frame reader's small-frame shortcut."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from wslocust.errors import ConnectionClosed, ProtocolError
from wslocust.wire.connection import Connection, Pong
from wslocust.wire.frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_TEXT,
    FrameReader,
    encode_close,
    encode_frame,
)
from wslocust.wire.protocols import JsonProtocol, PlainProtocol
from wslocust.wire.protocols.apigw import ApiGatewayProtocol
from wslocust.wire.protocols.base import Chunk, End, Event, Failure, Protocol, chunk_reader
from wslocust.wire.protocols.fast_json import loads
from wslocust.wire.protocols.json_messages import Condition, get_path
from wslocust.wire.protocols.openai_realtime import OpenAIRealtimeProtocol
from wslocust.wire.reply import Reply

MESSAGES = [
    '{"type":"chunk","text":"token "}',
    '  {"type": "chunk", "text": "padded"}  ',
    '{"type":"end"}',
    '{"type":"end","text":"last"}',
    '{"type":"error","message":"overloaded"}',
    '{"type":"error"}',
    '{"type":"chunk","text":""}',
    '{"type":"chunk","text":7}',
    '{"type":"chunk"}',
    '{"type":true,"text":"bool type"}',
    '{"done":true,"choices":[{"delta":{"content":"deep"}}]}',
    '{"done":1,"choices":[{"delta":{"content":"one"}}]}',
    '{"choices":[{"delta":{"content":"more"}}]}',
    '["not", "an", "object"]',
    '"text"',
    "3",
    "null",
    '{"connectionId":"abc","message":"Internal server error"}',
    '{"type":"chunk","text":"caf\\u00e9 \\"quoted\\""}',
    '{"type":["end"],"text":"a list type"}',
    '{"type":"end ","text":"not quite the end"}',
    '{"type":"chunk","text":"zero done","done":0}',
    '{"type":"chunk","text":"empty done","done":""}',
    '{"type":"chunk","text":"done","done":"yes"}',
    '{"type":"\\u0065nd","text":"escaped end"}',
    '{"type":"chunk","text":"id","connectionId":null}',
]
CONFIGURATIONS: list[dict[str, Any]] = [
    {},
    {"chunk_path": "choices.0.delta.content", "end": "done=true", "error": "error"},
    {"end": "type=end|done", "error": "type=error|status!=ok"},
    {"end": "type=end", "error": "type=error", "chunk_path": "text"},
    {"end": "done|type=end", "error": "type=error|connectionId"},
    {"end": 'type="end"|type=finish', "error": "done=yes"},
    {"end": "done=true", "error": "type=error"},
    {"end": "type=3", "error": "type=error"},
]


def reference_events(protocol: JsonProtocol, message: str | bytes) -> list[Event]:
    """The events as the general path reads them: ``json.loads``, ``get_path`` and each condition's
    alternatives tried in turn (the code before the fast path)."""
    try:
        document = json.loads(message)
    except ValueError:
        raise ProtocolError("not JSON") from None

    def holds(condition: Any) -> bool:
        return any(test(document) for test in condition._tests)

    if holds(protocol.error):
        detail = get_path(document, protocol.error_path)
        return [Failure(str(detail) if detail is not None else json.dumps(document)[:200])]
    text = get_path(document, protocol.chunk_path)
    ended = holds(protocol.end)
    events: list[Event] = [Chunk(text)] if isinstance(text, str) and text else []
    return [*events, End(document)] if ended else events


@pytest.mark.parametrize("settings", CONFIGURATIONS)
@pytest.mark.parametrize("protocol_class", [JsonProtocol, ApiGatewayProtocol])
def test_every_message_gives_the_events_of_the_general_path(
    protocol_class: type, settings: dict[str, Any]
) -> None:
    protocol = protocol_class(**settings)
    for message in MESSAGES:
        for form in (message, message.encode()):
            assert list(protocol.feed(form)) == reference_events(protocol, form), form


@pytest.mark.parametrize(
    "message", ["", "not json", '{"type": "chunk"} trailing', "{", '{"a":1}{"b":2}', b"\xff"]
)
def test_loads_refuses_what_json_loads_refuses(message: str | bytes) -> None:
    with pytest.raises(ValueError) as refused:  # noqa: PT011 (json.loads's own errors vary)
        json.loads(message)
    with pytest.raises(type(refused.value)):
        loads(message)
    with pytest.raises(ProtocolError, match="not JSON"):
        JsonProtocol().feed(message)


def realtime(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, **fields})


def test_realtime_deltas_of_the_awaited_response_count_and_others_do_not() -> None:
    protocol = OpenAIRealtimeProtocol()
    protocol.request("first", {})
    assert protocol.feed(realtime("response.created", response={"id": "r1"})) == ()
    assert protocol.feed(realtime("response.output_text.delta", response_id="r1", delta="a")) == (Chunk("a"),)
    assert protocol.feed(realtime("response.output_text.delta", delta="no id")) == (Chunk("no id"),)
    assert protocol.feed(realtime("response.output_text.delta", response_id="r9", delta="other")) == ()
    protocol.request("second", {})  # r1 is an earlier response now: its late deltas are not ours
    assert protocol.feed(realtime("response.output_text.delta", response_id="r1", delta="late")) == ()
    assert protocol.feed(realtime("response.created", response={"id": "r2"})) == ()
    assert protocol.feed(realtime("response.text.delta", response_id="r2", delta="b")) == (Chunk("b"),)


def test_a_burst_of_small_frames_reads_as_the_general_reader_reads_it_frame_by_frame() -> None:
    """The reader's shortcut: the same frames as feeding the burst three bytes at a time."""
    frames = [encode_frame(OP_TEXT, f"chunk {index}".encode(), mask=False) for index in range(100)]
    frames[10] = encode_frame(OP_PING, b"mid", mask=False)
    frames[20] = encode_frame(OP_BINARY, b"\x00" * 125, mask=False)
    frames[30] = encode_frame(OP_TEXT, b"x" * 126, mask=False)  # a 2-byte length
    frames[40] = encode_frame(OP_TEXT, b"y" * 65535, mask=False)
    frames[50] = encode_frame(OP_BINARY, b"z" * 65536, mask=False)  # an 8-byte length: the general loop
    burst = b"".join(frames)
    whole = FrameReader().feed(burst)
    by_byte = FrameReader()
    one_at_a_time = [
        frame for start in range(0, len(burst), 3) for frame in by_byte.feed(burst[start : start + 3])
    ]
    assert whole == one_at_a_time
    assert len(whole) == 100
    split = FrameReader()
    assert split.feed(burst[:7]) + split.feed(burst[7:]) == whole  # a frame cut between two reads


def test_a_small_frame_over_the_message_limit_is_still_refused() -> None:
    reader = FrameReader(max_message_bytes=4)
    burst = encode_frame(OP_TEXT, b"ok", mask=False) + encode_frame(OP_TEXT, b"too long", mask=False)
    with pytest.raises(ProtocolError) as refused:
        reader.feed(burst)
    assert refused.value.close_code == 1009
    assert reader.read_before_error == [(OP_TEXT, b"ok")]


def test_a_recorded_burst_gives_equal_counts_gaps_and_ttft_read_whole_or_chunk_by_chunk() -> None:
    """The same recorded reply: read as one block, then one frame a block at its own time."""
    chunks = [
        encode_frame(OP_TEXT, json.dumps({"type": "chunk", "text": f"t{i}"}).encode(), mask=False)
        for i in range(50)
    ]
    end = encode_frame(OP_TEXT, b'{"type":"end"}', mask=False)
    whole = Reply(prompt="hello", name="ask", record={})
    connection = Connection(JsonProtocol())
    connection.start(whole)
    connection.receive(b"".join(chunks) + end, 7.0)
    paced = Reply(prompt="hello", name="ask", record={})
    connection.start(paced)
    for index, frame in enumerate([*chunks, end]):
        connection.receive(frame, 7.0 + index)
    assert (whole.text, whole.chunks, whole.time_to_first_chunk_ms) == (paced.text, paced.chunks, 7.0)
    assert whole.chunk_times_ms == [7.0] * 50
    assert paced.chunk_times_ms == [7.0 + index for index in range(50)]
    assert paced.total_time_ms == 57.0


def test_a_block_of_one_frame_with_a_2_byte_length_is_read_whole_and_its_limit_kept() -> None:
    frame = encode_frame(OP_TEXT, b"r" * 300, mask=False)
    assert FrameReader().feed(frame) == [(OP_TEXT, b"r" * 300)]
    with pytest.raises(ProtocolError) as refused:
        FrameReader(max_message_bytes=299).feed(frame)
    assert refused.value.close_code == 1009


def one_chunk_text(protocol: Protocol, message: str | bytes) -> str | None:
    """What ``chunk_text`` must say: the text when ``feed`` reads the message as one chunk alone."""
    try:
        events = protocol.feed(message)
    except ProtocolError:
        return None
    return events[0].text if len(events) == 1 and type(events[0]) is Chunk else None  # type: ignore[union-attr]


@pytest.mark.parametrize("settings", CONFIGURATIONS)
@pytest.mark.parametrize("protocol_class", [JsonProtocol, ApiGatewayProtocol])
def test_chunk_text_is_a_message_s_text_exactly_when_feed_reads_it_as_one_chunk_alone(
    protocol_class: type, settings: dict[str, Any]
) -> None:
    protocol = protocol_class(**settings)
    for message in [*MESSAGES, "not json", '{"type":"chunk","text":"x"} {}']:
        for form in (message, message.encode()):
            assert protocol.chunk_text(form) == one_chunk_text(protocol, form), form


def test_realtime_chunk_text_is_the_awaited_response_s_delta_as_feed_reads_it() -> None:
    protocol = OpenAIRealtimeProtocol()
    protocol.request("first", {})
    messages = [
        realtime("response.output_text.delta", response_id="r1", delta="before created"),
        realtime("response.created", response={"id": "r1"}),
        realtime("response.output_text.delta", response_id="r1", delta="a"),
        realtime("response.text.delta", response_id="r1", delta="b"),
        realtime("response.output_text.delta", delta="no id"),
        realtime("response.output_text.delta", response_id="r9", delta="other"),
        realtime("response.output_text.delta", response_id="r1", delta=""),
        realtime("response.output_text.delta", response_id="r1", delta=3),
        realtime("response.output_audio_transcript.delta", response_id="r1", delta="heard"),
        realtime("error", error={"message": "overloaded"}),
        realtime("response.done", response={"id": "r1", "status": "completed"}),
        '{"no type": 1}',
        "[1]",
        "not json",
    ]
    for message in messages:
        assert protocol.chunk_text(message) == one_chunk_text(protocol, message), message
    protocol.request("second", {})  # r1 is an earlier response now
    late = realtime("response.output_text.delta", response_id="r1", delta="late")
    assert protocol.chunk_text(late) is None


class _FedEveryMessage(JsonProtocol):
    """A subclass overriding ``feed`` alone: its connection must call it for every message."""

    def feed(self, message: str | bytes) -> Sequence[Event]:
        return super().feed(message)


def test_conditions_of_keys_values_are_read_as_keys_and_others_are_not() -> None:
    assert Condition("type=end|done").keys == (("type", "end"), ("done", None))
    assert Condition('type="end"').keys == (("type", "end"),)
    assert Condition("done=true").keys is None  # not a string: JSON equality, not a set look-up
    assert Condition("type!=chunk").keys is None
    assert Condition("choices.0.done").keys is None


def test_chunk_reader_takes_chunk_text_only_from_the_class_of_the_feed_it_mirrors() -> None:
    assert chunk_reader(JsonProtocol()) is not None
    assert chunk_reader(ApiGatewayProtocol()) is not None
    assert chunk_reader(OpenAIRealtimeProtocol()) is not None
    assert chunk_reader(_FedEveryMessage()) is None  # its own feed might read a chunk otherwise
    assert chunk_reader(PlainProtocol()) is None  # the default says nothing
    patched = JsonProtocol()
    patched.feed = lambda message: ()  # type: ignore[method-assign]
    assert chunk_reader(patched) is None


def _recorded(protocol: Protocol, blocks: list[tuple[bytes, float]]) -> tuple[list[Any], list[Any]]:
    """Each reply's figures and the actions asked, after feeding ``blocks`` (a new reply after each end)."""
    connection = Connection(protocol)
    replies: list[Reply] = []
    actions: list[Any] = []
    for data, time_ms in blocks:
        if connection.reply is None:
            replies.append(Reply(prompt="hello", name="ask", record={}))
            connection.start(replies[-1])
        actions.append(connection.receive(data, time_ms))
    figures = [
        (reply.text, reply.chunks, reply.chunk_times_ms, reply.time_to_first_chunk_ms, reply.total_time_ms,
         reply.bytes, dict(reply.meta), None if reply.error is None else (type(reply.error), str(reply.error)))
        for reply in replies
    ]  # fmt: skip
    return figures, actions


def _frames(messages: list[str]) -> list[bytes]:
    return [encode_frame(OP_TEXT, message.encode(), mask=False) for message in messages]


class _RealtimeFedEveryMessage(OpenAIRealtimeProtocol):
    def feed(self, message: str | bytes) -> Sequence[Event]:
        return super().feed(message)


@pytest.mark.parametrize(
    ("fast", "general", "messages"),
    [
        (
            JsonProtocol,
            _FedEveryMessage,
            ['{"type":"chunk","text":"a"}', '{"type":"chunk","text":""}', '{"type":"heartbeat"}',
             '{"type":"chunk","text":"b"}', '{"type":"end","text":"c"}', '{"type":"chunk","text":"d"}',
             '{"type":"error","message":"overloaded"}', '{"type":"chunk","text":"e"}', "not json"],
        ),
        (
            OpenAIRealtimeProtocol,
            _RealtimeFedEveryMessage,
            [realtime("response.created", response={"id": "r1"}),
             realtime("response.output_text.delta", response_id="r1", delta="a"),
             realtime("response.output_text.delta", response_id="r2", delta="other"),
             realtime("response.output_text.delta", response_id="r1", delta="b"),
             realtime("response.done", response={"id": "r1", "status": "completed"}),
             realtime("response.created", response={"id": "r3"}),
             realtime("response.output_text.delta", response_id="r3", delta="c"),
             realtime("error", error={"message": "overloaded"})],
        ),
    ],
)  # fmt: skip
def test_the_same_frames_give_equal_figures_read_by_chunk_text_or_by_feed(
    fast: type[Protocol], general: type[Protocol], messages: list[str]
) -> None:
    """Counts, chunk times (gaps), TTFT, text, bytes, meta and errors: one frame a block at its own
    time, the same frames in one burst, and with a ping, a split frame and a close mid-reply."""
    frames = _frames(messages)
    ping = encode_frame(OP_PING, b"beat", mask=False)
    close = encode_frame(OP_CLOSE, encode_close(4001, "gone", mask=False)[2:], mask=False)
    paced = [(frame, 3.0 + index) for index, frame in enumerate(frames)]
    burst = [(b"".join(frames[:3]), 1.0), (b"".join(frames[3:]), 2.0)]
    split = frames[1] + ping + frames[2][:5]
    unsettled = [(frames[0], 1.0), (split, 2.0), (frames[2][5:], 3.0), (close, 4.0)]
    for blocks in (paced, burst, unsettled):
        assert _recorded(fast(), blocks) == _recorded(general(), blocks)
    figures, actions = _recorded(fast(), unsettled)
    assert Pong(b"beat") in actions[1]  # answered mid-reply
    assert figures[-1][-1] == (ConnectionClosed, str(ConnectionClosed(4001, "(gone)")))
    assert figures[0][1] >= 1
