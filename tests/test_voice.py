"""Voice turns (wslocust.voice): utterances sent at real-time pace to real servers on 127.0.0.1, the
answer read meanwhile, each turn's lateness, end of speech and voice-to-voice latency measured."""

from __future__ import annotations

from locust.env import Environment

import json
import socket
import ssl
import statistics
import struct
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gevent
import pytest
from gevent import monkey

from wslocust.audio.frames import Frames, cut_frames, packet_frames
from wslocust.audio.synthetic import synthetic
from wslocust.client import ChatClient
from wslocust.errors import ConnectionClosed, ReplyTimeout
from wslocust.pacer import masked_frame
from wslocust.voice import ask_audio, pacer
from wslocust.wire.frames import OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, FrameReader
from wslocust.wire.protocols import AudioOut, Event, JsonProtocol, Message
from wslocust.wire.traffic import Traffic

from .conftest import UNIT, RawServer, server_frame, wait_until

TOLERANCE_MS = 12 * UNIT
"""How far a measured time may stray from the one the server or the schedule set (loopback, scheduling)."""

_blocking_sleep = monkey.get_original("time", "sleep")


class AudioJson(JsonProtocol):
    """The json protocol, where ``{"type": "audio"}`` is a piece of the answer's audio (0.1 s)."""

    def feed(self, message: Message) -> Sequence[Event]:
        if isinstance(message, str) and json.loads(message).get("type") == "audio":
            return [AudioOut(0.1)]
        return super().feed(message)


def text(document: dict[str, Any]) -> bytes:
    return server_frame(OP_TEXT, json.dumps(document).encode())


def voice_server(
    arrivals: list[float],
    *,
    answer_at_frame: int | None = None,
    delay_ms: float = 0.0,
    close_at_frame: int | None = None,
    ping_at_frame: int | None = None,
    pongs: list[bytes] | None = None,
) -> Callable[[socket.socket, dict[str, str]], None]:
    """A server noting when each binary frame arrived; at frame ``answer_at_frame`` it waits
    ``delay_ms``, then answers with audio, a text chunk and the end; at ``close_at_frame`` it closes
    with 4029 (AssemblyAI's "too fast"); at ``ping_at_frame`` it pings."""

    def handler(sock: socket.socket, _headers: dict[str, str]) -> None:
        reader = FrameReader(accept_masked=True)
        received = 0  # this connection's frames (arrivals: every connection's)
        while True:
            data = sock.recv(65536)
            now = time.perf_counter()
            if not data:
                return
            for opcode, payload in reader.feed(data):
                if opcode == OP_PONG and pongs is not None:
                    pongs.append(payload)
                if opcode != OP_BINARY:
                    continue
                arrivals.append(now)
                received += 1
                if received == ping_at_frame:
                    sock.sendall(server_frame(OP_PING, b"still there?"))
                if received == close_at_frame:
                    sock.sendall(server_frame(OP_CLOSE, struct.pack("!H", 4029) + b"too fast"))
                    return
                if received == answer_at_frame:
                    gevent.sleep(delay_ms / 1000.0)
                    sock.sendall(text({"type": "audio"}) + text({"text": "hello"}))
                    gevent.sleep(0.02)
                    sock.sendall(text({"type": "end"}))

    return handler


def client_of(environment: Environment, server: RawServer, *, reply_timeout_s: float = 5.0) -> ChatClient:
    return ChatClient(
        environment, f"ws://127.0.0.1:{server.port}", AudioJson(), reply_timeout_s=reply_timeout_s * UNIT
    )


def tone(frames_count: int, *, trailing_ms: float = 0.0) -> Frames:
    """``frames_count`` frames of 20 ms of a tone at 16 kHz, then ``trailing_ms`` of silence."""
    return cut_frames(synthetic(frames_count * 0.02, 16000), 20.0, trailing_ms)


def test_frames_arrive_at_the_server_at_real_time_pace(recorded_env, raw_server) -> None:
    environment, recorded = recorded_env
    arrivals: list[float] = []
    server = raw_server(voice_server(arrivals, answer_at_frame=25))
    reply = ask_audio(client_of(environment, server), tone(25), prompt="hello", name="greeting")
    assert reply.error is None, reply.error
    assert len(arrivals) == 25
    voice = reply.voice
    assert voice is not None
    assert voice.frames_sent == 25
    # Frame i went out at i x 20 ms + its lateness (the schedule, not a sleep after each send: most
    # frames on time), and the server saw them at those times.
    assert statistics.median(voice.lateness_ms) < 2.0 * UNIT
    sent_ms = [index * 20.0 + late_ms for index, late_ms in enumerate(voice.lateness_ms)]
    for index, arrival in enumerate(arrivals):
        arrived_ms = (arrival - arrivals[0]) * 1000.0
        assert abs(arrived_ms - (sent_ms[index] - sent_ms[0])) < TOLERANCE_MS, (index, arrived_ms, sent_ms)
    assert abs((arrivals[-1] - arrivals[0]) * 1000.0 - 480.0) < TOLERANCE_MS
    assert [event["name"] for event in recorded.of("WS")] == ["greeting"]


