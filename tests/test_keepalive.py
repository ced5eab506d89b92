"""Keep-alive messages (wslocust.keepalive): ``binary-stt``'s keep-alive is sent while a connection is
idle between turns, keeps a speech-to-text stream that closes idle streams open, and never goes out
in the middle of a turn."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

from wslocust.audio.frames import cut_frames
from wslocust.audio.synthetic import synthetic
from wslocust.client import ChatClient
from wslocust.voice import ask_audio
from wslocust.wire.frames import OP_BINARY, OP_TEXT, FrameReader
from wslocust.wire.protocols import BinarySttProtocol

from .conftest import UNIT, server_frame, wait_until

IDLE_TIMEOUT_MS = 400 * UNIT
"""How long the demo bot keeps a speech-to-text stream that nothing came on."""


def stt_client(environment, url: str, keepalive_ms: float | None) -> ChatClient:
    protocol = BinarySttProtocol(keepalive_ms=keepalive_ms)
    return ChatClient(environment, url, protocol, reply_timeout_s=5 * UNIT)


def test_an_idle_stream_is_closed_without_keepalive_and_kept_open_with_it(recorded_env, demo) -> None:
    environment, _ = recorded_env
    url = demo(
        "--protocol", "binary-stt", "--stt-idle-timeout-ms", str(IDLE_TIMEOUT_MS), "--ping-interval-s", "0",
        "--voice-delay-ms", "0",
    ) + "/v1/listen?sample_rate=16000"  # fmt: skip
    silent, kept = stt_client(environment, url, None), stt_client(environment, url, IDLE_TIMEOUT_MS / 4)
    closed: dict[str, int] = {}
    silent.on_server_close = lambda code: closed.setdefault("silent", code)
    kept.on_server_close = lambda code: closed.setdefault("kept", code)
    assert silent.connect()
    assert kept.connect()
    assert silent.keepalive is None
    assert kept.keepalive is not None
    assert wait_until(lambda: "silent" in closed, 10 * UNIT)
    assert closed["silent"] == 1011
    assert not silent.connected
    # Three idle timeouts with nothing but keep-alives: the stream stays open and answers a turn.
    assert wait_until(lambda: kept.keepalive.sent >= 12 or not kept.connected, 10 * UNIT)
    assert kept.connected
    assert "kept" not in closed
    reply = ask_audio(kept, cut_frames(synthetic(0.2, 16000), 20.0, 0.0), prompt="hello")
    assert reply.error is None
    assert reply.text == "Thanks for calling. How can I help you today?"


def test_keepalives_go_out_only_between_turns(recorded_env, raw_server) -> None:
    """While a turn has the connection (its frames, its answer) no keep-alive goes out; once it is
    idle again they resume."""
    environment, _ = recorded_env
    received: list[tuple[int, bytes]] = []

    def handler(sock: socket.socket, _headers: dict[str, str]) -> None:
        reader = FrameReader(accept_masked=True)
        while data := sock.recv(65536):
            for opcode, payload in reader.feed(data):
                received.append((opcode, payload))
                if opcode == OP_TEXT and json.loads(payload)["type"] == "CloseStream":
                    final = {"is_final": True, "channel": {"alternatives": [{"transcript": "hi"}]}}
                    sock.sendall(server_frame(OP_TEXT, json.dumps(final).encode()))

    server = raw_server(handler)
    client = stt_client(environment, f"ws://127.0.0.1:{server.port}", 20 * UNIT)
    assert client.connect()
    kinds: Callable[[], list[str]] = lambda: [  # noqa: E731
        "audio" if opcode == OP_BINARY else json.loads(payload)["type"] for opcode, payload in received
    ]
    assert wait_until(lambda: kinds().count("KeepAlive") >= 2, 5 * UNIT)
    reply = ask_audio(client, cut_frames(synthetic(0.3, 16000), 20.0, 0.0), prompt="hello")
    assert reply.error is None
    assert wait_until(lambda: kinds()[-1] == "KeepAlive", 5 * UNIT)
    seen = kinds()
    turn = seen[seen.index("audio") : seen.index("CloseStream") + 1]
    assert turn == ["audio"] * 15 + ["CloseStream"]
    assert seen[seen.index("CloseStream") + 1 :] == ["KeepAlive"] * (
        len(seen) - seen.index("CloseStream") - 1
    )
