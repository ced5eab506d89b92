"""The CSV contract: find, read and normalise the files of one Locust run.

Locust's ``--csv PREFIX`` writes four files (columns as ``locust/stats.py`` writes them in 2.4x):

``PREFIX_stats.csv``
    One row per request type and name, then an ``Aggregated`` row (empty Type): Type, Name,
    Request Count, Failure Count, Median/Average/Min/Max Response Time, Average Content Size,
    Requests/s, Failures/s, then one column per reported percentile (``50%`` ... ``100%``), ``N/A``
    when a name has no requests.
``PREFIX_stats_history.csv``
    One ``Aggregated`` row per second (``--csv-full-history`` adds one row per name before it):
    Timestamp, User Count, Type, Name, Requests/s, Failures/s, the percentiles, then the running
    totals Total Request Count, Total Failure Count, Total Median/Average/Min/Max Response Time,
    Total Average Content Size. The percentiles cover the whole run so far, except with
    ``--csv-full-history``, where they cover the last 10 seconds.
``PREFIX_failures.csv``
    Method, Name, Error, Occurrences, First Seen, Last Seen (the last two are recent; optional here).
``PREFIX_exceptions.csv``
    Count, Message, Traceback, Nodes: exceptions raised in tasks, outside any request (optional).

and wslocust's own, when present:

``PREFIX_steps.csv``
    Written by wslocust's recording load shapes (``--shape step``...): one row per step with Step,
    Users, Start, End, Duration (s), Requests, Failures, Requests/s, p50 (ms), p95 (ms), Max (ms),
    Error Rate; the percentiles are over the step's own requests.
``PREFIX_chat_stats.csv``
    wslocust's chatbot statistics at the end of the run, one row per request name then
    ``Aggregated``: Name, Replies, Failures, Failure Rate, Goodput, Goodput/s, Replies/s, Latency
    Avg/p50/p95/p99/Max (ms), TTFT Avg/p50/p90/p95/p99/Max (ms) (time to first chunk), Chunk Gap
    p50/p99 (ms), Chunks/Reply, Tokens/Reply, Output Tokens/s p50 (per reply), Output Tokens/s,
    Latency p90 (ms), Chunk Gap Avg/p90/p95/Max (ms), TPOT Avg/p50/p90/p95/p99/Max (ms), Output
    Tokens/s Avg/Min/p90/p95/p99/Max (per reply), Goodput Share, WS Messages Sent/Received, WS
    Pushes Received, WS Control Frames Received/Sent, WS Bytes Sent/Received, WS Messages
    Sent/s and Received/s, WS Bytes Sent/s and Received/s (the WebSocket traffic: on the
    ``Aggregated`` row only), then four columns per quality metric
    (``<metric> Mean/Min/Missed/Errors``). Timings are of successful replies, exact to 0.1 ms
    (docs/metrics.md defines each). Only Name, Replies and Failures are required (files of earlier
    versions lack the columns after Output Tokens/s).
``PREFIX_chat_stats_history.csv``
    wslocust's per-second rows, one per name and second then ``Aggregated``: Timestamp, User Count
    (may be empty), Name, Replies/s, Failures/s, Goodput/s, Output Tokens/s (counts of that second),
    Latency Avg/p50/p95/Max (ms), TTFT p50/p95/p99 (ms), Chunk Gap p50 (ms), Latency p99 (ms),
    Chunk Gap p99 (ms), TPOT Avg/p50/p95/p99 (ms), Output Tokens/s p50 (per reply), Goodput Share
    (over that second's successful replies; the average and max are exact).
    Only Timestamp, Name and Replies/s are required.
``PREFIX_chat_histograms.jsonl``
    wslocust's exact histograms of each second's successful replies (latency, time to first chunk,
    chunk gaps, time per output token, output tokens/s per reply), a line a name and second: see
    :mod:`analysis.histograms`.
``PREFIX_failed_replies.jsonl``
    wslocust's failed replies, one JSON object a line; read here: ``time`` (Unix seconds, when the
    prompt was sent), ``latency_ms``, ``name``, ``error`` (the message) and ``kind`` (wslocust's word,
    see :data:`analysis.classify.WSLOCUST_KINDS`). Handshake failures are not in it.

Column names become short snake_case keys (``Total Request Count`` -> ``requests``,
``95%`` -> ``p95``); numbers are floats with ``NaN`` for ``N/A``; names stay text (a request named
``NA`` is not a missing value). A file that is missing, empty or malformed raises
:class:`InputError` whose message is one line naming the file.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .classify import classify_error, classify_kind
from .errors import InputError, read_json_lines
from .histograms import SecondHistograms, read_histograms

__all__ = [
    "AGGREGATED",
    "CHAT_HISTOGRAMS_SUFFIX",
    "CHAT_HISTORY_SUFFIX",
    "CHAT_STATS_SUFFIX",
    "COLUMNS",
    "EXCEPTIONS_SUFFIX",
    "FAILED_REPLIES_SUFFIX",
    "FAILURES_SUFFIX",
    "HISTORY_SUFFIX",
    "METRIC_PARTS",
    "STATS_SUFFIX",
    "STEPS_SUFFIX",
    "SUMMARY_SECTIONS",
    "SUMMARY_SUFFIX",
    "InputError",
    "Run",
    "load_run",
    "load_summary",
    "percentile_key",
    "read_summary",
    "resolve_prefix",
]

logger = logging.getLogger(__name__)

STATS_SUFFIX = "_stats.csv"
HISTORY_SUFFIX = "_stats_history.csv"
FAILURES_SUFFIX = "_failures.csv"
EXCEPTIONS_SUFFIX = "_exceptions.csv"
STEPS_SUFFIX = "_steps.csv"
CHAT_STATS_SUFFIX = "_chat_stats.csv"
CHAT_HISTORY_SUFFIX = "_chat_stats_history.csv"
CHAT_HISTOGRAMS_SUFFIX = "_chat_histograms.jsonl"
FAILED_REPLIES_SUFFIX = "_failed_replies.jsonl"
SUMMARY_SUFFIX = ".json"
"""Where the analysis looks for wslocust's JSON summary by default: ``--summary-json PREFIX.json``."""
# Longest first: run_chat_stats.csv is wslocust's file of run, not Locust's of run_chat.
_SUFFIXES = (
    CHAT_HISTOGRAMS_SUFFIX,
    CHAT_HISTORY_SUFFIX,
    CHAT_STATS_SUFFIX,
    HISTORY_SUFFIX,
    STATS_SUFFIX,
    FAILURES_SUFFIX,
    EXCEPTIONS_SUFFIX,
    STEPS_SUFFIX,
    FAILED_REPLIES_SUFFIX,
)

