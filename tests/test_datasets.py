"""Prompts from .jsonl, .txt and .csv files and folders of them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from wslocust.datasets import Dataset, PromptRecord, load_prompts
from wslocust.errors import ConfigurationError, DatasetError


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def numbered(count: int) -> list[dict[str, Any]]:
    return [{"prompt": f"prompt {i}"} for i in range(count)]


def test_jsonl_guesses_prompt_from_question_and_name_from_intent(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "bot.jsonl",
        [
            {"Intent": "billing", "Question": "Why was I charged twice?", "Answer": "Refund."},
            {"Intent": "greeting", "Question": "Hello"},
        ],
    )

    records = load_prompts(path)

    assert [(r.prompt, r.name) for r in records] == [
        ("Why was I charged twice?", "billing"),
        ("Hello", "greeting"),
    ]
    assert records[0].source == f"{path}:1"


def test_jsonl_without_a_name_field_has_no_name(tmp_path: Path) -> None:
    [record] = load_prompts(write_jsonl(tmp_path / "p.jsonl", [{"prompt": "hi"}]))

    assert record.name is None


def test_jsonl_with_explicit_prompt_and_name_fields_reads_them(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "p.jsonl",
        [{"prompt": "not this", "utterance": "this one", "intent": "not this", "category": "faq"}],
    )

    [record] = load_prompts(path, prompt_field="utterance", name_field="category")

    assert (record.prompt, record.name) == ("this one", "faq")


def test_jsonl_missing_explicit_name_field_raises_dataset_error_with_line(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "a", "cat": "x"}, {"prompt": "b"}])

    with pytest.raises(DatasetError, match=re.escape(f"{path}:2") + ".*'cat'"):
        load_prompts(path, name_field="cat")


def test_jsonl_every_field_is_kept_in_the_record(tmp_path: Path) -> None:
    raw = {"Question": "Hi", "Intent": "greet", "expected": "Hello!", "keywords": ["hello"], "difficulty": 2}
    [record] = load_prompts(write_jsonl(tmp_path / "p.jsonl", [raw]))

    assert dict(record.fields) == raw


def test_malformed_jsonl_line_raises_dataset_error_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "one"}\n\n{"prompt": "two"}\n{"prompt": "three"\n', encoding="utf-8")

    with pytest.raises(DatasetError, match=re.escape(f"{path}:4: not valid JSON")) as raised:
        load_prompts(path)

    assert raised.value.line == 4
    assert raised.value.path == str(path)


def test_dataset_error_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        load_prompts(tmp_path / "absent.jsonl")


def test_jsonl_line_that_is_a_list_raises_dataset_error_with_line(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"prompt": "ok"}\n["a", "list"]\n', encoding="utf-8")

    with pytest.raises(DatasetError, match=re.escape(f"{path}:2") + ".*JSON object.*list"):
        load_prompts(path)


def test_jsonl_record_without_prompt_field_raises_naming_line_and_option(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "ok"}, {"prompt": "ok"}, {"query": "where?"}])

    with pytest.raises(DatasetError, match=re.escape(f"{path}:3") + ".*--prompt-field"):
        load_prompts(path)


def test_jsonl_record_without_explicit_prompt_field_names_that_field(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "ok"}])

    with pytest.raises(DatasetError, match=re.escape(f"{path}:1") + ".*'utterance'"):
        load_prompts(path, prompt_field="utterance")


@pytest.mark.parametrize("prompt", ["", "   ", None, 42, ["a"]])
def test_jsonl_empty_or_non_string_prompt_raises_with_line(tmp_path: Path, prompt: Any) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "ok"}, {"prompt": prompt}])

    with pytest.raises(DatasetError, match=re.escape(f"{path}:2") + ".*empty or not a string"):
        load_prompts(path)


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_file_without_prompts_raises_holds_no_prompt(tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(DatasetError, match="holds no prompt"):
        load_prompts(path)


def test_missing_path_raises_dataset_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such file or folder"):
        load_prompts(tmp_path / "nowhere.jsonl")


@pytest.mark.parametrize("name", ["prompts.json", "prompts.tsv", "prompts"])
def test_unknown_suffix_raises_dataset_error(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text('{"prompt": "hi"}\n', encoding="utf-8")

    with pytest.raises(DatasetError, match="unknown prompts file type"):
        load_prompts(path)


def test_folder_of_mixed_files_is_read_in_name_order(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "b.jsonl", [{"prompt": "from b.jsonl"}])
    (tmp_path / "a.txt").write_text("from a.txt 1\nfrom a.txt 2\n", encoding="utf-8")
    (tmp_path / "c.csv").write_text("prompt,intent\nfrom c.csv,x\n", encoding="utf-8")
    (tmp_path / "README.md").write_text("not prompts\n", encoding="utf-8")
    (tmp_path / "sub.jsonl").mkdir()

    records = load_prompts(tmp_path)

    assert [r.prompt for r in records] == ["from a.txt 1", "from a.txt 2", "from b.jsonl", "from c.csv"]
    assert records[3].name == "x"


def test_folder_without_prompt_files_raises_dataset_error(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("nothing\n", encoding="utf-8")

    with pytest.raises(DatasetError, match="folder holds no"):
        load_prompts(tmp_path)


def test_txt_reads_one_prompt_a_line_skipping_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_text('first\n\n   \nsecond, with "quotes"\r\nthird', encoding="utf-8")

    records = load_prompts(path)

    assert [r.prompt for r in records] == ["first", 'second, with "quotes"', "third"]
    assert [r.source for r in records] == [f"{path}:1", f"{path}:4", f"{path}:5"]
    assert records[0] == PromptRecord(
        prompt="first", name=None, fields={"prompt": "first"}, source=f"{path}:1"
    )


def test_csv_with_header_reads_prompt_name_and_every_column(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(
        'Intent,Question,expected\nbilling,"Why, exactly?",Refund\ngreeting,"Say ""hi""\nplease",Hi\n',
        encoding="utf-8",
    )

    records = load_prompts(path)

    assert [(r.prompt, r.name) for r in records] == [
        ("Why, exactly?", "billing"),
        ('Say "hi"\nplease', "greeting"),
    ]
    assert dict(records[0].fields) == {"Intent": "billing", "Question": "Why, exactly?", "expected": "Refund"}
    assert records[0].source == f"{path}:2"


def test_csv_row_with_more_cells_than_the_header_raises_with_line(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("prompt,intent\nok,a\ntoo,many,cells\n", encoding="utf-8")

    with pytest.raises(DatasetError, match=re.escape(f"{path}:3: row has more cells")):
        load_prompts(path)


@pytest.mark.parametrize(("suffix", "content"), [(".csv", "prompt\nhi\n"), (".txt", "hi\n")])
def test_utf8_file_with_byte_order_mark_reads_like_without(tmp_path: Path, suffix: str, content: str) -> None:
    # Excel's "CSV UTF-8" and Windows Notepad write a byte order mark.
    path = tmp_path / f"p{suffix}"
    path.write_bytes(b"\xef\xbb\xbf" + content.encode())

    [record] = load_prompts(path)

    assert record.prompt == "hi"


@pytest.mark.parametrize(
    ("suffix", "content"), [(".jsonl", b'{"prompt": "caf\xe9"}\n'), (".txt", b"caf\xe9\n")]
)
def test_non_utf8_file_raises_dataset_error(tmp_path: Path, suffix: str, content: bytes) -> None:
    path = tmp_path / f"latin1{suffix}"
    path.write_bytes(content)

    with pytest.raises(DatasetError, match=re.escape(str(path)) + ".*not UTF-8"):
        load_prompts(path)


def test_non_utf8_csv_raises_dataset_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"prompt\ncaf\xe9\n")

    with pytest.raises(DatasetError, match="not UTF-8"):
        load_prompts(path)


def test_max_samples_keeps_the_first_n_prompts(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", numbered(10))

    assert [r.prompt for r in load_prompts(path, max_samples=3)] == ["prompt 0", "prompt 1", "prompt 2"]


def test_max_samples_over_the_count_and_minus_one_keep_all(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", numbered(4))

    assert len(load_prompts(path, max_samples=100)) == 4
    assert len(load_prompts(path, max_samples=-1)) == 4


def test_max_samples_zero_raises_dataset_error(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", numbered(4))

    with pytest.raises(DatasetError, match="--max-samples 0"):
        load_prompts(path, max_samples=0)


def test_shuffle_seed_is_deterministic_and_differs_from_file_order(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", numbered(30))
    in_order = [r.prompt for r in load_prompts(path)]

    first = [r.prompt for r in load_prompts(path, shuffle_seed=7)]
    second = [r.prompt for r in load_prompts(path, shuffle_seed=7)]
    other_seed = [r.prompt for r in load_prompts(path, shuffle_seed=8)]

    assert first == second
    assert first != in_order
    assert sorted(first) == sorted(in_order)
    assert other_seed != first


def test_max_samples_applies_after_shuffling(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", numbered(30))

    shuffled = load_prompts(path, shuffle_seed=3)
    sampled = load_prompts(path, shuffle_seed=3, max_samples=5)

    assert sampled == shuffled[:5]


def test_dataset_next_cycles_through_the_records(tmp_path: Path) -> None:
    records = load_prompts(write_jsonl(tmp_path / "p.jsonl", numbered(3)))
    dataset = Dataset(records)

    handed_out = [dataset.next().prompt for _ in range(7)]

    assert len(dataset) == 3
    assert handed_out == ["prompt 0", "prompt 1", "prompt 2", "prompt 0", "prompt 1", "prompt 2", "prompt 0"]


def test_dataset_without_records_raises_value_error() -> None:
    with pytest.raises(ValueError, match="at least one record"):
        Dataset([])
