"""The statistics of audio turns: voice-to-voice latency, time to first audio, transcripts, audio out,
playback underruns and the sender's frame lateness, per request name and in total.

Only replies that carry an audio turn's times (``reply.voice``, :class:`~wslocust.wire.voice.VoiceTimes`)
count here; a text prompt changes nothing. Like the replies' statistics, every timing is kept in an
exact :class:`~.aggregates.Histogram` and merged across workers by adding counts.

Per audio turn (every time in ms since the utterance's start; docs/metrics.md):

- the sender's *frame lateness*: every frame's, of every turn (failed ones too: it measures the load
  generator, not the bot);
- of the successful turns: *time to first audio* (TTFA), *voice-to-voice* (end of speech → first
  audio), *time to first transcript*, *final transcript latency* (end of speech → first final
  transcript);
- of the successful turns whose answer had audio: *audio out* (its seconds), its *real-time factor*
  (:func:`real_time_factor`) and its *playback underruns* (:func:`underruns`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..wire.reply import Reply
from . import aggregates  # a module: aggregates' ChatStats holds a VoiceBook

__all__ = ["UNDERRUN_TOLERANCE_MS", "VoiceBook", "VoiceStats", "real_time_factor", "underruns"]

UNDERRUN_TOLERANCE_MS = 1.0
"""A gap in playback shorter than this is not an underrun: a listener's audio device plays in blocks
of several ms, and a piece arriving a fraction of a ms after the last one ran out is not heard."""

_THOUSANDTHS = 1000.0
"""Real-time factors are kept in thousandths (a histogram's bins are 0.1 of a unit: 0.0001 of a factor)."""


def underruns(audio_times_ms: Sequence[float], audio_seconds: Sequence[float]) -> tuple[int, float]:
    """The playback underruns of an answer: how many times, and for how long in all (ms), a listener
    playing it in real time from its first piece's arrival would have run out of audio.

    The listener starts playing the first piece when it arrives and plays each piece as soon as the
    one before it has played and it has arrived; a piece that arrives after the audio played so far
    ran out leaves a gap (its arrival minus the time the audio ran out), and playback goes on from its
    arrival. Gaps shorter than :data:`UNDERRUN_TOLERANCE_MS` are not counted (but still waited).

    Args:
        audio_times_ms: when each piece of the answer's audio arrived, in order.
        audio_seconds: each piece's length in seconds, in the same order.

    Returns:
        ``(count, total_ms)``; ``(0, 0.0)`` for an answer without audio.
    """
    count = 0
    total_ms = 0.0
    runs_out_ms: float | None = None  # when the audio received so far has played
    for arrived_ms, seconds in zip(audio_times_ms, audio_seconds, strict=True):
        if runs_out_ms is None or arrived_ms > runs_out_ms:
            if runs_out_ms is not None and arrived_ms - runs_out_ms >= UNDERRUN_TOLERANCE_MS:
                count += 1
                total_ms += arrived_ms - runs_out_ms
            runs_out_ms = arrived_ms
        runs_out_ms += seconds * 1000.0
    return count, total_ms


def real_time_factor(audio_times_ms: Sequence[float], audio_seconds: Sequence[float]) -> float | None:
    """An answer's real-time factor: its seconds of audio over the wall seconds of receiving them.

    The wall time runs from the first piece's arrival to the last piece's arrival plus the last
    piece's length (the time it takes to play): a stream arriving exactly at real-time pace scores
    1.0, one at half speed about 0.5, a burst faster than real time above 1. An answer in one piece
    scores 1.0.

    Returns:
        The factor, or None for an answer without audio (or of no length).
    """
    if not audio_times_ms:
        return None
    wall_ms = audio_times_ms[-1] - audio_times_ms[0] + audio_seconds[-1] * 1000.0
    if wall_ms <= 0:
        return None
    return sum(audio_seconds) * 1000.0 / wall_ms


_HISTOGRAMS = (
    "voice_to_voice",
    "first_audio",
    "first_transcript",
    "final_transcript",
    "audio_out",
    "real_time_factor",
    "underrun",
    "lateness",
)


class VoiceStats:
    """Statistics of a set of audio turns (one request name, or all).

    Attributes:
        turns: audio turns that ended (failed ones included).
        failures: audio turns that failed.
        with_audio: successful turns whose answer had audio.
        audio_s: seconds of answer audio received, in all (successful turns).
        underruns: playback underruns, in all.
        underrun_turns: successful turns with at least one underrun.
        frames: audio frames sent, in all (every turn).
        voice_to_voice, first_audio, first_transcript, final_transcript: ms (successful turns that
            have them).
        audio_out: each answer's audio, in ms; ``real_time_factor``: each answer's, in thousandths;
            ``underrun``: each answer's underruns' total length, in ms (0 without one).
        lateness: every frame's lateness, in ms.
    """

    __slots__ = (
        "audio_s",
        "failures",
        "frames",
        "turns",
        "underrun_turns",
        "underruns",
        "with_audio",
        *_HISTOGRAMS,
    )

    def __init__(self) -> None:
        self.turns = 0
        self.failures = 0
        self.with_audio = 0
        self.audio_s = 0.0
        self.underruns = 0
        self.underrun_turns = 0
        self.frames = 0
        self.voice_to_voice = aggregates.Histogram()
        self.first_audio = aggregates.Histogram()
        self.first_transcript = aggregates.Histogram()
        self.final_transcript = aggregates.Histogram()
        self.audio_out = aggregates.Histogram()
        self.real_time_factor = aggregates.Histogram()
        self.underrun = aggregates.Histogram()
        self.lateness = aggregates.Histogram()

    def add(self, reply: Reply) -> None:
        """Count one audio turn (a reply whose ``voice`` is set)."""
        voice = reply.voice
        assert voice is not None
        self.turns += 1
        self.frames += voice.frames_sent
        lateness = self.lateness
        for late_ms in voice.lateness_ms:
            lateness.record(late_ms)
        if reply.error is not None:
            self.failures += 1
            return
        if voice.first_transcript_ms is not None:
            self.first_transcript.record(voice.first_transcript_ms)
        end_ms = voice.end_of_speech_ms
        if voice.final_transcript_ms is not None and end_ms is not None:
            self.final_transcript.record(voice.final_transcript_ms - end_ms)
        times, seconds = voice.audio_times_ms, voice.audio_seconds
        if not times:
            return
        self.with_audio += 1
        self.first_audio.record(times[0])
        if end_ms is not None:
            self.voice_to_voice.record(times[0] - end_ms)
        audio_s = sum(seconds)
        self.audio_s += audio_s
        self.audio_out.record(audio_s * 1000.0)
        factor = real_time_factor(times, seconds)
        if factor is not None:
            self.real_time_factor.record(factor * _THOUSANDTHS)
        count, total_ms = underruns(times, seconds)
        self.underrun.record(total_ms)
        if count:
            self.underruns += count
            self.underrun_turns += 1

    def factor(self, fraction: float) -> float | None:
        """A nearest-rank percentile of the answers' real-time factors (0 → the lowest), or None."""
        value = self.real_time_factor.percentile(fraction)
        return None if value is None else value / _THOUSANDTHS

    def merge(self, other: VoiceStats) -> None:
        """Add another set's statistics to this one."""
        self.turns += other.turns
        self.failures += other.failures
        self.with_audio += other.with_audio
        self.audio_s += other.audio_s
        self.underruns += other.underruns
        self.underrun_turns += other.underrun_turns
        self.frames += other.frames
        for which in _HISTOGRAMS:
            mine: aggregates.Histogram = getattr(self, which)
            mine.merge(getattr(other, which))

    def to_wire(self) -> list[Any]:
        counts = [self.turns, self.failures, self.with_audio, self.audio_s, self.underruns,
                  self.underrun_turns, self.frames]  # fmt: skip
        return [counts, [getattr(self, which).to_wire() for which in _HISTOGRAMS]]

    @classmethod
    def from_wire(cls, wire: list[Any]) -> VoiceStats:
        stats = cls()
        counts, histograms = wire
        (stats.turns, stats.failures, stats.with_audio, audio_s, stats.underruns, stats.underrun_turns,
         stats.frames) = counts  # fmt: skip
        stats.audio_s = float(audio_s)
        for which, histogram in zip(_HISTOGRAMS, histograms, strict=True):
            setattr(stats, which, aggregates.Histogram.from_wire(histogram))
        return stats


class VoiceBook:
    """The audio turns of a run, by request name; the total is their merge, made when read."""

    __slots__ = ("by_name",)

    def __init__(self) -> None:
        self.by_name: dict[str, VoiceStats] = {}

    def add(self, reply: Reply) -> None:
        """Count one audio turn under its request name."""
        stats = self.by_name.get(reply.name)
        if stats is None:
            stats = self.by_name[reply.name] = VoiceStats()
        stats.add(reply)

    @property
    def empty(self) -> bool:
        """No audio turn ended (a run of text prompts: no voice figures are written)."""
        return not self.by_name

    @property
    def total(self) -> VoiceStats:
        """Every name's audio turns together."""
        total = VoiceStats()
        for stats in self.by_name.values():
            total.merge(stats)
        return total

    def merge(self, other: VoiceBook) -> None:
        for name, stats in other.by_name.items():
            self.by_name.setdefault(name, VoiceStats()).merge(stats)

    def to_wire(self) -> dict[str, Any]:
        return {name: stats.to_wire() for name, stats in self.by_name.items()}

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> VoiceBook:
        book = cls()
        book.by_name = {str(name): VoiceStats.from_wire(stats) for name, stats in wire.items()}
        return book
