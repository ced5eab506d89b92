"""``PREFIX_failed_replies.jsonl``: every failed reply with its prompt, text, error and scores."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

__all__ = ["FailedPairsWriter"]


class FailedPairsWriter:
    """Appends failed replies, one JSON object a line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stream: IO[str] = path.open("w", encoding="utf-8")

    def write(self, pairs: Iterable[Mapping[str, Any]]) -> None:
        for pair in pairs:
            self._stream.write(json.dumps(pair, ensure_ascii=False) + "\n")
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()
