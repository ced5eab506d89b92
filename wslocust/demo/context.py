"""What the demo bot remembers of a connection's dialogue, so that a follow-up is answered in context.

A question the bot knows (a dataset question) sets the connection's topic. A question it does not
know, asked after one it did on the same connection, is a follow-up: it is answered on the earlier
topic (its intent, its answer again) and names it, ``(following up on: <earlier question>)``, so a
metric can check that the context was kept (``--metric contains:field=FollowsUp``). The same
question on a fresh connection gets the generic answer. A connection is a session: its context ends
with it.

The bot learns a conversation dataset's turns as it learns single prompts (:func:`known_records`),
but for the follow-ups: a turn with a ``FollowsUp`` field (the earlier question it follows up on) is
left for the context to answer.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import Knowledge

__all__ = ["FOLLOWS_UP_FIELD", "DialogueContext", "follow_up_mark", "known_records"]

FOLLOWS_UP_FIELD = "FollowsUp"
"""A conversation turn's field naming the earlier question it follows up on (what the answer names)."""


def known_records(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a ``.jsonl`` dataset the bot answers by question: each record, and each turn of
    a conversation (with the record's other fields) but its follow-ups; unreadable lines are skipped."""
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        turns = record.get("turns")
        if not isinstance(turns, list):
            yield record
            continue
        shared = {name: value for name, value in record.items() if name != "turns"}
        for turn in turns:
            fields = {**shared, **turn} if isinstance(turn, dict) else {**shared, "prompt": turn}
            if FOLLOWS_UP_FIELD not in fields:
                yield fields


def follow_up_mark(earlier_question: str) -> str:
    """The words a follow-up's answer ends with, naming the turn it follows up on."""
    return f"(following up on: {earlier_question})"


class DialogueContext:
    """One connection's dialogue: the topic a follow-up is answered on.

    Args:
        knowledge: the answers by question.
    """

    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge
        self.topic: tuple[str, str, str] | None = None
        """The last known question asked on the connection, its intent and its answer."""

    def answer(self, question: str, rng: random.Random, wrong: bool) -> tuple[str, str]:
        """Return (intent, answer) for a question asked on this connection (a wrong one answers another
        intent's question, as :meth:`Knowledge.answer <wslocust.demo.server.Knowledge.answer>`)."""
        asked = question.strip()
        known = self.knowledge.by_question.get(asked)
        if known is not None:
            self.topic = (asked, *known)
        elif self.topic is not None and not wrong:
            earlier, intent, answer = self.topic
            return intent, f"More on that: {answer} {follow_up_mark(earlier)}"
        return self.knowledge.answer(question, rng, wrong)
