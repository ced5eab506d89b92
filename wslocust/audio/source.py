"""Where an utterance's audio comes from: a dataset record's ``audio`` object, checked when the
dataset is read, and the utterance's frames at a protocol's rate (made once per record and rate).

A record's ``audio`` is ``{"wav": "hello.wav"}`` (relative to the dataset file) or
``{"seconds": 2.0}`` (synthetic audio, ``"kind": "tone"`` by default or ``"noise"``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .frames import Frames, check_utterance_bytes, cut_frames
from .resample import resample
from .synthetic import AUDIO_KINDS, synthetic
from .wav import AudioError, read_wav, wav_format

__all__ = ["AUDIO_FIELD", "MAX_SYNTHETIC_S", "SYNTHETIC_RATE", "AudioSource", "parse_audio", "utterance"]

AUDIO_FIELD = "audio"
"""The record field naming an utterance's audio."""

SYNTHETIC_RATE = 24000
"""The rate synthetic audio is made at when the protocol takes any rate."""

MAX_SYNTHETIC_S = 600.0
"""The longest synthetic utterance, in seconds (made in memory at start-up)."""


@dataclass(frozen=True, slots=True)
class AudioSource:
    """An utterance's audio: a WAV file (``wav``) or synthetic audio (``seconds`` of ``kind``)."""

    wav: str | None = None
    seconds: float = 0.0
    kind: str = "tone"

    def describe(self) -> str:
        """A short text for the utterance (the prompt of a record that gives none)."""
        return f"(audio {Path(self.wav).name})" if self.wav else f"(audio {self.kind} {self.seconds:g} s)"


def parse_audio(raw: Any, base: Path) -> AudioSource:
    """Read a record's ``audio`` object; a WAV file's path is relative to ``base`` (the dataset's
    folder) and the file is checked now (present, readable, PCM16 mono).

    Raises:
        AudioError: what is wrong with the object or the file.
    """
    if not isinstance(raw, Mapping):
        raise AudioError(
            f'{AUDIO_FIELD!r} must be an object such as {{"wav": "hello.wav"}} or {{"seconds": 2}}'
        )
    unknown = sorted(set(raw) - {"wav", "seconds", "kind"})
    if unknown:
        raise AudioError(f"{AUDIO_FIELD!r} has unknown field {unknown[0]!r} (wav, seconds, kind)")
    if "wav" in raw:
        if "seconds" in raw or "kind" in raw:
            raise AudioError(f"{AUDIO_FIELD!r}: give a wav file or seconds of synthetic audio, not both")
        name = raw["wav"]
        if not isinstance(name, str) or not name.strip():
            raise AudioError(f"{AUDIO_FIELD!r}: wav must be a file name")
        path = base / name
        _rate, frames = wav_format(path)
        if frames <= 0:
            raise AudioError(f"{path}: holds no audio")
        return AudioSource(wav=str(path))
    seconds = raw.get("seconds")
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not math.isfinite(seconds)
        or not 0 < seconds <= MAX_SYNTHETIC_S
    ):
        raise AudioError(
            f"{AUDIO_FIELD!r}: seconds must be a number above 0 to {MAX_SYNTHETIC_S:g}, got {seconds!r}"
        )
    kind = raw.get("kind", "tone")
    if kind not in AUDIO_KINDS:
        raise AudioError(f"{AUDIO_FIELD!r}: kind must be one of {', '.join(AUDIO_KINDS)}, got {kind!r}")
    return AudioSource(seconds=float(seconds), kind=kind)


@lru_cache(maxsize=256)
def utterance(source: AudioSource, rate: int | None, frame_ms: float, trailing_silence_ms: float) -> Frames:
    """The utterance's frames at ``rate`` Hz (None: the audio's own rate), made once per record,
    rate and framing (cached).

    Raises:
        AudioError: the WAV file cannot be read now, or a frame would hold no sample.
    """
    try:
        if source.wav is not None:
            pcm = read_wav(source.wav)
            if rate is not None:
                size = 2 * round(len(pcm.samples) // 2 * rate / pcm.rate)
                check_utterance_bytes(size, f"{pcm.rate} Hz resampled to {rate} Hz", "the audio")
                pcm = resample(pcm, rate)
        else:
            size = 2 * round(source.seconds * (rate or SYNTHETIC_RATE))
            check_utterance_bytes(size, f"{source.seconds:g} s at {rate or SYNTHETIC_RATE} Hz", "the audio")
            pcm = synthetic(source.seconds, rate or SYNTHETIC_RATE, source.kind)
        return cut_frames(pcm, frame_ms, trailing_silence_ms)
    except ValueError as error:  # AudioError included: read_wav's name the file already
        if isinstance(error, AudioError):
            raise
        raise AudioError(f"{source.describe()}: {error}") from None
