"""The pacer (wslocust.pacer): utterances' messages built once a process and shared, each frame masked
with its own key as it goes, and a frame the socket takes only in part finished before the next."""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence

import gevent
from gevent.hub import Waiter

from wslocust.audio.frames import Frames
from wslocust.pacer import VoiceFrames, VoiceStream, masked_frame, pacer, shared_frames
from wslocust.voice import ask_audio
from wslocust.wire.frames import OP_BINARY, OP_TEXT, FrameReader
from wslocust.wire.protocols import Message, OpenAIRealtimeProtocol, TwilioProtocol
from wslocust.wire.voice import VoiceTimes

from .conftest import UNIT
from .test_voice import AudioJson, _blocking_sleep, client_of, tone, voice_server
from .wire.test_frames import assert_messages_framed_by_hand


class CountingAudioJson(AudioJson):
    """Counts the turns whose messages it built; shares them when ``shared``."""

    def __init__(self, shared: bool) -> None:
        super().__init__()
        self.shared = shared
        self.built = 0

    def audio_frames(self, frames: Sequence[bytes]) -> Sequence[Message]:
        self.built += 1
        return frames

    def audio_frames_key(self) -> str | None:
        return "counting" if self.shared else None


def test_turns_of_the_same_audio_share_its_messages_when_the_protocol_says_they_are_the_same(
    recorded_env, raw_server
) -> None:
    environment, _ = recorded_env
    server = raw_server(voice_server([], answer_at_frame=3))
    utterance = tone(3)
    for shared, built in ((True, 1), (False, 2)):
        protocol = CountingAudioJson(shared)
        for _ in range(2):
            client = client_of(environment, server)
            client.protocol = protocol
            assert ask_audio(client, utterance, prompt="hello").error is None
            client.close()
        assert protocol.built == built, shared


def test_protocols_whose_messages_change_every_turn_share_nothing() -> None:
    assert OpenAIRealtimeProtocol().audio_frames_key() is not None
    assert TwilioProtocol().audio_frames_key() is None  # sequence numbers and timestamps


def test_shared_messages_live_as_long_as_their_utterance() -> None:
    utterance = Frames((b"\x01\x02",), 1, 20.0, 20.0)
    first = shared_frames(utterance, "raw", lambda: [b"\x01\x02"])
    assert shared_frames(utterance, "raw", lambda: [b"other"]) is first
    assert shared_frames(utterance, "other key", lambda: [b"other"]).bodies == (b"other",)


def test_each_frame_goes_out_with_its_own_masking_key(recorded_env, raw_server) -> None:
    environment, _ = recorded_env
    received = bytearray()

    def handler(sock: socket.socket, _headers: dict[str, str]) -> None:
        reader = FrameReader(accept_masked=True)
        frames = 0
        while frames < 10:
            data = sock.recv(65536)
            if not data:
                return
            received.extend(data)
            frames += len(reader.feed(data))
        sock.sendall(b'\x81\x0f{"type": "end"}')

    server = raw_server(handler)
    reply = ask_audio(client_of(environment, server), tone(10), prompt="hello")
    assert reply.error is None, reply.error
    # Every frame carries the same 640 bytes of audio, each masked with a key of its own.
    keys = [bytes(received[offset + 4 : offset + 8]) for offset in range(0, len(received), 648)]
    assert len(keys) == 10
    assert len(set(keys)) == 10
    frames = FrameReader(accept_masked=True).feed(bytes(received))
    assert [(opcode, bytes(payload)) for opcode, payload in frames] == [
        (OP_BINARY, frame) for frame in tone(10).frames
    ]


class Trickle:
    """A socket's ``send`` that takes at most ``most`` bytes a call, and every third call none."""

    def __init__(self, most: int) -> None:
        self.most = most
        self.calls = 0
        self.received = bytearray()

    def send(self, data: bytes) -> int:
        self.calls += 1
        if self.calls % 3 == 0:
            raise BlockingIOError
        taken = bytes(data[: self.most])
        self.received.extend(taken)
        return len(taken)