AGGREGATED = "Aggregated"
"""The Name of Locust's all-requests row (its Type is empty)."""

_STATS_COLUMNS = {
    "Type": "type",
    "Name": "name",
    "Request Count": "requests",
    "Failure Count": "failures",
    "Median Response Time": "median_ms",
    "Average Response Time": "avg_ms",
    "Min Response Time": "min_ms",
    "Max Response Time": "max_ms",
    "Average Content Size": "avg_size",
    "Requests/s": "rps",
    "Failures/s": "fps",
}
_HISTORY_COLUMNS = {
    "Timestamp": "timestamp",
    "User Count": "users",
    "Type": "type",
    "Name": "name",
    "Requests/s": "rps",
    "Failures/s": "fps",
    "Total Request Count": "requests",
    "Total Failure Count": "failures",
    "Total Median Response Time": "median_ms",
    "Total Average Response Time": "avg_ms",
    "Total Min Response Time": "min_ms",
    "Total Max Response Time": "max_ms",
    "Total Average Content Size": "avg_size",
}
_FAILURES_COLUMNS = {
    "Method": "method",
    "Name": "name",
    "Error": "error",
    "Occurrences": "occurrences",
    "First Seen": "first_seen",
    "Last Seen": "last_seen",
}
_EXCEPTIONS_COLUMNS = {"Count": "count", "Message": "message", "Traceback": "traceback", "Nodes": "nodes"}
_CHAT_STATS_COLUMNS = {
    "Name": "name",
    "Replies": "replies",
    "Failures": "failures",
    "Failure Rate": "failure_rate",
    "Goodput": "goodput",
    "Goodput/s": "goodput_per_s",
    "Replies/s": "replies_per_s",
    "Latency Avg (ms)": "latency_avg_ms",
    "Latency p50 (ms)": "latency_p50_ms",
    "Latency p95 (ms)": "latency_p95_ms",
    "Latency p99 (ms)": "latency_p99_ms",
    "Latency Max (ms)": "latency_max_ms",
    "TTFT Avg (ms)": "ttft_avg_ms",
    "TTFT p50 (ms)": "ttft_p50_ms",
    "TTFT p90 (ms)": "ttft_p90_ms",
    "TTFT p95 (ms)": "ttft_p95_ms",
    "TTFT p99 (ms)": "ttft_p99_ms",
    "TTFT Max (ms)": "ttft_max_ms",
    "Chunk Gap p50 (ms)": "chunk_gap_p50_ms",
    "Chunk Gap p99 (ms)": "chunk_gap_p99_ms",
    "Chunks/Reply": "chunks_per_reply",
    "Tokens/Reply": "tokens_per_reply",
    "Output Tokens/s p50 (per reply)": "reply_tokens_per_s_p50",
    "Output Tokens/s": "tokens_per_s",
    "Latency p90 (ms)": "latency_p90_ms",
    "Chunk Gap Avg (ms)": "chunk_gap_avg_ms",
    "Chunk Gap p90 (ms)": "chunk_gap_p90_ms",
    "Chunk Gap p95 (ms)": "chunk_gap_p95_ms",
    "Chunk Gap Max (ms)": "chunk_gap_max_ms",
    "TPOT Avg (ms)": "tpot_avg_ms",
    "TPOT p50 (ms)": "tpot_p50_ms",
    "TPOT p90 (ms)": "tpot_p90_ms",
    "TPOT p95 (ms)": "tpot_p95_ms",
    "TPOT p99 (ms)": "tpot_p99_ms",
    "TPOT Max (ms)": "tpot_max_ms",
    "Output Tokens/s Avg (per reply)": "reply_tokens_per_s_avg",
    "Output Tokens/s Min (per reply)": "reply_tokens_per_s_min",
    "Output Tokens/s p90 (per reply)": "reply_tokens_per_s_p90",
    "Output Tokens/s p95 (per reply)": "reply_tokens_per_s_p95",
    "Output Tokens/s p99 (per reply)": "reply_tokens_per_s_p99",
    "Output Tokens/s Max (per reply)": "reply_tokens_per_s_max",
    "Goodput Share": "goodput_share",
    "WS Messages Sent": "ws_messages_sent",
    "WS Messages Received": "ws_messages_received",
    "WS Pushes Received": "ws_pushes_received",
    "WS Control Frames Received": "ws_control_received",
    "WS Control Frames Sent": "ws_control_sent",
    "WS Bytes Sent": "ws_bytes_sent",
    "WS Bytes Received": "ws_bytes_received",
    "WS Messages Sent/s": "ws_messages_sent_per_s",
    "WS Messages Received/s": "ws_messages_received_per_s",
    "WS Bytes Sent/s": "ws_bytes_sent_per_s",
    "WS Bytes Received/s": "ws_bytes_received_per_s",
    "WS Unmatched Replies": "ws_unmatched_replies",
}
_CHAT_HISTORY_COLUMNS = {
    "Timestamp": "timestamp",
    "User Count": "users",
    "Name": "name",
    "Replies/s": "replies_per_s",
    "Failures/s": "failures_per_s",
    "Goodput/s": "goodput_per_s",
    "Output Tokens/s": "tokens_per_s",
    "Latency Avg (ms)": "latency_avg_ms",
    "Latency p50 (ms)": "latency_p50_ms",
    "Latency p95 (ms)": "latency_p95_ms",
    "Latency Max (ms)": "latency_max_ms",
    "TTFT p50 (ms)": "ttft_p50_ms",
    "TTFT p95 (ms)": "ttft_p95_ms",
    "TTFT p99 (ms)": "ttft_p99_ms",
    "Chunk Gap p50 (ms)": "chunk_gap_p50_ms",
    "Latency p99 (ms)": "latency_p99_ms",
    "Chunk Gap p99 (ms)": "chunk_gap_p99_ms",
    "TPOT Avg (ms)": "tpot_avg_ms",
    "TPOT p50 (ms)": "tpot_p50_ms",
    "TPOT p95 (ms)": "tpot_p95_ms",
    "TPOT p99 (ms)": "tpot_p99_ms",
    "Output Tokens/s p50 (per reply)": "reply_tokens_per_s_p50",
    "Goodput Share": "goodput_share",
}
_STEPS_COLUMNS = {
    "Step": "step",
    "Users": "users",
    "Start": "start_s",
    "End": "end_s",
    "Duration (s)": "duration_s",
    "Requests": "requests",
    "Failures": "failures",
    "Requests/s": "rps",
    "p50 (ms)": "p50_ms",
    "p95 (ms)": "p95_ms",
    "Max (ms)": "max_ms",
    "Error Rate": "error_rate",
}
_TEXT = frozenset(
    {"Type", "Name", "Method", "Error", "Message", "Traceback", "Nodes", "First Seen", "Last Seen"}
)
_OPTIONAL: dict[str, frozenset[str]] = {
    "stats": frozenset({"Median Response Time", "Min Response Time", "Average Content Size"}),
    "history": frozenset(
        {"Total Median Response Time", "Total Min Response Time", "Total Average Content Size"}
    ),
    "failures": frozenset({"First Seen", "Last Seen"}),
    "exceptions": frozenset({"Traceback", "Nodes"}),
    "chat_stats": frozenset(_CHAT_STATS_COLUMNS) - {"Name", "Replies", "Failures"},
    "chat_history": frozenset(_CHAT_HISTORY_COLUMNS) - {"Timestamp", "Name", "Replies/s"},
    "steps": frozenset({"Step", "Start", "End", "Requests/s", "Error Rate"}),
}
"""Per file, the columns that may be missing (older Locust versions, partial wslocust files)."""
COLUMNS: dict[str, dict[str, str]] = {
    "stats": _STATS_COLUMNS,
    "history": _HISTORY_COLUMNS,
    "failures": _FAILURES_COLUMNS,
    "exceptions": _EXCEPTIONS_COLUMNS,
    "steps": _STEPS_COLUMNS,
    "chat_stats": _CHAT_STATS_COLUMNS,
    "chat_history": _CHAT_HISTORY_COLUMNS,
}
"""The contract: per CSV file (``stats``, ``history``, ``failures``, ``exceptions``, ``steps``,
``chat_stats``, ``chat_history``), each column read, as written, and its key here. Locust's
percentile columns (``95%`` -> ``p95``) and wslocust's metric columns (``intent Mean`` ->
``metric intent mean``) come on top."""
METRIC_PARTS = ("Mean", "Min", "Missed", "Errors")
"""The columns ``_chat_stats.csv`` has for each quality metric: ``<metric> Mean``..."""
_METRIC = re.compile(rf"^(?P<metric>.+) (?P<part>{'|'.join(METRIC_PARTS)})$")
SUMMARY_SECTIONS = ("run", "gates", "steps")
"""The sections of wslocust's JSON summary the analysis reads (the report's what was run, the gates'
verdict, a stress test's breaking point); :func:`load_summary` keeps those."""
_PERCENTILE = re.compile(r"^(\d+(?:\.\d+)?)%$")
_PERCENTILE_KEY = re.compile(r"^p\d+(?:\.\d+)?$")
_NA = ["N/A", "", "nan", "NaN", "None"]


