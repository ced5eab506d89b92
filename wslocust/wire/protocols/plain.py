"""``plain``: the prompt as one text frame, the reply as one text frame."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .base import END, Chunk, Event, Message, Protocol

__all__ = ["PlainProtocol"]


class PlainProtocol(Protocol):
    """One text frame each way: every received message is a whole reply."""

    name = "plain"

    def request(self, prompt: str, record: Mapping[str, Any]) -> Sequence[Message]:
        return (prompt,)

    def feed(self, message: Message) -> Sequence[Event]:
        text = message if isinstance(message, str) else message.decode("utf-8", "replace")
        return (Chunk(text), END)

    def reply_text(self, message: Message) -> str | None:
        return message if isinstance(message, str) else message.decode("utf-8", "replace")
