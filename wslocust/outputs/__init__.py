"""What a run writes: the chat CSVs, failed replies, the JSON summary, the end-of-run table.

Every figure has one row in :data:`.figures.FIGURES` (CSV title, web-UI key, summary path, unit),
from which the CSV headers, the web UI's keys and the summary's fields are generated.
"""

from __future__ import annotations

from .capacity_table import format_capacity
from .csv_files import (
    HISTORY_COLUMNS,
    STATS_COLUMNS,
    HistoryWriter,
    history_csv_text,
    stats_csv_text,
    write_stats_csv,
)
from .failed_replies import FailedPairsWriter
from .figures import FIGURES, Figure, metric_columns, ui_key
from .rows import history_rows, stats_rows, ui_rows
from .summary import public_url, summary
from .table import format_table, format_traffic

__all__ = [
    "FIGURES",
    "HISTORY_COLUMNS",
    "STATS_COLUMNS",
    "FailedPairsWriter",
    "Figure",
    "HistoryWriter",
    "format_capacity",
    "format_table",
    "format_traffic",
    "history_csv_text",
    "history_rows",
    "metric_columns",
    "public_url",
    "stats_csv_text",
    "stats_rows",
    "summary",
    "ui_key",
    "ui_rows",
    "write_stats_csv",
]