def percentile_key(column: str) -> str | None:
    """Give the key of a percentile column.

    Args:
        column: a column name as Locust writes it, e.g. ``95%`` or ``99.9%``.

    Returns:
        ``p95``, ``p99.9``... or ``None`` when the column is not a percentile.
    """
    match = _PERCENTILE.match(column)
    return f"p{match.group(1)}" if match else None


@dataclass(frozen=True)
class Run:
    """One Locust run, read from its CSV files.

    Attributes:
        prefix: the ``--csv`` prefix (``results/demo`` for ``results/demo_stats.csv``).
        label: a short name for tables and legends (the prefix's last part).
        stats: ``_stats.csv`` without the Aggregated row: one row per (type, name).
        total: the Aggregated row of ``_stats.csv`` (numbers only; keys as in ``stats``).
        history: the Aggregated rows of ``_stats_history.csv``, one per timestamp, in time order.
        history_by_name: the per-name rows of ``--csv-full-history`` (empty without it).
        failures: ``_failures.csv`` with a ``kind`` column (see :mod:`analysis.classify`).
        exceptions: ``_exceptions.csv`` (empty when absent).
        steps: wslocust's ``_steps.csv`` (per-step results of a recording shape), or ``None``.
        chat_stats: wslocust's ``_chat_stats.csv`` (Aggregated row included), or ``None``.
        chat_history: wslocust's ``_chat_stats_history.csv`` (all rows, in time order), or ``None``.
        failed_replies: wslocust's ``_failed_replies.jsonl`` (``time``, ``end``, ``name``, ``error``,
            ``wslocust_kind``, ``kind``), or ``None``.
        percentiles: the percentile keys of ``stats`` and ``history``, lowest first.
        chat_histograms: wslocust's ``_chat_histograms.jsonl``, each second's exact histograms
            (:mod:`analysis.histograms`), or ``None``.
    """

    prefix: Path
    label: str
    stats: pd.DataFrame
    total: dict[str, float]
    history: pd.DataFrame
    history_by_name: pd.DataFrame
    failures: pd.DataFrame
    exceptions: pd.DataFrame
    steps: pd.DataFrame | None
    chat_stats: pd.DataFrame | None
    chat_history: pd.DataFrame | None
    failed_replies: pd.DataFrame | None
    percentiles: tuple[str, ...]
    chat_histograms: SecondHistograms | None = None

    @property
    def full_history(self) -> bool:
        """Whether the run was recorded with ``--csv-full-history`` (history percentiles: last 10 s)."""
        return not self.history_by_name.empty

    def path(self, suffix: str) -> Path:
        """Give the path of one of the run's files, e.g. ``run.path(HISTORY_SUFFIX)``."""
        return self.prefix.with_name(self.prefix.name + suffix)


