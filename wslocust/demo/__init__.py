"""The demo chatbot (:mod:`.server`): an asyncio WebSocket bot that answers from a dataset, with
timing and faults set by options, and :class:`~wslocust.demo.server.DemoProcess` to run it as a child."""

from __future__ import annotations

__all__: list[str] = []
