"""Voice runs end to end: ``locustfiles/voice.py`` in a Locust subprocess against a real server on
127.0.0.1, and a bad audio record refused at start-up."""

from __future__ import annotations

import json
import socket
import wave
from pathlib import Path

import pytest

from wslocust.wire.frames import OP_BINARY, OP_TEXT, FrameReader

from .conftest import server_frame
from .test_locust_run import assert_one_clear_error, read_rows, run_locust


def answering_each_utterance(packets: int):
    """A seed-004-like speech service: after each ``packets`` binary packets, a JSON answer."""

    def handler(sock: socket.socket, _headers: dict[str, str]) -> None:
        reader = FrameReader(accept_masked=True)
        received = 0
        while data := sock.recv(65536):
            for opcode, _payload in reader.feed(data):
                received += opcode == OP_BINARY
                if opcode == OP_BINARY and received % packets == 0:
                    answer = json.dumps({"text": "heard you"}).encode() + b"\n"
                    sock.sendall(server_frame(OP_TEXT, answer) + server_frame(OP_TEXT, b'{"type": "end"}'))

    return handler


@pytest.mark.slow
def test_the_voice_locustfile_sends_packets_and_reports_each_turn(tmp_path: Path, raw_server) -> None:
    server = raw_server(answering_each_utterance(5))
    result = run_locust(
        "-f", "locustfiles/voice.py", "--headless", "-u", "2", "-r", "2", "-t", "3s",
        "--host", f"ws://127.0.0.1:{server.port}", "--protocol", "json", "--think-time", "0",
        "--audio-packets", "5", "--audio-packet-bytes", "640", "--audio-packet-ms", "20",
        "--csv", str(tmp_path / "run"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {row["Name"]: row for row in read_rows(tmp_path / "run_stats.csv") if row["Type"] == "WS"}
    assert set(rows) == {"short-tone", "long-tone", "noise"}
    assert all(row["Failure Count"] == "0" for row in rows.values())
    # A turn is 5 packets 20 ms apart: its response time (utterance start to the answer) is at least 80 ms.
    assert all(float(row["Min Response Time"]) >= 80.0 for row in rows.values())


@pytest.mark.slow
def test_a_stereo_wav_in_the_dataset_stops_the_run_naming_file_line_and_problem(tmp_path: Path) -> None:
    with wave.open(str(tmp_path / "hello.wav"), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(bytes(6400))
    prompts = tmp_path / "voice.jsonl"
    prompts.write_text(
        '{"name": "ok", "audio": {"seconds": 1}}\n{"name": "hi", "audio": {"wav": "hello.wav"}}\n'
    )
    result = run_locust(
        "-f", "locustfiles/voice.py", "--headless", "-u", "1", "-t", "2s", "--prompts", str(prompts)
    )
    assert_one_clear_error(result, f"{prompts}:2", "hello.wav", "2 channels")
