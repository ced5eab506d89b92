"""Every figure wslocust writes, in one table: its CSV title, its key, its JSON summary path, its unit.

A figure has one name a place, all in its row of :data:`FIGURES`:

- ``title``: its column in ``PREFIX_chat_stats.csv`` and ``PREFIX_chat_stats_history.csv`` (a contract
  with users' files and ``analysis/``; docs/outputs.md lists them);
- ``key``: its key in the web UI (the Chatbot tab's table and charts) and in ``analysis/``'s frames;
- ``summary``: its dotted path in the JSON summary, at the top level and in each ``by_name`` section;
- ``unit``, and the files it is written to (its column number in each).

The CSV headers (:func:`columns`) and rows, the web UI's keys (:func:`ui_key`) and the JSON
summary's fields are generated from it, and ``analysis/`` is tested against it: a new figure is one
row here. Each quality metric adds the columns of :data:`METRIC_PARTS`. The figures of other things
than the replies have their own tables here, in the same way: the conversations'
(:data:`CONVERSATION_FIGURES`), the audio turns' (:data:`VOICE_FIGURES`: ``PREFIX_voice.csv`` and the
summary's ``voice`` section) and a capacity search's levels (:data:`CAPACITY_FIGURES`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from ..stats.aggregates import Histogram, MetricStats, ReplyStats
from ..stats.voice import VoiceStats
from ..wire.traffic import Traffic

__all__ = [
    "CAPACITY_FIGURES",
    "CHAT_HISTORY",
    "CHAT_STATS",
    "CONVERSATION_FIGURES",
    "FIGURES",
    "FIGURES_BY_TITLE",
    "METRIC_PARTS",
    "SUMMARY_SECTIONS",
    "TRAFFIC_SECTION",
    "VOICE_FIGURES",
    "ConversationDurations",
    "ConversationFigure",
    "Figure",
    "LevelFigure",
    "MetricPart",
    "VoiceFigure",
    "Window",
    "columns",
    "csv_number",
    "metric_columns",
    "summary_number",
    "summary_paths",
    "ui_key",
]

CsvFile = Literal["chat_stats", "chat_history"]

CHAT_STATS: CsvFile = "chat_stats"
"""``PREFIX_chat_stats.csv`` (also the web UI's Chatbot tab and its download): the test's totals."""

CHAT_HISTORY: CsvFile = "chat_history"
"""``PREFIX_chat_stats_history.csv`` (also the web UI's charts): the values of each second alone."""

Value = Callable[["Window"], "float | int | None"]
"""How a figure is computed from a :class:`Window`: some replies and the length of their span."""


@dataclass(frozen=True)
class Figure:
    """One figure and its name in every place wslocust writes it."""

    title: str
    """The CSV column title, e.g. ``Chunk Gap p50 (ms)`` (a title is also given to summary-only figures)."""
    key: str
    """The web UI's and ``analysis/``'s key, e.g. ``chunk_gap_p50_ms``."""
    summary: str | None
    """The dotted path in the JSON summary, e.g. ``chunk_gap_ms.p50``; ``None``: not in it."""
    unit: str
    """``ms``, ``ratio`` (0 to 1), ``/s``, ``count``, ``bytes``, ``per reply``, ``unix s``, ``users`` or
    ``text`` (a ratio is rounded to 4 digits; other numbers to 2 in the CSVs, 3 in the summary)."""
    files: Mapping[CsvFile, int]
    """The CSV files it is a column of, and its column number in each (from 0)."""
    value: Value | None
    """How it is computed; ``None`` for the columns a writer fills (``Name``, ``Timestamp``...)."""


class Window:
    """The replies of a span (a test, a second, a name or all) and its length: what figures are of.

    Each histogram's percentiles in the table are computed together, once (one pass over its bins).
    ``traffic``: the WebSocket traffic of the span, when it has one (the whole test's: every name
    together), else None (its figures are then empty).
    """

    __slots__ = ("_percentiles", "duration_s", "stats", "traffic")

    def __init__(self, stats: ReplyStats, duration_s: float, traffic: Traffic | None = None) -> None:
        self.stats = stats
        self.duration_s = duration_s
        self.traffic = traffic
        self._percentiles: dict[str, dict[float, float | None]] = {}

    def histogram(self, which: str) -> Histogram:
        """One of the replies' histograms: ``latency``, ``ttft``, ``gap``, ``tpot`` or ``token_rate``."""
        histogram: Histogram = getattr(self.stats, which)
        return histogram

    def percentile(self, which: str, fraction: float) -> float | None:
        """A nearest-rank percentile of a histogram (``0.95`` → p95), or None when it is empty."""
        found = self._percentiles.get(which)
        if found is None:
            fractions = _FRACTIONS[which]
            found = dict(zip(fractions, self.histogram(which).percentiles(fractions), strict=True))
            self._percentiles[which] = found
        return found[fraction]

    @property
    def successes(self) -> int:
        return self.stats.replies - self.stats.failures


_FRACTIONS: dict[str, list[float]] = {}
"""The percentiles the table takes of each histogram (filled as the table is built)."""


def _percentile(which: str, fraction: float) -> Value:
    _FRACTIONS.setdefault(which, []).append(fraction)
    return lambda window: window.percentile(which, fraction)


def _mean(which: str) -> Value:
    return lambda window: window.histogram(which).mean


def _minimum(which: str) -> Value:
    def value(window: Window) -> float | None:
        histogram = window.histogram(which)
        return histogram.minimum if histogram.count else None

    return value


def _maximum(which: str) -> Value:
    def value(window: Window) -> float | None:
        histogram = window.histogram(which)
        return histogram.maximum if histogram.count else None

    return value


def _per_second(count: Callable[[Window], int]) -> Value:
    """A count divided by the window's length: a float, but the count itself over one whole second.

    The history's windows are whole seconds (``1``, an int): their rates are counts, written ``12``.
    """

    def value(window: Window) -> float | int | None:
        duration_s = window.duration_s
        if not duration_s:
            return None
        number = count(window)
        return number if isinstance(duration_s, int) and duration_s == 1 else number / duration_s

    return value


def _per_success(count: Callable[[Window], int]) -> Value:
    return lambda window: count(window) / window.successes if window.successes else None


def _share(part: Callable[[Window], int]) -> Value:
    return lambda window: part(window) / window.stats.replies if window.stats.replies else None


def _traffic(count: Callable[[Traffic], int], per_second: bool = False) -> Value:
    """A traffic count of the window (its rate over the window's length with ``per_second``)."""

    def value(window: Window) -> float | int | None:
        traffic = window.traffic
        if traffic is None or (per_second and not window.duration_s):
            return None
        return count(traffic) / window.duration_s if per_second else count(traffic)

    return value


TRAFFIC_SECTION = "messages"
"""The JSON summary's section of the WebSocket traffic (top level only: traffic has no request name)."""

_S, _H = CHAT_STATS, CHAT_HISTORY

FIGURES: tuple[Figure, ...] = (
    Figure("Timestamp", "timestamp", None, "unix s", {_H: 0}, None),
    Figure("User Count", "users", None, "users", {_H: 1}, None),
    Figure("Name", "name", None, "text", {_S: 0, _H: 2}, None),
    Figure("Replies", "replies", "total_requests", "count", {_S: 1}, lambda w: w.stats.replies),
    Figure("Successes", "successes", "successful_requests", "count", {}, lambda w: w.successes),
    Figure("Failures", "failures", "failed_requests", "count", {_S: 2}, lambda w: w.stats.failures),
    Figure("Failure Rate", "failure_rate", None, "ratio", {_S: 3}, _share(lambda w: w.stats.failures)),
    Figure("Success Rate", "success_rate", "success_rate", "ratio", {}, _share(lambda w: w.successes)),
    Figure("Goodput", "goodput", "goodput", "count", {_S: 4}, lambda w: w.stats.good),
    Figure("Goodput/s", "goodput_per_s", "goodput_per_second", "/s", {_S: 5, _H: 5},
        _per_second(lambda w: w.stats.good)),
    Figure("Goodput Share", "goodput_share", "goodput_share", "ratio", {_S: 41, _H: 22},
        _share(lambda w: w.stats.good)),
    Figure("Replies/s", "replies_per_s", "requests_per_second", "/s", {_S: 6, _H: 3},
        _per_second(lambda w: w.stats.replies)),
    Figure("Failures/s", "failures_per_s", None, "/s", {_H: 4}, _per_second(lambda w: w.stats.failures)),
    Figure("Latency Avg (ms)", "latency_avg_ms", "latency_ms.avg", "ms", {_S: 7, _H: 7}, _mean("latency")),
    Figure("Latency p50 (ms)", "latency_p50_ms", "latency_ms.median", "ms", {_S: 8, _H: 8},
        _percentile("latency", 0.5)),
    Figure("Latency Min (ms)", "latency_min_ms", "latency_ms.min", "ms", {}, _minimum("latency")),
    Figure("Latency p90 (ms)", "latency_p90_ms", "latency_ms.p90", "ms", {_S: 24},
        _percentile("latency", 0.9)),
    Figure("Latency p95 (ms)", "latency_p95_ms", "latency_ms.p95", "ms", {_S: 9, _H: 9},
        _percentile("latency", 0.95)),
    Figure("Latency p99 (ms)", "latency_p99_ms", "latency_ms.p99", "ms", {_S: 10, _H: 15},
        _percentile("latency", 0.99)),
    Figure("Latency Max (ms)", "latency_max_ms", "latency_ms.max", "ms", {_S: 11, _H: 10},
        _maximum("latency")),
    Figure("TTFT Avg (ms)", "ttft_avg_ms", "time_to_first_chunk_ms.avg", "ms", {_S: 12}, _mean("ttft")),
    Figure("TTFT p50 (ms)", "ttft_p50_ms", "time_to_first_chunk_ms.median", "ms", {_S: 13, _H: 11},
        _percentile("ttft", 0.5)),
    Figure("TTFT Min (ms)", "ttft_min_ms", "time_to_first_chunk_ms.min", "ms", {}, _minimum("ttft")),
    Figure("TTFT p90 (ms)", "ttft_p90_ms", "time_to_first_chunk_ms.p90", "ms", {_S: 14},
        _percentile("ttft", 0.9)),
    Figure("TTFT p95 (ms)", "ttft_p95_ms", "time_to_first_chunk_ms.p95", "ms", {_S: 15, _H: 12},
        _percentile("ttft", 0.95)),
    Figure("TTFT p99 (ms)", "ttft_p99_ms", "time_to_first_chunk_ms.p99", "ms", {_S: 16, _H: 13},
        _percentile("ttft", 0.99)),
    Figure("TTFT Max (ms)", "ttft_max_ms", "time_to_first_chunk_ms.max", "ms", {_S: 17}, _maximum("ttft")),
    Figure("Chunk Gap Avg (ms)", "chunk_gap_avg_ms", "chunk_gap_ms.avg", "ms", {_S: 25}, _mean("gap")),
    Figure("Chunk Gap Min (ms)", "chunk_gap_min_ms", "chunk_gap_ms.min", "ms", {}, _minimum("gap")),
    Figure("Chunk Gap p50 (ms)", "chunk_gap_p50_ms", "chunk_gap_ms.p50", "ms", {_S: 18, _H: 14},
        _percentile("gap", 0.5)),
    Figure("Chunk Gap p90 (ms)", "chunk_gap_p90_ms", "chunk_gap_ms.p90", "ms", {_S: 26},
        _percentile("gap", 0.9)),
    Figure("Chunk Gap p95 (ms)", "chunk_gap_p95_ms", "chunk_gap_ms.p95", "ms", {_S: 27},
        _percentile("gap", 0.95)),
    Figure("Chunk Gap p99 (ms)", "chunk_gap_p99_ms", "chunk_gap_ms.p99", "ms", {_S: 19, _H: 16},
        _percentile("gap", 0.99)),
    Figure("Chunk Gap Max (ms)", "chunk_gap_max_ms", "chunk_gap_ms.max", "ms", {_S: 28}, _maximum("gap")),
    Figure("TPOT Avg (ms)", "tpot_avg_ms", "time_per_output_token_ms.avg", "ms", {_S: 29, _H: 17},
        _mean("tpot")),
    Figure("TPOT Min (ms)", "tpot_min_ms", "time_per_output_token_ms.min", "ms", {}, _minimum("tpot")),
    Figure("TPOT p50 (ms)", "tpot_p50_ms", "time_per_output_token_ms.median", "ms", {_S: 30, _H: 18},
        _percentile("tpot", 0.5)),
    Figure("TPOT p90 (ms)", "tpot_p90_ms", "time_per_output_token_ms.p90", "ms", {_S: 31},
        _percentile("tpot", 0.9)),
    Figure("TPOT p95 (ms)", "tpot_p95_ms", "time_per_output_token_ms.p95", "ms", {_S: 32, _H: 19},
        _percentile("tpot", 0.95)),
    Figure("TPOT p99 (ms)", "tpot_p99_ms", "time_per_output_token_ms.p99", "ms", {_S: 33, _H: 20},
        _percentile("tpot", 0.99)),
    Figure("TPOT Max (ms)", "tpot_max_ms", "time_per_output_token_ms.max", "ms", {_S: 34}, _maximum("tpot")),
    Figure("Chunks/Reply", "chunks_per_reply", "chunks_per_reply", "per reply", {_S: 20},
        _per_success(lambda w: w.stats.chunks)),
    Figure("Tokens/Reply", "tokens_per_reply", "tokens_per_reply", "per reply", {_S: 21},
        _per_success(lambda w: w.stats.tokens)),
    Figure("Output Tokens/s Avg (per reply)", "reply_tokens_per_s_avg",
        "output_tokens_per_second_per_reply_avg", "/s", {_S: 35}, _mean("token_rate")),
    Figure("Output Tokens/s Min (per reply)", "reply_tokens_per_s_min",
        "output_tokens_per_second_per_reply_min", "/s", {_S: 36}, _minimum("token_rate")),
    Figure("Output Tokens/s p50 (per reply)", "reply_tokens_per_s_p50",
        "output_tokens_per_second_per_reply_p50", "/s", {_S: 22, _H: 21}, _percentile("token_rate", 0.5)),
    Figure("Output Tokens/s p90 (per reply)", "reply_tokens_per_s_p90",
        "output_tokens_per_second_per_reply_p90", "/s", {_S: 37}, _percentile("token_rate", 0.9)),
    Figure("Output Tokens/s p95 (per reply)", "reply_tokens_per_s_p95",
        "output_tokens_per_second_per_reply_p95", "/s", {_S: 38}, _percentile("token_rate", 0.95)),
    Figure("Output Tokens/s p99 (per reply)", "reply_tokens_per_s_p99",
        "output_tokens_per_second_per_reply_p99", "/s", {_S: 39}, _percentile("token_rate", 0.99)),
    Figure("Output Tokens/s Max (per reply)", "reply_tokens_per_s_max",
        "output_tokens_per_second_per_reply_max", "/s", {_S: 40}, _maximum("token_rate")),
    Figure("Output Tokens/s", "tokens_per_s", "output_tokens_per_second", "/s", {_S: 23, _H: 6},
        _per_second(lambda w: w.stats.tokens)),
    Figure("WS Messages Sent", "ws_messages_sent", "messages.sent", "count", {_S: 42},
        _traffic(lambda t: t.messages_sent)),
    Figure("WS Messages Received", "ws_messages_received", "messages.received", "count", {_S: 43},
        _traffic(lambda t: t.messages_received)),
    Figure("WS Pushes Received", "ws_pushes_received", "messages.pushes", "count", {_S: 44},
        _traffic(lambda t: t.pushes)),
    Figure("WS Control Frames Received", "ws_control_received", "messages.control_received", "count",
        {_S: 45}, _traffic(lambda t: t.control_received)),
    Figure("WS Control Frames Sent", "ws_control_sent", "messages.control_sent", "count", {_S: 46},
        _traffic(lambda t: t.control_sent)),
    Figure("WS Bytes Sent", "ws_bytes_sent", "messages.bytes_sent", "bytes", {_S: 47},
        _traffic(lambda t: t.bytes_sent)),
    Figure("WS Bytes Received", "ws_bytes_received", "messages.bytes_received", "bytes", {_S: 48},
        _traffic(lambda t: t.bytes_received)),
    Figure("WS Messages Sent/s", "ws_messages_sent_per_s", "messages.sent_per_second", "/s", {_S: 49},
        _traffic(lambda t: t.messages_sent, per_second=True)),
    Figure("WS Messages Received/s", "ws_messages_received_per_s", "messages.received_per_second", "/s",
        {_S: 50}, _traffic(lambda t: t.messages_received, per_second=True)),
    Figure("WS Bytes Sent/s", "ws_bytes_sent_per_s", "messages.bytes_sent_per_second", "/s", {_S: 51},
        _traffic(lambda t: t.bytes_sent, per_second=True)),
    Figure("WS Bytes Received/s", "ws_bytes_received_per_s", "messages.bytes_received_per_second", "/s",
        {_S: 52}, _traffic(lambda t: t.bytes_received, per_second=True)),
    Figure("WS Unmatched Replies", "ws_unmatched_replies", "messages.unmatched", "count", {_S: 53},
        _traffic(lambda t: t.unmatched)),
)  # fmt: skip
"""Every figure of the replies. Timings are of the successful replies, from exact histograms. The
``WS`` figures are of the connections' traffic, of the whole test only (the ``Aggregated`` row, the
summary's ``messages`` section): messages and bytes as :mod:`wslocust.wire.traffic` counts them."""

FIGURES_BY_TITLE: dict[str, Figure] = {figure.title: figure for figure in FIGURES}


@dataclass(frozen=True)
class MetricPart:
    """A figure of each quality metric: CSV column ``<metric> <title>``, ``metrics.<metric>.<summary>``."""

    title: str
    """The CSV column's last word, e.g. ``Mean`` for ``intent Mean``; also the web UI key's."""
    summary: str
    """The field in the summary's ``metrics.<metric>`` object."""
    unit: str
    """``score`` (as the metric scores: rounded to 4 digits) or ``count``."""
    in_csv: bool
    """Whether ``PREFIX_chat_stats.csv`` has the column."""
    value: Callable[[MetricStats | None], float | int | None]
    """How it is computed (``None``: no reply of that name was scored by the metric)."""


METRIC_PARTS: tuple[MetricPart, ...] = (
    MetricPart("Mean", "mean", "score", True, lambda m: m.mean if m else None),
    MetricPart("Min", "min", "score", True, lambda m: m.minimum if m and m.scored else None),
    MetricPart("Max", "max", "score", False, lambda m: m.maximum if m and m.scored else None),
    MetricPart("Scored", "scored", "count", False, lambda m: m.scored if m else 0),
    MetricPart("Missed", "missed", "count", True, lambda m: m.missed if m else 0),
    MetricPart("Errors", "errors", "count", True, lambda m: m.errors if m else 0),
)
"""The figures of each metric: its mean and min score, replies it missed, errors of its function."""


class ConversationDurations(Protocol):
    """The conversations of one name (or all), as Locust's statistics entry of their events holds them."""

    num_requests: int
    num_failures: int
    min_response_time: int | None
    max_response_time: int

    @property
    def avg_response_time(self) -> float: ...

    def get_response_time_percentile(self, percent: float) -> float: ...


@dataclass(frozen=True)
class ConversationFigure:
    """A figure of the conversations: ``conversations.<summary>`` in the JSON summary (also under
    ``conversations.by_name.<name>``); in Locust's own outputs, the ``CONVERSATION`` rows' column."""

    title: str
    """Its label, e.g. ``Duration p95 (ms)``."""
    summary: str
    """Its dotted path under ``conversations``, e.g. ``duration_ms.p95``."""
    unit: str
    """``count`` or ``ms``."""
    locust_column: str
    """Its column in Locust's ``PREFIX_stats.csv`` (and web UI) on the ``CONVERSATION`` rows."""
    value: Callable[[ConversationDurations], float | int | None]


def _duration(fraction: float) -> Callable[[ConversationDurations], float | None]:
    """A percentile of the durations, as Locust keeps them (rounded to 2 significant digits past 100 ms),
    kept within the exact minimum and maximum (a rounded 2689 ms is 2700 ms, above the maximum)."""

    def value(entry: ConversationDurations) -> float | None:
        if not entry.num_requests:
            return None
        rounded = entry.get_response_time_percentile(fraction)
        return min(max(rounded, entry.min_response_time or 0), entry.max_response_time)

    return value


CONVERSATION_FIGURES: tuple[ConversationFigure, ...] = (
    ConversationFigure("Completed", "completed", "count", "Request Count - Failure Count",
        lambda e: e.num_requests - e.num_failures),
    ConversationFigure("Failed", "failed", "count", "Failure Count", lambda e: e.num_failures),
    ConversationFigure("Duration Avg (ms)", "duration_ms.avg", "ms", "Average Response Time",
        lambda e: e.avg_response_time if e.num_requests else None),
    ConversationFigure("Duration p50 (ms)", "duration_ms.p50", "ms", "50%", _duration(0.5)),
    ConversationFigure("Duration p90 (ms)", "duration_ms.p90", "ms", "90%", _duration(0.9)),
    ConversationFigure("Duration p95 (ms)", "duration_ms.p95", "ms", "95%", _duration(0.95)),
    ConversationFigure("Duration p99 (ms)", "duration_ms.p99", "ms", "99%", _duration(0.99)),
    ConversationFigure("Duration Max (ms)", "duration_ms.max", "ms", "Max Response Time",
        lambda e: e.max_response_time if e.num_requests else None),
)  # fmt: skip
"""The conversations' figures: completed (every turn succeeded), failed (a turn failed), and the
duration of every conversation, from Locust's statistics of the ``CONVERSATION`` events (so its
percentiles are Locust's, rounded as Locust rounds response times: to 2 significant digits past
100 ms, within the exact minimum and maximum)."""


@dataclass(frozen=True)
class VoiceFigure:
    """A figure of the audio turns: its column in ``PREFIX_voice.csv`` (a row a request name, then
    ``Aggregated``), its key in the web UI and ``analysis/``, and ``voice.<summary>`` in the JSON
    summary (also under ``voice.by_name.<name>``)."""

    title: str
    """The CSV column title, e.g. ``V2V p95 (ms)``."""
    key: str
    """The web UI's and ``analysis/``'s key, e.g. ``v2v_p95_ms``."""
    summary: str
    """Its dotted path under ``voice``, e.g. ``voice_to_voice_ms.p95``."""
    unit: str
    """``count``, ``ms``, ``s`` or ``factor`` (audio seconds per wall second)."""
    value: Callable[[VoiceStats], float | int | None]


_VOICE_PARTS = {"Avg": "avg", "p50": "p50", "p90": "p90", "p95": "p95", "p99": "p99", "Max": "max"}


def _voice_timing(which: str, title: str, key: str, summary: str, parts: str) -> list[VoiceFigure]:
    """The figures of one of :class:`~wslocust.stats.voice.VoiceStats`' histograms of ms (``parts``:
    the space-separated titles of :data:`_VOICE_PARTS` wanted)."""

    def value(part: str) -> Callable[[VoiceStats], float | None]:
        def read(stats: VoiceStats) -> float | None:
            histogram: Histogram = getattr(stats, which)
            if part == "avg":
                return histogram.mean
            if part == "max":
                return histogram.maximum if histogram.count else None
            return histogram.percentile(int(part[1:]) / 100)

        return read

    return [
        VoiceFigure(f"{title} {name} (ms)", f"{key}_{_VOICE_PARTS[name]}_ms",
                    f"{summary}.{_VOICE_PARTS[name]}", "ms", value(_VOICE_PARTS[name]))
        for name in parts.split()
    ]  # fmt: skip


def _per_turn_s(stats: VoiceStats, fraction: float) -> float | None:
    value = stats.audio_out.percentile(fraction)
    return None if value is None else value / 1000.0


VOICE_FIGURES: tuple[VoiceFigure, ...] = (
    VoiceFigure("Voice Turns", "voice_turns", "turns", "count", lambda v: v.turns),
    VoiceFigure("Voice Failures", "voice_failures", "failures", "count", lambda v: v.failures),
    *_voice_timing("voice_to_voice", "V2V", "v2v", "voice_to_voice_ms", "Avg p50 p90 p95 p99 Max"),
    *_voice_timing("first_audio", "TTFA", "ttfa", "time_to_first_audio_ms", "Avg p50 p90 p95 p99 Max"),
    *_voice_timing("first_transcript", "First Transcript", "first_transcript",
                   "time_to_first_transcript_ms", "p50 p95 p99 Max"),
    *_voice_timing("final_transcript", "Final Transcript", "final_transcript",
                   "final_transcript_latency_ms", "p50 p95 p99 Max"),
    VoiceFigure("Answers With Audio", "answers_with_audio", "audio_out.answers", "count",
                lambda v: v.with_audio),
    VoiceFigure("Audio Out (s)", "audio_out_s", "audio_out.total_s", "s", lambda v: v.audio_s),
    VoiceFigure("Audio Out p50 (s)", "audio_out_p50_s", "audio_out.per_answer_s.p50", "s",
                lambda v: _per_turn_s(v, 0.5)),
    VoiceFigure("Audio Out Max (s)", "audio_out_max_s", "audio_out.per_answer_s.max", "s",
                lambda v: v.audio_out.maximum / 1000.0 if v.audio_out.count else None),
    VoiceFigure("Real-Time Factor Min", "rtf_min", "real_time_factor.min", "factor", lambda v: v.factor(0.0)),
    VoiceFigure("Real-Time Factor p5", "rtf_p5", "real_time_factor.p5", "factor", lambda v: v.factor(0.05)),
    VoiceFigure("Real-Time Factor p50", "rtf_p50", "real_time_factor.p50", "factor", lambda v: v.factor(0.5)),
    VoiceFigure("Underruns", "underruns", "underruns.count", "count", lambda v: v.underruns),
    VoiceFigure("Underrun Answers", "underrun_answers", "underruns.answers", "count",
                lambda v: v.underrun_turns),
    VoiceFigure("Underrun Total (ms)", "underrun_total_ms", "underruns.total_ms", "ms",
                lambda v: v.underrun.total),
    *_voice_timing("underrun", "Underrun", "underrun", "underruns.per_answer_ms", "p50 p95 p99 Max"),
    VoiceFigure("Frames Sent", "frames_sent", "frames.sent", "count", lambda v: v.frames),
    *_voice_timing("lateness", "Frame Lateness", "frame_lateness", "frames.lateness_ms", "Avg p50 p99 Max"),
)  # fmt: skip
"""The audio turns' figures (a run with audio turns only; docs/metrics.md defines each): turns and
failed turns; of the successful turns, voice-to-voice latency (end of speech → first audio of the
answer), time to first audio (TTFA) and to the first transcript (from the utterance's start), final
transcript latency (end of speech → final transcript); of the successful answers with audio, audio
out (seconds), real-time factor (lowest first: below 1, slower than real time), playback underruns
(count, answers with one, total length, and each answer's total length); and the sender's frames
and their lateness (every frame of every turn)."""


SUMMARY_SECTIONS: dict[str, str] = {
    "run": "what was run: host, locustfile, users, spawn rate, run time, protocol, shape, workers, options",
    "duration_s": "from the test's start to its stop",
    "in_flight_at_stop": "prompts sent whose reply had not ended at the stop",
    "metrics": "each metric's figures (METRIC_PARTS)",
    "errors_by_kind": "failures counted by their error's kind",
    "connections": "handshakes: attempts, successes, failures, success_rate, handshake_ms, errors_by_kind, "
    "cut_off_at_stop (still under way when their users were stopped: not attempts)",
    "lifecycle": "connections' lives: outages, time_to_recover_ms (avg, p50, p95, p99, max), failovers, "
    "close_codes (docs/outputs.md)",
    "by_name": "a section a request name, with the figures and metrics",
    "by_profile": "with --user-profile: a section a profile, its settings and the figures and metrics of its "
    "requests (named PROFILE/NAME)",
    "failed_replies_dropped": "failed replies beyond those kept",
    "failed_replies_file": "where the failed replies are",
    "tokens": "how tokens were counted",
    "slos": "each --slo: its limit_ms, and the successful replies that missed and met it",
    "workers": "a distributed run's workers: expected, lost, rejected_reports",
    "steps": "a step or stress shape's settings and per-step results",
    "capacity": "a capacity search: its verdict, capacity, knee, confidence and levels (CAPACITY_FIGURES)",
    "open_model": "an open model's rate and how it kept up",
    "gates": "each gate's limit, measured value and verdict",
    "conversations": "a run with conversations: CONVERSATION_FIGURES in all and by_name",
    "voice": "a run with audio turns: VOICE_FIGURES in all and by_name",
}
"""The JSON summary's other top-level fields: sections beside the figures (docs/outputs.md)."""


@dataclass(frozen=True)
class LevelFigure:
    """A figure of a capacity search's level: its column in ``PREFIX_capacity.csv`` and its key in the
    summary's ``capacity.levels`` items (and ``analysis/``'s frames)."""

    title: str
    """The CSV column title, e.g. ``Achieved Rate/s``."""
    key: str
    """The key in ``capacity.levels`` and in ``analysis/``, e.g. ``achieved_rate_per_s``."""
    unit: str
    """As :attr:`Figure.unit`; the latencies are at the SLO percentile unless named ``p50``."""


CAPACITY_FIGURES: tuple[LevelFigure, ...] = (
    LevelFigure("Level", "level", "count"),
    LevelFigure("Target", "target", "/s or users"),
    LevelFigure("Users", "users", "users"),
    LevelFigure("Start (s)", "start_s", "s"),
    LevelFigure("Measured (s)", "measured_s", "s"),
    LevelFigure("Offered Rate/s", "offered_rate_per_s", "/s"),
    LevelFigure("Achieved Rate/s", "achieved_rate_per_s", "/s"),
    LevelFigure("Goodput/s", "goodput_per_s", "/s"),
    LevelFigure("Users In Flight", "users_in_flight", "users"),
    LevelFigure("Replies", "replies", "count"),
    LevelFigure("Failures", "failures", "count"),
    LevelFigure("Error Rate", "error_rate", "ratio"),
    LevelFigure("TTFT (ms)", "ttft_ms", "ms"),
    LevelFigure("E2E (ms)", "e2e_ms", "ms"),
    LevelFigure("TPOT (ms)", "tpot_ms", "ms"),
    LevelFigure("TTFT p50 (ms)", "ttft_p50_ms", "ms"),
    LevelFigure("E2E p50 (ms)", "e2e_p50_ms", "ms"),
    LevelFigure("TPOT p50 (ms)", "tpot_p50_ms", "ms"),
    LevelFigure("Output Tokens/s", "output_tokens_per_s", "/s"),
    LevelFigure("Tokens/s Per User", "tokens_per_s_per_user", "/s"),
    LevelFigure("Late Share", "late_share", "ratio"),
    LevelFigure("CPU (%)", "cpu_percent", "percent"),
    LevelFigure("Percentile", "percentile", "percent"),
    LevelFigure("Verdict", "verdict", "text"),
    LevelFigure("Cut Short", "cut_short", "text"),
    LevelFigure("Reason", "reason", "text"),
)
"""The columns of ``PREFIX_capacity.csv``, in order, and the keys of the summary's levels (which also
have ``passed``: true, false, or null for invalid, as the verdict says)."""


def columns(file: CsvFile) -> list[str]:
    """The header of a CSV file (before the metric columns of ``chat_stats``), from :data:`FIGURES`."""
    placed = sorted((figure.files[file], figure.title) for figure in FIGURES if file in figure.files)
    return [title for _, title in placed]


def metric_columns(names: Iterable[str]) -> list[str]:
    """The columns of each metric: mean, min, replies that missed it, errors of its function."""
    return [f"{name} {part.title}" for name in names for part in METRIC_PARTS if part.in_csv]


def ui_key(title: str) -> str:
    """The web UI key of a column: a figure's :attr:`Figure.key`; ``intent Mean`` → ``intent_mean``."""
    figure = FIGURES_BY_TITLE.get(title)
    return figure.key if figure else re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")


def summary_paths() -> set[str]:
    """Every path of the JSON summary's top level: figures, metric fields, and the other sections."""
    paths = {figure.summary for figure in FIGURES if figure.summary}
    paths |= {f"metrics.<metric>.{part.summary}" for part in METRIC_PARTS}
    return paths | set(SUMMARY_SECTIONS)


_FINE_UNITS = frozenset({"ratio", "score"})


def csv_number(value: float | None, unit: str) -> float | str:
    """A CSV cell: rounded (4 digits for a ratio or score, else 2), empty for nothing or not finite."""
    if value is None or not math.isfinite(value):
        return ""
    return round(value, 4 if unit in _FINE_UNITS else 2)


def summary_number(value: float | None, unit: str) -> float | None:
    """A summary number: rounded (4 digits for a ratio or score, else 3), ``None`` for nothing."""
    if value is None or not math.isfinite(value):
        return None
    return round(value, 4 if unit in _FINE_UNITS else 3)


def _check(figures: Iterable[Figure]) -> None:
    """Fail at import on a table whose names or column numbers collide (a typo in a new row)."""
    figures = list(figures)
    for name in ("title", "key", "summary"):
        values = [getattr(figure, name) for figure in figures if getattr(figure, name)]
        if len(values) != len(set(values)):
            raise ValueError(f"outputs.figures: two figures have the same {name}")
    for file in (CHAT_STATS, CHAT_HISTORY):
        numbers = sorted(figure.files[file] for figure in figures if file in figure.files)
        if numbers != list(range(len(numbers))):
            raise ValueError(f"outputs.figures: the column numbers of {file} are not 0, 1, 2...")


def _check_voice(figures: Iterable[VoiceFigure]) -> None:
    """Fail at import on two voice figures of one title, key or summary path."""
    figures = list(figures)
    for name in ("title", "key", "summary"):
        if len({getattr(figure, name) for figure in figures}) != len(figures):
            raise ValueError(f"outputs.figures: two voice figures have the same {name}")


_check(FIGURES)
_check_voice(VOICE_FIGURES)
