"""The demo bot's answers to prompts that carry their own id: several in flight on one connection.

A ``json`` prompt with a ``request_id`` field (``{"prompt": "...", "request_id": "..."}``) is answered
beside the replies already streaming, each of its messages carrying the same ``request_id``
(``--json-id-path request_id`` reads it back). An ``openai-realtime`` out-of-band ``response.create``
(``"conversation": "none"``, the prompt as its ``input``) is answered beside the others too: its
``metadata`` is echoed in ``response.created`` and ``response.done``, its deltas carry its
``response_id``. The replies of concurrent prompts interleave, each on its own timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed

if TYPE_CHECKING:
    from .server import Conversation

__all__ = ["answer_beside"]

_answering: set[asyncio.Task[None]] = set()
"""The answers being streamed (the event loop keeps only weak references to its tasks)."""


def answer_beside(conversation: Conversation, message: str) -> bool:
    """Start answering ``message`` beside the replies being streamed when it carries its prompt's
    id; return True when it did (else the conversation answers it in turn, as ever)."""
    if not message.startswith("{"):
        return False
    try:
        document = json.loads(message)
    except ValueError:
        return False
    if not isinstance(document, dict):
        return False
    dialect = conversation.behaviour.protocol
    if "request_id" in document and "action" not in document and dialect in ("auto", "json"):
        answer = _answer_json(conversation, document)
    elif (
        document.get("type") == "response.create"
        and isinstance(document.get("response"), dict)
        and document["response"].get("conversation") == "none"
        and dialect in ("auto", "openai-realtime")
    ):
        answer = _answer_realtime(conversation, document["response"])
    else:
        return False
    task = asyncio.get_running_loop().create_task(answer)
    _answering.add(task)
    task.add_done_callback(_answering.discard)
    return True


async def _send(conversation: Conversation, document: dict[str, Any]) -> None:
    await conversation.connection.send(json.dumps(document, ensure_ascii=False))


async def _answer_json(conversation: Conversation, prompt: dict[str, Any]) -> None:
    request_id = prompt["request_id"]
    question = str(prompt.get("prompt") or prompt.get("text") or "")

    async def send(piece: str) -> None:
        await _send(conversation, {"type": "chunk", "text": piece, "request_id": request_id})

    with contextlib.suppress(ConnectionClosed):
        intent, _, ok = await conversation.stream(question, send)
        if ok:
            await _send(conversation, {"type": "end", "intent": intent, "request_id": request_id})
        else:
            error = {"type": "error", "message": "model overloaded, try again", "request_id": request_id}
            await _send(conversation, error)


async def _answer_realtime(conversation: Conversation, request: dict[str, Any]) -> None:
    metadata = request.get("metadata") or {}
    items = request.get("input") or [{}]
    content = (items[0].get("content") if isinstance(items[0], dict) else None) or [{}]
    question = str(content[0].get("text", "")) if isinstance(content[0], dict) else ""
    delta_type = "response.text.delta" if "modalities" in request else "response.output_text.delta"
    response_id = f"resp_{conversation.rng.getrandbits(48):012x}"
    created = {"id": response_id, "status": "in_progress", "conversation_id": None, "metadata": metadata}

    async def send(piece: str) -> None:
        await _send(conversation, {"type": delta_type, "response_id": response_id, "delta": piece})

    with contextlib.suppress(ConnectionClosed):
        await _send(conversation, {"type": "response.created", "response": created})
        intent, answer, ok = await conversation.stream(question, send)
        response: dict[str, Any] = {
            "id": response_id,
            "status": "completed" if ok else "failed",
            "metadata": {**metadata, "intent": intent},
        }
        if ok:
            response["usage"] = {"output_tokens": len(answer.split())}
        else:
            response["status_details"] = {"type": "failed", "error": {"message": "demo: injected failure"}}
        await _send(conversation, {"type": "response.done", "response": response})
