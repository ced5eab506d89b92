"""G.711 μ-law, table-driven: PCM16 ↔ 8-bit μ-law (telephony's audio, Twilio Media Streams' format).

Encoding follows the G.711 reference code (the 14-bit magnitude with a bias of 33, eight segments);
decoding gives each code's reconstruction value (``0xFF`` → 0, ``0x80`` → 32124, ``0x00`` → -32124).
Both directions are one table look-up a sample: a 65,536-entry table for encoding (indexed by the
sample's 16 bits), a 256-entry table for decoding.
"""

from __future__ import annotations

import sys
from array import array

__all__ = ["decode", "decode_sample", "encode", "encode_sample"]

_BIAS = 0x21  # the encoder's bias on the 14-bit magnitude
_CLIP = 8159
_DECODE_BIAS = 0x84
_BIG_ENDIAN = sys.byteorder == "big"


def encode_sample(sample: int) -> int:
    """One PCM16 sample (-32768..32767) as its μ-law code (computed, not looked up)."""
    value = sample >> 2  # the 14-bit sample G.711 encodes (floored, as the reference does)
    mask = 0x7F if value < 0 else 0xFF
    value = min(-value if value < 0 else value, _CLIP) + _BIAS
    segment = max(value.bit_length() - 6, 0)  # the first segment whose end (63, 127, ..., 8191) holds it
    if segment > 7:
        return 0x7F ^ mask
    return ((segment << 4) | ((value >> (segment + 1)) & 0x0F)) ^ mask


def decode_sample(code: int) -> int:
    """One μ-law code (0..255) as its PCM16 sample (computed, not looked up)."""
    code = ~code & 0xFF
    magnitude = (((code & 0x0F) << 3) + _DECODE_BIAS) << ((code >> 4) & 0x07)
    return _DECODE_BIAS - magnitude if code & 0x80 else magnitude - _DECODE_BIAS


# Indexed by the sample's 16 bits read as unsigned (memoryview.cast("H")): 0..32767, then -32768..-1.
_ENCODE = bytes(encode_sample(index - 65536 if index >= 32768 else index) for index in range(65536))
_DECODE = array("h", (decode_sample(code) for code in range(256)))


def encode(pcm: bytes) -> bytes:
    """PCM16 mono little-endian audio as μ-law, one byte a sample.

    Raises:
        ValueError: ``pcm`` has an odd number of bytes (not whole 16-bit samples).
    """
    if len(pcm) % 2:
        raise ValueError(f"PCM16 audio has whole 2-byte samples, got {len(pcm)} bytes")
    if _BIG_ENDIAN:  # pragma: no cover - the look-up reads native order
        swapped = array("h", pcm)
        swapped.byteswap()
        pcm = swapped.tobytes()
    return bytes(map(_ENCODE.__getitem__, memoryview(pcm).cast("H")))


def decode(mulaw: bytes) -> bytes:
    """μ-law audio as PCM16 mono little-endian, two bytes a sample."""
    samples = array("h", map(_DECODE.__getitem__, mulaw))
    if _BIG_ENDIAN:  # pragma: no cover
        samples.byteswap()
    return samples.tobytes()
