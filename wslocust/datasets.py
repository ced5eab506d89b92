"""Prompts from files: ``.jsonl``, ``.txt`` (one prompt a line), ``.csv`` (with a header), or a folder.

Files are read as UTF-8; a byte order mark (as spreadsheet programs write) is dropped.

Every record keeps all its fields (expected answer, intent, keywords) for the metrics; the prompt
and the request name are read from fields whose names are configurable and otherwise guessed from
common names (``Question``/``prompt``..., ``Intent``/``name``...).

A record with ``audio`` is an utterance, asked as a voice turn (:mod:`wslocust.voice`): ``{"audio":
{"wav": "hello.wav"}}`` (a PCM16 mono WAV file, relative to the dataset file, checked when the dataset is
read) or ``{"audio": {"seconds": 2.0, "kind": "noise"}}`` (synthetic audio, a tone by default); its
prompt field is then optional (the request is named by its name field as usual)::

    {"name": "greeting", "audio": {"wav": "audio/hello.wav"}, "expected": "Hello"}

A ``.jsonl`` record with a ``turns`` list is a conversation (:mod:`wslocust.conversations` asks it):
each turn is a prompt string, or an object with the prompt (the same field names) and its own expected
fields; a turn has the record's other fields unless it gives its own. A turn object with ``audio``
is an audio turn (an utterance, as a voice record; its prompt field optional)::

    {"name": "billing-autopay", "Intent": "billing", "turns": [
        "Why is my bill higher this month?",
        {"prompt": "And how do I stop that?", "Keywords": ["AutoPay"]}]}
    {"name": "caller", "turns": [{"audio": {"wav": "audio/hello.wav"}}, {"audio": {"seconds": 1.5}}]}
"""

from __future__ import annotations

import csv
import itertools
import json
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .audio.source import AUDIO_FIELD, AudioSource, parse_audio
from .audio.wav import AudioError
from .errors import DatasetError, WsLocustError

__all__ = [
    "NAME_FIELDS",
    "PROMPT_FIELDS",
    "TURNS_FIELD",
    "Dataset",
    "DatasetSettings",
    "PromptRecord",
    "Turn",
    "load_dataset",
    "load_prompts",
]

PROMPT_FIELDS = ("prompt", "Prompt", "question", "Question", "text", "input")
"""Fields tried, in order, for the prompt when no ``prompt_field`` is given."""

NAME_FIELDS = ("intent", "Intent", "name", "label")
"""Fields tried, in order, for the request name when no ``name_field`` is given."""

TURNS_FIELD = "turns"
"""The field whose list makes a record a conversation."""

_SUFFIXES = (".jsonl", ".txt", ".csv")


@dataclass(frozen=True, slots=True)
class Turn:
    """One turn of a conversation: its prompt, and the fields its metrics score it against.

    Attributes:
        prompt: the text sent to the bot (an audio turn's: a short description of its audio).
        fields: the record's fields (but ``turns``) updated with the turn's own.
        audio: an audio turn's utterance (its object's ``audio``), or None for a text prompt.
    """

    prompt: str
    fields: Mapping[str, Any] = field(repr=False)
    audio: AudioSource | None = None


@dataclass(frozen=True, slots=True)
class PromptRecord:
    """One prompt and everything its file said of it.

    Attributes:
        prompt: the text sent to the bot.
        name: the request name to report it under (e.g. its intent), or None for the default name.
        fields: the whole record as read (for ``.txt``: ``{"prompt": ...}``).
        source: ``file:line`` it came from, for error messages.
        turns: a conversation's turns, in order (its ``prompt`` is then the first turn's); empty for
            a single prompt.
        audio: an utterance's audio (a voice turn), or None for a text prompt.
    """

    prompt: str
    name: str | None
    fields: Mapping[str, Any] = field(repr=False)
    source: str
    turns: tuple[Turn, ...] = ()
    audio: AudioSource | None = None

    def field_sets(self) -> tuple[Mapping[str, Any], ...]:
        """The fields a prompt of this record is sent with: the record's, or each turn's."""
        return tuple(turn.fields for turn in self.turns) if self.turns else (self.fields,)


def _pick(record: Mapping[str, Any], wanted: str | None, candidates: Sequence[str]) -> str | None:
    if wanted:
        return wanted if wanted in record else None
    return next((key for key in candidates if key in record), None)


def _prompt(
    raw: Mapping[str, Any], key: str | None, prompt_field: str | None, where: tuple[Path, int, str]
) -> str:
    """The prompt under ``key`` of a record or a conversation's turn (``where``: its file, line and
    what it is, for the message).

    Raises:
        DatasetError: it has no prompt field, or its prompt is empty or not a string.
    """
    path, line, what = where
    if key is None:
        expected = repr(prompt_field) if prompt_field else "one of " + ", ".join(PROMPT_FIELDS)
        raise DatasetError(str(path), f"{what} has no prompt field ({expected}); set --prompt-field", line)
    prompt = raw[key]
    if not isinstance(prompt, str) or not prompt.strip():
        raise DatasetError(str(path), f"{what}: prompt field {key!r} is empty or not a string", line)
    return prompt


