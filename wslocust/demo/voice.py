"""The demo bot's voice: OpenAI Realtime audio, Twilio Media Streams and streaming speech-to-text.

A connection's voice messages are recognised by their shape (``--protocol auto``) or by the protocol
the bot is held to: binary messages are a speech-to-text stream (``binary-stt``); JSON with an
``event`` of Twilio's is a Twilio Media Stream; ``session.update``, ``input_audio_buffer.*`` and the
``response.create`` after a commit are the Realtime API's audio. Everything else is the text bot's.

The bot hears the user's audio and finds the end of speech:

- Realtime: ``input_audio_buffer.commit``; or, while the session keeps voice activity detection on
  (as OpenAI's does until a ``session.update`` sets ``turn_detection`` to null), ``--voice-silence-ms``
  of quiet audio after speech, answered with ``input_audio_buffer.speech_stopped`` (and
  ``speech_started`` when speech begins);
- Twilio: the same trailing silence, or ``stop``;
- speech-to-text: the close-stream message (``CloseStream``, ``Finalize``, ``Terminate``), or the
  trailing silence.

Audio that stops coming for ``--voice-silence-ms`` also ends the speech (a stream of silent packets
has no speech to end). After ``--voice-delay-ms`` the bot answers: ``--voice-seconds`` of a 440 Hz
tone in chunks of ``--voice-chunk-ms``, sent at ``--voice-pace`` times real time (1.0: real time;
below 1 a listener runs out of audio: underruns), with the answer's transcript in pieces beside the
audio (Realtime), a ``mark`` after the audio (Twilio). Speech-to-text answers with transcripts of
what it hears (``--voice-transcript``, revealed word by word): an interim result every 500 ms of
audio, then the final one, and after a close-stream Deepgram's ``Metadata`` (``--stt-format
deepgram``) or ``{"type": "end"}`` (``--stt-format simple``, whose results are
``{"type": "transcript", "text": ..., "final": ...}``). With ``--stt-idle-timeout-ms``, a
speech-to-text stream that neither audio nor a message (a ``KeepAlive``) came on for that long is
closed with 1011, as Deepgram closes one after 10 s (``NET-0001``); the timeout runs from the
connection's start when the bot is held to ``binary-stt``, else from its first speech-to-text message.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
import math
import struct
from array import array
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from ..audio.mulaw import decode, encode
from ..values import argument_type, milliseconds, number

__all__ = [
    "STT_FORMATS",
    "VOICE_PROTOCOLS",
    "VoiceConversation",
    "VoiceSettings",
    "add_voice_arguments",
    "voice_settings",
]

STT_FORMATS = ("deepgram", "simple")
"""The speech-to-text result shapes the bot speaks (``--stt-format``)."""

VOICE_PROTOCOLS = ("twilio", "binary-stt")
"""The voice protocols the bot can be held to (``--protocol``), beside ``openai-realtime``'s audio."""

_TWILIO_EVENTS = frozenset(("connected", "start", "media", "mark", "stop", "dtmf"))
_STT_CONTROLS = frozenset(("CloseStream", "Finalize", "Terminate", "KeepAlive"))
_REALTIME_AUDIO = frozenset(
    ("session.update", "input_audio_buffer.append", "input_audio_buffer.commit", "input_audio_buffer.clear")
)
_HINTS = (
    '"event"',
    "input_audio_buffer.",
    "session.update",
    "CloseStream",
    "Finalize",
    "Terminate",
    "KeepAlive",
)
_SILENT = 300  # a frame whose samples all stay within this amplitude is silence
_INTERIM_MS = 500.0  # audio heard between two interim results (speech-to-text)
_RESPONSE_NUMBERS = itertools.count(1)
"""Realtime response ids are the bot's, not a connection's: a client that saw ``resp_voice000001``
on its last connection must not see it again on the next."""
_IDLE_GRACE_S = 0.05  # an idle stream's messages read late (the bot stalled) still count


@dataclass(frozen=True)
class VoiceSettings:
    """How the bot answers voice (see the module)."""

    delay_ms: float = 300.0
    pace: float = 2.0
    chunk_ms: float = 100.0
    seconds: float = 1.0
    silence_ms: float = 400.0
    transcript: str = "Thanks for calling. How can I help you today?"
    stt_format: str = "deepgram"
    stt_idle_timeout_ms: float | None = None