def resolve_prefix(spec: str | Path) -> Path:
    """Turn what the user typed into a ``--csv`` prefix.

    Args:
        spec: a prefix (``results/demo``), one of the run's files (``results/demo_stats.csv``) or a
            directory that holds exactly one run.

    Returns:
        The prefix.

    Raises:
        InputError: a directory with no run or several runs.
    """
    path = Path(spec)
    if path.is_dir():
        runs = sorted(
            p
            for p in path.glob("*" + STATS_SUFFIX)
            if not (
                p.name.endswith(CHAT_STATS_SUFFIX)
                and p.with_name(p.name[: -len(CHAT_STATS_SUFFIX)] + STATS_SUFFIX).exists()
            )
        )
        if len(runs) != 1:
            found = ", ".join(p.name for p in runs) or "no *_stats.csv"
            raise InputError(
                f"{path}: expected one Locust run in the directory, found {found}; give a prefix"
            )
        path = runs[0]
    for suffix in _SUFFIXES:
        if path.name.endswith(suffix) and len(path.name) > len(suffix):
            return path.with_name(path.name[: -len(suffix)])
    return path


def _read_optional(path: Path, kind: str) -> pd.DataFrame | None:
    """Like :func:`_read`, but ``None`` when the file does not exist."""
    return _read(path, kind) if path.exists() else None


