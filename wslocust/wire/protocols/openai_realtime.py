"""``openai-realtime``: OpenAI's Realtime API, text replies, and audio turns.

A prompt is two client events: ``conversation.item.create`` (a user message with the prompt as
``input_text``) then ``response.create``. The reply is the text deltas of the response that
request started (``response.output_text.delta``; the beta API's ``response.text.delta`` too), ended
by ``response.done``. A ``response.done`` whose status is not ``completed`` (``failed``,
``cancelled``, ``incomplete``) and an ``error`` event are failures.

Replies are correlated by response id: the first ``response.created`` after the request names the
response being awaited, and events of other responses (out-of-band responses, late events of an
earlier one) are not counted in.

Several prompts in flight (``--in-flight N``): each prompt is one out-of-band ``response.create``
(``"conversation": "none"``, the prompt as its ``input``, so the responses run side by side and none
waits for another) whose ``event_id`` is the prompt's request id and whose ``metadata`` carries it as
``wslocust_request_id``. The server echoes the metadata in ``response.created`` and
``response.done``: ``response.created`` binds the response's id to the prompt, the deltas are routed
by their ``response_id``, and an ``error`` event by the ``event_id`` of the client event that caused
it (``error.event_id``). Each prompt is then a conversation of its own (no earlier turn is in its
context).

An audio turn (a record with audio, :mod:`wslocust.wire.voice`) sends the utterance as
``input_audio_buffer.append`` events (base64 PCM16 mono at 24 kHz, one a frame). With
``--realtime-turn-end commit`` (the default) the turn starts with a ``session.update`` that turns the
server's voice activity detection off, and ends with ``input_audio_buffer.commit`` then a
``response.create`` asking for audio; with ``server-vad`` nothing is sent after the last frame: the
server detects the end of speech (``input_audio_buffer.speech_stopped``, the turn's end of speech)
and answers by itself. The answer's audio is read from ``response.output_audio.delta`` (the beta
API's ``response.audio.delta``), its transcript from ``response.output_audio_transcript.delta``
(beta: ``response.audio_transcript.delta``): each piece is a transcript and a chunk of the reply's
text. ``response.done`` ends the answer as it ends a text reply.
"""

from __future__ import annotations

import argparse
import base64
import functools
import json
from collections import deque
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from ...errors import ConfigurationError, ProtocolError
from .base import AudioOut, Chunk, End, Event, Failure, Message, Protocol, SpeechEnded, Transcript
from .fast_json import loads

__all__ = ["REQUEST_ID_KEY", "TURN_ENDS", "OpenAIRealtimeProtocol"]

REQUEST_ID_KEY = "wslocust_request_id"
"""The ``metadata`` key of an in-flight prompt's response carrying its request id (``--in-flight``)."""

_DELTAS = frozenset(("response.output_text.delta", "response.text.delta"))
_AUDIO_DELTAS = frozenset(("response.output_audio.delta", "response.audio.delta"))
_TRANSCRIPT_DELTAS = frozenset(("response.output_audio_transcript.delta", "response.audio_transcript.delta"))

TURN_ENDS = ("commit", "server-vad")
"""How an audio turn's end of speech is told (``--realtime-turn-end``): the client commits the
audio buffer and asks for a response, or the server's voice activity detection finds it."""

_AUDIO_RATE = 24000


@functools.lru_cache(maxsize=4096)  # silence and tones repeat their frames
def _append_event(frame: bytes) -> str:
    """The ``input_audio_buffer.append`` event carrying one frame."""
    audio = base64.b64encode(frame).decode("ascii")
    return f'{{"type": "input_audio_buffer.append", "audio": "{audio}"}}'


def _audio_seconds(delta: str) -> float:
    """The length (s) of a base64 PCM16 24 kHz delta, from the base64 text's length (not decoded)."""
    size = len(delta) * 3 // 4 - (2 if delta.endswith("==") else 1 if delta.endswith("=") else 0)
    return size / (2 * _AUDIO_RATE)


