"""Synthetic audio for voice turns that need no recording: a tone or noise of N seconds, PCM16 mono.

Deterministic (the noise's generator is seeded), so runs are repeatable and a cache keyed by the
request holds.
"""

from __future__ import annotations

import math
import random
from array import array

from .wav import Pcm

__all__ = ["AUDIO_KINDS", "TONE_HZ", "silence", "synthetic"]

AUDIO_KINDS = ("tone", "noise")
"""The kinds of synthetic audio: a sine tone, or white noise."""

TONE_HZ = 440.0
"""The tone's pitch."""

_AMPLITUDE = 8000  # about -12 dBFS: loud enough for a server's voice activity detection, not clipped


def synthetic(seconds: float, rate: int, kind: str = "tone") -> Pcm:
    """``seconds`` of a tone or of noise at ``rate`` Hz.

    Raises:
        ValueError: an unknown kind, or no whole sample in ``seconds``.
    """
    count = round(seconds * rate)
    if count <= 0:
        raise ValueError(f"{seconds:g} s at {rate} Hz is no sample")
    if kind == "tone":
        step = 2.0 * math.pi * TONE_HZ / rate
        sin = math.sin
        samples = array("h", [int(_AMPLITUDE * sin(step * index)) for index in range(count)])
    elif kind == "noise":
        uniform = random.Random(count).randint
        samples = array("h", [uniform(-_AMPLITUDE, _AMPLITUDE) for _ in range(count)])
    else:
        raise ValueError(f"unknown kind of audio {kind!r}: one of {', '.join(AUDIO_KINDS)}")
    return Pcm(_little_endian(samples), rate)


def silence(seconds: float, rate: int) -> Pcm:
    """``seconds`` of silence at ``rate`` Hz."""
    return Pcm(bytes(2 * max(round(seconds * rate), 0)), rate)


def _little_endian(samples: array[int]) -> bytes:
    if array("h", [1]).tobytes()[0] != 1:  # a big-endian machine: PCM16 in WAV and on the wire is little
        samples.byteswap()
    return samples.tobytes()
