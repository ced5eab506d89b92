"""The shipped audio dataset: datasets/voice_support.jsonl names small PCM16 mono 16 kHz WAV files,
made by datasets/voice/make_audio.sh."""

from __future__ import annotations

import json
import os
import struct
import wave
from pathlib import Path

import pytest

from .conftest import ROOT

DATASET = ROOT / "datasets" / "voice_support.jsonl"
AUDIO = ROOT / "datasets" / "voice"
RATE = 16_000
MOST_BYTES = 300 * 1024
"""The audio files together stay this small (they are in the repository and the package's sdist)."""

RECORDS = [json.loads(line) for line in DATASET.read_text(encoding="utf-8").splitlines() if line.strip()]
WAVS = [DATASET.parent / record["audio"]["wav"] for record in RECORDS]


def test_each_record_has_a_prompt_a_name_an_audio_file_and_expected_fields() -> None:
    for record in RECORDS:
        assert set(record) == {"prompt", "name", "audio", "Intent", "Keywords"}, record
        assert record["name"] == record["Intent"]
        assert set(record["audio"]) == {"wav"}


@pytest.mark.parametrize("path", WAVS, ids=lambda path: path.name)
def test_each_file_is_pcm16_mono_at_16_khz(path: Path) -> None:
    header = path.read_bytes()[:36]
    (format_tag,) = struct.unpack_from("<H", header, 20)
    with wave.open(str(path), "rb") as audio:
        shape = (audio.getnchannels(), audio.getsampwidth(), audio.getframerate())
        seconds = audio.getnframes() / audio.getframerate()
    assert (header[:4], header[8:12], format_tag) == (b"RIFF", b"WAVE", 1)  # plain PCM
    assert shape == (1, 2, RATE)
    assert 0.5 <= seconds <= 3.0


def test_the_audio_is_small_and_every_file_is_named_by_a_record() -> None:
    files = sorted(AUDIO.glob("*.wav"))
    assert sorted(WAVS) == files
    assert sum(path.stat().st_size for path in files) <= MOST_BYTES


def test_the_script_that_made_the_files_is_shipped_beside_them() -> None:
    script = AUDIO / "make_audio.sh"
    text = script.read_text(encoding="utf-8")
    assert os.access(script, os.X_OK)
    for path in WAVS:
        assert f"say {path.stem} " in text
    assert "espeak-ng" in text
    assert "sox" in text
