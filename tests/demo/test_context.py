"""The demo bot's per-connection context: a follow-up is answered on, and names, the earlier topic."""

from __future__ import annotations

import json
import random
from pathlib import Path

from wslocust.demo.context import DialogueContext, follow_up_mark, known_records
from wslocust.demo.server import DEFAULT_DATASET, Knowledge

KNOWLEDGE = Knowledge(DEFAULT_DATASET)
QUESTION = "when is my payment due"
FOLLOW_UP = "Sorry, could you go over that again?"


def test_a_follow_up_after_a_known_question_is_answered_on_its_topic_and_names_it() -> None:
    context = DialogueContext(KNOWLEDGE)
    rng = random.Random(1)
    intent, answer = context.answer(QUESTION, rng, wrong=False)

    follow_intent, follow_answer = context.answer(FOLLOW_UP, rng, wrong=False)

    assert (follow_intent, intent) == ("billing", "billing")
    assert follow_answer.endswith(follow_up_mark(QUESTION))
    assert answer in follow_answer


def test_the_same_follow_up_without_an_earlier_question_gets_the_generic_answer() -> None:
    intent, answer = DialogueContext(KNOWLEDGE).answer(FOLLOW_UP, random.Random(1), wrong=False)

    assert intent == "general"
    assert "following up on" not in answer


def test_a_known_question_is_answered_as_without_context() -> None:
    context = DialogueContext(KNOWLEDGE)
    context.answer("Why is my bill higher this month?", random.Random(1), wrong=False)

    assert context.answer(QUESTION, random.Random(1), wrong=False) == KNOWLEDGE.answer(
        QUESTION, random.Random(1), False
    )


def test_the_bot_learns_a_conversations_turns_but_its_follow_ups(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    record = {
        "name": "n",
        "Intent": "billing",
        "turns": ["Is it due?", {"prompt": "Again?", "FollowsUp": "Is it due?"}],
    }
    path.write_text(json.dumps(record) + "\n[1]\n", encoding="utf-8")

    learned = list(known_records(path))

    assert [(fields["prompt"], fields["Intent"]) for fields in learned] == [("Is it due?", "billing")]
    assert Knowledge(path).by_question["Is it due?"][0] == "billing"
