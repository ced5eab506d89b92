"""Plot a Locust run as PNG figures, from its CSV files.

Writes, for the run of PREFIX (PREFIX_stats.csv, PREFIX_stats_history.csv, PREFIX_failures.csv;
see `summarize --help`):

  LABEL_levels.png      against the number of users (one point per users level of the history):
                        average latency, max latency, general, client and unexpected error rates
                        (docs/analysis.md defines the kinds), and throughput
  LABEL_timeseries.png  over time: users, requests/s, response time p50/p95 and average,
                        failures/s by kind

With wslocust's PREFIX_chat_stats_history.csv, both are of the WS replies (prompt -> reply round
trips), without the CONNECT handshakes Locust's Aggregated rows mix in: replies/s, error rates
and per-second average, p50/p95 and max of the successful replies, from wslocust's chat history;
failures over time stay Locust's, of all requests.
  LABEL_streaming.png   time to first chunk and gaps between chunks: over time, per name, per
                        number of users (only with wslocust's PREFIX_chat_stats_history.csv)

LABEL is the last part of PREFIX. The figures go next to the CSV files unless -o DIR says where.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .capacity import cdf_figure, latency_figure, read_capacity, throughput_figure
from .cli import EXIT_OK, PROG, add_common, add_level_options, run_command
from .levels import users_levels
from .load import AGGREGATED, Run, load_run
from .timeline import CONNECT_TYPE, KINDS, REPLY_TYPE, intervals, reply_seconds, type_intervals

__all__ = [
    "KIND_COLORS",
    "build_parser",
    "levels_figure",
    "main",
    "save_figure",
    "streaming_figure",
    "timeseries_figure",
    "write_figures",
]

logger = logging.getLogger(__name__)

KIND_COLORS = {"all": "#222222", "client": "#e08a00", "server": "#c0392b", "unexpected": "#7d3c98"}
"""Line colours of the error kinds (and of all failures)."""

_RUN_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf")
_MAX_POINTS = 1200


def _style(ax: Axes, title: str, ylabel: str, xlabel: str | None = None) -> None:
    ax.set_title(title, fontsize=11, loc="left")
    ax.set_ylabel(ylabel)
    if xlabel:
        ax.set_xlabel(xlabel)
    ax.grid(True, alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)


def _no_data(ax: Axes, text: str = "no requests recorded") -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="#888888")


def _floor_zero(ax: Axes) -> None:
    """Start the y axis at 0, leave room above the data for the legend; no data above 0 shows 0 to 1."""
    highest = float(ax.dataLim.ymax) if ax.has_data() and np.isfinite(ax.dataLim.ymax) else 0.0
    ax.set_ylim(0, highest * 1.15 if highest > 0 else 1.0)


def _color(index: int) -> str:
    return _RUN_COLORS[index % len(_RUN_COLORS)]


_LOCUST_PANELS = (
    ("Average latency", "ms", "avg_ms", 1.0),
    ("Max latency", "ms", "max_ms", 1.0),
    ("General error rate (all failures)", "% of requests", "error_rate", 100.0),
    ("Client error rate (4xx, configuration)", "% of requests", "client_error_rate", 100.0),
    ("Unexpected error rate (unclassified)", "% of requests", "unexpected_error_rate", 100.0),
    ("Throughput", "requests/s", "requests_per_s", 1.0),
)
_REPLY_PANELS = (
    ("Average latency of WS replies", "ms", "avg_ms", 1.0),
    ("Max latency of WS replies", "ms", "max_ms", 1.0),
    ("Error rate of WS replies (all failures)", "% of replies", "error_rate", 100.0),
    ("Client error rate of WS replies (4xx, configuration)", "% of replies", "client_error_rate", 100.0),
    ("Unexpected error rate of WS replies (unclassified)", "% of replies", "unexpected_error_rate", 100.0),
    ("Throughput of WS replies", "replies/s (WS)", "requests_per_s", 1.0),
)
_MIXED_PANELS = (
    ("Average latency (WS replies or all requests: see legend)", "ms", "avg_ms", 1.0),
    ("Max latency", "ms", "max_ms", 1.0),
    ("General error rate (all failures)", "% of replies or requests", "error_rate", 100.0),
    ("Client error rate (4xx, configuration)", "% of replies or requests", "client_error_rate", 100.0),
    ("Unexpected error rate (unclassified)", "% of replies or requests", "unexpected_error_rate", 100.0),
    ("Throughput", "replies/s (WS) or requests/s", "requests_per_s", 1.0),
)


def _is_replies(table: pd.DataFrame) -> bool:
    """Whether a users-level table counts WS replies (wslocust's chat history), not all requests."""
    return bool(len(table)) and bool((table["source"] == "wslocust").all())


def levels_figure(runs: Sequence[Run], min_level_seconds: float = 0.0) -> Figure:
    """Draw the step-load panels: each metric against the number of users.

    With wslocust's chat history, a run's points are of its WS replies (handshakes apart; see
    :func:`analysis.levels.users_levels`); without, of all its requests, as Locust counted them.

    Args:
        runs: one run, or several to overlay (one colour each, labelled with the run's label).
        min_level_seconds: leave out users levels held for less than this many seconds.

    Returns:
        A figure with six axes, in order: average latency (ms), max latency (ms), general error
        rate (%), client error rate (%), unexpected error rate (%), throughput (requests/s or
        replies/s). In each, the first line of a run is its series, labelled with the run's label
        (plus `` (all requests)`` when other runs count WS replies); the max-latency axes add hollow
        markers (label ``_upper bound``) where the value is only an upper bound. A run of WS replies
        without a per-level average (no ``--csv-full-history``) shows its p50 in the first axes, and
        says so in the title or its label; one whose handshakes failed adds a dashed line
        ``handshakes (CONNECT)`` (label prefixed with the run's when several) to the general error rate.
    """
    fig = Figure(figsize=(12, 10.5), layout="constrained")
    axes = fig.subplots(3, 2, sharex=True).ravel()
    tables = [users_levels(run, min_level_seconds) for run in runs]
    shown = [t for t in tables if not t.empty and float(t["requests"].sum()) > 0]
    replies = [_is_replies(t) for t in shown]
    panels = _REPLY_PANELS if replies and all(replies) else _MIXED_PANELS if any(replies) else _LOCUST_PANELS
    median = [_is_replies(t) and bool(t["avg_ms"].isna().all()) for t in shown]
    titles = [title for title, _, _, _ in panels]
    if median and all(median):
        titles[0] = "Median latency of WS replies (p50: no average in the chat history or --csv-full-history)"
    notes: set[str] = set()
    bounds: set[str] = set()
    plotted = False
    for index, (run, table) in enumerate(zip(runs, tables, strict=True)):
        if table.empty or float(table["requests"].sum()) == 0:
            continue
        plotted = True
        mine = _is_replies(table)
        users = table["users"].to_numpy(dtype=float)
        label = run.label + (" (all requests)" if any(replies) and not mine else "")
        for number, (ax, (_, _, column, scale)) in enumerate(zip(axes, panels, strict=True)):
            series = column
            own = label
            if number == 0 and mine and bool(table["avg_ms"].isna().all()):
                series = "p50_ms"
                own = label if all(median) else f"{label} (p50: no average)"
            values = table[series].to_numpy(dtype=float) * scale
            ax.plot(users, values, marker="o", markersize=5, color=_color(index), label=own)
        upper = table["max_is_upper_bound"].to_numpy(dtype=bool)
        if upper.any():
            if mine and not run.full_history:
                bounds.add("without --csv-full-history, the max of all requests")
            else:
                bounds.add("the running maximum did not rise at that level")
            axes[1].plot(
                users[upper],
                table["max_ms"].to_numpy(dtype=float)[upper],
                linestyle="none",
                marker="o",
                markersize=9,
                markerfacecolor="white",
                color=_color(index),
                label="_upper bound",
            )
        if not bool(table["kinds_exact"].all()):
            notes.add("error kinds estimated from the failures' First/Last Seen times")
        if mine:
            notes.update(_handshake_notes(run, table, axes[2], index, len(runs) > 1))
            if bool((table["avg_scope"] == "WS round trips").any()):
                notes.add("average of WS replies includes the failed ones (_failed_replies.jsonl incomplete)")
    for number, (ax, (_, unit, _, _)) in enumerate(zip(axes, panels, strict=True)):
        _style(ax, titles[number], unit)
        if not plotted:
            _no_data(ax)
        _floor_zero(ax)
    for ax in axes[-2:]:
        ax.set_xlabel("users")
    if len(runs) > 1 and plotted:
        axes[0].legend(loc="upper left", fontsize=9)
    if any(line.get_label() == "handshakes (CONNECT)" for line in axes[2].lines) and len(runs) == 1:
        axes[2].legend(loc="upper left", fontsize=8)
    names = ", ".join(run.label for run in runs)
    what = "WS replies" if replies and all(replies) else "Latency and errors"
    source = " (wslocust's chat history; handshakes apart)" if replies and all(replies) else ""
    fig.suptitle(f"{what} per number of users: {names}{source}", fontsize=13)
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if bounds:
        notes.add(f"hollow markers: upper bound ({'; or '.join(sorted(bounds))})")
    if notes:
        text = textwrap.fill("Note: " + "; ".join(sorted(notes)) + ".", width=200)
        fig.supxlabel(text, fontsize=8, color="#555555", x=0.01, ha="left")
    return fig


def _handshake_notes(run: Run, table: pd.DataFrame, ax: Axes, index: int, several: bool) -> set[str]:
    """Draw a run's handshake failure rate per level when it had any; say what is not shown."""
    connects = run.stats[run.stats["type"] == CONNECT_TYPE]
    failed = float(connects["failures"].sum())
    if failed == 0:
        return set()
    if table["handshake_failures"].isna().all():
        return {
            f"{run.label}: {failed:.0f} failed handshake(s) not shown per level (needs --csv-full-history)"
        }
    ax.plot(
        table["users"].to_numpy(dtype=float),
        100.0 * table["handshake_error_rate"].to_numpy(dtype=float),
        color=_color(index),
        linestyle="--",
        marker="x",
        label=f"{run.label} handshakes (CONNECT)" if several else "handshakes (CONNECT)",
    )
    return {"dashed: failed handshakes (CONNECT) per handshake at that level"}


def _time_unit(seconds: float) -> tuple[str, float]:
    if seconds <= 600:
        return "s", 1.0
    if seconds <= 3 * 3600:
        return "min", 60.0
    return "h", 3600.0


def _resample(frame: pd.DataFrame, max_points: int = _MAX_POINTS) -> pd.DataFrame:
    """Merge consecutive intervals into bins so a long run stays readable (rates recomputed)."""
    if len(frame) <= max_points:
        return frame
    span = float(frame["elapsed_s"].iloc[-1] - frame["elapsed_s"].iloc[0]) or 1.0
    width = max(1.0, math.ceil(span / max_points))
    bins = (frame["elapsed_s"] // width).to_numpy()
    sums = ["requests", "failures", "rt_sum_ms", "duration_s", *(f"{k}_failures" for k in KINDS)]
    grouped = frame.groupby(bins, sort=True)
    merged = grouped[sums].sum()
    merged["elapsed_s"] = grouped["elapsed_s"].max()
    merged["users"] = grouped["users"].max()
    merged["sampled_users"] = grouped["sampled_users"].max()
    for column in frame.columns:
        if column.startswith("p") and column[1:].replace(".", "").isdigit():
            merged[column] = grouped[column].mean()
    duration = merged["duration_s"].replace(0, np.nan)
    merged["rps"] = merged["requests"] / duration
    merged["fps"] = merged["failures"] / duration
    merged["avg_ms"] = merged["rt_sum_ms"] / merged["requests"].replace(0, np.nan)
    return merged.reset_index(drop=True)


def _bins(frame: pd.DataFrame, max_points: int) -> npt.NDArray[np.float64] | None:
    """Bin numbers putting a long frame in at most ``max_points`` bins of whole seconds; None if short."""
    if len(frame) <= max_points:
        return None
    span = float(frame["elapsed_s"].iloc[-1] - frame["elapsed_s"].iloc[0]) or 1.0
    width = max(1.0, math.ceil(span / max_points))
    return (frame["elapsed_s"] // width).to_numpy(dtype=float)


def _resample_seconds(frame: pd.DataFrame, max_points: int = _MAX_POINTS) -> pd.DataFrame:
    """Merge wslocust's seconds into bins (counts summed, rates recomputed, averages and percentiles
    averaged with the successful replies as weights: exact for the averages)."""
    bins = _bins(frame, max_points)
    if bins is None:
        return frame
    grouped = frame.groupby(bins, sort=True)
    merged = grouped[["requests", "failures", "duration_s"]].sum()
    merged["elapsed_s"] = grouped["elapsed_s"].max()
    successes = frame["requests"] - frame["failures"]
    for column in ("latency_avg_ms", "latency_p50_ms", "latency_p95_ms"):
        weights = successes.where(frame[column].notna(), 0.0)
        total = (frame[column].fillna(0.0) * weights).groupby(bins).sum()
        merged[column] = total / weights.groupby(bins).sum().replace(0, np.nan)
    merged["rps"] = merged["requests"] / merged["duration_s"].replace(0, np.nan)
    return merged.reset_index(drop=True)


def _resample_replies(frame: pd.DataFrame, max_points: int = _MAX_POINTS) -> pd.DataFrame:
    """Merge the WS intervals of :func:`analysis.timeline.type_intervals` into bins (averages recomputed)."""
    bins = _bins(frame, max_points)
    if bins is None:
        return frame
    grouped = frame.groupby(bins, sort=True)
    merged = grouped[["requests", "rt_sum_ms"]].sum()
    merged["elapsed_s"] = grouped["elapsed_s"].max()
    merged["avg_ms"] = merged["rt_sum_ms"] / merged["requests"].replace(0, np.nan)
    return merged.reset_index(drop=True)


def timeseries_figure(runs: Sequence[Run]) -> Figure:
    """Draw the run(s) over time.

    With wslocust's chat history, a run's throughput and response time are of its WS replies:
    replies per second and the per-second average, p50 and p95 of the successful replies, from the
    chat history (by second of reply end; the average is exact). A history written before wslocust
    recorded the average shows, with ``--csv-full-history``, that of Locust's ``WS`` rows per history
    interval, failed replies included. Users and failures are Locust's, of all requests (handshakes'
    failures included).

    Args:
        runs: one run, or several to overlay (each from its own start).

    Returns:
        A figure with four axes sharing the time axis: users; throughput; response time (ms);
        failures/s. With one run the lines are labelled ``users``, ``requests/s`` (``replies/s (WS)``),
        ``p50``, ``p95``, ``average`` (``p50 (WS)``, ``p95 (WS)``, ``average (WS)``), ``all
        failures`` and one per error kind present; with several, each line's label starts with the
        run's label (``base p95``...).
    """
    fig = Figure(figsize=(12, 10), layout="constrained")
    axes = fig.subplots(4, 1, sharex=True)
    frames = [_resample(intervals(run)) for run in runs]
    seconds_of = [reply_seconds(run) for run in runs]
    seconds_of = [s if s is not None and float(s["requests"].sum()) > 0 else None for s in seconds_of]
    longest = max((float(f["elapsed_s"].max()) for f in frames if len(f)), default=0.0)
    unit, divisor = _time_unit(longest)
    single = len(runs) == 1
    scope = ""
    averages: set[str] = set()
    for index, (run, frame, seconds) in enumerate(zip(runs, frames, seconds_of, strict=True)):
        if frame.empty:
            continue
        scope = "last 10 s" if run.full_history else "run so far"
        prefix = "" if single else f"{run.label} "
        color = _color(index)
        x = frame["elapsed_s"].to_numpy(dtype=float) / divisor
        axes[0].plot(
            x, frame["sampled_users"], drawstyle="steps-pre", color=color, label=f"{prefix}users".strip()
        )
        if seconds is None:
            axes[1].plot(x, frame["rps"], color=color, label=f"{prefix}requests/s")
            latency = {key: (x, frame[key]) for key in ("p50", "p95") if key in frame}
            average: tuple[npt.NDArray[np.float64], pd.Series[float]] | None = (x, frame["avg_ms"])
            suffix = ""
        else:
            seconds = _resample_seconds(seconds)
            xs = seconds["elapsed_s"].to_numpy(dtype=float) / divisor
            axes[1].plot(xs, seconds["rps"], color=color, label=f"{prefix}replies/s (WS)")
            latency = {key: (xs, seconds[f"latency_{key}_ms"]) for key in ("p50", "p95")}
            average, kind = _reply_average(run, seconds, divisor)
            averages.add(kind)
            suffix = " (WS)"
        for key, style, width, own in (("p50", ":", 1.2, "#2ca02c"), ("p95", "-", 1.6, "#d62728")):
            if key in latency:
                axes[2].plot(
                    *latency[key],
                    color=own if single else color,
                    ls="-" if single else style,
                    lw=width,
                    label=f"{prefix}{key}{suffix}",
                )
        if single:
            if average is not None:
                label = "average" + ("" if seconds is None else " (WS)")
                axes[2].plot(*average, color="#1f77b4", ls="--", lw=1.0, label=label)
            axes[3].plot(x, frame["fps"], color=KIND_COLORS["all"], lw=1.6, label="all failures")
            duration = frame["duration_s"].replace(0, np.nan)
            for kind in KINDS:
                if float(frame[f"{kind}_failures"].sum()) > 0:
                    axes[3].plot(
                        x, frame[f"{kind}_failures"] / duration, color=KIND_COLORS[kind], lw=1.0, label=kind
                    )
        else:
            axes[3].plot(x, frame["fps"], color=color, label=f"{prefix}failures/s")
    titles = _timeseries_titles(single, scope, [s is not None for s in seconds_of], averages)
    any_requests = any(float(frame["requests"].sum()) > 0 for frame in frames)
    for index, (ax, (title, label)) in enumerate(zip(axes, titles, strict=True)):
        _style(ax, title, label)
        if not ax.lines:
            _no_data(ax, "no history samples")
        elif index > 0 and not any_requests:
            _no_data(ax)
        else:
            ax.legend(loc="upper left", fontsize=8, ncols=4)
        _floor_zero(ax)
    axes[-1].set_xlabel(f"time since start ({unit})")
    fig.suptitle("Over time: " + ", ".join(run.label for run in runs), fontsize=13)
    return fig


def _reply_average(
    run: Run, seconds: pd.DataFrame, divisor: float
) -> tuple[tuple[npt.NDArray[np.float64], pd.Series[float]] | None, str]:
    """The average of a run's WS replies over time, and what it covers: ``"successful"`` replies
    (wslocust's, per second of reply end, exact), ``"all"`` WS round trips (Locust's WS rows per
    history interval, for a chat history without the average), or ``"none"``.

    Args:
        run: the run.
        seconds: its :func:`analysis.timeline.reply_seconds`, binned as plotted.
        divisor: seconds per unit of the time axis.
    """
    if bool(seconds["latency_avg_ms"].notna().any()):
        x = seconds["elapsed_s"].to_numpy(dtype=float) / divisor
        return (x, seconds["latency_avg_ms"]), "successful"
    replies = type_intervals(run, REPLY_TYPE)
    if replies is None or replies.empty:
        return None, "none"
    replies = _resample_replies(replies)
    return (replies["elapsed_s"].to_numpy(dtype=float) / divisor, replies["avg_ms"]), "all"


def _timeseries_titles(
    single: bool, scope: str, replies: list[bool], averages: set[str]
) -> list[tuple[str, str]]:
    """The titles and units of the four axes of :func:`timeseries_figure`."""
    titles = [
        ("Users", "users"),
        ("Throughput (per history interval)", "requests/s"),
        (f"Response time (percentiles: Locust's, over the {scope}; average: per interval)", "ms"),
        ("Failures (kinds: see docs/analysis.md)", "failures/s"),
    ]
    if all(replies):
        if averages == {"successful"}:
            title = "Response time of successful WS replies (wslocust's average, p50, p95 per second)"
        else:
            average = (
                "no average: chat history without it, and no --csv-full-history"
                if averages == {"none"}
                else "average: Locust's WS rows per interval, failed replies included"
            )
            title = f"Response time of WS replies (p50, p95: wslocust's, per second; {average})"
        titles[1] = ("Throughput of WS replies (wslocust, per second of reply end)", "replies/s (WS)")
        titles[2] = (title, "ms")
        titles[3] = (
            "Failures of all requests (WS replies and CONNECT handshakes; kinds: docs/analysis.md)",
            "failures/s",
        )
    elif any(replies):
        titles[1] = (
            "Throughput (replies/s (WS) where wslocust recorded them, else requests/s)",
            "per second",
        )
        titles[2] = ("Response time (WS replies where wslocust recorded them, else Locust's)", "ms")
    if not single:
        if not any(replies):
            titles[2] = ("Response time (solid p95, dotted p50, as Locust wrote them)", "ms")
        else:
            titles[2] = (titles[2][0].split(" (")[0] + " (solid p95, dotted p50; WS: wslocust's)", "ms")
        titles[3] = ("Failures (all kinds, all requests)", "failures/s")
    return titles


def _chat_series(run: Run, max_points: int = _MAX_POINTS) -> pd.DataFrame:
    """wslocust's per-second Aggregated rows, merged into bins on a long run (reply-weighted means)."""
    chat = run.chat_history
    assert chat is not None
    rows = chat[chat["name"] == AGGREGATED].copy()
    start = float(run.history["timestamp"].iloc[0]) if len(run.history) else float(rows["timestamp"].min())
    rows["elapsed_s"] = rows["timestamp"] - start
    span = float(rows["elapsed_s"].max() - rows["elapsed_s"].min()) if len(rows) else 0.0
    if len(rows) <= max_points:
        return rows
    width = max(1.0, math.ceil(span / max_points))
    rows["bin"] = rows["elapsed_s"] // width
    merged = rows.groupby("bin").agg(elapsed_s=("elapsed_s", "max"), replies=("replies_per_s", "sum"))
    for column in ("ttft_p50_ms", "ttft_p95_ms", "ttft_p99_ms", "chunk_gap_p50_ms"):
        if column in rows:
            weighted = (rows[column] * rows["replies_per_s"]).groupby(rows["bin"]).sum(min_count=1)
            weights = rows["replies_per_s"].where(rows[column].notna(), 0.0).groupby(rows["bin"]).sum()
            merged[column] = weighted / weights.replace(0, np.nan)
    return merged.reset_index(drop=True)


def streaming_figure(run: Run, min_level_seconds: float = 0.0) -> Figure | None:
    """Draw wslocust's streaming timings: time to first chunk (TTFT) and gaps between chunks.

    Args:
        run: the run.
        min_level_seconds: see :func:`levels_figure`.

    Returns:
        ``None`` without wslocust's ``_chat_stats_history.csv``; else a figure with four axes: TTFT
        over time (lines ``p50``, ``p95``, ``p99``, per second), gap between chunks over time (line
        ``p50``), TTFT per request name (bars ``p50``, ``p95``, ``p99`` from ``_chat_stats.csv``), and
        TTFT per number of users (lines ``p50``, ``p95``).
    """
    if run.chat_history is None or run.chat_history.empty:
        return None
    series = _chat_series(run)
    fig = Figure(figsize=(12, 8.5), layout="constrained")
    (over_ttft, over_gap), (by_name, by_users) = fig.subplots(2, 2)
    unit, divisor = _time_unit(float(series["elapsed_s"].max()) if len(series) else 0.0)
    x = series["elapsed_s"].to_numpy(dtype=float) / divisor
    colors = {"p50": "#2ca02c", "p95": "#d62728", "p99": "#7d3c98"}
    for key in ("p50", "p95", "p99"):
        if f"ttft_{key}_ms" in series:
            over_ttft.plot(x, series[f"ttft_{key}_ms"], color=colors[key], lw=1.3, label=key)
    _style(
        over_ttft, "Time to first chunk (per second, successful replies)", "ms", f"time since start ({unit})"
    )
    if "chunk_gap_p50_ms" in series:
        over_gap.plot(x, series["chunk_gap_p50_ms"], color=colors["p50"], lw=1.3, label="p50")
    _style(over_gap, "Gap between chunks (per second)", "ms", f"time since start ({unit})")

    stats = run.chat_stats
    names = stats[stats["name"] != AGGREGATED] if stats is not None else None
    if names is not None and len(names):
        positions = np.arange(len(names))
        for offset, key in zip((-0.27, 0.0, 0.27), ("p50", "p95", "p99"), strict=True):
            column = f"ttft_{key}_ms"
            if column in names:
                values = names[column].to_numpy(dtype=float)
                by_name.bar(positions + offset, values, width=0.26, color=colors[key], label=key)
        by_name.set_xticks(positions, [str(n) for n in names["name"]], rotation=30 if len(names) > 4 else 0)
        by_name.tick_params(axis="x", labelsize=8)
    else:
        _no_data(by_name, "no _chat_stats.csv")
    _style(by_name, "Time to first chunk per request name (whole run)", "ms")

    levels = users_levels(run, min_level_seconds)
    levels = levels[levels["ttft_p50_ms"].notna()]
    for key in ("p50", "p95"):
        by_users.plot(levels["users"], levels[f"ttft_{key}_ms"], marker="o", color=colors[key], label=key)
    _style(by_users, "Time to first chunk per number of users", "ms", "users")
    by_users.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in (over_ttft, over_gap, by_name, by_users):
        if ax.lines or ax.patches:
            ax.legend(loc="upper left", fontsize=8, ncols=3)
        elif not ax.texts:
            _no_data(ax, "no successful reply recorded")
        _floor_zero(ax)
    fig.suptitle(f"Streaming replies: {run.label} (from wslocust's chat statistics)", fontsize=13)
    return fig


def save_figure(fig: Figure, path: Path) -> Path:
    """Write a figure as PNG.

    Args:
        fig: the figure.
        path: where to write it; the parent directory is created.

    Returns:
        The path.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    logger.info("wrote %s", path)
    return path


def write_figures(run: Run, directory: Path, min_level_seconds: float = 0.0) -> list[Path]:
    """Draw and save all the figures of one run.

    Args:
        run: the run.
        directory: where to write ``LABEL_levels.png``, ``LABEL_timeseries.png`` and, when
            wslocust recorded streaming timings, ``LABEL_streaming.png``; with its histograms,
            ``LABEL_cdf.png``; for a capacity search, ``LABEL_capacity_latency.png`` and
            ``LABEL_capacity_throughput.png``.
        min_level_seconds: see :func:`levels_figure`.

    Returns:
        The paths written.
    """
    written = [
        save_figure(levels_figure([run], min_level_seconds), directory / f"{run.label}_levels.png"),
        save_figure(timeseries_figure([run]), directory / f"{run.label}_timeseries.png"),
    ]
    streaming = streaming_figure(run, min_level_seconds)
    if streaming is not None:
        written.append(save_figure(streaming, directory / f"{run.label}_streaming.png"))
    cdf = cdf_figure(run.chat_histograms or {}, run.label)
    if cdf is not None:
        written.append(save_figure(cdf, directory / f"{run.label}_cdf.png"))
    capacity = read_capacity(run.prefix)
    if capacity is not None:
        written.append(save_figure(latency_figure(capacity), directory / f"{run.label}_capacity_latency.png"))
        written.append(
            save_figure(throughput_figure(capacity), directory / f"{run.label}_capacity_throughput.png")
        )
    return written


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``plot``."""
    parser = argparse.ArgumentParser(
        prog=f"{PROG} plot", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", help="the --csv PREFIX of the run (or one of its CSV files, or its directory)")
    parser.add_argument("-o", "--output", type=Path, metavar="DIR", help="directory for the PNG files")
    add_level_options(parser)
    add_common(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``plot``: write the PNG files and print their paths.

    Args:
        argv: the arguments after the command name (``None``: the process's).

    Returns:
        0, or 2 for bad input.
    """

    def body(args: argparse.Namespace) -> int:
        run = load_run(args.run)
        directory = args.output or run.prefix.parent
        for path in write_figures(run, directory, args.min_level_seconds):
            sys.stdout.write(f"{path}\n")
        return EXIT_OK

    return run_command(build_parser(), argv, body)
