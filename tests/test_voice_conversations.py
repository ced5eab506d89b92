"""Audio turns inside conversations: turns with ``audio`` read from the dataset, refused at start-up
when they cannot work, asked in order on one connection (each its own ``WS`` request, the
conversation a ``CONVERSATION`` event), against the demo bot in process and in a Locust run."""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching before anything else)
from locust.argument_parser import get_parser
from locust.env import Environment
from locust.event import Events

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from wslocust import ChatbotUser
from wslocust.client import ChatClient
from wslocust.conversations import ConversationAsker, ConversationSettings
from wslocust.datasets import load_prompts
from wslocust.errors import ConfigurationError, DatasetError
from wslocust.plugin.checks import check_run
from wslocust.speaking import Speaking, VoiceAsker, VoiceSettings, check_voice
from wslocust.wire.protocols import OpenAIRealtimeProtocol

from .conftest import ROOT, UNIT, bot_counts
from .test_locust_run import read_rows, run_locust


class SttCaller(Speaking):
    protocol = "binary-stt"


def write_jsonl(path: Path, *records: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def test_a_turn_with_audio_is_an_audio_turn_and_a_string_turn_stays_text(tmp_path: Path) -> None:
    dataset = write_jsonl(
        tmp_path / "calls.jsonl",
        {"name": "call", "Intent": "billing", "turns": [
            {"audio": {"seconds": 0.5}}, "And the fee?", {"prompt": "Bye", "audio": {"seconds": 1, "kind": "noise"}},
        ]},
    )  # fmt: skip
    (record,) = load_prompts(dataset)
    spoken, text, named = record.turns
    assert (spoken.prompt, spoken.audio is not None, spoken.fields["Intent"]) == (
        "(audio tone 0.5 s)",
        True,
        "billing",
    )
    assert (text.prompt, text.audio) == ("And the fee?", None)
    assert (named.prompt, named.audio is not None) == ("Bye", True)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"turns": ["hi"], "audio": {"seconds": 1}}, 'a conversation\'s "audio" goes in its turns'),
        ({"turns": ["hi", {"audio": {"wav": "missing.wav"}}]}, "turn 2: "),
        ({"turns": [{"audio": {"seconds": -1}}]}, "turn 1: 'audio': seconds must be a number above 0"),
    ],
)
def test_a_conversation_whose_audio_cannot_be_read_is_refused_naming_file_line_and_turn(
    tmp_path: Path, record: dict[str, Any], message: str
) -> None:
    dataset = write_jsonl(tmp_path / "calls.jsonl", {"prompt": "first"}, record)
    with pytest.raises(DatasetError, match=r"calls\.jsonl:2") as refused:
        load_prompts(dataset)
    assert message in str(refused.value)


def test_a_text_turn_for_an_audio_only_protocol_is_refused_at_start_up_naming_line_and_turn(
    tmp_path: Path,
) -> None:
    dataset = write_jsonl(tmp_path / "calls.jsonl", {"turns": [{"audio": {"seconds": 1}}, "and text?"]})
    caller = type(
        "Caller", (ChatbotUser,), {"abstract": True, "host": "ws://127.0.0.1:9", "prompts": str(dataset)}
    )
    parsed = get_parser().parse_args(["--protocol", "binary-stt"])
    with pytest.raises(ConfigurationError) as refused:
        check_run(Environment(events=Events(), parsed_options=parsed), [caller])
    assert str(refused.value) == (
        f"{dataset}:1: turn 2: a text prompt, and --protocol binary-stt sends audio turns only "
        "(give it audio, or --audio-packets)"
    )
    check_run(
        Environment(events=Events(), parsed_options=get_parser().parse_args([])), [caller]
    )  # json: text too
    packets = get_parser().parse_args(["--protocol", "binary-stt", "--audio-packets", "3"])
    check_run(Environment(events=Events(), parsed_options=packets), [caller])  # every turn speaks packets


def test_a_turn_whose_utterance_cannot_be_made_is_refused_naming_line_and_turn(tmp_path: Path) -> None:
    dataset = write_jsonl(tmp_path / "calls.jsonl", {"turns": ["hi", {"audio": {"seconds": 1}}]})
    environment = Environment(parsed_options=argparse.Namespace(audio_trailing_silence_ms="1e12"))
    with pytest.raises(ConfigurationError, match=r"calls\.jsonl:1: turn 2: .*--audio-trailing-silence-ms"):
        check_voice(SttCaller, environment, load_prompts(dataset), 16000, 1)


