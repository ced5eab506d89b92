"""WAV files as PCM16 mono samples (stdlib :mod:`wave`): the audio a dataset record names.

Only uncompressed 16-bit mono PCM is read; any sample rate (it is resampled to the protocol's,
:mod:`wslocust.audio.resample`). Anything else (stereo, 8-bit, 24-bit, float or compressed WAV, a
file that is not a WAV, or none at all) is refused with one :class:`AudioError` naming the file and
what is wrong with it, so a dataset is refused at start-up rather than a turn failing mid-run.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

__all__ = ["AudioError", "Pcm", "read_wav", "wav_format"]


class AudioError(ValueError):
    """Audio that cannot be used: the message says which file (or setting) and why."""


@dataclass(frozen=True, slots=True)
class Pcm:
    """Mono PCM16 audio: little-endian 16-bit samples at ``rate`` Hz.

    Attributes:
        samples: the samples' bytes (two a sample, little-endian).
        rate: the sample rate in Hz.
    """

    samples: bytes
    rate: int

    @property
    def seconds(self) -> float:
        """The audio's length when played."""
        return len(self.samples) / 2 / self.rate


def wav_format(path: str | Path) -> tuple[int, int]:
    """Check that ``path`` is a PCM16 mono WAV file; return its ``(rate, frames)``.

    Raises:
        AudioError: missing, unreadable, not a WAV, or not PCM16 mono (the message names the file).
    """
    with _opened(path) as wav:
        return wav.getframerate(), wav.getnframes()


def read_wav(path: str | Path) -> Pcm:
    """Read a PCM16 mono WAV file.

    Raises:
        AudioError: missing, unreadable, not a WAV, not PCM16 mono, or holding no audio.
    """
    with _opened(path) as wav:
        try:
            samples = wav.readframes(wav.getnframes())
        except (OSError, EOFError, wave.Error) as error:
            raise AudioError(f"{path}: cannot read its audio ({error})") from None
        rate = wav.getframerate()
    if len(samples) < 2:
        raise AudioError(f"{path}: holds no audio")
    return Pcm(samples[: len(samples) // 2 * 2], rate)


class _opened:
    """``wave.open`` with the checks of a PCM16 mono file, as a context manager."""

    def __init__(self, path: str | Path) -> None:
        self.path = path
        self.wav: wave.Wave_read | None = None

    def __enter__(self) -> wave.Wave_read:
        path = self.path
        try:
            wav = wave.open(str(path), "rb")
        except FileNotFoundError:
            raise AudioError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise AudioError(f"{path}: a folder, not a WAV file") from None
        except OSError as error:
            raise AudioError(f"{path}: cannot be read ({error.strerror or error})") from None
        except (wave.Error, EOFError) as error:
            # The stdlib says "unknown format: 3" for float WAVs, "not a WAVE file" for others.
            text = str(error) or "truncated"
            if text.startswith("unknown format: 3"):
                text = "32-bit float samples"
            elif text.startswith("unknown format"):
                text = f"compressed or unknown encoding ({text})"
            raise AudioError(f"{path}: not a PCM16 mono WAV file: {text}") from None
        self.wav = wav
        problem = None
        if wav.getcomptype() != "NONE":
            problem = f"compressed ({wav.getcompname()})"
        elif wav.getsampwidth() != 2:
            problem = f"{8 * wav.getsampwidth()}-bit samples (16-bit PCM is read)"
        elif wav.getnchannels() != 1:
            problem = (
                f"{wav.getnchannels()} channels (mono is read: mix it down, e.g. sox in.wav -c 1 out.wav)"
            )
        elif wav.getframerate() <= 0:
            problem = f"a sample rate of {wav.getframerate()} Hz"
        if problem is not None:
            wav.close()
            raise AudioError(f"{path}: not a PCM16 mono WAV file: {problem}")
        return wav

    def __exit__(self, *exc_info: object) -> None:
        if self.wav is not None:
            self.wav.close()
