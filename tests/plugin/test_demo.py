"""The embedded demo bot speaks what the users speak: Socket.IO and Rasa clients get answers."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import pytest

from ..conftest import ROOT, UNIT, locust_command


def run_on_the_demo(tmp_path: Path, *args: str) -> list[dict[str, str]]:
    """Run the shipped locustfile headless for 3 s on the embedded demo (2 users, quick faultless
    replies); return the rows of its stats CSV."""
    command = locust_command(
        "--headless", "-u", "2", "-r", "2", "-t", "3s", "--think-time", "0", "--csv", str(tmp_path / "run"),
        "--demo-ttft-ms", "20", "--demo-itl-ms", "2", "--demo-chunks", "3",
        "--demo-error-rate", "0", "--demo-wrong-rate", "0", *args,
    )  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60 * UNIT, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    with (tmp_path / "run_stats.csv").open(newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["socketio", "rasa"])
def test_the_embedded_demo_answers_a_socketio_or_rasa_client(tmp_path: Path, protocol: str) -> None:
    """``make demo ARGS="--protocol socketio"`` (or ``rasa``): every prompt answered, none failed."""
    rows = run_on_the_demo(tmp_path, "--protocol", protocol)
    ws = [row for row in rows if row["Type"] == "WS"]
    assert sum(int(row["Request Count"]) for row in ws) > 2 * 10  # 2 users, ~25 ms a reply, for 3 s
    assert sum(int(row["Failure Count"]) for row in rows) == 0
    # 20 ms to the first chunk and 2 gaps of 2 ms, answered as one bot_uttered: none faster
    assert all(float(row["Min Response Time"]) >= 24 for row in ws)


@pytest.mark.slow
def test_the_embedded_demo_speaks_the_socketio_event_names_the_users_are_given(tmp_path: Path) -> None:
    """The bot is given the client's prompt, reply and end events: a streamed reply, every one answered."""
    rows = run_on_the_demo(
        tmp_path, "--protocol", "socketio", "--socketio-event", "ask", "--socketio-reply-event", "says",
        "--socketio-end-event", "done",
    )  # fmt: skip
    ws = [row for row in rows if row["Type"] == "WS"]
    assert sum(int(row["Request Count"]) for row in ws) > 2 * 10
    assert sum(int(row["Failure Count"]) for row in rows) == 0


@pytest.mark.slow
def test_the_embedded_demo_answers_json_users_sending_audio_packets_in_json(tmp_path: Path) -> None:
    """``--protocol json --audio-packets N`` on the embedded demo: each turn's transcript comes as
    ``{"type": "transcript", ...}`` then ``{"type": "end"}``, which ends a JSON reply: none times out."""
    rows = run_on_the_demo(
        tmp_path, "-f", str(ROOT / "locustfiles" / "voice.py"), "--protocol", "json",
        "--audio-packets", "3", "--audio-packet-ms", "20", "--demo-voice-delay-ms", "0", "--reply-timeout", "1",
    )  # fmt: skip
    ws = [row for row in rows if row["Type"] == "WS"]
    assert sum(int(row["Request Count"]) for row in ws) >= 2
    assert sum(int(row["Failure Count"]) for row in rows) == 0
