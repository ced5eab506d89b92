"""The demo chatbot (:mod:`.server`): an asyncio WebSocket bot that answers from a dataset (its sample
one, ``data/support_bot.jsonl``, is package data), with timing and faults set by options, and
:class:`~wslocust.demo.process.DemoProcess` (:mod:`.process`) to run it as a child."""

from __future__ import annotations

__all__: list[str] = []
