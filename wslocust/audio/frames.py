"""An utterance cut into the frames a voice turn sends: ``frame_ms`` of PCM16 each, the last one
padded with silence, then frames of trailing silence (for servers that detect the end of speech by
voice activity detection)."""

from __future__ import annotations

from dataclasses import dataclass

from .synthetic import synthetic
from .wav import Pcm

__all__ = ["MAX_UTTERANCE_BYTES", "Frames", "check_utterance_bytes", "cut_frames", "packet_frames"]

MAX_UTTERANCE_BYTES = 64 * 1024 * 1024
"""The most audio an utterance may hold, its trailing silence included: 64 MiB, over 20 minutes of
24 kHz PCM16. A protocol whose messages change every turn has them built afresh each turn, so a
longer one would exhaust the memory."""


def check_utterance_bytes(size: int, what: str, culprits: str) -> None:
    """Refuse an utterance of ``size`` bytes above :data:`MAX_UTTERANCE_BYTES`, before it is made.

    Raises:
        ValueError: too much audio, saying ``what`` it is and ``culprits`` (what to shorten).
    """
    if size > MAX_UTTERANCE_BYTES:
        raise ValueError(
            f"{what} are {size / 2**20:,.0f} MiB: an utterance holds at most "
            f"{MAX_UTTERANCE_BYTES // 2**20} MiB (shorten {culprits})"
        )


@dataclass(frozen=True, slots=True, weakref_slot=True)
class Frames:
    """An utterance's frames, in order, and what they hold. Weakly referable: the messages built
    from them for a protocol (:func:`wslocust.pacer.shared_frames`) live as long as they do.

    Attributes:
        frames: the frames' bytes: speech, then trailing silence.
        speech_frames: how many of them carry speech (the rest are trailing silence).
        frame_ms: each frame's length when played.
        speech_ms: the speech's length (its frames', the last one's padding included).
    """

    frames: tuple[bytes, ...]
    speech_frames: int
    frame_ms: float
    speech_ms: float


def cut_frames(pcm: Pcm, frame_ms: float, trailing_silence_ms: float = 0.0) -> Frames:
    """Cut ``pcm`` into frames of ``frame_ms`` (the last padded with silence), then add frames of
    silence covering ``trailing_silence_ms`` (rounded up to whole frames).

    Raises:
        ValueError: a frame would hold no whole sample at the audio's rate, or the frames would hold
            more than :data:`MAX_UTTERANCE_BYTES`.
    """
    size = 2 * round(pcm.rate * frame_ms / 1000.0)
    if size <= 0:
        raise ValueError(f"a frame of {frame_ms:g} ms holds no sample at {pcm.rate} Hz")
    samples = pcm.samples
    silent = -int(-trailing_silence_ms // frame_ms) if trailing_silence_ms > 0 else 0
    count = -(-len(samples) // size) + silent
    check_utterance_bytes(
        count * size,
        f"{count:,} frames of {size:,} bytes",
        "the audio, --audio-frame-ms or --audio-trailing-silence-ms",
    )
    frames = [samples[offset : offset + size] for offset in range(0, len(samples), size)]
    if frames and len(frames[-1]) < size:
        frames[-1] += bytes(size - len(frames[-1]))
    speech = len(frames)
    frames.extend([bytes(size)] * silent)
    return Frames(tuple(frames), speech, frame_ms, speech * frame_ms)


def packet_frames(count: int, size: int, frame_ms: float, trailing_silence_ms: float = 0.0) -> Frames:
    """``count`` packets of ``size`` bytes each ``frame_ms`` long (a fixed shape, whatever the audio's
    rate), holding a tone, then packets of silence covering ``trailing_silence_ms``.

    Raises:
        ValueError: the packets would hold more than :data:`MAX_UTTERANCE_BYTES`.
    """
    silent = -int(-trailing_silence_ms // frame_ms) if trailing_silence_ms > 0 else 0
    check_utterance_bytes(
        (count + silent) * size,
        f"{count + silent:,} packets of {size:,} bytes",
        "--audio-packets, --audio-packet-bytes or --audio-trailing-silence-ms",
    )
    rate = max(round(size / 2 / (frame_ms / 1000.0)), 1)  # the tone's rate: the one the shape implies
    tone = synthetic(max(size / 2 / rate, 1 / rate), rate).samples
    packet = (tone * (size // max(len(tone), 1) + 1))[:size]
    frames = (packet,) * count + (bytes(size),) * silent
    return Frames(frames, count, frame_ms, count * frame_ms)
