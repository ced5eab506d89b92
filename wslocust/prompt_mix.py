"""Several prompt files mixed with weights: each prompt is drawn from a file chosen by weight.

Given as ``--prompt-mix WEIGHT:FILE`` (repeatable) or a user class's ``prompt_mix``: a mapping
``{FILE: WEIGHT}`` or a sequence of ``"WEIGHT:FILE"`` strings. The weight comes first so that a path
holding ``:`` (a legal character on Linux) needs no quoting: the text after the first ``:`` is the
path, whole. Within each file, prompts come in turn (shuffled by ``--shuffle-seed``); which file the
next prompt comes from is drawn at random by weight, from a generator seeded with the same seed, so
a seeded run draws the same sequence again.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from .datasets import Dataset, PromptRecord
from .errors import ConfigurationError, WsLocustError
from .settings import DatasetSettings
from .values import number

__all__ = ["Mix", "MixedDataset", "load_mix", "parse_prompt_mix"]

Mix = tuple[tuple[str, float], ...]
"""A mix: its files and their weights, in the order given."""


def parse_prompt_mix(value: Any, name: str) -> Mix:
    """Parse a mix: a ``{FILE: WEIGHT}`` mapping, or ``WEIGHT:FILE`` texts (one, or a sequence).

    Raises:
        ConfigurationError: a weight that is not a positive number, an empty path, a file given twice
            (the message names ``name`` and the culprit).
    """
    if isinstance(value, Mapping):
        items = [(str(path), weight) for path, weight in value.items()]
    else:
        texts = [str(item) for item in value] if isinstance(value, list | tuple) else [str(value)]
        items = []
        for text in texts:
            weight, colon, path = text.partition(":")
            if not colon:
                raise ConfigurationError(f"{name} {text!r}: give WEIGHT:FILE, e.g. 3:datasets/billing.jsonl")
            items.append((path, weight.strip()))
    mix: list[tuple[str, float]] = []
    for path, weight in items:
        if not path.strip():
            raise ConfigurationError(f"{name}: a file is missing after the weight {weight!r} (WEIGHT:FILE)")
        if any(path == seen for seen, _ in mix):
            raise ConfigurationError(f"{name}: {path} is given twice; give each file once, with its weight")
        mix.append((path, number(weight, f"{name} {path}: the weight", positive=True)))
    if not mix:
        raise ConfigurationError(f"{name} is empty: give WEIGHT:FILE, repeatable")
    return tuple(mix)


class MixedDataset(Dataset):
    """The prompts of several datasets, each next one drawn from a dataset chosen by weight.

    Args:
        parts: each dataset with its weight (positive).
        seed: seeds the draws (the same seed draws the same sequence); None draws unseeded.
    """

    def __init__(self, parts: Sequence[tuple[Dataset, float]], seed: int | None) -> None:
        super().__init__([record for dataset, _ in parts for record in dataset.records])
        self.parts = [dataset for dataset, _ in parts]
        self.weights = [weight for _, weight in parts]
        largest = max(self.weights, default=1.0)  # scaled to at most 1: finite weights sum finitely
        self._cumulative = list(itertools.accumulate(weight / largest for weight in self.weights))
        self._random = random.Random(seed)

    def next(self) -> PromptRecord:
        """Return the next prompt of a dataset drawn by weight."""
        (dataset,) = self._random.choices(self.parts, cum_weights=self._cumulative)
        return dataset.next()


_mixes: dict[tuple[DatasetSettings, Mix], MixedDataset | WsLocustError] = {}


def load_mix(settings: DatasetSettings, mix: Mix, load: Callable[[DatasetSettings], Dataset]) -> MixedDataset:
    """Load a mix once per process (every user of a run draws from it): each file with ``settings``
    (its fields, samples and shuffle), through ``load``.

    Raises:
        DatasetError: a file cannot be read (the same error on every call).
    """
    key = (settings, mix)
    if key not in _mixes:
        try:
            parts = [(load(replace(settings, path=path)), weight) for path, weight in mix]
            _mixes[key] = MixedDataset(parts, settings.shuffle_seed)
        except WsLocustError as error:
            _mixes[key] = error
    found = _mixes[key]
    if isinstance(found, WsLocustError):
        raise found
    return found
