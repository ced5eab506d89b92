"""``openai-realtime``: OpenAI's Realtime API, text replies.

A prompt is two client events: ``conversation.item.create`` (a user message with the prompt as
``input_text``) then ``response.create``. The reply is the text deltas of the response that
request started (``response.output_text.delta``; the beta API's ``response.text.delta`` too), ended
by ``response.done``. A ``response.done`` whose status is not ``completed`` (``failed``,
``cancelled``, ``incomplete``) and an ``error`` event are failures.

Replies are correlated by response id: the first ``response.created`` after the request names the
response being awaited, and events of other responses (out-of-band responses, late events of an
earlier one) are not counted in.
"""

from __future__ import annotations

import argparse
import json
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from ...errors import ConfigurationError, ProtocolError
from .base import Chunk, End, Event, Failure, Message, Protocol

__all__ = ["OpenAIRealtimeProtocol"]

_DELTAS = frozenset(("response.output_text.delta", "response.text.delta"))


class OpenAIRealtimeProtocol(Protocol):
    """OpenAI Realtime API events over WebSocket, text modality.

    Args:
        api: ``ga`` (``output_modalities``) or ``beta`` (``modalities``, with the
            ``OpenAI-Beta: realtime=v1`` header, which you pass with ``--header``).
        instructions: optional per-response instructions.
    """

    name = "openai-realtime"

    def __init__(self, api: str = "ga", instructions: str | None = None) -> None:
        if api not in ("ga", "beta"):
            raise ConfigurationError(f"unknown Realtime API version {api!r}; choose ga or beta")
        response: dict[str, Any] = {"output_modalities" if api == "ga" else "modalities": ["text"]}
        if instructions:
            response["instructions"] = instructions
        self._response_create = json.dumps({"type": "response.create", "response": response})
        self._response_id: str | None = None
        # Responses of earlier prompts (finished or abandoned): their late events are not ours.
        self._earlier: deque[str] = deque(maxlen=32)

    @classmethod
    def from_options(cls, options: argparse.Namespace) -> Protocol:
        return cls(
            api=getattr(options, "realtime_api", None) or "ga",
            instructions=getattr(options, "realtime_instructions", None),
        )

    def request(self, prompt: str, record: Mapping[str, Any]) -> Sequence[Message]:
        if self._response_id is not None:
            self._earlier.append(self._response_id)
        self._response_id = None
        item = {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": prompt}]},
        }
        return (json.dumps(item, ensure_ascii=False), self._response_create)

    def _is_other_response(self, response_id: object) -> bool:
        if response_id is None:
            return False
        if response_id in self._earlier:
            return True
        return self._response_id is not None and response_id != self._response_id

    def feed(self, message: Message) -> Sequence[Event]:
        try:
            event = json.loads(message)
            kind = event["type"]
        except (ValueError, KeyError, TypeError):
            preview = message[:80] if isinstance(message, str) else repr(message[:80])
            raise ProtocolError(f"not a Realtime API event: {preview}") from None
        if kind in _DELTAS:
            if self._is_other_response(event.get("response_id")):
                return ()
            delta = event.get("delta")
            return (Chunk(delta),) if isinstance(delta, str) and delta else ()
        if kind == "response.created":
            response_id = (event.get("response") or {}).get("id")
            if self._response_id is None and response_id not in self._earlier:
                self._response_id = response_id
            return ()
        if kind == "response.done":
            response = event.get("response") or {}
            if self._is_other_response(response.get("id")):
                return ()
            status = response.get("status", "completed")
            if status != "completed":
                details = response.get("status_details") or {}
                reason = details.get("reason") or (details.get("error") or {}).get("message") or ""
                return (Failure(f"response {status}{': ' + reason if reason else ''}"),)
            usage = response.get("usage") or {}
            metadata = response.get("metadata") or {}
            return (End({"response_id": response.get("id"), "usage": usage, "metadata": metadata}),)
        if kind == "error":
            error = event.get("error") or {}
            return (Failure(f"{error.get('type', 'error')}: {error.get('message', '')}".rstrip(": ")),)
        return ()
