"""The voice protocols, socket-free: openai-realtime's audio turns, twilio and binary-stt, fed the
messages the real services send; and plain and json reading an audio turn's reply."""

from __future__ import annotations

import argparse
import base64
import json

import pytest

from wslocust.audio.mulaw import encode
from wslocust.errors import ConfigurationError, ProtocolError
from wslocust.wire.connection import Connection, Send
from wslocust.wire.frames import OP_BINARY, OP_TEXT, FrameReader, encode_frame
from wslocust.wire.managed import ManagedConnection
from wslocust.wire.protocols import (
    END,
    Answer,
    AudioOut,
    BinarySttProtocol,
    Chunk,
    End,
    Failure,
    JsonProtocol,
    OpenAIRealtimeProtocol,
    PlainProtocol,
    SpeechEnded,
    Transcript,
    TwilioProtocol,
)
from wslocust.wire.reply import Reply
from wslocust.wire.sessions import session_protocol
from wslocust.wire.voice import VoiceTimes

FRAME_24K = bytes(range(256)) * 3 + bytes(192)  # 960 bytes: 20 ms of PCM16 at 24 kHz
FRAME_8K = b"\x10\x27" * 160  # 20 ms of PCM16 at 8 kHz, every sample 10000


def text(message: str) -> bytes:
    """A text frame as a server sends it: unmasked."""
    return encode_frame(OP_TEXT, message.encode(), mask=False)


def binary(payload: bytes) -> bytes:
    return encode_frame(OP_BINARY, payload, mask=False)


def audio_turn(connection: Connection) -> Reply:
    reply = Reply(prompt="", name="utterance", voice=VoiceTimes())
    connection.expect(reply)
    return reply


def sent(actions: object) -> list[str]:
    reader = FrameReader(accept_masked=True)
    return [
        payload.decode()
        for action in actions or ()  # type: ignore[attr-defined]
        if isinstance(action, Send)
        for _, payload in reader.feed(action.frame)
    ]


def b64(size: int) -> str:
    return base64.b64encode(bytes(size)).decode()


# openai-realtime


def test_realtime_frames_are_append_events_of_base64_pcm16_at_24_khz() -> None:
    protocol = OpenAIRealtimeProtocol()
    messages = protocol.audio_frames([FRAME_24K, bytes(960)])
    assert protocol.audio_rate == 24000
    assert [json.loads(message) for message in messages] == [
        {"type": "input_audio_buffer.append", "audio": base64.b64encode(FRAME_24K).decode()},
        {"type": "input_audio_buffer.append", "audio": base64.b64encode(bytes(960)).decode()},
    ]


def test_an_audio_turn_through_session_options_is_the_inner_protocols() -> None:
    """--on-connect (a session around the protocol): the turn's messages, rate and end are still
    the Realtime API's, not raw PCM."""
    inner = OpenAIRealtimeProtocol()
    protocol = session_protocol(inner, on_connect=['{"type": "auth", "key": "k"}'])
    assert protocol is not inner
    assert protocol.audio_rate == 24000
    assert protocol.audio_start({}) == inner.audio_start({})
    assert protocol.audio_frames([FRAME_24K]) == inner.audio_frames([FRAME_24K])
    assert [json.loads(message)["type"] for message in protocol.audio_end()] == [
        "input_audio_buffer.commit",
        "response.create",
    ]


def test_realtime_commit_turns_turn_server_vad_off_then_commit_and_ask_for_a_spoken_response() -> None:
    protocol = OpenAIRealtimeProtocol(instructions="be brief")
    (update,) = protocol.audio_start({})
    assert json.loads(update) == {
        "type": "session.update",
        "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
    }
    commit, create = protocol.audio_end()
    assert json.loads(commit) == {"type": "input_audio_buffer.commit"}
    assert json.loads(create) == {
        "type": "response.create",
        "response": {"output_modalities": ["audio"], "instructions": "be brief"},
    }


def test_realtime_beta_audio_turns_use_the_beta_session_and_modalities() -> None:
    protocol = OpenAIRealtimeProtocol(api="beta")
    assert json.loads(protocol.audio_start({})[0])["session"] == {"turn_detection": None}
    assert json.loads(protocol.audio_end()[1])["response"] == {"modalities": ["audio", "text"]}


