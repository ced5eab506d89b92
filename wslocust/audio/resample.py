"""Resampling PCM16 mono to the rate a protocol takes, by linear interpolation.

Linear interpolation is not a studio resampler (it lets some aliasing through when lowering the
rate), but a voice bot's speech recognition hears the words, and an utterance is resampled once per
record and rate (the caller caches it), so pure Python is fast enough: about 30 ms for 3 s of audio.
"""

from __future__ import annotations

import sys
from array import array

from .wav import Pcm

__all__ = ["resample"]


def resample(pcm: Pcm, rate: int) -> Pcm:
    """``pcm`` at ``rate`` Hz (itself when it is at that rate already)."""
    if rate == pcm.rate:
        return pcm
    source = array("h")
    source.frombytes(pcm.samples)
    if sys.byteorder == "big":
        source.byteswap()
    count_in = len(source)
    count_out = max(round(count_in * rate / pcm.rate), 1)
    step = pcm.rate / rate
    last = count_in - 1
    out = array("h", bytes(2 * count_out))
    for index in range(count_out):
        position = index * step
        left = int(position)
        if left >= last:
            out[index] = source[last]
            continue
        fraction = position - left
        a = source[left]
        out[index] = int(a + (source[left + 1] - a) * fraction)
    if sys.byteorder == "big":
        out.byteswap()
    return Pcm(out.tobytes(), rate)