def add_voice_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's voice options."""
    voice = parser.add_argument_group("voice", "Audio turns: Realtime audio, Twilio, binary-stt")
    positive_ms = argument_type(milliseconds, positive=True)
    voice.add_argument(
        "--voice-delay-ms",
        type=argument_type(milliseconds),
        default=300.0,
        help="end of speech → first audio (or final transcript) (default 300)",
    )
    voice.add_argument(
        "--voice-pace",
        type=argument_type(number, positive=True),
        default=2.0,
        help="audio seconds sent per second: 1 = real time, below 1 underruns (default 2)",
    )
    voice.add_argument(
        "--voice-chunk-ms", type=positive_ms, default=100.0, help="audio in each chunk sent (default 100)"
    )
    voice.add_argument(
        "--voice-seconds",
        type=argument_type(number, positive=True, maximum=600.0),
        default=1.0,
        help="length of each spoken answer (default 1)",
    )
    voice.add_argument(
        "--voice-silence-ms",
        type=positive_ms,
        default=400.0,
        help="quiet audio (or none) after speech that ends it (default 400)",
    )
    voice.add_argument(
        "--voice-transcript", default=VoiceSettings.transcript, help="the words the bot says and hears"
    )
    voice.add_argument(
        "--stt-format",
        choices=STT_FORMATS,
        default="deepgram",
        help="speech-to-text results (default deepgram)",
    )
    voice.add_argument(
        "--stt-idle-timeout-ms",
        type=positive_ms,
        default=None,
        help="speech-to-text: close a stream (1011, as Deepgram's NET-0001) that neither audio nor a "
        "message came on for this long (default: never; Deepgram's is 10000)",
    )


def voice_settings(options: argparse.Namespace) -> VoiceSettings:
    """The voice settings of the parsed options."""
    return VoiceSettings(
        delay_ms=options.voice_delay_ms,
        pace=options.voice_pace,
        chunk_ms=options.voice_chunk_ms,
        seconds=options.voice_seconds,
        silence_ms=options.voice_silence_ms,
        transcript=options.voice_transcript.strip() or VoiceSettings.transcript,
        stt_format=options.stt_format,
        stt_idle_timeout_ms=options.stt_idle_timeout_ms,
    )


def _tone(rate: int, milliseconds_long: float) -> bytes:
    """A 440 Hz tone, PCM16 mono little-endian."""
    samples = max(1, round(rate * milliseconds_long / 1000.0))
    return struct.pack(
        f"<{samples}h",
        *(round(8000 * math.sin(2 * math.pi * 440 * index / rate)) for index in range(samples)),
    )