def _name(raw: Mapping[str, Any], path: Path, line: int, name_field: str | None) -> str | None:
    name_key = _pick(raw, name_field, NAME_FIELDS)
    if name_field and name_key is None:
        raise DatasetError(str(path), f"record has no name field {name_field!r}", line)
    return str(raw[name_key]) if name_key is not None and raw[name_key] not in (None, "") else None


def _turn(
    raw: Any, shared: Mapping[str, Any], where: tuple[Path, int, int], prompt_field: str | None
) -> Turn:
    """One turn of a conversation: a prompt string, or an object with a prompt field."""
    path, line, number = where
    if isinstance(raw, str):
        if not raw.strip():
            raise DatasetError(str(path), f"turn {number} is empty", line)
        return Turn(prompt=raw, fields={**shared, "prompt": raw})
    if not isinstance(raw, dict):
        what = type(raw).__name__
        raise DatasetError(str(path), f"turn {number} is a {what}, not a prompt string or an object", line)
    key = _pick(raw, prompt_field, PROMPT_FIELDS)
    if AUDIO_FIELD in raw:  # an audio turn: its prompt field is optional, as a voice record's
        try:
            audio = parse_audio(raw[AUDIO_FIELD], path.parent)
        except AudioError as error:
            raise DatasetError(str(path), f"turn {number}: {error}", line) from None
        text = raw[key] if key is not None else None
        prompt = text if isinstance(text, str) and text.strip() else audio.describe()
        return Turn(prompt=prompt, fields={**shared, **raw}, audio=audio)
    prompt = _prompt(raw, key, prompt_field, (path, line, f"turn {number}"))
    return Turn(prompt=prompt, fields={**shared, **raw})


def _conversation(
    raw: Mapping[str, Any], path: Path, line: int, prompt_field: str | None, name_field: str | None
) -> PromptRecord:
    turns = raw[TURNS_FIELD]
    if not isinstance(turns, list):
        raise DatasetError(
            str(path), f"{TURNS_FIELD!r} must be a list of turns, not a {type(turns).__name__}", line
        )
    if not turns:
        raise DatasetError(str(path), f"{TURNS_FIELD!r} is empty: a conversation needs a turn", line)
    if AUDIO_FIELD in raw:
        raise DatasetError(
            str(path),
            'a conversation\'s "audio" goes in its turns: {"turns": [{"audio": ...}, ...]}',
            line,
        )
    key = _pick(raw, prompt_field, PROMPT_FIELDS)
    if key is not None:
        raise DatasetError(
            str(path), f"record has both {TURNS_FIELD!r} and a prompt field {key!r}: give one", line
        )
    shared = {name: value for name, value in raw.items() if name != TURNS_FIELD}
    asked = tuple(
        _turn(turn, shared, (path, line, number), prompt_field) for number, turn in enumerate(turns, 1)
    )
    return PromptRecord(
        prompt=asked[0].prompt,
        name=_name(raw, path, line, name_field),
        fields=raw,
        source=f"{path}:{line}",
        turns=asked,
    )


def _to_record(
    raw: Mapping[str, Any], path: Path, line: int, prompt_field: str | None, name_field: str | None
) -> PromptRecord:
    if TURNS_FIELD in raw:
        if path.suffix != ".jsonl":
            raise DatasetError(
                str(path), f"a {TURNS_FIELD!r} column: conversations are read from .jsonl", line
            )
        return _conversation(raw, path, line, prompt_field, name_field)
    key = _pick(raw, prompt_field, PROMPT_FIELDS)
    audio = None
    if AUDIO_FIELD in raw and path.suffix == ".jsonl":  # (a .csv column of that name is a field)
        try:
            audio = parse_audio(raw[AUDIO_FIELD], path.parent)
        except AudioError as error:
            raise DatasetError(str(path), str(error), line) from None
        if key is None:  # an utterance needs no text
            name = _name(raw, path, line, name_field)
            return PromptRecord(audio.describe(), name, raw, f"{path}:{line}", audio=audio)
    return PromptRecord(
        prompt=_prompt(raw, key, prompt_field, (path, line, "record")),
        name=_name(raw, path, line, name_field),
        fields=raw,
        source=f"{path}:{line}",
        audio=audio,
    )


