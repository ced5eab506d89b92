"""What the chatbot statistics become: rows, CSV files, a JSON summary, failed pairs, a table.

Files, beside Locust's ``--csv PREFIX`` ones (the columns are the contract with ``analysis/``, and
are listed in docs/outputs.md):

- ``PREFIX_chat_stats.csv``: one row a request name, then ``Aggregated``, at the end of the run;
- ``PREFIX_chat_stats_history.csv``: one row a name and second, plus ``Aggregated``, as the run goes;
- ``PREFIX_failed_replies.jsonl``: every failed reply with its prompt, text, error and scores.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

from ..stats.aggregates import ChatStats, ConnectStats, ReplyStats

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

STATS_COLUMNS = [
    "Name", "Replies", "Failures", "Failure Rate", "Goodput", "Goodput/s", "Replies/s",
    "Latency Avg (ms)", "Latency p50 (ms)", "Latency p95 (ms)", "Latency p99 (ms)", "Latency Max (ms)",
    "TTFT Avg (ms)", "TTFT p50 (ms)", "TTFT p90 (ms)", "TTFT p95 (ms)", "TTFT p99 (ms)", "TTFT Max (ms)",
    "Chunk Gap p50 (ms)", "Chunk Gap p99 (ms)", "Chunks/Reply", "Tokens/Reply",
    "Output Tokens/s p50 (per reply)", "Output Tokens/s",
]  # fmt: skip
"""Columns of ``_chat_stats.csv`` before the metric columns (see :func:`metric_columns`)."""

HISTORY_COLUMNS = [
    "Timestamp", "User Count", "Name", "Replies/s", "Failures/s", "Goodput/s", "Output Tokens/s",
    "Latency Avg (ms)", "Latency p50 (ms)", "Latency p95 (ms)", "Latency Max (ms)", "TTFT p50 (ms)",
    "TTFT p95 (ms)", "TTFT p99 (ms)", "Chunk Gap p50 (ms)",
]  # fmt: skip
"""Columns of ``_chat_stats_history.csv``: each row is one second (values of that second only)."""

_AGGREGATED = "Aggregated"


def metric_columns(names: Iterable[str]) -> list[str]:
    """The columns of each metric: mean, min, replies that missed it, errors of its function."""
    return [f"{name} {part}" for name in names for part in ("Mean", "Min", "Missed", "Errors")]


def _number(value: float | None, digits: int = 2) -> float | str:
    return "" if value is None or not math.isfinite(value) else round(value, digits)


def _row(name: str, stats: ReplyStats, duration_s: float, metrics: Sequence[str]) -> dict[str, Any]:
    latency = stats.latency.percentiles((0.5, 0.95, 0.99))
    ttft = stats.ttft.percentiles((0.5, 0.9, 0.95, 0.99))
    gap = stats.gap.percentiles((0.5, 0.99))
    successes = stats.replies - stats.failures
    row: dict[str, Any] = {
        "Name": name,
        "Replies": stats.replies,
        "Failures": stats.failures,
        "Failure Rate": _number(stats.failures / stats.replies if stats.replies else None, 4),
        "Goodput": stats.good,
        "Goodput/s": _number(stats.good / duration_s if duration_s else None),
        "Replies/s": _number(stats.replies / duration_s if duration_s else None),
        "Latency Avg (ms)": _number(stats.latency.mean),
        "Latency p50 (ms)": _number(latency[0]),
        "Latency p95 (ms)": _number(latency[1]),
        "Latency p99 (ms)": _number(latency[2]),
        "Latency Max (ms)": _number(stats.latency.maximum if stats.latency.count else None),
        "TTFT Avg (ms)": _number(stats.ttft.mean),
        "TTFT p50 (ms)": _number(ttft[0]),
        "TTFT p90 (ms)": _number(ttft[1]),
        "TTFT p95 (ms)": _number(ttft[2]),
        "TTFT p99 (ms)": _number(ttft[3]),
        "TTFT Max (ms)": _number(stats.ttft.maximum if stats.ttft.count else None),
        "Chunk Gap p50 (ms)": _number(gap[0]),
        "Chunk Gap p99 (ms)": _number(gap[1]),
        "Chunks/Reply": _number(stats.chunks / successes if successes else None),
        "Tokens/Reply": _number(stats.tokens / successes if successes else None),
        "Output Tokens/s p50 (per reply)": _number(stats.token_rate.percentile(0.5)),
        "Output Tokens/s": _number(stats.tokens / duration_s if duration_s else None),
    }
    for metric in metrics:
        found = stats.metrics.get(metric)
        row[f"{metric} Mean"] = _number(found.mean if found else None, 4)
        row[f"{metric} Min"] = _number(found.minimum if found and found.scored else None, 4)
        row[f"{metric} Missed"] = found.missed if found else 0
        row[f"{metric} Errors"] = found.errors if found else 0
    return row


def _metric_names(stats: ChatStats) -> list[str]:
    return sorted(stats.total.metrics)


def stats_rows(stats: ChatStats, duration_s: float) -> list[dict[str, Any]]:
    """One row a request name (sorted), then the ``Aggregated`` row."""
    metrics = _metric_names(stats)
    rows = [_row(name, stats.by_name[name], duration_s, metrics) for name in sorted(stats.by_name)]
    rows.append(_row(_AGGREGATED, stats.total, duration_s, metrics))
    return rows


def write_stats_csv(path: Path, stats: ChatStats, duration_s: float) -> None:
    """Write ``_chat_stats.csv`` (whole, replacing any earlier one)."""
    columns = STATS_COLUMNS + metric_columns(_metric_names(stats))
    temporary = path.with_suffix(path.suffix + ".tmp")
    with temporary.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, columns)
        writer.writeheader()
        writer.writerows(stats_rows(stats, duration_s))
    temporary.replace(path)  # never a half-written file


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
        for name, stats in [*sorted(names.items()), (_AGGREGATED, total)]:
            latency = stats.latency.percentiles((0.5, 0.95))
            ttft = stats.ttft.percentiles((0.5, 0.95, 0.99))
            rows.append(
                {
                    "Timestamp": second,
                    "User Count": users,
                    "Name": name,
                    "Replies/s": stats.replies,
                    "Failures/s": stats.failures,
                    "Goodput/s": stats.good,
                    "Output Tokens/s": stats.tokens,
                    "Latency Avg (ms)": _number(stats.latency.mean),
                    "Latency p50 (ms)": _number(latency[0]),
                    "Latency p95 (ms)": _number(latency[1]),
                    "Latency Max (ms)": _number(stats.latency.maximum if stats.latency.count else None),
                    "TTFT p50 (ms)": _number(ttft[0]),
                    "TTFT p95 (ms)": _number(ttft[1]),
                    "TTFT p99 (ms)": _number(ttft[2]),
                    "Chunk Gap p50 (ms)": _number(stats.gap.percentile(0.5)),
                }
            )
    return rows


def history_csv_text(rows: Iterable[Mapping[str, Any]]) -> str:
    """History rows as the text of a ``_chat_stats_history.csv`` file."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, HISTORY_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


