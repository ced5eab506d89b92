"""The demo bot speaks voice: Realtime audio (commit and server VAD), Twilio Media Streams and
streaming speech-to-text, driven by a raw WebSocket client; its injected delay and pace show in the
times the client sees."""

from __future__ import annotations

import base64
import json
import math
import struct
import time
from collections.abc import Iterator
from typing import Any

import pytest
import websocket

from wslocust.audio.mulaw import encode
from wslocust.demo.process import DemoProcess
from wslocust.demo.server import main as demo_main

from ..conftest import UNIT

DELAY_MS = 150.0
CHUNK_MS = 50.0
SECONDS = 0.2  # four chunks
SILENCE_MS = 100.0


def tone(rate: int, ms: float) -> bytes:
    samples = round(rate * ms / 1000)
    return struct.pack(
        f"<{samples}h", *(round(6000 * math.sin(2 * math.pi * 300 * i / rate)) for i in range(samples))
    )


def quiet(rate: int, ms: float) -> bytes:
    return bytes(2 * round(rate * ms / 1000))


@pytest.fixture(scope="module")
def bot() -> Iterator[str]:
    """One demo bot for the module: 150 ms to answer, 50 ms chunks at real time, 0.2 s answers."""
    args = [
        "--voice-delay-ms",
        "150",
        "--voice-chunk-ms",
        "50",
        "--voice-pace",
        "1",
        "--voice-seconds",
        "0.2",
    ]
    with DemoProcess([*args, "--voice-silence-ms", "100", "--ping-interval-s", "0"], 20 * UNIT) as process:
        yield process.url
        close_peers()


def close_peers() -> None:
    while PEERS:
        PEERS.pop().close()


PEERS: list[websocket.WebSocket] = []
"""The module's connections, closed before its bots stop (a bot waits for its open ones)."""


class Peer:
    """A raw client: sends messages, receives them with their arrival times."""

    def __init__(self, url: str) -> None:
        self.socket = websocket.create_connection(url, timeout=10 * UNIT)
        PEERS.append(self.socket)

    def send(self, *messages: str | dict[str, Any]) -> float:
        for message in messages:
            self.socket.send(message if isinstance(message, str) else json.dumps(message))
        return time.perf_counter()

    def until(self, done: Any) -> list[tuple[float, Any]]:
        """Receive (time, message) until ``done(message)``; JSON text is parsed."""
        received: list[tuple[float, Any]] = []
        while True:
            message = self.socket.recv()
            document = json.loads(message) if isinstance(message, str) else message
            received.append((time.perf_counter(), document))
            if done(document):
                return received


def of_type(received: list[tuple[float, Any]], kind: str, key: str = "type") -> list[tuple[float, Any]]:
    return [(at, message) for at, message in received if message.get(key) == kind]


def appends(pcm: bytes, frame_ms: float = 20.0) -> list[dict[str, str]]:
    size = round(24000 * frame_ms / 1000) * 2
    return [
        {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm[i : i + size]).decode()}
        for i in range(0, len(pcm), size)
    ]


def test_realtime_commit_is_answered_with_audio_after_the_delay_at_the_pace_with_its_transcript(
    bot: str,
) -> None:
    peer = Peer(bot)
    peer.send(
        {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
        }
    )
    peer.send(*appends(tone(24000, 200)), {"type": "input_audio_buffer.commit"})
    sent = peer.send({"type": "response.create", "response": {"output_modalities": ["audio"]}})
    received = peer.until(lambda message: message["type"] == "response.done")
    audio = of_type(received, "response.output_audio.delta")
    assert [kind for _, kind in of_type(received, "session.updated")]
    assert not of_type(received, "input_audio_buffer.speech_stopped")  # VAD is off: the commit ended speech
    assert len(audio) == 4
    assert sum(len(base64.b64decode(message["delta"])) for _, message in audio) == 2 * 24000 * SECONDS
    assert DELAY_MS - 2 <= (audio[0][0] - sent) * 1000 < DELAY_MS + 100 * UNIT
    # Real time: chunk i is due at the delay + i * 50 ms (a schedule, so a late chunk does not delay the next)
    assert (audio[-1][0] - sent) * 1000 >= DELAY_MS + 3 * CHUNK_MS - 2
    said = "".join(
        message["delta"] for _, message in of_type(received, "response.output_audio_transcript.delta")
    )
    assert said.split() == ["Thanks", "for", "calling.", "How", "can", "I", "help", "you", "today?"]
    assert received[-1][1]["response"]["status"] == "completed"