def _read(path: Path, kind: str) -> pd.DataFrame:
    """Read one CSV file of a kind (a key of ``COLUMNS``): check, rename, make the numbers floats."""
    columns = COLUMNS[kind]
    what = f"{path}"
    try:
        header = pd.read_csv(path, nrows=0, keep_default_na=False).columns
    except FileNotFoundError:
        raise InputError(f"{what}: no such file (Locust writes it when run with --csv PREFIX)") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{what}: empty file (no CSV header)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise InputError(f"{what}: not a readable CSV file ({str(error).splitlines()[0]})") from None
    except OSError as error:
        raise InputError(f"{what}: cannot read: {error.strerror}") from None
    names = [str(c) for c in header]
    optional = _OPTIONAL[kind]
    missing = [c for c in columns if c not in names and c not in optional]
    if missing:
        listed = ", ".join(repr(c) for c in missing)
        raise InputError(f"{what}: missing column {listed}; is it a Locust 2.x CSV of this kind?")
    metrics = kind == "chat_stats"
    wanted = [c for c in names if c in columns or percentile_key(c) or (metrics and _METRIC.match(c))]
    text = [c for c in wanted if c in _TEXT]
    try:
        frame = pd.read_csv(
            path,
            usecols=wanted,
            dtype=dict.fromkeys(text, str),
            keep_default_na=False,
            na_values={c: _NA for c in wanted if c not in _TEXT},
        )
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise InputError(f"{what}: not a readable CSV file ({str(error).splitlines()[0]})") from None
    for column in wanted:
        if column in _TEXT or pd.api.types.is_numeric_dtype(frame[column]):
            continue
        numbers = pd.to_numeric(frame[column], errors="coerce")
        bad = np.flatnonzero((numbers.isna() & frame[column].notna()).to_numpy())
        if len(bad):
            row = int(bad[0])
            value = frame[column].iloc[row]
            raise InputError(f"{what}: line {row + 2}, column {column!r}: not a number: {value!r}")
        frame[column] = numbers
    renamed = {c: columns.get(c) or percentile_key(c) or _metric_key(c) for c in wanted}
    frame = frame.rename(columns=renamed)
    for column in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].astype("float64")
    for column in columns.values():
        if column not in frame.columns:
            frame[column] = "" if column in {"type", "name", "error", "traceback", "nodes"} else np.nan
    return frame


