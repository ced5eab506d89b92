"""Voice settings and audio records: options and class attributes resolved or refused, datasets whose
records name audio read or refused at start-up naming file and line."""

from __future__ import annotations

from locust.env import Environment

import argparse
import json
import math
import wave
from pathlib import Path
from typing import Any

import pytest

from wslocust.datasets import load_prompts
from wslocust.errors import ConfigurationError, DatasetError
from wslocust.speaking import Speaking, VoiceAsker, VoiceSettings, check_voice
from wslocust.wire.protocols import JsonProtocol


class Speaker(Speaking):
    audio_frame_ms = 40.0


def options(**given: Any) -> argparse.Namespace:
    return argparse.Namespace(**given)


def write_jsonl(path: Path, *records: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def write_wav(path: Path, *, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(bytes(3200 * channels))
    return path


def test_options_win_over_class_attributes_and_unset_ones_keep_them() -> None:
    settings = VoiceSettings.of(Speaker, options(audio_speed="2", audio_packets="100"))
    assert settings == VoiceSettings(
        frame_ms=40.0, speed=2.0, packets=100, packet_bytes=3200, packet_ms=100.0
    )


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("audio_frame_ms", "0"),
        ("audio_frame_ms", "nan"),
        ("audio_speed", "-1"),
        ("audio_speed", "0"),
        ("audio_trailing_silence_ms", "-5"),
        ("audio_packets", "0"),
        ("audio_packets", "1.5"),
        ("audio_packet_bytes", "-3200"),
        ("audio_packet_ms", "inf"),
    ],
)
def test_a_bad_voice_option_is_refused_naming_it(option: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match="--" + option.replace("_", "-")):
        VoiceSettings.of(Speaker, options(**{option: value}))


def test_a_bad_class_attribute_is_refused_naming_the_class() -> None:
    class Drifting(Speaking):
        audio_speed = math.nan

    with pytest.raises(ConfigurationError, match=r"Drifting\.audio_speed"):
        VoiceSettings.of(Drifting, options())


def test_a_record_with_audio_needs_no_prompt_and_keeps_its_name(tmp_path: Path) -> None:
    write_wav(tmp_path / "hello.wav")
    dataset = write_jsonl(
        tmp_path / "voice.jsonl",
        {"name": "greeting", "audio": {"wav": "hello.wav"}},
        {"name": "tone", "prompt": "a tone", "audio": {"seconds": 1.5}},
        {"name": "text", "prompt": "no audio"},
    )
    greeting, tone, text = load_prompts(dataset)
    assert (greeting.name, greeting.prompt) == ("greeting", "(audio hello.wav)")
    assert greeting.audio is not None
    assert greeting.audio.wav == str(tmp_path / "hello.wav")
    assert (tone.prompt, tone.audio is not None and tone.audio.seconds) == ("a tone", 1.5)
    assert text.audio is None


@pytest.mark.parametrize(
    ("audio", "problem"),
    [
        ({"wav": "missing.wav"}, "missing.wav: no such file"),
        ({"wav": "stereo.wav"}, "stereo.wav: not a PCM16 mono WAV file: 2 channels"),
        ({"seconds": "two"}, "seconds must be a number above 0"),
    ],
)
def test_a_bad_audio_record_stops_the_start_naming_file_and_line(tmp_path: Path, audio, problem: str) -> None:
    write_wav(tmp_path / "stereo.wav", channels=2)
    dataset = write_jsonl(tmp_path / "voice.jsonl", {"prompt": "fine"}, {"name": "bad", "audio": audio})
    with pytest.raises(DatasetError) as refused:
        load_prompts(dataset)
    assert str(refused.value).startswith(f"{dataset}:2: ")
    assert problem in str(refused.value)


def test_audio_turns_with_several_prompts_in_flight_are_refused(tmp_path: Path) -> None:
    environment = Environment(parsed_options=options(audio_packets="10"))
    with pytest.raises(ConfigurationError, match="--in-flight 4: audio turns are asked one at a time"):
        check_voice(Speaker, environment, [], 24000, 4)


def test_packets_holding_more_than_an_utterance_may_stop_the_start_naming_the_options() -> None:
    environment = Environment(parsed_options=options(audio_packets="1000000000"))
    with pytest.raises(ConfigurationError, match=r"--audio-packets 1000000000: .* at most 64 MiB"):
        check_voice(Speaker, environment, [], 24000, 1)


def test_a_trailing_silence_longer_than_an_utterance_may_hold_stops_the_start_naming_the_record(
    tmp_path: Path,
) -> None:
    dataset = write_jsonl(tmp_path / "voice.jsonl", {"name": "tone", "audio": {"seconds": 1}})
    environment = Environment(parsed_options=options(audio_trailing_silence_ms="1e12"))
    with pytest.raises(ConfigurationError, match=r"voice\.jsonl:1: .*--audio-trailing-silence-ms"):
        check_voice(Speaker, environment, load_prompts(dataset), 24000, 1)


def test_an_asker_speaks_records_with_audio_or_every_record_with_packets(tmp_path: Path) -> None:
    dataset = write_jsonl(tmp_path / "voice.jsonl", {"prompt": "text"}, {"audio": {"seconds": 1}})
    text, spoken = load_prompts(dataset)
    records_only = VoiceAsker(VoiceSettings(), 24000)
    assert (records_only.speaks(text), records_only.speaks(spoken)) == (False, True)
    packets = VoiceAsker(VoiceSettings(packets=5), None)
    assert packets.speaks(text)
    frames = packets.settings.frames(text.audio, None)
    assert frames is not None
    assert len(frames.frames) == 5


def test_an_audio_column_of_a_csv_is_an_ordinary_field(tmp_path: Path) -> None:
    dataset = tmp_path / "prompts.csv"
    dataset.write_text("prompt,audio\nhello,https://example.invalid/a.wav\n", encoding="utf-8")
    (record,) = load_prompts(dataset)
    assert record.audio is None
    assert record.fields["audio"] == "https://example.invalid/a.wav"


def test_users_of_a_text_dataset_without_packets_have_no_voice_asker(tmp_path: Path) -> None:
    text = load_prompts(write_jsonl(tmp_path / "text.jsonl", {"prompt": "hello"}))
    spoken = load_prompts(write_jsonl(tmp_path / "voice.jsonl", {"prompt": "hi"}, {"audio": {"seconds": 1}}))
    environment = Environment(parsed_options=options())
    protocol = JsonProtocol()
    assert VoiceAsker.of(Speaker, environment, protocol, text) is None
    assert VoiceAsker.of(Speaker, environment, protocol, spoken) is not None
    packets = Environment(parsed_options=options(audio_packets="3"))
    assert VoiceAsker.of(Speaker, packets, protocol, text) is not None
