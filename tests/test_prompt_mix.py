"""Several prompt files mixed by weight: ``--prompt-mix WEIGHT:FILE`` parsed, refused, and drawn from."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest

from wslocust import ConfigurationError
from wslocust.datasets import Dataset, PromptRecord
from wslocust.prompt_mix import MixedDataset, load_mix, parse_prompt_mix
from wslocust.settings import DatasetSettings
from wslocust.users import load_dataset


def dataset(name: str, size: int) -> Dataset:
    return Dataset(
        [PromptRecord(f"{name} {i}", name, {"prompt": f"{name} {i}"}, f"{name}:{i}") for i in range(size)]
    )


def test_a_mix_reads_weight_then_file_so_a_path_may_hold_colons() -> None:
    assert parse_prompt_mix(["3:data/a.jsonl", "1:/srv/run:2/b.txt"], "--prompt-mix") == (
        ("data/a.jsonl", 3.0),
        ("/srv/run:2/b.txt", 1.0),
    )


def test_a_locustfiles_mix_is_a_mapping_of_file_to_weight() -> None:
    assert parse_prompt_mix({"a.jsonl": 2, "b.txt": 0.5}, "Bot.prompt_mix") == (
        ("a.jsonl", 2.0),
        ("b.txt", 0.5),
    )


@pytest.mark.parametrize(
    ("value", "said"),
    [
        (["a.jsonl"], "--prompt-mix 'a.jsonl': give WEIGHT:FILE"),
        (["0:a.jsonl"], "--prompt-mix a.jsonl: the weight must be a number above 0, got '0'"),
        (["x:a.jsonl"], "--prompt-mix a.jsonl: the weight must be"),
        (["inf:a.jsonl"], "--prompt-mix a.jsonl: the weight must be"),
        (["2:"], "--prompt-mix: a file is missing after the weight '2'"),
        (["1:a.jsonl", "2:a.jsonl"], "--prompt-mix: a.jsonl is given twice"),
        ([], "--prompt-mix is empty"),
    ],
)
def test_a_bad_mix_is_refused_naming_the_culprit(value: list[str], said: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse_prompt_mix(value, "--prompt-mix")
    assert str(raised.value).startswith(said), str(raised.value)


def test_draws_follow_the_weights() -> None:
    draws = 8000
    mix = MixedDataset([(dataset("a", 5), 3.0), (dataset("b", 7), 1.0)], seed=7)
    counts = Counter(mix.next().name for _ in range(draws))
    expected_a = draws * 3 / 4
    spread = 4 * math.sqrt(draws * 3 / 4 * 1 / 4)  # four standard deviations of a binomial count
    assert abs(counts["a"] - expected_a) < spread, counts
    assert counts["a"] + counts["b"] == draws


def test_weights_too_large_to_sum_still_draw_by_their_ratio() -> None:
    """Two weights of 1e308 (each a valid number, their sum not finite) draw half and half, no error."""
    draws = 2000
    mix = MixedDataset([(dataset("a", 2), 1e308), (dataset("b", 2), 1e308)], seed=3)
    counts = Counter(mix.next().name for _ in range(draws))
    assert abs(counts["a"] - draws / 2) < 4 * math.sqrt(draws / 4), counts


def test_within_a_file_the_prompts_come_in_turn() -> None:
    mix = MixedDataset([(dataset("a", 3), 1.0), (dataset("b", 3), 1.0)], seed=1)
    drawn = [mix.next().prompt for _ in range(30)]
    assert [prompt for prompt in drawn if prompt.startswith("a")][:4] == ["a 0", "a 1", "a 2", "a 0"]


def test_the_same_seed_draws_the_same_sequence_and_another_seed_another() -> None:
    def sequence(seed: int) -> list[str]:
        mix = MixedDataset([(dataset("a", 4), 1.0), (dataset("b", 4), 1.0)], seed=seed)
        return [mix.next().prompt for _ in range(40)]

    assert sequence(5) == sequence(5)
    assert sequence(5) != sequence(6)


def test_a_mix_reads_each_file_with_the_runs_settings_and_names_a_missing_one(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("one\ntwo\n", encoding="utf-8")
    settings = DatasetSettings(str(tmp_path / "unused"), None, None, max_samples=1, shuffle_seed=None)
    mix = load_mix(settings, ((str(tmp_path / "a.txt"), 1.0),), load_dataset)
    assert [record.prompt for record in mix.records] == ["one"]  # --max-samples 1 of the file
    missing = str(tmp_path / "missing.jsonl")
    with pytest.raises(ConfigurationError, match=f"{missing}: no such file or folder"):
        load_mix(settings, ((str(tmp_path / "a.txt"), 1.0), (missing, 2.0)), load_dataset)