def _metric_key(column: str) -> str:
    match = _METRIC.match(column)
    return f"metric {match.group('metric')} {match.group('part').lower()}" if match else column


def _read_failed_replies(path: Path) -> pd.DataFrame | None:
    """Read wslocust's failed replies (JSON lines), keeping what places and classifies each failure."""
    if not path.exists():
        return None
    rows: list[tuple[float, float, str, str, str]] = []

    def take(item: Any) -> None:
        rows.append(
            (
                float(item["time"]),
                float(item.get("latency_ms") or 0.0),
                str(item.get("name", "")),
                str(item.get("error", "")),
                str(item.get("kind", "")),
            )
        )

    read_json_lines(path, "a failed reply", take)
    frame = pd.DataFrame(rows, columns=["time", "latency_ms", "name", "error", "wslocust_kind"])
    frame["end"] = frame["time"] + frame["latency_ms"] / 1000.0
    unique = {(k, e) for k, e in zip(frame["wslocust_kind"], frame["error"], strict=True)}
    kinds = {key: str(classify_kind(*key)) for key in unique}
    frame["kind"] = [kinds[key] for key in zip(frame["wslocust_kind"], frame["error"], strict=True)]
    return frame.sort_values("end", kind="stable").reset_index(drop=True)


def read_summary(path: Path) -> dict[str, Any]:
    """Read wslocust's JSON summary (``--summary-json``) whole.

    Raises:
        InputError: the file is missing, unreadable or not a JSON object; the message names it.
    """
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file (wslocust writes it with --summary-json PATH)") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not a JSON summary ({str(error).splitlines()[0]})") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read: {error.strerror}") from None
    if not isinstance(summary, dict):
        raise InputError(f"{path}: not a JSON summary (not an object)")
    return summary


def load_summary(path: Path) -> dict[str, Any]:
    """Read wslocust's JSON summary (``--summary-json``): its ``run``, ``gates`` and ``steps`` sections
    say what was run, the gates' verdict and a stress test's breaking point (docs/outputs.md).

    Returns:
        Those sections (:data:`SUMMARY_SECTIONS`), the ones the file has: what the analysis reads.

    Raises:
        InputError: the file is missing, unreadable or not a JSON object; the message names it.
    """
    summary = read_summary(path)
    return {section: summary[section] for section in SUMMARY_SECTIONS if section in summary}


def _is_aggregated(frame: pd.DataFrame) -> pd.Series[bool]:
    return (frame["name"] == AGGREGATED) & frame["type"].isin(["", "None"])


def _utc_seconds(column: pd.Series[str]) -> pd.Series[float]:
    times = pd.to_datetime(column, utc=True, format="%Y-%m-%dT%H:%M:%SZ", errors="coerce")
    return (times - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)


def _kinds(errors: pd.Series[str]) -> pd.Series[str]:
    unique = {e: str(classify_error(e)) for e in errors.unique() if isinstance(e, str) and e}
    return errors.map(lambda e: unique.get(e, ""))