def test_audio_and_text_turns_are_asked_in_order_on_one_connection(
    recorded_env, demo, tmp_path: Path
) -> None:
    """Each turn is its own ``WS`` request ``name #n`` (the audio ones with voice times), the
    conversation one ``CONVERSATION`` event, all on one connection; the next conversation, on a new
    connection, is answered as well (the bot's response ids are new there too)."""
    environment, recorded = recorded_env
    url = demo("--voice-delay-ms", "50", "--voice-seconds", "0.2", "--ttft-ms", "5", "--itl-ms", "1",
               "--error-rate", "0", "--wrong-rate", "0", "--ping-interval-s", "0")  # fmt: skip
    dataset = write_jsonl(
        tmp_path / "calls.jsonl",
        {
            "name": "call",
            "turns": [{"audio": {"seconds": 0.2}}, "What is my balance?", {"audio": {"seconds": 0.1}}],
        },
    )
    (record,) = load_prompts(dataset)
    protocol = OpenAIRealtimeProtocol()
    client = ChatClient(environment, url, protocol, reply_timeout_s=5 * UNIT)
    voice = VoiceAsker(VoiceSettings(), protocol.audio_rate)
    asker = ConversationAsker(client, ConversationSettings())
    assert asker.ask(record, voice=voice)
    turns = recorded.of("WS")
    assert [event["name"] for event in turns] == ["call #1", "call #2", "call #3"]
    assert all(event["exception"] is None for event in turns)
    voices = [event["response"].voice for event in turns]
    assert [times is not None for times in voices] == [True, False, True]
    assert voices[0].frames_sent == 10
    assert voices[2].frames_sent == 5
    assert voices[0].first_audio_ms is not None
    assert turns[1]["response"].text  # the text turn's answer, read between the two utterances
    (conversation,) = recorded.of("CONVERSATION")
    assert (conversation["name"], conversation["exception"], conversation["context"]) == (
        "call",
        None,
        {"turns": 3},
    )
    assert len(recorded.of("CONNECT")) == 1
    assert bot_counts(url)["connections"] == 1
    # The next conversation starts on a new connection, and its audio turns are answered there too.
    assert asker.ask(record, voice=voice)
    assert [event["exception"] for event in recorded.of("WS")[3:]] == [None, None, None]
    assert len(recorded.of("CONNECT")) == 2
    client.close()


@pytest.mark.slow
def test_a_run_of_voice_conversations_keeps_each_stream_open_through_its_pauses(tmp_path: Path, demo) -> None:
    """binary-stt conversations whose pause between turns is longer than the bot's idle timeout: the
    keep-alive holds each conversation's one connection; every turn and conversation succeeds."""
    url = demo("--protocol", "binary-stt", "--stt-idle-timeout-ms", str(400 * UNIT), "--voice-delay-ms", "20",
               "--ping-interval-s", "0")  # fmt: skip
    dataset = write_jsonl(
        tmp_path / "calls.jsonl",
        {"name": "call", "turns": [{"audio": {"seconds": 0.2}}, {"audio": {"seconds": 0.2}}]},
    )
    prefix = tmp_path / "run"
    result = run_locust(
        "-f", str(ROOT / "locustfiles" / "voice.py"), "--headless", "-u", "2", "-r", "2", "-t", "4s",
        "--host", url + "/v1/listen?sample_rate=16000", "--protocol", "binary-stt", "--prompts", str(dataset),
        "--think-time", "0", "--turn-think-time", str(0.7 * UNIT), "--stt-keepalive-ms", str(100 * UNIT),
        "--csv", str(prefix), "--summary-json", str(tmp_path / "summary.json"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {(row["Type"], row["Name"]): row for row in read_rows(tmp_path / "run_stats.csv")}
    first, second = rows["WS", "call #1"], rows["WS", "call #2"]
    conversations = rows["CONVERSATION", "call"]
    assert int(conversations["Request Count"]) >= 1
    assert all(row["Failure Count"] == "0" for row in (first, second, conversations))
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["lifecycle"]["close_codes"] == {}  # no stream closed idle (1011) by the bot
    voice = {row["Name"]: row for row in read_rows(tmp_path / "run_voice.csv")}
    assert {"call #1", "call #2"} <= set(voice)
    history = read_rows(tmp_path / "run_voice_history.csv")  # the same figures, second by second
    assert {"call #1", "call #2", "Aggregated"} <= {row["Name"] for row in history}
    assert sum(int(row["Voice Turns"]) for row in history if row["Name"] == "Aggregated") == sum(
        int(rows["WS", name]["Request Count"]) for name in ("call #1", "call #2")
    )