def _is_silent(pcm: bytes) -> bool:
    samples = array("h", pcm[: len(pcm) // 2 * 2])
    return not samples or (max(samples) < _SILENT and min(samples) > -_SILENT)


def _pieces(text: str, count: int) -> list[str]:
    """``text`` in ``count`` pieces, split between words (some empty when words are fewer)."""
    words = text.split(" ")
    bounds = [round(index * len(words) / count) for index in range(count + 1)]
    return [" ".join(words[bounds[index] : bounds[index + 1]]) + " " for index in range(count)]


class _Speech:
    """The user's speech as heard: when it began, and its end (by trailing silence or by a gap)."""

    def __init__(
        self, rate: int, silence_ms: float, on_end: Callable[[], None], *, gap_ends_silence: bool
    ) -> None:
        self.rate = rate
        self.gap_ends_silence = gap_ends_silence  # audio that stops ends the utterance, speech heard or not
        self.silence_ms = silence_ms
        self.on_end = on_end
        self.heard_ms = 0.0  # audio heard in this utterance
        self.speaking = False  # speech began and has not ended
        self.quiet_ms = 0.0  # quiet audio since the last speech
        self.any = False  # audio came since the last end
        self._gap: asyncio.TimerHandle | None = None

    def hear(self, pcm: bytes, vad: bool = True) -> bool:
        """Hear one frame; return True when it begins the speech."""
        self.any = True
        length_ms = len(pcm) / 2 / self.rate * 1000.0
        self.heard_ms += length_ms
        began = False
        if vad:
            if not _is_silent(pcm):
                began = not self.speaking
                self.speaking = True
                self.quiet_ms = 0.0
            elif self.speaking:
                self.quiet_ms += length_ms
                if self.quiet_ms >= self.silence_ms:
                    self.end()
                    return False
        if self._gap is not None:
            self._gap.cancel()
        self._gap = asyncio.get_running_loop().call_later(self.silence_ms / 1000.0, self._stopped)
        return began

    def _stopped(self) -> None:
        """No audio came for the silence's length."""
        self._gap = None
        if self.speaking or self.gap_ends_silence:
            self.end()

    def end(self) -> None:
        """The speech is over (told, or heard): answer once."""
        if self._gap is not None:
            self._gap.cancel()
            self._gap = None
        if self.any:
            self.any = self.speaking = False
            self.quiet_ms = 0.0
            self.on_end()
        self.heard_ms = 0.0


class VoiceConversation:
    """One connection's voice (see the module).

    Args:
        connection: the connection.
        settings: how to answer.
        protocol: the protocol the bot is held to (``auto``: recognised by shape).
        counts: the bot's counts: ``started`` and ``replies`` as for text replies.
    """

    def __init__(
        self, connection: ServerConnection, settings: VoiceSettings, protocol: str, counts: Any
    ) -> None:
        self.connection = connection
        self.settings = settings
        self.protocol = protocol
        self.counts = counts
        self._tasks: set[asyncio.Task[None]] = set()
        self._speech: _Speech | None = None
        self._kind = ""  # the voice this connection speaks, once heard: realtime, twilio or stt
        self.vad = True  # Realtime: the session's voice activity detection
        self.beta = False  # Realtime: the beta API's event names
        self.committed = False  # Realtime: audio committed, its response.create awaited
        self.stream_sid = ""  # Twilio
        self._marks = 0
        self._interims = 0
        self._closing = False  # speech-to-text: a close-stream came
        self._idle_timer: asyncio.TimerHandle | None = None  # speech-to-text: --stt-idle-timeout-ms
        self._heard_at = 0.0  # speech-to-text: loop time of the last message
        if protocol == "binary-stt":
            self._stt_active()

    def _stt_active(self) -> None:
        """A speech-to-text stream heard a message now: its idle timeout runs from here."""
        timeout_ms = self.settings.stt_idle_timeout_ms
        if timeout_ms is None:
            return
        loop = asyncio.get_running_loop()
        self._heard_at = loop.time()
        if self._idle_timer is None:
            self._idle_timer = loop.call_later(timeout_ms / 1000.0, self._stt_idle)

    def _stt_idle(self) -> None:
        """The idle timeout's check: close the stream when nothing came for the whole timeout (one
        timer a stream, moved on instead of restarted at every frame)."""
        timeout_s = (self.settings.stt_idle_timeout_ms or 0.0) / 1000.0
        loop = asyncio.get_running_loop()
        left = self._heard_at + timeout_s - loop.time()
        if left > 0:
            self._idle_timer = loop.call_later(left, self._stt_idle)
            return
        self._spawn(self._close_idle(timeout_s))

    async def _close_idle(self, timeout_s: float) -> None:
        """Close the idle stream, unless a message that came during a stall of the bot's own (read
        after the timer's turn) is read within a short grace."""
        await asyncio.sleep(_IDLE_GRACE_S)
        loop = asyncio.get_running_loop()
        if loop.time() - self._heard_at < timeout_s:
            self._idle_timer = loop.call_later(self._heard_at + timeout_s - loop.time(), self._stt_idle)
            return
        self._idle_timer = None
        await self.connection.close(1011, "NET-0001: no audio or message within the idle timeout")

    def takes(self, message: str | bytes) -> dict[str, Any] | bytes | None:
        """The message, when it is voice (parsed, if JSON); None when it is the text bot's."""
        if self._idle_timer is not None:  # any message keeps a speech-to-text stream open
            self._heard_at = asyncio.get_running_loop().time()
        if isinstance(message, bytes):
            return message if self.protocol in ("auto", "binary-stt") else None
        hinted = any(hint in message for hint in _HINTS) or (self.committed and "response.create" in message)
        if not hinted or message[:1] != "{":
            return None
        try:
            document = json.loads(message)
        except ValueError:
            return None
        if not isinstance(document, dict):
            return None
        kind = document.get("type")
        if self.protocol in ("auto", "twilio") and document.get("event") in _TWILIO_EVENTS:
            return document
        if self.protocol in ("auto", "openai-realtime") and (
            kind in _REALTIME_AUDIO or (kind == "response.create" and self.committed)
        ):
            return document
        if self.protocol in ("auto", "binary-stt") and kind in _STT_CONTROLS:
            return document
        return None

    async def handle(self, message: dict[str, Any] | bytes) -> None:
        """Read one voice message (one :meth:`takes` returned)."""
        if isinstance(message, bytes):
            self._stt_audio(message)
        elif "event" in message:
            await self._twilio(message)
        elif message.get("type") in _STT_CONTROLS:
            self._stt_control(str(message.get("type")))
        else:
            await self._realtime(message)

    def _spawn(self, answer: Awaitable[None]) -> None:
        task = asyncio.ensure_future(self._guarded(answer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guarded(answer: Awaitable[None]) -> None:
        with contextlib.suppress(ConnectionClosed):
            await answer

    def _speech_of(self, kind: str, rate: int, on_end: Callable[[], None]) -> _Speech:
        if self._speech is None or self._kind != kind:
            self._kind = kind
            self._speech = _Speech(rate, self.settings.silence_ms, on_end, gap_ends_silence=kind == "stt")
        return self._speech

    async def _send(self, document: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(document))

    async def _paced(self, start: float, send_chunk: Callable[[int], Awaitable[None]]) -> int:
        """Send the answer's chunks on their schedule from ``start`` (loop time); return how many."""
        settings = self.settings
        loop = asyncio.get_running_loop()
        chunks = max(1, round(settings.seconds * 1000.0 / settings.chunk_ms))
        self.counts.started += 1
        for index in range(chunks):
            due = start + (settings.delay_ms + index * settings.chunk_ms / settings.pace) / 1000.0
            await asyncio.sleep(max(0.0, due - loop.time()))
            await send_chunk(index)
        self.counts.replies += 1
        return chunks

    # OpenAI Realtime

    async def _realtime(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "session.update":
            session = event.get("session") or {}
            self.beta = session.get("type") != "realtime"
            audio_input = (session.get("audio") or {}).get("input") or {}
            settings = audio_input if "turn_detection" in audio_input else session
            if "turn_detection" in settings:
                self.vad = settings["turn_detection"] is not None
            await self._send({"type": "session.updated", "session": session})
        elif kind == "input_audio_buffer.append":
            try:
                pcm = base64.b64decode(str(event.get("audio", "")), validate=True)
            except ValueError:
                await self._send(
                    {"type": "error", "error": {"type": "invalid_request_error", "message": "bad audio"}}
                )
                return
            speech = self._speech_of("realtime", 24000, self._realtime_heard)
            if speech.hear(pcm, vad=self.vad) and self.vad:
                await self._send(
                    {"type": "input_audio_buffer.speech_started", "audio_start_ms": 0, "item_id": "item_1"}
                )
        elif kind == "input_audio_buffer.commit":
            if self._speech is not None:
                self._speech.any = False  # committed: no end of speech of its own to find
                self._speech.end()
            self.committed = True
            await self._send({"type": "input_audio_buffer.committed", "item_id": "item_1"})
        elif kind == "input_audio_buffer.clear":
            await self._send({"type": "input_audio_buffer.cleared"})
        elif kind == "response.create":
            self.committed = False
            self.beta = "modalities" in (event.get("response") or {})
            self._spawn(self._realtime_answer(asyncio.get_running_loop().time()))

    def _realtime_heard(self) -> None:
        """The session's voice activity detection found the end of speech: say so, then answer."""
        if not self.vad:
            return
        start = asyncio.get_running_loop().time()
        stopped = {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 0, "item_id": "item_1"}
        self._spawn(
            self._realtime_answer(start, announce=[stopped, {"type": "input_audio_buffer.committed"}])
        )

    async def _realtime_answer(self, start: float, announce: list[dict[str, Any]] | None = None) -> None:
        for event in announce or ():
            await self._send(event)
            start = asyncio.get_running_loop().time()  # the delay runs from the end of speech as told
        response_id = f"resp_voice{next(_RESPONSE_NUMBERS):06d}"  # unique in the bot, as OpenAI's
        await self._send(
            {"type": "response.created", "response": {"id": response_id, "status": "in_progress"}}
        )
        settings = self.settings
        chunk = base64.b64encode(_tone(24000, settings.chunk_ms)).decode("ascii")
        pieces = _pieces(settings.transcript, max(1, round(settings.seconds * 1000.0 / settings.chunk_ms)))
        audio_kind = "response.audio.delta" if self.beta else "response.output_audio.delta"
        said_kind = (
            "response.audio_transcript.delta" if self.beta else "response.output_audio_transcript.delta"
        )

        async def send_chunk(index: int) -> None:
            await self._send({"type": audio_kind, "response_id": response_id, "delta": chunk})
            await self._send({"type": said_kind, "response_id": response_id, "delta": pieces[index]})

        await self._paced(start, send_chunk)
        response = {"id": response_id, "status": "completed", "usage": {"output_tokens": len(pieces)}}
        await self._send({"type": "response.done", "response": response})

    # Twilio Media Streams

    async def _twilio(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "start":
            self.stream_sid = str(event.get("streamSid") or (event.get("start") or {}).get("streamSid") or "")
        elif kind == "media":
            payload = (event.get("media") or {}).get("payload")
            try:
                mulaw = base64.b64decode(str(payload or ""), validate=True)
            except ValueError:
                return  # Twilio's bots drop what they cannot read
            self._speech_of("twilio", 8000, self._twilio_heard).hear(decode(mulaw))
        elif kind == "stop" and self._speech is not None and self._speech.speaking:
            self._speech.end()

    def _twilio_heard(self) -> None:
        self._spawn(self._twilio_answer(asyncio.get_running_loop().time()))

    async def _twilio_answer(self, start: float) -> None:
        payload = base64.b64encode(encode(_tone(8000, self.settings.chunk_ms))).decode("ascii")
        media = json.dumps({"event": "media", "streamSid": self.stream_sid, "media": {"payload": payload}})

        async def send_chunk(index: int) -> None:
            await self.connection.send(media)

        await self._paced(start, send_chunk)
        self._marks += 1
        await self._send(
            {"event": "mark", "streamSid": self.stream_sid, "mark": {"name": f"answer-{self._marks}"}}
        )

    # Speech-to-text

    def _stt_rate(self) -> int:
        request = self.connection.request
        query = parse_qs(urlsplit(request.path).query) if request is not None else {}
        try:
            return max(8000, int((query.get("sample_rate") or ["16000"])[0]))
        except ValueError:
            return 16000

    def _stt_audio(self, pcm: bytes) -> None:
        self._stt_active()
        speech = self._speech_of("stt", self._stt_rate(), self._stt_heard)
        before = speech.heard_ms
        speech.hear(pcm, vad=False)  # the stream's end (a close-stream, or no more audio) ends it
        if speech.any and int(speech.heard_ms // _INTERIM_MS) > int(before // _INTERIM_MS):
            self._interims += 1
            self._spawn(self._stt_result(final=False))

    def _stt_control(self, kind: str) -> None:
        self._stt_active()
        if kind == "KeepAlive":
            return
        self._closing = True
        if self._speech is not None and self._speech.any:
            self._speech.end()
        else:
            self._spawn(self._stt_final(asyncio.get_running_loop().time(), closing=True))

    def _stt_heard(self) -> None:
        closing, self._closing = self._closing, False
        self._spawn(self._stt_final(asyncio.get_running_loop().time(), closing=closing))

    async def _stt_result(self, *, final: bool) -> None:
        words = self.settings.transcript.split(" ")
        text = " ".join(words if final else words[: min(len(words), self._interims * 2)])
        if self.settings.stt_format == "simple":
            await self._send({"type": "transcript", "text": text, "final": final})
            return
        alternative = {"transcript": text, "confidence": 0.98, "words": []}
        result = {
            "type": "Results",
            "is_final": final,
            "speech_final": final,
            "channel": {"alternatives": [alternative]},
        }
        await self._send(result)

    async def _stt_final(self, start: float, *, closing: bool) -> None:
        self.counts.started += 1
        await asyncio.sleep(
            max(0.0, start + self.settings.delay_ms / 1000.0 - asyncio.get_running_loop().time())
        )
        self._interims = 0
        await self._stt_result(final=True)
        if self.settings.stt_format == "simple":
            await self._send({"type": "end"})
        elif closing:
            await self._send({"type": "Metadata", "request_id": "demo", "channels": 1})
        self.counts.replies += 1
