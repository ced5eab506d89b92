"""Conversations in datasets: records with a ``turns`` list, their bad forms, and the shipped sample."""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching before anything else)
from locust.argument_parser import get_parser
from locust.env import Environment
from locust.event import Events

import json
from pathlib import Path
from typing import Any

import pytest

from wslocust import ChatbotUser
from wslocust.datasets import load_prompts
from wslocust.demo.context import FOLLOWS_UP_FIELD
from wslocust.errors import ConfigurationError, DatasetError
from wslocust.plugin.checks import check_run

from .conftest import ROOT, SAMPLE

CONVERSATIONS = ROOT / "datasets" / "support_conversations.jsonl"


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def test_a_record_with_turns_is_a_conversation_whose_turns_keep_their_order(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "c.jsonl",
        [{"prompt": "single"}, {"name": "billing", "turns": ["first", {"Question": "second"}, "third"]}],
    )

    single, conversation = load_prompts(path)

    assert single.turns == ()
    assert [turn.prompt for turn in conversation.turns] == ["first", "second", "third"]
    assert (conversation.name, conversation.prompt, conversation.source) == ("billing", "first", f"{path}:2")


def test_a_turn_inherits_the_records_fields_unless_it_overrides_them(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "c.jsonl",
        [{"name": "n", "Intent": "billing", "Keywords": ["bill"],
          "turns": ["plain", {"prompt": "own", "Intent": "refund"}]}],
    )  # fmt: skip

    [record] = load_prompts(path)
    first, second = record.turns

    assert (first.fields["Intent"], first.fields["Keywords"], first.fields["prompt"]) == (
        "billing",
        ["bill"],
        "plain",
    )
    assert (second.fields["Intent"], second.fields["Keywords"]) == ("refund", ["bill"])
    assert "turns" not in first.fields


@pytest.mark.parametrize(
    ("record", "culprit"),
    [
        ({"name": "n", "turns": "hello"}, "'turns' must be a list of turns, not a str"),
        ({"name": "n", "turns": {"prompt": "hi"}}, "'turns' must be a list of turns, not a dict"),
        ({"name": "n", "turns": []}, "'turns' is empty: a conversation needs a turn"),
        ({"name": "n", "turns": ["hi", "  "]}, "turn 2 is empty"),
        ({"name": "n", "turns": ["hi", {"Intent": "billing"}]}, "turn 2 has no prompt field (one of prompt,"),
        ({"name": "n", "turns": [{"prompt": ""}]}, "turn 1: prompt field 'prompt' is empty or not a string"),
        ({"name": "n", "turns": ["hi", 7]}, "turn 2 is a int, not a prompt string or an object"),
        ({"prompt": "hi", "turns": ["hi"]}, "record has both 'turns' and a prompt field 'prompt': give one"),
    ],
)
def test_a_malformed_conversation_is_refused_naming_file_line_and_culprit(
    tmp_path: Path, record: dict[str, Any], culprit: str
) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", [{"prompt": "fine"}, record])

    with pytest.raises(DatasetError) as raised:
        load_prompts(path)

    assert str(raised.value).startswith(f"{path}:2: {culprit}")


@pytest.mark.parametrize(
    "record", [{"question": "hi"}, {"name": "n", "turns": [{"question": "hi"}]}], ids=["record", "turn"]
)
def test_a_missing_prompt_field_names_the_field_looked_for_and_the_option_to_set(
    tmp_path: Path, record: dict[str, Any]
) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", [record])

    with pytest.raises(DatasetError) as raised:
        load_prompts(path, prompt_field="ask")

    assert str(raised.value).endswith("has no prompt field ('ask'); set --prompt-field")


def test_a_turns_column_of_a_csv_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("prompt,turns\nhi,a\n", encoding="utf-8")

    with pytest.raises(
        DatasetError, match=r"bad\.csv:2: a 'turns' column: conversations are read from \.jsonl"
    ):
        load_prompts(path)


def test_a_malformed_conversation_stops_the_run_at_start_up(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", [{"name": "n", "turns": "hello"}])
    options = get_parser().parse_args(["--prompts", str(path)])
    user = type("Bot", (ChatbotUser,), {"abstract": True, "host": "ws://127.0.0.1:9"})

    with pytest.raises(DatasetError, match=r"bad\.jsonl:1: 'turns' must be a list"):
        check_run(Environment(events=Events(), parsed_options=options), [user])


def test_the_shipped_conversations_are_40_or_more_dialogues_of_2_to_5_turns_over_the_support_intents() -> (
    None
):
    intents = {json.loads(line)["Intent"] for line in SAMPLE.read_text(encoding="utf-8").splitlines()}
    questions = {json.loads(line)["Question"] for line in SAMPLE.read_text(encoding="utf-8").splitlines()}

    records = load_prompts(CONVERSATIONS)

    assert len(records) >= 40
    assert all(2 <= len(record.turns) <= 5 for record in records)
    assert {record.name for record in records} == intents
    for record in records:
        for turn in record.turns:
            assert turn.fields["Intent"] in intents, record.source
            assert turn.fields["Keywords"], record.source
            follows = turn.fields.get(FOLLOWS_UP_FIELD)
            assert (follows in questions) if follows else (turn.prompt in questions), record.source
        assert FOLLOWS_UP_FIELD not in record.turns[0].fields  # a dialogue opens with a question
        assert any(FOLLOWS_UP_FIELD in turn.fields for turn in record.turns)  # and follows one up


def test_a_template_field_that_only_turns_carry_passes_the_start_up_check(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [{"name": "n", "turns": [{"prompt": "hi", "Topic": "bills"}]}])
    template = '{"prompt": "{prompt}", "topic": "{Topic}"}'
    user = type("Bot", (ChatbotUser,), {"abstract": True, "host": "ws://127.0.0.1:9"})

    def check(*args: str) -> None:
        options = get_parser().parse_args(["--prompts", str(path), "--protocol", "json", *args])
        check_run(Environment(events=Events(), parsed_options=options), [user])

    check("--json-template", template)
    with pytest.raises(ConfigurationError, match=r"uses \{Other\}, which no record of"):
        check("--json-template", template.replace("Topic", "Other"))