def test_realtime_server_vad_turns_send_nothing_but_the_audio() -> None:
    protocol = OpenAIRealtimeProtocol(turn_end="server-vad")
    assert (protocol.audio_start({}), protocol.audio_end()) == ((), ())


def test_realtime_audio_events_are_speech_end_audio_and_transcript_pieces() -> None:
    protocol = OpenAIRealtimeProtocol()
    protocol.audio_start({})
    feed = protocol.feed
    stopped = {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 900, "item_id": "i1"}
    assert feed(json.dumps(stopped)) == (SpeechEnded(),)
    assert feed('{"type": "response.created", "response": {"id": "r1"}}') == ()
    audio = {"type": "response.output_audio.delta", "response_id": "r1", "delta": b64(4800)}
    assert feed(json.dumps(audio)) == (AudioOut(0.1),)
    beta = {"type": "response.audio.delta", "response_id": "r1", "delta": b64(4801)}  # padded base64
    assert feed(json.dumps(beta)) == (AudioOut(4801 / 48000),)
    said = {"type": "response.output_audio_transcript.delta", "response_id": "r1", "delta": "Hello"}
    assert feed(json.dumps(said)) == (Transcript("Hello"), Chunk("Hello"))
    beta_said = {"type": "response.audio_transcript.delta", "response_id": "r1", "delta": " there"}
    assert feed(json.dumps(beta_said)) == (Transcript(" there"), Chunk(" there"))
    done = {"type": "response.done", "response": {"id": "r1", "status": "completed"}}
    assert isinstance(feed(json.dumps(done))[0], End)


def test_realtime_audio_of_another_response_is_not_the_answers() -> None:
    protocol = OpenAIRealtimeProtocol()
    protocol.audio_start({})
    protocol.feed('{"type": "response.created", "response": {"id": "r1"}}')
    other = {"type": "response.output_audio.delta", "response_id": "r0", "delta": b64(480)}
    assert protocol.feed(json.dumps(other)) == ()


def test_realtime_failed_responses_and_errors_fail_an_audio_turn() -> None:
    protocol = OpenAIRealtimeProtocol()
    protocol.audio_start({})
    failed = {"type": "response.done", "response": {"id": "r1", "status": "failed"}}
    assert protocol.feed(json.dumps(failed)) == (Failure("response failed"),)
    error = {"type": "error", "error": {"type": "invalid_request_error", "message": "buffer too small"}}
    assert protocol.feed(json.dumps(error)) == (Failure("invalid_request_error: buffer too small"),)


def test_a_realtime_audio_turn_folds_speech_end_audio_and_transcript_times_into_the_reply() -> None:
    connection = Connection(OpenAIRealtimeProtocol(turn_end="server-vad"))
    reply = audio_turn(connection)
    connection.receive(text('{"type": "input_audio_buffer.speech_stopped", "item_id": "i1"}'), 1200.0)
    connection.receive(text('{"type": "response.created", "response": {"id": "r1"}}'), 1250.0)
    delta = {"type": "response.output_audio.delta", "response_id": "r1", "delta": b64(9600)}
    connection.receive(text(json.dumps(delta)), 1500.0)
    said = {"type": "response.output_audio_transcript.delta", "response_id": "r1", "delta": "Hi"}
    connection.receive(text(json.dumps(said)), 1510.0)
    connection.receive(
        text('{"type": "response.done", "response": {"id": "r1", "status": "completed"}}'), 1700.0
    )
    voice = reply.voice
    assert voice is not None
    assert connection.reply is None
    assert (voice.server_speech_end_ms, voice.audio_times_ms, voice.audio_seconds) == (
        1200.0,
        [1500.0],
        [0.2],
    )
    assert (voice.first_transcript_ms, reply.text, reply.time_to_first_chunk_ms) == (1510.0, "Hi", 1510.0)
    assert (reply.total_time_ms, reply.error) == (1700.0, None)


def test_realtime_refuses_an_unknown_turn_end() -> None:
    with pytest.raises(ConfigurationError, match="--realtime-turn-end must be one of commit, server-vad"):
        OpenAIRealtimeProtocol.from_options(argparse.Namespace(realtime_turn_end="vad"))


# twilio


