"""The chat CSV files: ``PREFIX_chat_stats.csv`` (whole, at each test's end) and
``PREFIX_chat_stats_history.csv`` (appended as the seconds end, with ``PREFIX_chat_histograms.jsonl``
beside it); the web UI downloads the same text. A run with conversations also writes
``PREFIX_conversations.csv`` at each test's end (:data:`.figures.CONVERSATION_FIGURES`); a run with
audio turns ``PREFIX_voice.csv`` at each test's end and ``PREFIX_voice_history.csv`` as the seconds
end (:data:`.figures.VOICE_FIGURES`).

Their columns are generated from :data:`.figures.FIGURES` (docs/outputs.md lists them).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from ..stats.aggregates import ChatStats, ReplyStats
from ..stats.voice import VoiceBook
from .figures import (
    CHAT_HISTORY,
    CHAT_STATS,
    CONVERSATION_FIGURES,
    VOICE_FIGURES,
    ConversationDurations,
    columns,
    csv_number,
    metric_columns,
)
from .histograms import HistogramsWriter
from .rows import history_rows, metric_names, stats_rows

__all__ = [
    "CONVERSATIONS_COLUMNS",
    "CONVERSATIONS_SUFFIX",
    "HISTOGRAMS_SUFFIX",
    "HISTORY_COLUMNS",
    "HISTORY_SUFFIX",
    "STATS_COLUMNS",
    "VOICE_COLUMNS",
    "VOICE_HISTORY_COLUMNS",
    "VOICE_HISTORY_SUFFIX",
    "VOICE_SUFFIX",
    "HistoryWriter",
    "VoiceHistoryWriter",
    "conversation_rows",
    "history_csv_text",
    "stats_csv_text",
    "voice_csv_text",
    "voice_history_rows",
    "voice_rows",
    "write_conversations_csv",
    "write_stats_csv",
    "write_voice_csv",
]

STATS_COLUMNS = columns(CHAT_STATS)
"""Columns of ``_chat_stats.csv`` before the metric columns (see :func:`.figures.metric_columns`)."""

HISTORY_COLUMNS = columns(CHAT_HISTORY)
"""Columns of ``_chat_stats_history.csv``: each row is one second (values of that second only)."""


def _csv_text(header: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, header)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def stats_csv_text(stats: ChatStats, duration_s: float) -> str:
    """The text of ``_chat_stats.csv``: the file at a test's end, and the web UI's download."""
    header = STATS_COLUMNS + metric_columns(metric_names(stats))
    return _csv_text(header, stats_rows(stats, duration_s))


def write_stats_csv(path: Path, stats: ChatStats, duration_s: float) -> None:
    """Write ``_chat_stats.csv`` (whole, replacing any earlier one)."""
    temporary = path.with_suffix(path.suffix + ".tmp")
    with temporary.open("w", newline="", encoding="utf-8") as stream:
        stream.write(stats_csv_text(stats, duration_s))
    temporary.replace(path)  # never a half-written file


CONVERSATIONS_SUFFIX = "_conversations.csv"

CONVERSATIONS_COLUMNS = ["Name", *(figure.title for figure in CONVERSATION_FIGURES)]
"""Columns of ``_conversations.csv``: a row a conversation name, then an ``Aggregated`` row."""


def write_conversations_csv(
    path: Path, total: ConversationDurations, by_name: Mapping[str, ConversationDurations]
) -> None:
    """Write ``_conversations.csv`` (whole, replacing any earlier one)."""
    temporary = path.with_suffix(path.suffix + ".tmp")
    rows = conversation_rows(total, by_name)
    temporary.write_text(_csv_text(CONVERSATIONS_COLUMNS, rows), encoding="utf-8", newline="")
    temporary.replace(path)  # never a half-written file


def conversation_rows(
    total: ConversationDurations, by_name: Mapping[str, ConversationDurations]
) -> list[dict[str, Any]]:
    """The rows of ``_conversations.csv`` (also the web UI's): a row a conversation name, then
    ``Aggregated``, each keyed by :data:`CONVERSATIONS_COLUMNS`."""
    named = [*((name, by_name[name]) for name in sorted(by_name)), ("Aggregated", total)]
    return [
        {"Name": name, **{f.title: csv_number(f.value(entry), f.unit) for f in CONVERSATION_FIGURES}}
        for name, entry in named
    ]


VOICE_SUFFIX = "_voice.csv"

VOICE_COLUMNS = ["Name", *(figure.title for figure in VOICE_FIGURES)]
"""Columns of ``_voice.csv`` (a run with audio turns): a row a request name, then ``Aggregated``."""


def voice_rows(book: VoiceBook) -> list[dict[str, Any]]:
    """The rows of ``_voice.csv``: one a request name with audio turns (sorted), then ``Aggregated``."""
    named = [*((name, book.by_name[name]) for name in sorted(book.by_name)), ("Aggregated", book.total)]
    return [
        {"Name": name, **{f.title: csv_number(f.value(stats), f.unit) for f in VOICE_FIGURES}}
        for name, stats in named
    ]


VOICE_HISTORY_SUFFIX = "_voice_history.csv"

VOICE_HISTORY_COLUMNS = ["Timestamp", "User Count", *VOICE_COLUMNS]
"""Columns of ``_voice_history.csv``: the ``_voice.csv`` columns of each second's audio turns alone
(the turns that ended in it), a row a request name, then ``Aggregated``."""


def voice_history_rows(
    seconds: Sequence[tuple[int, VoiceBook]], users_at: Mapping[int, int]
) -> list[dict[str, Any]]:
    """The rows of ``_voice_history.csv`` of finished seconds, oldest first."""
    return [
        {"Timestamp": second, "User Count": users_at.get(second, ""), **row}
        for second, book in seconds
        for row in voice_rows(book)
    ]


class VoiceHistoryWriter:
    """Appends each finished second's audio turns to ``_voice_history.csv``, created at the first
    second that has any (a run without audio turns writes no file)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stream: IO[str] | None = None
        self._writer: csv.DictWriter[str] | None = None

    def write(self, seconds: Sequence[tuple[int, VoiceBook]], users_at: Mapping[int, int]) -> None:
        """Write the rows of finished seconds, each with the user count of that second."""
        if not seconds:
            return
        if self._writer is None:
            self._stream = self.path.open("w", newline="", encoding="utf-8")
            self._writer = csv.DictWriter(self._stream, VOICE_HISTORY_COLUMNS)
            self._writer.writeheader()
        self._writer.writerows(voice_history_rows(seconds, users_at))
        assert self._stream is not None
        self._stream.flush()

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()


def voice_csv_text(book: VoiceBook) -> str:
    """The text of ``_voice.csv`` (also the web UI's download: only the header without audio turns)."""
    return _csv_text(VOICE_COLUMNS, voice_rows(book) if not book.empty else [])


def write_voice_csv(path: Path, book: VoiceBook) -> None:
    """Write ``_voice.csv`` (whole, replacing any earlier one)."""
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(voice_csv_text(book), encoding="utf-8", newline="")
    temporary.replace(path)  # never a half-written file


def history_csv_text(rows: Iterable[Mapping[str, Any]]) -> str:
    """History rows as the text of a ``_chat_stats_history.csv`` file."""
    return _csv_text(HISTORY_COLUMNS, rows)


HISTORY_SUFFIX = "_chat_stats_history.csv"
HISTOGRAMS_SUFFIX = "_chat_histograms.jsonl"


class HistoryWriter:
    """Appends one row a name and second (and an ``Aggregated`` row) to ``_chat_stats_history.csv``.

    Beside a ``PREFIX_chat_stats_history.csv``, it also writes the seconds' exact histograms to
    ``PREFIX_chat_histograms.jsonl`` (see :mod:`.histograms`).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stream: IO[str] = path.open("w", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._stream, HISTORY_COLUMNS)
        self._writer.writeheader()
        self._stream.flush()
        self._histograms: HistogramsWriter | None = None
        if path.name.endswith(HISTORY_SUFFIX):
            prefix = path.name[: -len(HISTORY_SUFFIX)]
            self._histograms = HistogramsWriter(path.with_name(prefix + HISTOGRAMS_SUFFIX))

    def write(
        self, seconds: Sequence[tuple[int, Mapping[str, ReplyStats]]], users_at: Mapping[int, int]
    ) -> list[dict[str, Any]]:
        """Write the rows of finished seconds, each with the user count of that second; return them."""
        rows = history_rows(seconds, users_at)
        self._writer.writerows(rows)
        self._stream.flush()
        if self._histograms is not None:
            self._histograms.write(seconds, users_at)
        return rows

    def close(self) -> None:
        self._stream.close()
        if self._histograms is not None:
            self._histograms.close()
