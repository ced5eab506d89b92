"""A chatbot run whose every reply is known: each WS reply's end, time and outcome, written to a file.

The users are wslocust's own (``ChatbotUser``, json protocol) against the bot given with ``--host``;
the analysis tests start the demo bot with hung and failed replies, so that failed replies (reply
timeouts) take far longer than successful ones. At quit, every ``WS`` reply the users completed is
written to ``$KNOWN_REPLIES_FILE`` as JSON lines: ``end`` (Unix seconds: start plus total time, as
wslocust places a reply in a second), ``latency_ms`` and ``failed``.
"""

from __future__ import annotations

from locust import constant, events

import json
import os
from typing import Any

from wslocust import ChatbotUser
from wslocust.wire.reply import Reply

_replies: list[dict[str, Any]] = []


class KnownRepliesUser(ChatbotUser):
    """Asks the sample dataset's prompts, with little thinking between them."""

    protocol = "json"
    prompts = "datasets/support_bot.jsonl"
    wait_time = constant(0.05)


@events.request.add_listener
def _keep(request_type: str, response: Any = None, **_: Any) -> None:
    if request_type == "WS" and isinstance(response, Reply):
        _replies.append(
            {
                "end": response.started_at + response.total_time_ms / 1000.0,
                "latency_ms": response.total_time_ms,
                "failed": response.error is not None,
            }
        )


@events.quit.add_listener
def _write(**_: Any) -> None:
    with open(os.environ["KNOWN_REPLIES_FILE"], "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(reply) + "\n" for reply in _replies)
