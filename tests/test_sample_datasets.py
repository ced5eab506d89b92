"""Sanity checks for the sample datasets shipped in datasets/."""

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

DATASETS = Path(__file__).resolve().parent.parent / "datasets"
JSONL_PATH = DATASETS / "support_bot.jsonl"
CSV_PATH = DATASETS / "support_bot.csv"
PROMPTS_PATH = DATASETS / "prompts.txt"

INTENTS = {
    "billing",
    "refund",
    "order_status",
    "shipping",
    "plan_change",
    "roaming",
    "technical_support",
    "account_security",
}
CSV_HEADER = ["intent", "question", "keywords", "answer"]


@pytest.fixture(scope="module")
def records() -> list[dict]:
    lines = JSONL_PATH.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def csv_rows() -> tuple[list[str], list[dict[str, str]]]:
    with CSV_PATH.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def test_jsonl_has_at_least_240_records(records):
    assert len(records) >= 240


def test_jsonl_covers_every_intent_with_at_least_25_records(records):
    counts = Counter(r["Intent"] for r in records)
    assert set(counts) == INTENTS
    assert all(n >= 25 for n in counts.values()), counts


def test_jsonl_records_have_all_fields_with_correct_types(records):
    for r in records:
        assert set(r) == {"Intent", "Question", "Keywords", "Answer"}, r
        assert isinstance(r["Intent"], str)
        assert isinstance(r["Question"], str)
        assert r["Question"].strip()
        assert isinstance(r["Answer"], str)
        assert isinstance(r["Keywords"], list)
        assert r["Keywords"]
        assert all(isinstance(k, str) and k.strip() for k in r["Keywords"])


def test_jsonl_every_keyword_appears_in_its_answer(records):
    missing = [
        (r["Question"], k) for r in records for k in r["Keywords"] if k.lower() not in r["Answer"].lower()
    ]
    assert not missing


def test_jsonl_questions_are_unique(records):
    counts = Counter(r["Question"].strip().lower() for r in records)
    assert [q for q, n in counts.items() if n > 1] == []


def test_jsonl_answers_are_25_to_70_words(records):
    bad = [(r["Question"], len(r["Answer"].split())) for r in records]
    assert [b for b in bad if not 25 <= b[1] <= 70] == []


def test_prompts_has_at_least_50_unique_non_empty_lines():
    lines = PROMPTS_PATH.read_text(encoding="utf-8").splitlines()
    assert all(line.strip() for line in lines)
    assert len(lines) >= 50
    assert len(set(lines)) == len(lines)


def test_csv_has_expected_header(csv_rows):
    header, rows = csv_rows
    assert header == CSV_HEADER
    assert rows


def test_csv_keywords_appear_in_each_answer(csv_rows):
    _, rows = csv_rows
    for row in rows:
        keywords = [k for k in row["keywords"].split(";") if k]
        assert keywords, row
        for k in keywords:
            assert k.lower() in row["answer"].lower(), (row["question"], k)