def test_twilio_opens_the_stream_as_twilio_does_with_its_own_sids_for_each_connection() -> None:
    protocol = TwilioProtocol()
    connected, start = map(json.loads, protocol.open())
    assert connected == {"event": "connected", "protocol": "Call", "version": "1.0.0"}
    assert start["event"] == "start"
    assert start["sequenceNumber"] == "1"
    assert start["start"]["mediaFormat"] == {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
    assert start["streamSid"] == start["start"]["streamSid"]
    assert start["streamSid"].startswith("MZ")
    assert start["start"]["callSid"].startswith("CA")
    assert json.loads(protocol.open()[1])["streamSid"] != start["streamSid"]


def test_twilio_frames_are_media_events_of_base64_mulaw_counting_on_over_turns() -> None:
    protocol = TwilioProtocol()
    protocol.open()
    first = [json.loads(message) for message in protocol.audio_frames([FRAME_8K, FRAME_8K])]
    later = json.loads(protocol.audio_frames([FRAME_8K])[0])
    assert protocol.audio_rate == 8000
    assert [event["sequenceNumber"] for event in [*first, later]] == ["2", "3", "4"]
    assert [event["media"]["chunk"] for event in [*first, later]] == ["1", "2", "3"]
    assert [event["media"]["timestamp"] for event in [*first, later]] == ["0", "20", "40"]
    assert base64.b64decode(later["media"]["payload"]) == encode(FRAME_8K)
    assert later["media"]["track"] == "inbound"
    assert later["streamSid"] == protocol.stream_sid


def test_twilio_answers_audio_then_a_mark_ends_the_answer_and_is_echoed() -> None:
    protocol = TwilioProtocol()
    protocol.open()
    protocol.audio_start({})
    media = {"event": "media", "streamSid": "MZ1", "media": {"payload": b64(160)}}
    assert protocol.feed(json.dumps(media)) == (AudioOut(0.02),)
    answer, end = protocol.feed('{"event": "mark", "streamSid": "MZ1", "mark": {"name": "reply-1"}}')
    assert end is END
    assert isinstance(answer, Answer)
    echoed = json.loads(answer.message)
    assert (echoed["event"], echoed["mark"], echoed["streamSid"]) == (
        "mark",
        {"name": "reply-1"},
        protocol.stream_sid,
    )


def test_twilio_a_mark_before_any_audio_is_echoed_but_ends_nothing() -> None:
    protocol = TwilioProtocol()
    protocol.open()
    protocol.audio_start({})
    (answer,) = protocol.feed('{"event": "mark", "mark": {"name": "greeting"}}')
    assert isinstance(answer, Answer)


def test_twilio_with_an_end_mark_only_that_mark_ends_the_answer() -> None:
    protocol = TwilioProtocol(end_mark="done")
    protocol.open()
    protocol.feed(json.dumps({"event": "media", "media": {"payload": b64(160)}}))
    assert len(protocol.feed('{"event": "mark", "mark": {"name": "chunk-1"}}')) == 1
    assert protocol.feed('{"event": "mark", "mark": {"name": "done"}}')[1] is END


def test_a_twilio_turn_on_its_connection_echoes_the_mark_and_ends_at_it() -> None:
    connection = ManagedConnection(TwilioProtocol())
    connection.open()
    reply = audio_turn(connection)
    media = json.dumps({"event": "media", "media": {"payload": b64(800)}})
    assert connection.receive(text(media), 900.0) is None
    actions = connection.receive(text('{"event": "mark", "mark": {"name": "m1"}}'), 1300.0)
    assert [json.loads(message)["mark"] for message in sent(actions)] == [{"name": "m1"}]
    assert reply.voice is not None
    assert reply.voice.audio_times_ms == [900.0]
    assert (reply.total_time_ms, reply.error, connection.reply) == (1300.0, None, None)


def test_a_twilio_turn_with_a_quiet_period_ends_at_its_last_audio() -> None:
    connection = ManagedConnection(TwilioProtocol(quiet_ms="250"))
    connection.open()
    reply = audio_turn(connection)
    media = json.dumps({"event": "media", "media": {"payload": b64(160)}})
    connection.receive(text(media), 900.0)
    connection.receive(text(media), 950.0)
    connection.receive(text('{"event": "mark", "mark": {"name": "m1"}}'), 960.0)
    assert connection.reply is reply
    assert connection.quiet_until_ms == 1200.0
    connection.end_quietly()
    assert (reply.total_time_ms, connection.reply) == (950.0, None)


def test_twilio_refuses_binary_and_non_json_messages() -> None:
    protocol = TwilioProtocol()
    with pytest.raises(
        ProtocolError, match="binary message \\(3 bytes\\) where Twilio Media Streams sends JSON"
    ):
        protocol.feed(b"abc")
    with pytest.raises(ProtocolError, match="not a Twilio Media Streams event: hello"):
        protocol.feed("hello")


def test_twilio_stops_the_stream_before_closing_and_refuses_text_prompts() -> None:
    protocol = TwilioProtocol()
    protocol.open()
    (stop,) = map(json.loads, protocol.closing())
    assert (stop["event"], stop["streamSid"], stop["stop"]["callSid"]) == (
        "stop",
        protocol.stream_sid,
        protocol.call_sid,
    )
    with pytest.raises(ProtocolError, match="sends audio turns only"):
        protocol.request("hello", {})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"twilio_quiet_ms": "0"}, "--twilio-quiet-ms must be a number of ms above 0"),
        ({"twilio_quiet_ms": "soon"}, "--twilio-quiet-ms must be"),
        ({"twilio_end_mark": " "}, "--twilio-end-mark must name a mark"),
        ({"twilio_end_mark": "done", "twilio_quiet_ms": "300"}, "each end an answer: give one of them"),
    ],
)
def test_twilio_refuses_bad_options(options: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        TwilioProtocol.from_options(argparse.Namespace(**options))


# binary-stt

INTERIM = {"type": "Results", "is_final": False, "channel": {"alternatives": [{"transcript": "hello"}]}}
FINAL = {"type": "Results", "is_final": True, "channel": {"alternatives": [{"transcript": "hello world"}]}}


def test_stt_frames_are_raw_binary_pcm_and_the_close_stream_follows_them() -> None:
    protocol = BinarySttProtocol.from_options(argparse.Namespace(stt_rate="8000"))
    assert protocol.audio_rate == 8000
    assert BinarySttProtocol().audio_rate == 16000
    assert protocol.audio_start({}) == ()
    assert list(protocol.audio_frames([b"\x01\x02", b"\x03\x04"])) == [b"\x01\x02", b"\x03\x04"]
    assert protocol.audio_end() == ('{"type": "CloseStream"}',)


def test_stt_interim_results_are_transcripts_and_final_ones_are_text_too() -> None:
    protocol = BinarySttProtocol()
    protocol.audio_start({})
    assert protocol.feed(json.dumps(INTERIM)) == [Transcript("hello")]
    assert protocol.feed(json.dumps(FINAL)) == [Transcript("hello world", final=True), Chunk("hello world")]
    empty = {"type": "Results", "is_final": False, "channel": {"alternatives": [{"transcript": ""}]}}
    assert protocol.feed(json.dumps(empty)) == []


def test_stt_the_first_final_result_after_the_close_stream_ends_the_reply() -> None:
    protocol = BinarySttProtocol()
    protocol.audio_start({})
    protocol.feed(json.dumps(FINAL))
    protocol.audio_end()
    protocol.audio_sent()
    events = protocol.feed(json.dumps(FINAL))
    assert events[:2] == [Transcript("hello world", final=True), Chunk(" hello world")]
    assert isinstance(events[2], End)


def test_stt_a_final_result_before_the_close_stream_went_out_does_not_end_the_reply() -> None:
    """The close-stream is built with the turn's frames, before they go: a final result of a segment
    mid-utterance (Deepgram sends them) is not the last until the I/O says the close-stream went."""
    protocol = BinarySttProtocol()
    protocol.audio_start({})
    protocol.audio_end()
    assert not any(isinstance(event, End) for event in protocol.feed(json.dumps(FINAL)))
    protocol.audio_sent()
    assert isinstance(protocol.feed(json.dumps(FINAL))[-1], End)


def test_stt_the_services_last_message_ends_the_reply() -> None:
    protocol = BinarySttProtocol()
    protocol.audio_start({})
    (end,) = protocol.feed('{"type": "Metadata", "request_id": "x"}')
    assert isinstance(end, End)
    assert isinstance(protocol.feed('{"type": "Termination"}')[0], End)


def test_stt_the_end_message_trailing_a_turns_final_result_does_not_end_the_next_turn() -> None:
    """A turn ends at its final result after the close-stream; the service's end message (Metadata)
    that follows it, read at the next turn's start, is the earlier turn's."""
    protocol = BinarySttProtocol()
    protocol.audio_start({})
    protocol.audio_end()
    protocol.audio_sent()
    assert isinstance(protocol.feed(json.dumps(FINAL))[-1], End)
    protocol.audio_start({})
    protocol.audio_end()
    protocol.audio_sent()
    assert not protocol.feed('{"type": "Metadata", "request_id": "x"}')
    assert isinstance(protocol.feed(json.dumps(FINAL))[-1], End)


@pytest.mark.parametrize(
    "first",
    [INTERIM, {"type": "Results", "is_final": True, "channel": {"alternatives": [{"transcript": ""}]}}],
    ids=["interim", "empty"],
)
def test_stt_an_end_message_after_another_message_of_the_next_turn_ends_that_turn(first) -> None:
    """Another message came between (a transcript, or the empty result of a silent utterance): the
    end message is the next turn's own."""
    protocol = BinarySttProtocol()
    protocol.audio_start({})
    protocol.audio_end()
    protocol.audio_sent()
    protocol.feed(json.dumps(FINAL))
    protocol.audio_start({})
    protocol.audio_end()
    protocol.audio_sent()
    protocol.feed(json.dumps(first))
    assert isinstance(protocol.feed('{"type": "Metadata", "request_id": "x"}')[-1], End)


def test_stt_simple_transcript_messages_are_read_at_the_paths_given() -> None:
    protocol = BinarySttProtocol(text_path="text", final_path="final")
    protocol.audio_start({})
    protocol.audio_end()
    protocol.audio_sent()
    events = protocol.feed('{"type": "transcript", "text": "hi", "final": true}')
    assert events[:2] == [Transcript("hi", final=True), Chunk("hi")]
    assert isinstance(events[2], End)


def test_stt_error_messages_fail_the_reply_in_the_services_words() -> None:
    protocol = BinarySttProtocol()
    assert protocol.feed('{"type": "Error", "description": "bad audio"}') == (Failure("bad audio"),)
    assert protocol.feed('{"error": "rate limited"}') == (Failure("rate limited"),)


def test_stt_a_binary_reply_fails_the_turn_with_a_protocol_error() -> None:
    connection = Connection(BinarySttProtocol())
    reply = audio_turn(connection)
    connection.receive(binary(b"\x00\x01" * 8), 50.0)
    assert isinstance(reply.error, ProtocolError)
    assert connection.reply is None
    assert "binary message (16 bytes) where the speech-to-text service sends JSON transcripts" in str(
        reply.error
    )


def test_stt_keep_alive_is_off_unless_asked_and_then_says_what_and_how_often() -> None:
    assert BinarySttProtocol().keepalive_ms is None
    protocol = BinarySttProtocol(keepalive_ms="3000")
    assert (protocol.keepalive_ms, protocol.keepalive_message) == (3000.0, '{"type": "KeepAlive"}')


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"stt_rate": "100"}, "--stt-rate must be a whole number from 8000 to 192000"),
        ({"stt_close_message": "CloseStream"}, "--stt-close-message must be a JSON message"),
        ({"stt_text_path": "channel..transcript"}, "--stt-text-path"),
        ({"stt_keepalive_ms": "0"}, "--stt-keepalive-ms must be a number of ms above 0"),
        ({"stt_end": "=Metadata"}, "--stt-end: condition"),
    ],
)
def test_stt_refuses_bad_options(options: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        BinarySttProtocol.from_options(argparse.Namespace(**options))


# the generic case: raw binary frames, the reply read as for a prompt


@pytest.mark.parametrize(
    ("protocol", "replies"),
    [
        (PlainProtocol(), ["heard you"]),
        (JsonProtocol(), ['{"type": "chunk", "text": "heard you"}', '{"type": "end"}']),
    ],
)
def test_plain_and_json_send_raw_frames_and_read_an_audio_turns_reply(
    protocol: object, replies: list[str]
) -> None:
    assert isinstance(protocol, PlainProtocol | JsonProtocol)
    assert list(protocol.audio_frames([b"\x01\x02"])) == [b"\x01\x02"]
    assert protocol.audio_end() == ()
    connection = Connection(protocol)
    reply = audio_turn(connection)
    for index, message in enumerate(replies):
        connection.receive(text(message), 100.0 + index)
    assert (reply.text, reply.error, connection.reply) == ("heard you", None, None)
