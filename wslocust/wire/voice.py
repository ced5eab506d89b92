"""What one audio turn measured, socket-free: :class:`VoiceTimes`, carried by the turn's
:class:`~wslocust.wire.reply.Reply` as ``reply.voice``.

An audio turn sends an utterance as frames at real-time pace (the I/O records when each went out
and how late), then reads the answer as a prompt's reply: the connection folds the protocol's voice
events (:class:`~wslocust.wire.protocols.AudioOut`, ``Transcript``, ``SpeechEnded``) into it. Every
time is in ms since the utterance's start (the first frame's due time), like a reply's chunk times.
"""

from __future__ import annotations

from array import array
from collections.abc import MutableSequence
from dataclasses import dataclass, field

from .protocols.base import AudioOut, Event, SpeechEnded, Transcript

__all__ = ["VoiceTimes", "note_voice"]


@dataclass(slots=True, eq=False)
class VoiceTimes:
    """An audio turn's times, as measured.

    Attributes:
        speech_ms: the length of the speech sent, when played (trailing silence not counted).
        frames_sent: how many audio frames went out.
        lateness_ms: how late each frame went out after its scheduled time, in order: an
            ``array("d")`` of plain doubles, not a list of float objects, which the garbage
            collector would walk (a hundred a 2 s utterance, every turn in flight).
        speech_end_ms: when the last frame of speech (before any trailing silence) went out.
        server_speech_end_ms: when the server said it detected the end of speech (its first
            ``SpeechEnded``), or None.
        audio_times_ms: when each piece of the answer's audio arrived.
        audio_seconds: the length of each piece of the answer's audio, in the same order.
        first_transcript_ms: when the first transcript arrived, or None.
        final_transcript_ms: when the first final transcript arrived, or None.
    """

    speech_ms: float = 0.0
    frames_sent: int = 0
    lateness_ms: MutableSequence[float] = field(default_factory=lambda: array("d"))
    speech_end_ms: float | None = None
    server_speech_end_ms: float | None = None
    audio_times_ms: list[float] = field(default_factory=list)
    audio_seconds: list[float] = field(default_factory=list)
    first_transcript_ms: float | None = None
    final_transcript_ms: float | None = None

    @property
    def end_of_speech_ms(self) -> float | None:
        """The end of the user's speech: the server's word for it when it gave one, else when the
        last frame of speech went out."""
        return self.server_speech_end_ms if self.server_speech_end_ms is not None else self.speech_end_ms

    @property
    def first_audio_ms(self) -> float | None:
        """When the answer's first audio arrived (time to first audio), or None."""
        return self.audio_times_ms[0] if self.audio_times_ms else None

    @property
    def voice_to_voice_ms(self) -> float | None:
        """End of the user's speech → first audio of the answer, or None when either is missing."""
        first, end = self.first_audio_ms, self.end_of_speech_ms
        return None if first is None or end is None else first - end


def note_voice(voice: VoiceTimes, event: Event, time_ms: float) -> None:
    """Fold one of an audio turn's voice events, arrived at ``time_ms``, into its times (other
    events are not voice events and change nothing)."""
    if type(event) is AudioOut:
        voice.audio_times_ms.append(time_ms)
        voice.audio_seconds.append(event.seconds)
    elif type(event) is Transcript:
        if voice.first_transcript_ms is None:
            voice.first_transcript_ms = time_ms
        if event.final and voice.final_transcript_ms is None:
            voice.final_transcript_ms = time_ms
    elif type(event) is SpeechEnded and voice.server_speech_end_ms is None:
        voice.server_speech_end_ms = time_ms
