"""Audio for voice turns, socket-free: WAV files read or refused, synthetic audio, resampling, frames."""

from __future__ import annotations

import itertools
import math
import struct
import wave
from array import array
from pathlib import Path

import pytest

from wslocust.audio.frames import cut_frames, packet_frames
from wslocust.audio.resample import resample
from wslocust.audio.source import AudioSource, parse_audio, utterance
from wslocust.audio.synthetic import silence, synthetic
from wslocust.audio.wav import AudioError, Pcm, read_wav


def write_wav(path: Path, samples: bytes, *, rate: int = 16000, channels: int = 1, width: int = 2) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(samples)
    return path


def write_format(path: Path, format_tag: int, *, bits: int = 32) -> Path:
    """A WAV file whose format tag is ``format_tag`` (3: float, 6: A-law), which :mod:`wave` cannot write."""
    data = bytes(64)
    fmt = struct.pack("<HHIIHH", format_tag, 1, 16000, 16000 * bits // 8, bits // 8, bits)
    body = (
        b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    )
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def samples_of(pcm: Pcm) -> list[int]:
    values = array("h")
    values.frombytes(pcm.samples)
    return list(values)


def test_a_pcm16_mono_wav_is_read_at_its_own_rate(tmp_path: Path) -> None:
    samples = array("h", [0, 1000, -1000, 32767]).tobytes()
    pcm = read_wav(write_wav(tmp_path / "hello.wav", samples, rate=8000))
    assert pcm == Pcm(samples, 8000)
    assert pcm.seconds == 4 / 8000


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda path: write_wav(path, bytes(8), channels=2), "2 channels"),
        (lambda path: write_wav(path, bytes(8), width=1), "8-bit samples"),
        (lambda path: write_wav(path, bytes(12), width=3), "24-bit samples"),
        (lambda path: write_format(path, 3), "32-bit float samples"),
        (lambda path: write_format(path, 6, bits=8), "compressed or unknown encoding"),
        (
            lambda path: path.write_bytes(b"ID3 this is an mp3, not a wav") and path,
            "not a PCM16 mono WAV file",
        ),
        (lambda path: path, "no such file"),
        (lambda path: write_wav(path, b""), "holds no audio"),
    ],
    ids=["stereo", "8-bit", "24-bit", "float", "a-law", "not-a-wav", "missing", "empty"],
)
def test_a_wav_that_is_not_pcm16_mono_audio_is_refused_naming_the_file_and_the_problem(
    tmp_path: Path, make, problem: str
) -> None:
    path = make(tmp_path / "bad.wav")
    with pytest.raises(AudioError) as refused:
        read_wav(path)
    assert str(refused.value).startswith(str(tmp_path / "bad.wav") + ": ")
    assert problem in str(refused.value)


def test_a_tone_has_the_length_asked_and_is_neither_silent_nor_clipped() -> None:
    pcm = synthetic(0.5, 24000)
    values = samples_of(pcm)
    assert len(values) == 12000
    assert 4000 < max(values) < 32767
    assert synthetic(0.5, 24000) == pcm  # the same every time


def test_noise_is_deterministic_and_not_a_tone() -> None:
    noise = synthetic(0.1, 16000, "noise")
    assert noise == synthetic(0.1, 16000, "noise")
    assert noise != synthetic(0.1, 16000, "tone")
    assert len(set(samples_of(noise))) > 1000


def test_resampling_keeps_the_duration_and_interpolates_between_samples() -> None:
    ramp = Pcm(array("h", range(0, 1600, 100)).tobytes(), 8000)  # 16 samples
    up = resample(ramp, 16000)
    assert up.rate == 16000
    assert samples_of(up)[:6] == [0, 50, 100, 150, 200, 250]
    assert len(samples_of(up)) == 32
    down = resample(synthetic(1.0, 48000), 24000)
    assert len(samples_of(down)) == 24000
    assert resample(ramp, 8000) is ramp


def test_a_tone_resampled_keeps_its_pitch() -> None:
    tone = samples_of(resample(synthetic(1.0, 16000), 24000))
    crossings = sum(1 for a, b in itertools.pairwise(tone) if a < 0 <= b)
    assert abs(crossings - 440) <= 2


def test_frames_are_cut_to_frame_ms_the_last_padded_then_trailing_silence_added() -> None:
    pcm = Pcm(bytes(range(256)) * 3 + b"\x01\x02", 16000)  # 385 samples: 1 frame of 320 and a part
    frames = cut_frames(pcm, 20.0, trailing_silence_ms=50.0)
    assert [len(frame) for frame in frames.frames] == [640] * 5
    assert frames.frames[1][:130] == pcm.samples[640:]
    assert frames.frames[1][130:] == bytes(510)
    assert frames.frames[2:] == (bytes(640),) * 3  # 50 ms of silence: three 20 ms frames
    assert (frames.speech_frames, frames.speech_ms) == (2, 40.0)