def load_run(spec: str | Path) -> Run:
    """Read a run's CSV files.

    Args:
        spec: the ``--csv`` prefix, one of its files or a directory holding one run (see
            :func:`resolve_prefix`).

    Returns:
        The :class:`Run`.

    Raises:
        InputError: ``_stats.csv``, ``_stats_history.csv`` or ``_failures.csv`` missing, or any file
            unreadable; the message names the file.
    """
    prefix = resolve_prefix(spec)

    def path(suffix: str) -> Path:
        return prefix.with_name(prefix.name + suffix)

    if not any(path(suffix).exists() for suffix in _SUFFIXES):
        raise InputError(
            f"{path(STATS_SUFFIX)}: no such file; no Locust CSV output with prefix {str(prefix)!r}"
        )

    stats = _read(path(STATS_SUFFIX), "stats")
    history = _read(path(HISTORY_SUFFIX), "history")
    failures = _read(path(FAILURES_SUFFIX), "failures")
    exceptions = _read_optional(path(EXCEPTIONS_SUFFIX), "exceptions")
    steps = _read_optional(path(STEPS_SUFFIX), "steps")
    chat_stats = _read_optional(path(CHAT_STATS_SUFFIX), "chat_stats")
    chat_history = _read_optional(path(CHAT_HISTORY_SUFFIX), "chat_history")
    failed_replies = _read_failed_replies(path(FAILED_REPLIES_SUFFIX))

    percentiles = tuple(sorted((c for c in stats.columns if _PERCENTILE_KEY.match(c)), key=_pct_value))
    aggregated = _is_aggregated(stats)
    total_row = stats[aggregated]
    stats = stats[~aggregated].reset_index(drop=True)
    numeric = [c for c in stats.columns if c not in {"type", "name"}]
    if len(total_row):
        total = {c: float(total_row[c].iloc[-1]) for c in numeric}
    else:
        logger.warning("%s: no Aggregated row; totals summed from the rows", path(STATS_SUFFIX))
        total = _sum_rows(stats, numeric)

    stats = _drop_incomplete(stats, ["requests", "failures"], path(STATS_SUFFIX))
    history = _drop_incomplete(history, ["timestamp", "requests", "failures"], path(HISTORY_SUFFIX))
    history = history.sort_values("timestamp", kind="stable")
    aggregated = _is_aggregated(history)
    by_name = history[~aggregated].reset_index(drop=True)
    history = history[aggregated].drop_duplicates("timestamp", keep="last").reset_index(drop=True)
    if history["users"].isna().all():
        history["users"] = 0.0
    history["users"] = history["users"].ffill().fillna(0.0)

    failures["occurrences"] = failures["occurrences"].fillna(0.0)
    failures["kind"] = _kinds(failures["error"])
    for column in ("first_seen", "last_seen"):
        failures[column] = _utc_seconds(failures[column].astype(str))

    if exceptions is None:
        exceptions = pd.DataFrame(
            {"count": pd.Series(dtype=float), "message": pd.Series(dtype=str), "traceback": "", "nodes": ""}
        )
    if chat_history is not None:
        chat_history = chat_history.dropna(subset=["timestamp"]).sort_values("timestamp", kind="stable")
        chat_history = chat_history.reset_index(drop=True)

    return Run(
        prefix=prefix,
        label=prefix.name,
        stats=stats,
        total=total,
        history=history,
        history_by_name=by_name,
        failures=failures,
        exceptions=exceptions,
        steps=steps,
        chat_stats=chat_stats,
        chat_history=chat_history,
        failed_replies=failed_replies,
        percentiles=percentiles,
        chat_histograms=read_histograms(path(CHAT_HISTOGRAMS_SUFFIX)),
    )


def _drop_incomplete(frame: pd.DataFrame, required: list[str], path: Path) -> pd.DataFrame:
    """Leave out rows without the numbers Locust always writes (a line cut short by a killed run)."""
    incomplete = frame[required].isna().any(axis=1)
    if incomplete.any():
        logger.warning("%s: ignored %d incomplete row(s)", path, int(incomplete.sum()))
        return frame[~incomplete].reset_index(drop=True)
    return frame


def _pct_value(key: str) -> float:
    return float(key[1:])


def _sum_rows(stats: pd.DataFrame, numeric: list[str]) -> dict[str, float]:
    total = dict.fromkeys(numeric, float("nan"))
    requests = float(stats["requests"].sum())
    total.update(
        requests=requests,
        failures=float(stats["failures"].sum()),
        rps=float(stats["rps"].sum()),
        fps=float(stats["fps"].sum()),
        max_ms=float(stats["max_ms"].max()) if len(stats) else float("nan"),
        min_ms=float(stats["min_ms"].min()) if len(stats) else float("nan"),
        avg_ms=float((stats["avg_ms"] * stats["requests"]).sum() / requests) if requests else float("nan"),
    )
    return total