def test_audio_speed_sends_the_utterance_faster_than_real_time(recorded_env, raw_server) -> None:
    environment, _ = recorded_env
    arrivals: list[float] = []
    server = raw_server(voice_server(arrivals, answer_at_frame=21))
    reply = ask_audio(client_of(environment, server), tone(21), prompt="hello", speed=4.0)
    assert reply.error is None, reply.error
    assert abs((arrivals[-1] - arrivals[0]) * 1000.0 - 20 * 5.0) < TOLERANCE_MS


def test_voice_to_voice_latency_is_the_servers_delay_after_the_end_of_speech(
    recorded_env, raw_server
) -> None:
    environment, recorded = recorded_env
    arrivals: list[float] = []
    server = raw_server(voice_server(arrivals, answer_at_frame=10, delay_ms=200.0))
    reply = ask_audio(client_of(environment, server), tone(10), prompt="hello")
    voice = reply.voice
    assert reply.error is None
    assert voice is not None
    assert voice.speech_end_ms is not None
    assert voice.speech_end_ms == pytest.approx(9 * 20.0 + voice.lateness_ms[9])
    assert voice.voice_to_voice_ms is not None
    assert abs(voice.voice_to_voice_ms - 200.0) < TOLERANCE_MS
    assert voice.first_audio_ms is not None
    assert voice.first_audio_ms >= 180.0 + 200.0  # time to first audio: from the utterance's start
    assert reply.text == "hello"
    assert reply.time_to_first_chunk_ms is not None
    assert recorded.of("WS")[0]["response"] is reply


def test_trailing_silence_is_sent_after_the_speech_and_not_counted_as_speech(
    recorded_env, raw_server
) -> None:
    environment, _ = recorded_env
    arrivals: list[float] = []
    server = raw_server(voice_server(arrivals, answer_at_frame=15))
    reply = ask_audio(client_of(environment, server), tone(10, trailing_ms=100.0), prompt="hello")
    voice = reply.voice
    assert reply.error is None
    assert voice is not None
    assert len(arrivals) == 15
    assert voice.frames_sent == 15
    assert voice.speech_ms == 200.0
    assert voice.speech_end_ms is not None
    assert voice.speech_end_ms == pytest.approx(180.0 + voice.lateness_ms[9])  # not the silence's end


def test_lateness_is_reported_when_the_load_generator_is_blocked(recorded_env, raw_server) -> None:
    environment, _ = recorded_env
    arrivals: list[float] = []
    server = raw_server(voice_server(arrivals, answer_at_frame=20))

    def block_the_process() -> None:
        gevent.sleep(0.05)
        _blocking_sleep(0.15)  # nothing runs meanwhile: frames fall due and wait

    client = client_of(environment, server)
    assert client.connect()
    blocker = gevent.spawn(block_the_process)  # runs once the turn waits: 50 ms into the utterance
    reply = ask_audio(client, tone(20), prompt="hello")
    blocker.join()
    voice = reply.voice
    assert reply.error is None
    assert voice is not None
    assert voice.frames_sent == 20
    assert len(voice.lateness_ms) == 20
    assert 150.0 - 25.0 <= max(voice.lateness_ms) < 150.0 + TOLERANCE_MS
    assert min(voice.lateness_ms) < TOLERANCE_MS  # the frames before the block went out on time


def test_an_answer_before_the_utterance_ends_still_lets_the_utterance_finish(
    recorded_env, raw_server
) -> None:
    environment, _ = recorded_env
    arrivals: list[float] = []
    server = raw_server(voice_server(arrivals, answer_at_frame=3))
    reply = ask_audio(client_of(environment, server), tone(15), prompt="hello")
    voice = reply.voice
    assert reply.error is None
    assert voice is not None
    assert reply.total_time_ms < 150.0  # the answer ended before the utterance
    assert voice.frames_sent == 15
    assert wait_until(lambda: len(arrivals) == 15, UNIT)


def test_a_close_mid_utterance_fails_the_turn_with_its_code(recorded_env, raw_server) -> None:
    environment, recorded = recorded_env
    arrivals: list[float] = []
    server = raw_server(voice_server(arrivals, close_at_frame=5))
    client = client_of(environment, server)
    reply = ask_audio(client, tone(50), prompt="hello")
    assert isinstance(reply.error, ConnectionClosed)
    assert reply.error.code == 4029
    assert reply.voice is not None
    assert 5 <= reply.voice.frames_sent < 50
    assert not client.connected
    assert recorded.of("WS")[0]["exception"] is reply.error


def test_the_reply_timeout_runs_from_the_end_of_the_utterance(recorded_env, raw_server) -> None:
    environment, _ = recorded_env
    arrivals: list[float] = []
    server = raw_server(voice_server(arrivals))  # never answers
    reply = ask_audio(client_of(environment, server, reply_timeout_s=0.2), tone(10), prompt="hello")
    assert isinstance(reply.error, ReplyTimeout)
    assert abs(reply.total_time_ms - (180.0 + 200.0 * UNIT)) < TOLERANCE_MS