class HistoryWriter:
    """Appends one row a name and second (and an ``Aggregated`` row) to ``_chat_stats_history.csv``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stream: IO[str] = path.open("w", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._stream, HISTORY_COLUMNS)
        self._writer.writeheader()
        self._stream.flush()

    def write(
        self, seconds: Sequence[tuple[int, Mapping[str, ReplyStats]]], users_at: Mapping[int, int]
    ) -> list[dict[str, Any]]:
        """Write the rows of finished seconds, each with the user count of that second; return them."""
        rows = history_rows(seconds, users_at)
        self._writer.writerows(rows)
        self._stream.flush()
        return rows

    def close(self) -> None:
        self._stream.close()


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


def _timing(stats: ReplyStats, which: str) -> dict[str, float | None]:
    histogram = getattr(stats, which)
    p50, p90, p95, p99 = histogram.percentiles((0.5, 0.9, 0.95, 0.99))
    has = histogram.count > 0
    return {
        "avg": _rounded(histogram.mean),
        "median": _rounded(p50),
        "min": _rounded(histogram.minimum if has else None),
        "max": _rounded(histogram.maximum if has else None),
        "p90": _rounded(p90),
        "p95": _rounded(p95),
        "p99": _rounded(p99),
    }


def _rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, digits)


def _connections(connects: ConnectStats) -> dict[str, Any]:
    successes = connects.attempts - connects.failures
    return {
        "attempts": connects.attempts,
        "successes": successes,
        "failures": connects.failures,
        "success_rate": _rounded(successes / connects.attempts if connects.attempts else None, 4),
        "handshake_ms": _timing_of(connects),
        "errors_by_kind": dict(sorted(connects.errors.items())),
    }


def _timing_of(connects: ConnectStats) -> dict[str, float | None]:
    holder = ReplyStats()
    holder.latency = connects.time
    return _timing(holder, "latency")


def _section(stats: ReplyStats, duration_s: float) -> dict[str, Any]:
    successes = stats.replies - stats.failures
    gap = stats.gap.percentiles((0.5, 0.99))
    return {
        "total_requests": stats.replies,
        "successful_requests": successes,
        "failed_requests": stats.failures,
        "success_rate": _rounded(successes / stats.replies if stats.replies else None, 4),
        "requests_per_second": _rounded(stats.replies / duration_s if duration_s else None),
        "goodput": stats.good,
        "goodput_per_second": _rounded(stats.good / duration_s if duration_s else None),
        "latency_ms": _timing(stats, "latency"),
        "time_to_first_chunk_ms": _timing(stats, "ttft"),
        "chunk_gap_ms": {"p50": _rounded(gap[0]), "p99": _rounded(gap[1])},
        "chunks_per_reply": _rounded(stats.chunks / successes if successes else None),
        "tokens_per_reply": _rounded(stats.tokens / successes if successes else None),
        "output_tokens_per_second": _rounded(stats.tokens / duration_s if duration_s else None),
        "output_tokens_per_second_per_reply_p50": _rounded(stats.token_rate.percentile(0.5)),
        "metrics": {
            name: {
                "mean": _rounded(metric.mean, 4),
                "min": _rounded(metric.minimum if metric.scored else None, 4),
                "max": _rounded(metric.maximum if metric.scored else None, 4),
                "scored": metric.scored,
                "missed": metric.missed,
                "errors": metric.errors,
            }
            for name, metric in sorted(stats.metrics.items())
        },
        "errors_by_kind": dict(sorted(stats.errors.items())),
    }


def summary(stats: ChatStats, duration_s: float, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON summary: totals, rates, latency and time to first chunk, metrics, errors, connections.

    ``errors_by_kind`` joins the replies' failures with the connections' (refused, rejected).
    """
    result: dict[str, Any] = {"duration_s": _rounded(duration_s), **_section(stats.total, duration_s)}
    errors = dict(stats.total.errors)
    for kind, number in stats.connects.errors.items():
        errors[kind] = errors.get(kind, 0) + number
    result["errors_by_kind"] = dict(sorted(errors.items()))
    result["connections"] = _connections(stats.connects)
    result["by_name"] = {name: _section(stats.by_name[name], duration_s) for name in sorted(stats.by_name)}
    result["failed_replies_dropped"] = stats.failed_dropped
    if extra:
        result.update(extra)
    return result


