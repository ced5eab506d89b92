"""``binary-stt``: streaming speech-to-text, binary PCM frames in, JSON transcripts out (Deepgram,
AssemblyAI and their kind).

An audio turn sends each frame as one binary message of raw PCM16 mono little-endian at
``--stt-rate`` Hz (default 16000), then the close-stream message (``--stt-close-message``, default
Deepgram's ``{"type": "CloseStream"}``; AssemblyAI's is ``{"type": "Terminate"}``).

A reply message is JSON; its transcript is read at a dotted path, as ``--protocol json`` reads its
text: ``--stt-text-path`` (default Deepgram's ``channel.alternatives.0.transcript``) and whether it is
final at ``--stt-final-path`` (default ``is_final``). An interim result is a
:class:`~.base.Transcript`; a final one is a final ``Transcript`` and a chunk of the reply's text
(so the text metrics read the words heard). Empty transcripts (the interim results of silence) are
not counted. The reply ends at the first final result after the close-stream, or at a message
meeting ``--stt-end`` (default ``type=Metadata|type=Termination``: the messages Deepgram and
AssemblyAI send last); a message meeting ``--stt-error`` (default ``type=Error|error``) is a failure.
For ``{"type": "transcript", "text": ..., "final": true}`` messages give
``--stt-text-path text --stt-final-path final``.

Idle connections: :attr:`BinarySttProtocol.keepalive_message` is the message the client sends every
:attr:`BinarySttProtocol.keepalive_ms` while the connection is idle between turns
(``--stt-keepalive-ms``, :mod:`wslocust.keepalive`; Deepgram closes a connection after 10 s without
audio or ``{"type": "KeepAlive"}``). A binary message from the
server is a protocol error: this protocol expects JSON text.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from typing import Any

from ...errors import ConfigurationError, ProtocolError
from ...values import count, milliseconds
from .base import Chunk, End, Event, Failure, Message, Protocol, Transcript
from .json_messages import Condition, check_path, get_path

__all__ = ["BinarySttProtocol"]


class BinarySttProtocol(Protocol):
    """Streaming speech-to-text (see the module).

    Args:
        rate: the sample rate (Hz) of the PCM16 sent.
        text_path: where a result holds its transcript.
        final_path: where a result says it is final (a true value).
        close_message: the message ending the stream, sent after the utterance's last frame.
        end: the condition of a message that ends the reply.
        error: the condition of a message that is the service's error.
        keepalive_message: the message keeping an idle connection open.
        keepalive_ms: how often to send it while idle (ms); None: never.
    """

    name = "binary-stt"

    DEFAULT_RATE = 16000
    DEFAULT_TEXT_PATH = "channel.alternatives.0.transcript"
    DEFAULT_FINAL_PATH = "is_final"
    DEFAULT_CLOSE_MESSAGE = '{"type": "CloseStream"}'
    DEFAULT_END = "type=Metadata|type=Termination"
    DEFAULT_ERROR = "type=Error|error"
    DEFAULT_KEEPALIVE_MESSAGE = '{"type": "KeepAlive"}'

    def __init__(
        self,
        rate: int | str | None = None,
        text_path: str | None = None,
        final_path: str | None = None,
        close_message: str | None = None,
        end: str | None = None,
        error: str | None = None,
        keepalive_message: str | None = None,
        keepalive_ms: float | str | None = None,
    ) -> None:
        self.audio_rate = (
            self.DEFAULT_RATE
            if rate in (None, "")
            else count(rate, "--stt-rate", minimum=8000, maximum=192000)
        )
        self.text_path = check_path(text_path or self.DEFAULT_TEXT_PATH, "--stt-text-path")
        self.final_path = check_path(final_path or self.DEFAULT_FINAL_PATH, "--stt-final-path")
        self.close_message = self._json_text(close_message, self.DEFAULT_CLOSE_MESSAGE, "--stt-close-message")
        self.keepalive_message: str = self._json_text(
            keepalive_message, self.DEFAULT_KEEPALIVE_MESSAGE, "--stt-keepalive-message"
        )
        given = keepalive_ms not in (None, "")
        self.keepalive_ms: float | None = (
            milliseconds(keepalive_ms, "--stt-keepalive-ms", positive=True) if given else None
        )
        """Send :attr:`keepalive_message` every this many ms while no audio goes; None: never."""
        try:
            self.end = Condition(self.DEFAULT_END if end is None else end)
        except ConfigurationError as refused:
            raise ConfigurationError(f"--stt-end: {refused}") from None
        try:
            self.error = Condition(self.DEFAULT_ERROR if error is None else error)
        except ConfigurationError as refused:
            raise ConfigurationError(f"--stt-error: {refused}") from None
        self._closed = False  # the close-stream went: the next final result ends the reply
        self._finals = 0  # the awaited reply's final results so far
        self._end_may_trail = False
        """A reply ended at a final result: the service's end message (Metadata) may still follow,
        and, when it is the next message read, is that earlier turn's."""

    @staticmethod
    def _json_text(text: str | None, default: str, option: str) -> str:
        """A message given as JSON text, checked (a service would refuse anything else)."""
        text = default if text is None else text
        try:
            json.loads(text)
        except ValueError:
            raise ConfigurationError(f"{option} must be a JSON message, got {text!r}") from None
        return text

    @classmethod
    def from_options(cls, options: argparse.Namespace) -> Protocol:
        return cls(
            rate=getattr(options, "stt_rate", None),
            text_path=getattr(options, "stt_text_path", None),
            final_path=getattr(options, "stt_final_path", None),
            close_message=getattr(options, "stt_close_message", None),
            end=getattr(options, "stt_end", None),
            error=getattr(options, "stt_error", None),
            keepalive_message=getattr(options, "stt_keepalive_message", None),
            keepalive_ms=getattr(options, "stt_keepalive_ms", None),
        )

    def audio_start(self, record: Mapping[str, Any]) -> Sequence[Message]:
        self._closed = False
        self._finals = 0
        return ()

    def audio_end(self) -> Sequence[Message]:
        return (self.close_message,)

    def audio_sent(self) -> None:
        self._closed = True  # a final result from now on is the last (before: a mid-stream segment)

    audio_only = True

    def request(self, prompt: str, record: Mapping[str, Any]) -> Sequence[Message]:
        raise ProtocolError(
            "--protocol binary-stt sends audio turns only: give records with audio (README: Voice)"
        )

    def feed(self, message: Message) -> Sequence[Event]:
        if isinstance(message, bytes):
            raise ProtocolError(
                f"binary message ({len(message)} bytes) where the speech-to-text service sends JSON "
                "transcripts (text messages)"
            )
        try:
            document = json.loads(message)
        except ValueError:
            raise ProtocolError(f"transcript message is not JSON: {message[:80]}") from None
        if self.error(document):
            detail = next(
                (
                    document[key]
                    for key in ("description", "message", "error")
                    if isinstance(document, dict) and document.get(key)
                ),
                None,
            )
            return (Failure(str(detail) if detail is not None else message[:200]),)
        text = get_path(document, self.text_path)
        events: list[Event] = []
        trailing, self._end_may_trail = self._end_may_trail, False  # only the very next message
        if isinstance(text, str) and text:
            final = bool(get_path(document, self.final_path))
            events.append(Transcript(text, final=final))
            if final:
                events.append(Chunk(text if not self._finals else " " + text))
                self._finals += 1
                if self._closed:
                    self._end_may_trail = True
                    events.append(End(document))
                    return events
        if self.end(document):
            if trailing:  # the earlier turn's end message, late: not this turn's end
                return events
            events.append(End(document))
        return events