def _read_jsonl(path: Path, prompt_field: str | None, name_field: str | None) -> Iterator[PromptRecord]:
    with path.open(encoding="utf-8-sig") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except ValueError as error:
                raise DatasetError(str(path), f"not valid JSON ({error.args[0]})", number) from None
            if not isinstance(raw, dict):
                raise DatasetError(str(path), f"expected a JSON object, got {type(raw).__name__}", number)
            yield _to_record(raw, path, number, prompt_field, name_field)


def _read_txt(path: Path) -> Iterator[PromptRecord]:
    with path.open(encoding="utf-8-sig") as lines:
        for number, line in enumerate(lines, start=1):
            prompt = line.rstrip("\r\n")
            if prompt.strip():
                yield PromptRecord(
                    prompt=prompt, name=None, fields={"prompt": prompt}, source=f"{path}:{number}"
                )


def _read_csv(path: Path, prompt_field: str | None, name_field: str | None) -> Iterator[PromptRecord]:
    with path.open(encoding="utf-8-sig", newline="") as stream:
        reader = csv.DictReader(stream)
        if not reader.fieldnames:
            return
        for raw in reader:
            if None in raw:
                raise DatasetError(str(path), "row has more cells than the header", reader.line_num)
            yield _to_record(raw, path, reader.line_num, prompt_field, name_field)


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in _SUFFIXES and p.is_file())
        if not files:
            raise DatasetError(str(path), "folder holds no .jsonl, .txt or .csv file")
        return files
    if not path.exists():
        raise DatasetError(str(path), "no such file or folder")
    if path.suffix not in _SUFFIXES:
        raise DatasetError(str(path), "unknown prompts file type; use .jsonl, .txt, .csv or a folder")
    return [path]


def load_prompts(
    path: str | Path,
    *,
    prompt_field: str | None = None,
    name_field: str | None = None,
    max_samples: int = -1,
    shuffle_seed: int | None = None,
) -> list[PromptRecord]:
    """Read every prompt of a file or folder.

    Args:
        path: a ``.jsonl``, ``.txt`` or ``.csv`` file, or a folder of them (read in name order).
        prompt_field: the field holding the prompt; guessed from :data:`PROMPT_FIELDS` when None.
        name_field: the field naming the request; guessed from :data:`NAME_FIELDS` when None.
        max_samples: keep this many prompts (after shuffling); -1 keeps all.
        shuffle_seed: shuffle with this seed; None keeps file order.

    Raises:
        DatasetError: a file is missing, unreadable or malformed (names file and line), or holds no
            prompt.
    """
    path = Path(path)
    records: list[PromptRecord] = []
    for file in _files(path):
        try:
            if file.suffix == ".jsonl":
                records.extend(_read_jsonl(file, prompt_field, name_field))
            elif file.suffix == ".csv":
                records.extend(_read_csv(file, prompt_field, name_field))
            else:
                records.extend(_read_txt(file))
        except UnicodeDecodeError as error:
            raise DatasetError(str(file), f"not UTF-8 text ({error.reason} at byte {error.start})") from None
        except (OSError, csv.Error) as error:
            raise DatasetError(str(file), str(error)) from None
    if not records:
        raise DatasetError(str(path), "holds no prompt")
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(records)
    if max_samples >= 0:
        if max_samples == 0:
            raise DatasetError(str(path), "--max-samples 0 leaves no prompt; use -1 for all")
        records = records[:max_samples]
    return records


class Dataset:
    """The prompts of a run, handed out in turn to every user of the process.

    Args:
        records: the prompts (see :func:`load_prompts`).
    """

    def __init__(self, records: Sequence[PromptRecord]) -> None:
        if not records:
            raise ValueError("a Dataset needs at least one record")
        self.records = list(records)
        self._next = itertools.cycle(self.records).__next__

    def __len__(self) -> int:
        return len(self.records)

    def next(self) -> PromptRecord:
        """Return the next prompt, starting again from the first after the last."""
        return self._next()


@dataclass(frozen=True)
class DatasetSettings:
    """Where a :class:`ChatbotUser` reads its prompts."""

    path: str
    prompt_field: str | None
    name_field: str | None
    max_samples: int
    shuffle_seed: int | None


_datasets: dict[DatasetSettings, Dataset | WsLocustError] = {}


def load_dataset(settings: DatasetSettings) -> Dataset:
    """Load a dataset once per process and settings (every user of a run shares it).

    Raises:
        DatasetError: the prompts cannot be read (the same error on every call).
    """
    if settings not in _datasets:
        try:
            _datasets[settings] = Dataset(
                load_prompts(
                    settings.path,
                    prompt_field=settings.prompt_field,
                    name_field=settings.name_field,
                    max_samples=settings.max_samples,
                    shuffle_seed=settings.shuffle_seed,
                )
            )
        except WsLocustError as error:
            _datasets[settings] = error
    found = _datasets[settings]
    if isinstance(found, WsLocustError):
        raise found
    return found