def test_a_frame_the_socket_takes_in_part_is_finished_before_the_next_and_every_frame_is_timed() -> None:
    messages = [f"message {index} " * 40 for index in range(12)]
    trickle = Trickle(most=300)
    voice = VoiceTimes(speech_ms=12 * 5.0)
    stream = VoiceStream(
        trickle, VoiceFrames.of(messages), b"", b"", time.perf_counter(), 0.005, voice, speech_frames=12
    )
    sent = gevent.event.Event()
    stream.wake = sent.set
    pacer().add(stream)
    assert sent.wait(10 * UNIT)
    assert stream.error is None
    frames = FrameReader(accept_masked=True).feed(bytes(trickle.received))
    assert [(opcode, bytes(payload)) for opcode, payload in frames] == [
        (OP_TEXT, message.encode()) for message in messages
    ]
    assert voice.frames_sent == 12
    assert len(voice.lateness_ms) == 12
    assert all(late >= 0.0 for late in voice.lateness_ms)


class Sealer:
    """An ``encrypt`` that seals each call's bytes in a numbered record (as TLS does, in order): a
    record sent twice, or bytes sealed twice, would show in what is received."""

    def __init__(self) -> None:
        self.records: list[bytes] = []

    def __call__(self, data: bytes) -> bytes:
        record = len(self.records).to_bytes(4, "big") + len(data).to_bytes(4, "big") + data
        self.records.append(record)
        return record


def test_encrypted_frames_the_socket_takes_in_part_go_out_once_each_in_order() -> None:
    """On wss://, what waits after a partial send is records, sent as they are (not sealed again),
    and a pong between frames is sealed in its turn."""
    messages = [f"message {index} " * 40 for index in range(8)]
    trickle, sealer = Trickle(most=300), Sealer()
    stream = VoiceStream(
        trickle, VoiceFrames.of(messages), b"", b"", time.perf_counter(), 0.005, VoiceTimes(), 8, sealer
    )
    sent = gevent.event.Event()
    stream.wake = sent.set
    pacer().add(stream)
    stream.send_now(b"pong")
    assert sent.wait(10 * UNIT)
    assert stream.error is None
    assert bytes(trickle.received) == b"".join(sealer.records)
    assert len(sealer.records) == 9  # the 8 frames and the pong, each sealed once
    assert b"pong" in sealer.records[1]  # after the frame going out, before the next


class Recorder:
    """A socket noting each send in ``events``."""

    def __init__(self, events: list[str]) -> None:
        self.events = events

    def send(self, data: bytes) -> int:
        self.events.append("frame")
        return len(data)


def test_a_greenlet_woken_through_the_pacer_runs_after_the_frames_due_by_then() -> None:
    """Answers arriving together must not run their users ahead of the frames falling due."""
    events: list[str] = []
    interval_s = 0.01
    start = time.perf_counter()
    stream = VoiceStream(
        Recorder(events), VoiceFrames.of([b"audio"] * 5), b"", b"", start, interval_s, VoiceTimes(), 5
    )
    the_pacer = pacer()
    the_pacer.add(stream)
    waiter = Waiter()

    def sleeper() -> None:
        waiter.get()
        events.append("woken")

    greenlet = gevent.spawn(sleeper)
    gevent.sleep(0)  # it waits
    _blocking_sleep(1.5 * interval_s)  # the hub cannot run: frame 1 falls due meanwhile
    due = min(int((time.perf_counter() - start) / interval_s) + 1, 5)
    the_pacer.wake(waiter.switch)
    greenlet.join(timeout=10 * UNIT)
    assert "woken" in events
    assert events.index("woken") >= due >= 2  # frames 0 to due - 1 went out first


def test_a_message_masked_in_c_is_the_frame_the_wire_layer_makes_for_every_size() -> None:
    """masked_frame (a plain connection's prompts, an audio turn's frames): header, key, payload XOR
    key, as RFC 6455 §5.3 spells it, text for str and binary for bytes, each size about the short ones."""
    assert_messages_framed_by_hand(masked_frame)