def test_realtime_server_vad_finds_the_trailing_silence_says_so_and_answers_after_the_delay(bot: str) -> None:
    peer = Peer(bot)
    peer.send(*appends(tone(24000, 200)))
    peer.send(*appends(quiet(24000, 120)))
    received = peer.until(lambda message: message["type"] == "response.done")
    (started,) = of_type(received, "input_audio_buffer.speech_started")
    ((stopped_at, _),) = of_type(received, "input_audio_buffer.speech_stopped")
    audio = of_type(received, "response.output_audio.delta")
    assert started[0] <= stopped_at
    assert DELAY_MS - 2 <= (audio[0][0] - stopped_at) * 1000 < DELAY_MS + 100 * UNIT


def test_twilio_media_is_answered_with_mulaw_media_after_the_delay_then_a_mark(bot: str) -> None:
    peer = Peer(bot)
    start = {"event": "start", "streamSid": "MZ1", "start": {"streamSid": "MZ1", "callSid": "CA1"}}
    peer.send({"event": "connected", "protocol": "Call", "version": "1.0.0"}, start)
    media = [
        {"event": "media", "streamSid": "MZ1", "media": {"payload": base64.b64encode(encode(pcm)).decode()}}
        for pcm in [tone(8000, 20)] * 10 + [quiet(8000, 20)] * 5
    ]
    peer.send(*media[:10])
    sent = peer.send(*media[10:])  # the fifth quiet frame makes the 100 ms of silence
    received = peer.until(lambda message: message.get("event") == "mark")
    answer = of_type(received, "media", key="event")
    assert len(answer) == 4
    assert {message["streamSid"] for _, message in received} == {"MZ1"}
    assert sum(len(base64.b64decode(message["media"]["payload"])) for _, message in answer) == 8000 * SECONDS
    assert DELAY_MS - 2 <= (answer[0][0] - sent) * 1000 < DELAY_MS + 100 * UNIT
    assert received[-1][1]["mark"]["name"] == "answer-1"


def test_stt_hears_interim_results_then_the_final_one_and_metadata_after_the_close_stream(bot: str) -> None:
    peer = Peer(bot + "/v1/listen?sample_rate=16000")
    for _ in range(60):  # 1.2 s: two interim results
        peer.socket.send_binary(tone(16000, 20))
    sent = peer.send({"type": "CloseStream"})
    received = peer.until(lambda message: message["type"] == "Metadata")
    results = of_type(received, "Results")
    assert [message["is_final"] for _, message in results] == [False, False, True]
    assert (
        results[-1][1]["channel"]["alternatives"][0]["transcript"]
        == "Thanks for calling. How can I help you today?"
    )
    assert DELAY_MS - 2 <= (results[-1][0] - sent) * 1000 < DELAY_MS + 100 * UNIT


def test_a_binary_stream_that_stops_is_answered_in_the_simple_format_ending_with_an_end() -> None:
    with DemoProcess(
        ["--stt-format", "simple", "--voice-delay-ms", "0", "--voice-silence-ms", "100"], 20 * UNIT
    ) as demo:
        peer = Peer(demo.url)
        for _ in range(5):
            peer.socket.send_binary(bytes(3200))  # silent packets, as a generic load test sends
        received = peer.until(lambda message: message["type"] == "end")
        close_peers()
    assert [message for _, message in received][-2:] == [
        {"type": "transcript", "text": "Thanks for calling. How can I help you today?", "final": True},
        {"type": "end"},
    ]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--voice-pace", "0", "must be a number above 0"),
        ("--voice-delay-ms", "-5", "must be a number of ms"),
        ("--voice-chunk-ms", "nan", "must be a number of ms above 0"),
        ("--stt-format", "xml", "invalid choice"),
        ("--stt-idle-timeout-ms", "0", "must be a number of ms above 0"),
    ],
)
def test_the_demo_refuses_bad_voice_options_naming_them(
    option: str, value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        demo_main([option, value])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert option in error
    assert message in error