def test_a_ping_mid_utterance_is_answered_between_frames(recorded_env, raw_server) -> None:
    environment, _ = recorded_env
    arrivals: list[float] = []
    pongs: list[bytes] = []
    server = raw_server(voice_server(arrivals, ping_at_frame=3, answer_at_frame=10, pongs=pongs))
    client = client_of(environment, server)
    reply = ask_audio(client, tone(10), prompt="hello")
    assert reply.error is None, reply.error
    assert pongs == [b"still there?"]
    assert client.pings_answered == 1
    assert len(arrivals) == 10  # every frame arrived whole around the pong


def test_fixed_size_packets_go_out_every_packet_ms(recorded_env, raw_server) -> None:
    environment, _ = recorded_env
    arrivals: list[float] = []
    server = raw_server(voice_server(arrivals, answer_at_frame=6))
    packets = packet_frames(6, 3200, 50.0)
    assert {len(frame) for frame in packets.frames} == {3200}
    reply = ask_audio(client_of(environment, server), packets, prompt="packets")
    assert reply.error is None, reply.error
    assert abs((arrivals[-1] - arrivals[0]) * 1000.0 - 250.0) < TOLERANCE_MS


def test_an_audio_turn_counts_its_frames_in_the_traffic(recorded_env, raw_server) -> None:
    environment, _ = recorded_env
    arrivals: list[float] = []
    server = raw_server(voice_server(arrivals, answer_at_frame=6))
    client = client_of(environment, server)
    assert client.connect()
    # this connection's own counters: the process's also take turns of other tests still ending
    traffic = client.connection.traffic = Traffic()
    before = (traffic.prompts, traffic.messages_sent, traffic.bytes_sent)
    reply = ask_audio(client, packet_frames(6, 3200, 20.0), prompt="packets")
    assert reply.error is None, reply.error
    # 6 binary messages of 3,200 bytes, each with a 2-byte header, a 2-byte length and a 4-byte mask
    after = (traffic.prompts, traffic.messages_sent, traffic.bytes_sent)
    assert tuple(b - a for a, b in zip(before, after, strict=True)) == (1, 6, 6 * (3200 + 8))


@pytest.mark.parametrize("users", [50])
def test_many_utterances_at_once_share_the_pacer_and_stay_on_time(
    recorded_env, raw_server, users: int
) -> None:
    environment, recorded = recorded_env
    arrivals: list[float] = []
    server = raw_server(voice_server(arrivals, answer_at_frame=10))
    clients = [client_of(environment, server) for _ in range(users)]
    assert all(client.connect() for client in clients)
    turns = [gevent.spawn(ask_audio, client, tone(10), prompt="hello") for client in clients]
    gevent.joinall(turns, timeout=10 * UNIT)
    replies = [turn.value for turn in turns]
    assert all(reply is not None and reply.error is None for reply in replies)
    lateness = sorted(late for reply in replies for late in reply.voice.lateness_ms)
    assert len(lateness) == users * 10
    assert statistics.median(lateness) < 2.0 * UNIT  # most frames on time (a busy machine delays a few)
    assert len(recorded.of("WS")) == users


def test_a_wss_utterance_is_paced_by_the_pacer(recorded_env, raw_server, tmp_path: Path) -> None:
    """Its frames encrypted as the pacer sends them (no greenlet a turn), a pong among them."""
    environment, _ = recorded_env
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=bot.test",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    arrivals: list[float] = []
    pongs: list[bytes] = []
    server = raw_server(
        voice_server(arrivals, answer_at_frame=10, delay_ms=100.0, ping_at_frame=3, pongs=pongs),
        ssl_context=context,
    )
    client = ChatClient(
        environment, f"wss://bot.test:{server.port}/", AudioJson(), verify_tls=False,
        connect_to=f"127.0.0.1:{server.port}", reply_timeout_s=5.0 * UNIT,
    )  # fmt: skip
    assert client.connect()
    ticks = pacer().ticks
    reply = ask_audio(client, tone(10), prompt="hello")
    voice = reply.voice
    assert reply.error is None, reply.error
    assert voice is not None
    assert pacer().ticks - ticks >= 9  # frames 1 to 9, each when due
    assert (pongs, client.pings_answered) == ([b"still there?"], 1)
    assert len(arrivals) == 10
    assert abs((arrivals[-1] - arrivals[0]) * 1000.0 - 180.0) < TOLERANCE_MS
    assert voice.voice_to_voice_ms is not None
    assert abs(voice.voice_to_voice_ms - 100.0) < TOLERANCE_MS


@pytest.mark.parametrize("size", [0, 125, 126, 1330, 65536])
def test_the_fast_masked_frames_read_back_as_the_messages(size: int) -> None:
    text_message, binary_message = "é" * (size // 2), bytes(range(256)) * (size // 256) + bytes(size % 256)
    reader = FrameReader(accept_masked=True)
    frames = reader.feed(masked_frame(text_message) + masked_frame(binary_message))
    assert [(opcode, bytes(payload)) for opcode, payload in frames] == [
        (OP_TEXT, text_message.encode()),
        (OP_BINARY, binary_message),
    ]