class OpenAIRealtimeProtocol(Protocol):
    """OpenAI Realtime API events over WebSocket, text modality.

    Args:
        api: ``ga`` (``output_modalities``) or ``beta`` (``modalities``, with the
            ``OpenAI-Beta: realtime=v1`` header, which you pass with ``--header``).
        instructions: optional per-response instructions.
        turn_end: how an audio turn's end of speech is told, one of :data:`TURN_ENDS`.
    """

    name = "openai-realtime"
    audio_rate = _AUDIO_RATE

    def __init__(self, api: str = "ga", instructions: str | None = None, turn_end: str = "commit") -> None:
        if api not in ("ga", "beta"):
            raise ConfigurationError(f"unknown Realtime API version {api!r}; choose ga or beta")
        if turn_end not in TURN_ENDS:
            raise ConfigurationError(
                f"--realtime-turn-end must be one of {', '.join(TURN_ENDS)}, got {turn_end!r}"
            )
        modalities = "output_modalities" if api == "ga" else "modalities"
        response: dict[str, Any] = {modalities: ["text"]}
        if instructions:
            response["instructions"] = instructions
        self._response_create = json.dumps({"type": "response.create", "response": response})
        # An audio turn's: the answer spoken (the beta API lists text beside audio; GA gives audio's
        # transcript with it), and the session without server VAD when the client commits.
        spoken = {**response, modalities: ["audio"] if api == "ga" else ["audio", "text"]}
        self.turn_end = turn_end
        self._audio_end: tuple[str, ...] = ()
        self._audio_start: tuple[str, ...] = ()
        if turn_end == "commit":
            self._audio_end = (
                '{"type": "input_audio_buffer.commit"}',
                json.dumps({"type": "response.create", "response": spoken}),
            )
            session = (
                {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
                if api == "ga"
                else {"turn_detection": None}
            )
            self._audio_start = (json.dumps({"type": "session.update", "session": session}),)
        self._response = response
        self._request_ids: dict[Any, str] = {}  # response id → request id, while in flight
        self._response_id: str | None = None
        # Responses of earlier prompts (finished or abandoned): their late events are not ours.
        self._earlier: deque[str] = deque(maxlen=32)

    @classmethod
    def from_options(cls, options: argparse.Namespace) -> Protocol:
        return cls(
            api=getattr(options, "realtime_api", None) or "ga",
            instructions=getattr(options, "realtime_instructions", None),
            turn_end=getattr(options, "realtime_turn_end", None) or "commit",
        )

    def open(self) -> Sequence[Message]:
        # A new connection: a server may number its responses per connection, so the ids of another
        # connection's responses (awaited, finished or in flight) say nothing of this one's.
        self._response_id = None
        self._earlier.clear()
        self._request_ids.clear()
        return ()

    def audio_start(self, record: Mapping[str, Any]) -> Sequence[Message]:
        if self._response_id is not None:
            self._earlier.append(self._response_id)
        self._response_id = None
        return self._audio_start

    def audio_frames(self, frames: Sequence[bytes]) -> Sequence[Message]:
        return [_append_event(frame) for frame in frames]

    def audio_frames_key(self) -> Hashable | None:
        return "input_audio_buffer.append"  # the same appends, whatever the API and the connection

    def audio_end(self) -> Sequence[Message]:
        return self._audio_end

    def request(self, prompt: str, record: Mapping[str, Any]) -> Sequence[Message]:
        if self._response_id is not None:
            self._earlier.append(self._response_id)
        self._response_id = None
        item = {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": prompt}]},
        }
        return (json.dumps(item, ensure_ascii=False), self._response_create)

    @property
    def correlates(self) -> bool:
        return True

    def request_with_id(self, prompt: str, record: Mapping[str, Any], request_id: str) -> Sequence[Message]:
        message = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": prompt}]}
        response = {
            **self._response,
            "conversation": "none",
            "input": [message],
            "metadata": {REQUEST_ID_KEY: request_id},
        }
        event = {"type": "response.create", "event_id": request_id, "response": response}
        return (json.dumps(event, ensure_ascii=False),)

    def feed_with_id(self, message: Message) -> tuple[str | None, Sequence[Event]]:
        event = self._parse(message)
        kind = event["type"]
        if kind in _DELTAS:
            delta = event.get("delta")
            request_id = self._request_ids.get(event.get("response_id"))
            return request_id, ((Chunk(delta),) if isinstance(delta, str) and delta else ())
        if kind in ("response.created", "response.done"):
            response = event.get("response") or {}
            request_id = (response.get("metadata") or {}).get(REQUEST_ID_KEY)
            if request_id is None:
                request_id = self._request_ids.get(response.get("id"))
            if kind == "response.created":
                if request_id is not None:
                    self._request_ids[response.get("id")] = request_id
                return request_id, ()
            self._request_ids.pop(response.get("id"), None)
            return request_id, self._done(response)
        if kind == "error":
            error = event.get("error") or {}
            return error.get("event_id"), _failure(error)
        return None, ()

    @staticmethod
    def _parse(message: Message) -> Any:
        try:
            event = json.loads(message)
            event["type"]  # an event without a type is not one: KeyError
        except (ValueError, KeyError, TypeError):
            preview = message[:80] if isinstance(message, str) else repr(message[:80])
            raise ProtocolError(f"not a Realtime API event: {preview}") from None
        return event

    def _is_other_response(self, response_id: object) -> bool:
        if response_id is None:
            return False
        if response_id in self._earlier:
            return True
        return self._response_id is not None and response_id != self._response_id

    def feed(self, message: Message) -> Sequence[Event]:
        try:
            event = loads(message)
            kind = event["type"]
        except (ValueError, KeyError, TypeError):
            preview = message[:80] if isinstance(message, str) else repr(message[:80])
            raise ProtocolError(f"not a Realtime API event: {preview}") from None
        if kind in _DELTAS:
            # The hot path, once a chunk: the awaited response's own delta needs no other test.
            response_id = event.get("response_id")
            if (response_id != self._response_id or response_id is None) and self._is_other_response(
                response_id
            ):
                return ()
            delta = event.get("delta")
            return (Chunk(delta),) if type(delta) is str and delta else ()
        if kind == "response.created":
            response_id = (event.get("response") or {}).get("id")
            if self._response_id is None and response_id not in self._earlier:
                self._response_id = response_id
            return ()
        if kind == "response.done":
            response = event.get("response") or {}
            if self._is_other_response(response.get("id")):
                return ()
            return self._done(response)
        if kind == "error":
            return _failure(event.get("error") or {})
        return self._audio_events(kind, event)

    def chunk_text(self, message: Message) -> str | None:
        # The hot path of a streamed reply, once a chunk (see Protocol.chunk_text): the awaited
        # response's text delta, tested as feed tests it; any other event is feed's.
        try:
            event = loads(message)
            kind = event["type"]
        except (ValueError, KeyError, TypeError):
            return None
        if kind not in _DELTAS:
            return None
        response_id = event.get("response_id")
        if (response_id != self._response_id or response_id is None) and self._is_other_response(response_id):
            return None
        delta = event.get("delta")
        return delta if type(delta) is str and delta else None

    def _audio_events(self, kind: str, event: Any) -> Sequence[Event]:
        """The events of an audio turn's server event (none for any other event)."""
        if kind in _AUDIO_DELTAS:
            delta = event.get("delta")
            if not isinstance(delta, str) or not delta or self._is_other_response(event.get("response_id")):
                return ()
            return (AudioOut(_audio_seconds(delta)),)
        if kind in _TRANSCRIPT_DELTAS:
            delta = event.get("delta")
            if not isinstance(delta, str) or not delta or self._is_other_response(event.get("response_id")):
                return ()
            return (Transcript(delta), Chunk(delta))
        if kind == "input_audio_buffer.speech_stopped":
            return (SpeechEnded(),)
        return ()

    @staticmethod
    def _done(response: Mapping[str, Any]) -> Sequence[Event]:
        """The events of a ``response.done``: its end, or its failure when not ``completed``."""
        status = response.get("status", "completed")
        if status != "completed":
            details = response.get("status_details") or {}
            reason = details.get("reason") or (details.get("error") or {}).get("message") or ""
            return (Failure(f"response {status}{': ' + reason if reason else ''}"),)
        usage = response.get("usage") or {}
        metadata = response.get("metadata") or {}
        return (End({"response_id": response.get("id"), "usage": usage, "metadata": metadata}),)


def _failure(error: Mapping[str, Any]) -> Sequence[Event]:
    """The failure an ``error`` event means, in the server's words."""
    return (Failure(f"{error.get('type', 'error')}: {error.get('message', '')}".rstrip(": ")),)