def test_a_frame_too_short_for_one_sample_is_refused() -> None:
    with pytest.raises(ValueError, match="holds no sample"):
        cut_frames(silence(1.0, 8000), 0.01)


@pytest.mark.parametrize(
    ("frame_ms", "trailing_silence_ms"), [(1e9, 0.0), (20.0, 1e12)], ids=["frame", "trailing silence"]
)
def test_an_utterance_above_the_most_audio_it_may_hold_is_refused_before_it_is_made(
    frame_ms: float, trailing_silence_ms: float
) -> None:
    with pytest.raises(ValueError, match="an utterance holds at most 64 MiB"):
        cut_frames(silence(1.0, 8000), frame_ms, trailing_silence_ms)


def test_packets_above_the_most_audio_an_utterance_may_hold_are_refused_before_they_are_made() -> None:
    with pytest.raises(ValueError, match="an utterance holds at most 64 MiB"):
        packet_frames(10**9, 3200, 100.0)


def test_packets_have_the_fixed_size_and_count_asked() -> None:
    packets = packet_frames(100, 3200, 100.0, trailing_silence_ms=200.0)
    assert len(packets.frames) == 102
    assert {len(frame) for frame in packets.frames} == {3200}
    assert packets.frames[0] != bytes(3200)
    assert packets.frames[-1] == bytes(3200)
    assert (packets.speech_frames, packets.speech_ms, packets.frame_ms) == (100, 10000.0, 100.0)


def test_a_records_audio_names_a_wav_beside_the_dataset_or_synthetic_seconds(tmp_path: Path) -> None:
    write_wav(tmp_path / "hello.wav", bytes(3200))
    assert parse_audio({"wav": "hello.wav"}, tmp_path) == AudioSource(wav=str(tmp_path / "hello.wav"))
    assert parse_audio({"seconds": 2}, tmp_path) == AudioSource(seconds=2.0, kind="tone")
    assert parse_audio({"seconds": 0.5, "kind": "noise"}, tmp_path).kind == "noise"


@pytest.mark.parametrize(
    ("audio", "problem"),
    [
        ("hello.wav", "must be an object"),
        ({"wav": "missing.wav"}, "missing.wav: no such file"),
        ({"seconds": 0}, "seconds must be a number above 0"),
        ({"seconds": math.nan}, "seconds must be a number above 0"),
        ({"seconds": -1}, "seconds must be a number above 0"),
        ({"seconds": 1e12}, "seconds must be a number above 0 to 600"),
        ({"seconds": 1, "kind": "speech"}, "kind must be one of tone, noise"),
        ({"wav": "a.wav", "seconds": 1}, "not both"),
        ({"file": "a.wav"}, "unknown field 'file'"),
    ],
)
def test_a_bad_audio_object_is_refused_saying_why(tmp_path: Path, audio, problem: str) -> None:
    with pytest.raises(AudioError, match=problem):
        parse_audio(audio, tmp_path)


def test_an_utterance_is_resampled_to_the_protocols_rate_and_made_once(tmp_path: Path) -> None:
    source = AudioSource(wav=str(write_wav(tmp_path / "hello.wav", bytes(16000 * 2), rate=16000)))
    frames = utterance(source, 24000, 20.0, 0.0)
    assert len(frames.frames) == 50
    assert {len(frame) for frame in frames.frames} == {960}  # 20 ms at 24 kHz
    assert utterance(source, 24000, 20.0, 0.0) is frames
    assert len(utterance(source, None, 20.0, 0.0).frames[0]) == 640  # any rate: its own


def test_a_wav_too_long_once_resampled_is_refused_before_it_is_resampled(tmp_path: Path) -> None:
    source = AudioSource(wav=str(write_wav(tmp_path / "slow.wav", bytes(2 * 100_000), rate=1)))
    with pytest.raises(AudioError, match=r"slow\.wav.* an utterance holds at most 64 MiB"):
        utterance(source, 24000, 20.0, 0.0)  # 100,000 s at 24 kHz: 4.8 GB


def test_synthetic_audio_too_long_at_the_protocols_rate_is_refused_before_it_is_made() -> None:
    with pytest.raises(AudioError, match=r"\(audio tone 600 s\).* an utterance holds at most 64 MiB"):
        utterance(AudioSource(seconds=600.0), 192000, 20.0, 0.0)  # 230 MB
