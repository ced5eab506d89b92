"""``twilio``: the caller's side of Twilio Media Streams (bidirectional), to drive telephony voice bots.

wslocust plays Twilio: right after the handshake it sends ``connected`` then ``start`` (a made-up
``streamSid`` and ``callSid`` per connection, ``mediaFormat`` ``audio/x-mulaw`` 8000 Hz mono). An
audio turn sends the utterance as ``media`` events, one a frame (``--audio-frame-ms``, 20 ms as
Twilio sends): base64 μ-law of the PCM16 8 kHz frame, with ``sequenceNumber``, ``media.chunk`` and
``media.timestamp`` (ms since the stream's start) counting on over the connection's turns, as one
call's do. Twilio has no "end of speech" message: the bot finds it in the audio (give trailing
silence, ``--audio-trailing-silence-ms``).

The bot answers with ``media`` events (each :class:`~.base.AudioOut`, its length from the μ-law
bytes at 8000 a second) and ``mark`` events. Twilio echoes a mark back once the audio queued before
it has played; wslocust echoes it at once (an :class:`~.base.Answer`: the connection has no
playback). The answer ends at the first ``mark`` after some of its audio (``--twilio-end-mark NAME``:
only a mark of that name), or, with ``--twilio-quiet-ms N``, once no audio came for N ms (its time:
its last audio's). :meth:`TwilioProtocol.closing` gives the ``stop`` event sent before the client
closes the connection. A binary message, or text that is not a JSON event, is a protocol error.
"""

from __future__ import annotations

import argparse
import base64
import functools
import itertools
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from ...audio.mulaw import encode
from ...errors import ConfigurationError, ProtocolError
from ...values import milliseconds
from .base import END, Answer, AudioOut, Event, Message, Protocol

__all__ = ["TwilioProtocol"]

_RATE = 8000


@functools.lru_cache(maxsize=4096)  # silence and tones repeat their frames
def _payload(frame: bytes) -> str:
    """One PCM16 frame as base64 μ-law."""
    return base64.b64encode(encode(frame)).decode("ascii")


def _mulaw_seconds(payload: str) -> float:
    """The length (s) of a base64 μ-law 8 kHz payload, from the base64 text's length (not decoded)."""
    size = len(payload) * 3 // 4 - (2 if payload.endswith("==") else 1 if payload.endswith("=") else 0)
    return size / _RATE


class TwilioProtocol(Protocol):
    """Twilio Media Streams, the caller's side (see the module).

    Args:
        quiet_ms: end an answer once no audio came for this long (ms); None: at the bot's mark.
        end_mark: the name of the mark that ends an answer; None: any mark after audio.
    """

    name = "twilio"
    manages_connection = True
    audio_rate = _RATE

    _sids = itertools.count(1)

    def __init__(self, quiet_ms: float | str | None = None, end_mark: str | None = None) -> None:
        given_quiet = quiet_ms is not None and quiet_ms != ""
        self.quiet_ms = milliseconds(quiet_ms, "--twilio-quiet-ms", positive=True) if given_quiet else None
        if end_mark is not None and not end_mark.strip():
            raise ConfigurationError("--twilio-end-mark must name a mark, got an empty name")
        if end_mark and self.quiet_ms is not None:
            raise ConfigurationError(
                "--twilio-end-mark and --twilio-quiet-ms each end an answer: give one of them"
            )
        self.end_mark = end_mark or None
        self.stream_sid = self.call_sid = ""
        self._sequence = 0  # the last sequenceNumber sent
        self._chunk = 0  # the last media chunk sent
        self._media_ms = 0.0  # the stream's audio sent so far (each media's timestamp)
        self._heard = False  # the awaited answer's audio began

    @classmethod
    def from_options(cls, options: argparse.Namespace) -> Protocol:
        return cls(
            quiet_ms=getattr(options, "twilio_quiet_ms", None),
            end_mark=getattr(options, "twilio_end_mark", None) or None,
        )

    def _next(self) -> int:
        self._sequence += 1
        return self._sequence

    def open(self) -> Sequence[Message]:
        unique = f"{os.getpid():08x}{next(self._sids):024x}"
        self.stream_sid, self.call_sid = "MZ" + unique, "CA" + unique
        self._sequence = self._chunk = 0
        self._media_ms = 0.0
        self._heard = False
        connected = json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        self._sequence = 1
        start = {
            "event": "start",
            "sequenceNumber": "1",
            "start": {
                "accountSid": "AC" + "0" * 32,
                "streamSid": self.stream_sid,
                "callSid": self.call_sid,
                "tracks": ["inbound"],
                "customParameters": {},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": _RATE, "channels": 1},
            },
            "streamSid": self.stream_sid,
        }
        return (connected, json.dumps(start))

    def audio_start(self, record: Mapping[str, Any]) -> Sequence[Message]:
        self._heard = False
        return ()

    def audio_frames(self, frames: Sequence[bytes]) -> Sequence[Message]:
        messages = []
        stream = self.stream_sid
        for frame in frames:
            self._chunk += 1
            message = (
                f'{{"event": "media", "sequenceNumber": "{self._next()}", "media": {{"track": "inbound", '
                f'"chunk": "{self._chunk}", "timestamp": "{int(self._media_ms)}", '
                f'"payload": "{_payload(frame)}"}}, "streamSid": "{stream}"}}'
            )
            messages.append(message)
            self._media_ms += len(frame) / 2 / _RATE * 1000.0
        return messages

    def closing(self) -> Sequence[Message]:
        stop = {
            "event": "stop",
            "sequenceNumber": str(self._next()),
            "streamSid": self.stream_sid,
            "stop": {"accountSid": "AC" + "0" * 32, "callSid": self.call_sid},
        }
        return (json.dumps(stop),)

    audio_only = True

    def request(self, prompt: str, record: Mapping[str, Any]) -> Sequence[Message]:
        raise ProtocolError(
            "--protocol twilio sends audio turns only: give records with audio (README: Voice)"
        )

    def feed(self, message: Message) -> Sequence[Event]:
        if isinstance(message, bytes):
            raise ProtocolError(
                f"binary message ({len(message)} bytes) where Twilio Media Streams sends JSON text"
            )
        try:
            event = json.loads(message)
            kind = event["event"]
        except (ValueError, KeyError, TypeError):
            raise ProtocolError(f"not a Twilio Media Streams event: {message[:80]}") from None
        if kind == "media":
            payload = (event.get("media") or {}).get("payload")
            if not isinstance(payload, str) or not payload:
                return ()
            self._heard = True
            return (AudioOut(_mulaw_seconds(payload)),)
        if kind == "mark":
            name = (event.get("mark") or {}).get("name")
            echo = {
                "event": "mark",
                "sequenceNumber": str(self._next()),
                "streamSid": self.stream_sid,
                "mark": {"name": name},
            }
            answer = Answer(json.dumps(echo))
            ends = self._heard and self.quiet_ms is None and (self.end_mark is None or name == self.end_mark)
            if ends:
                self._heard = False
                return (answer, END)
            return (answer,)
        return ()  # clear, and events of newer versions: nothing the answer's times need
