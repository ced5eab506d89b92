"""What a run writes: statistics rows, the chat CSVs, failed pairs, the JSON summary, the table."""

from __future__ import annotations

from .writers import (
    HISTORY_COLUMNS,
    STATS_COLUMNS,
    FailedPairsWriter,
    HistoryWriter,
    format_table,
    history_csv_text,
    history_rows,
    metric_columns,
    public_url,
    stats_rows,
    summary,
    write_stats_csv,
)

__all__ = [
    "HISTORY_COLUMNS",
    "STATS_COLUMNS",
    "FailedPairsWriter",
    "HistoryWriter",
    "format_table",
    "history_csv_text",
    "history_rows",
    "metric_columns",
    "public_url",
    "stats_rows",
    "summary",
    "write_stats_csv",
]