def public_url(url: str) -> str:
    """A URL without the parts that may hold a secret: user info, query string and fragment.

    Returns:
        ``scheme://host[:port]/path``; an empty string for a URL that cannot be parsed.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """A fixed-width table of the main columns of :func:`stats_rows`, for the end of a headless run.

    The counts are of every reply that ended, failed ones included; the timings of the successful ones.
    """
    columns = [
        ("Name", "Name", 24), ("Replies", "# replies", 9), ("Failures", "# fails", 8),
        ("Goodput/s", "good/s", 8), ("Latency p50 (ms)", "lat p50", 8), ("Latency p95 (ms)", "lat p95", 8),
        ("Latency p99 (ms)", "lat p99", 8), ("TTFT p50 (ms)", "TTFT p50", 8),
        ("TTFT p95 (ms)", "TTFT p95", 8), ("TTFT p99 (ms)", "TTFT p99", 8), ("TTFT Max (ms)", "TTFT max", 8),
        ("Chunk Gap p50 (ms)", "gap p50", 8), ("Chunk Gap p99 (ms)", "gap p99", 8),
        ("Tokens/Reply", "tok/reply", 9), ("Output Tokens/s", "tok/s", 8),
    ]  # fmt: skip
    metric_names = [key[: -len(" Mean")] for key in (rows[0] if rows else {}) if key.endswith(" Mean")]
    columns += [(f"{name} Mean", name[:10], 10) for name in metric_names]
    header = " ".join(
        title.rjust(width) if index else title.ljust(width) for index, (_, title, width) in enumerate(columns)
    )
    title = (
        "Chatbot statistics (# replies, # fails: every reply that ended, failed ones included; "
        "latency, TTFT and gaps: of the successful replies, in ms)"
    )
    lines = [title, header, "-" * len(header)]
    for row in rows:
        cells = []
        for index, (key, _, width) in enumerate(columns):
            value = row.get(key, "")
            text = str(value)[:width] if index == 0 else str(value)
            cells.append(text.ljust(width) if index == 0 else text.rjust(width))
        if row.get("Name") == _AGGREGATED:
            lines.append("-" * len(header))
        lines.append(" ".join(cells))
    return "\n".join(lines)
