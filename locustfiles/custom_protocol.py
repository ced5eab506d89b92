"""Example: a bot with its own wire format, spoken by a Protocol subclass.

The bot here wants every prompt inside a conversation envelope and streams its answer as
``{"type": "chunk", "text": ...}`` messages closed by ``{"type": "end", "intent": ...}`` (the demo
chatbot's json dialect, so this file runs as it is)::

    locust -f locustfiles/custom_protocol.py --headless -u 5 -t 30s

Subclassing :class:`wslocust.Protocol` with a ``name`` also registers it: ``--protocol envelope``
selects it in any locustfile of the same run.
"""

from __future__ import annotations

from locust import between

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from wslocust import END, ChatbotUser, Chunk, End, Event, Failure, Message, Protocol, ProtocolError


class EnvelopeProtocol(Protocol):
    """Prompts wrapped in a conversation envelope; replies as chunk/end/error JSON messages."""

    name = "envelope"

    def __init__(self) -> None:
        self.conversation = str(uuid.uuid4())
        self.turn = 0

    def request(self, prompt: str, record: Mapping[str, Any]) -> Sequence[Message]:
        self.turn += 1
        envelope = {"type": "prompt", "conversation": self.conversation, "turn": self.turn, "prompt": prompt}
        return (json.dumps(envelope),)

    def feed(self, message: Message) -> Sequence[Event]:
        try:
            event = json.loads(message)
        except ValueError:
            raise ProtocolError(f"not JSON: {message[:60]!r}") from None
        kind = event.get("type")
        if kind == "chunk":
            return (Chunk(event["text"]),)
        if kind == "end":
            return (End({"intent": event.get("intent")}),) if "intent" in event else (END,)
        if kind == "error":
            return (Failure(event.get("message", "unknown error")),)
        return ()  # anything else is not part of the reply


class EnvelopeUser(ChatbotUser):
    """Asks the sample prompts through the envelope protocol."""

    protocol = EnvelopeProtocol
    prompts = "datasets/support_bot.jsonl"
    shuffle_seed = 1
    wait_time = between(0.5, 1.5)
    demo_when_no_host = True
