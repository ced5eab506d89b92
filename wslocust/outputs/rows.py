"""The rows of the chat CSVs and of the web UI's Chatbot tab, computed from :data:`.figures.FIGURES`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..stats.aggregates import ChatStats, ReplyStats
from ..wire.traffic import Traffic
from .figures import CHAT_HISTORY, CHAT_STATS, FIGURES, METRIC_PARTS, CsvFile, Window, csv_number, ui_key

__all__ = ["AGGREGATED", "history_rows", "metric_names", "stats_rows", "ui_rows"]

AGGREGATED = "Aggregated"
"""The ``Name`` of the row of every request name together."""


def _figures(
    row: dict[str, Any], stats: ReplyStats, duration_s: float, file: CsvFile, traffic: Traffic | None = None
) -> dict[str, Any]:
    """Add a file's computed figures to a row, in the file's column order, as CSV cells."""
    window = Window(stats, duration_s, traffic)
    for _, figure in sorted((figure.files[file], figure) for figure in FIGURES if file in figure.files):
        if figure.value is not None:
            row[figure.title] = csv_number(figure.value(window), figure.unit)
    return row


def _stats_row(
    name: str, stats: ReplyStats, duration_s: float, metrics: Sequence[str], traffic: Traffic | None = None
) -> dict[str, Any]:
    row = _figures({"Name": name}, stats, duration_s, CHAT_STATS, traffic)
    for metric in metrics:
        found = stats.metrics.get(metric)
        for part in METRIC_PARTS:
            if part.in_csv:
                row[f"{metric} {part.title}"] = csv_number(part.value(found), part.unit)
    return row


def metric_names(stats: ChatStats) -> list[str]:
    """The quality metrics of a run's replies, sorted (their columns follow the figures')."""
    return sorted(stats.total.metrics)


def stats_rows(stats: ChatStats, duration_s: float) -> list[dict[str, Any]]:
    """One row a request name (sorted), then the ``Aggregated`` row."""
    metrics = metric_names(stats)
    rows = [_stats_row(name, stats.by_name[name], duration_s, metrics) for name in sorted(stats.by_name)]
    rows.append(_stats_row(AGGREGATED, stats.total, duration_s, metrics, stats.traffic))
    return rows


def history_rows(
    seconds: Sequence[tuple[int, Mapping[str, ReplyStats]]], users_at: Mapping[int, int]
) -> list[dict[str, Any]]:
    """The history rows of finished seconds: one a name (sorted), then ``Aggregated``, each second."""
    rows: list[dict[str, Any]] = []
    for second, names in seconds:
        total = ReplyStats()
        for stats in names.values():
            total.merge(stats)
        users = users_at.get(second, "")
        for name, stats in [*sorted(names.items()), (AGGREGATED, total)]:
            row = {"Timestamp": second, "User Count": users, "Name": name}
            rows.append(_figures(row, stats, 1, CHAT_HISTORY))
    return rows


def ui_rows(stats: ChatStats, duration_s: float) -> list[dict[str, Any]]:
    """The rows of the web UI's Chatbot tab: :func:`stats_rows` keyed by :func:`.figures.ui_key`."""
    return [{ui_key(title): value for title, value in row.items()} for row in stats_rows(stats, duration_s)]
