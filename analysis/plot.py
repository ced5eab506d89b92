"""Plot a Locust run as PNG figures, from its CSV files.

Writes, for the run of PREFIX (PREFIX_stats.csv, PREFIX_stats_history.csv, PREFIX_failures.csv;
see `summarize --help`):

  LABEL_levels.png      against the number of users (one point per users level of the history):
                        average latency, max latency, general, client and unexpected error rates
                        (docs/analysis.md defines the kinds), and throughput
  LABEL_timeseries.png  over time: users, requests/s, response time p50/p95 and average,
                        failures/s by kind
  LABEL_streaming.png   time to first chunk and gaps between chunks: over time, per name, per
                        number of users (only with wslocust's PREFIX_chat_stats_history.csv)

LABEL is the last part of PREFIX. The figures go next to the CSV files unless -o DIR says where.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .cli import EXIT_OK, PROG, add_common, run_command
from .levels import users_levels
from .load import AGGREGATED, Run, load_run
from .timeline import KINDS, intervals

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


def levels_figure(runs: Sequence[Run], min_level_seconds: float = 0.0) -> Figure:
    """Draw the step-load panels: each metric against the number of users.

    Args:
        runs: one run, or several to overlay (one colour each, labelled with the run's label).
        min_level_seconds: leave out users levels held for less than this many seconds.

    Returns:
        A figure with six axes, in order: average latency (ms), max latency (ms), general error
        rate (%), client error rate (%), unexpected error rate (%), throughput (requests/s). In each,
        the first line of a run is its series, labelled with the run's label; the max-latency axes
        add hollow markers (label ``_upper bound``) where the value is only an upper bound.
    """
    fig = Figure(figsize=(12, 10.5), layout="constrained")
    axes = fig.subplots(3, 2, sharex=True).ravel()
    panels = [
        ("Average latency", "ms", "avg_ms", 1.0),
        ("Max latency", "ms", "max_ms", 1.0),
        ("General error rate (all failures)", "% of requests", "error_rate", 100.0),
        ("Client error rate (4xx, configuration)", "% of requests", "client_error_rate", 100.0),
        ("Unexpected error rate (unclassified)", "% of requests", "unexpected_error_rate", 100.0),
        ("Throughput", "requests/s", "requests_per_s", 1.0),
    ]
    notes: set[str] = set()
    plotted = False
    for index, run in enumerate(runs):
        table = users_levels(run, min_level_seconds)
        if table.empty or float(table["requests"].sum()) == 0:
            continue
        plotted = True
        users = table["users"].to_numpy(dtype=float)
        for ax, (_, _, column, scale) in zip(axes, panels, strict=True):
            values = table[column].to_numpy(dtype=float) * scale
            ax.plot(users, values, marker="o", markersize=5, color=_color(index), label=run.label)
        upper = table["max_is_upper_bound"].to_numpy(dtype=bool)
        if upper.any():
            notes.add("hollow markers: upper bound (the running maximum did not rise at that level)")
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
    for ax, (title, unit, _, _) in zip(axes, panels, strict=True):
        _style(ax, title, unit)
        if not plotted:
            _no_data(ax)
        _floor_zero(ax)
    for ax in axes[-2:]:
        ax.set_xlabel("users")
    if len(runs) > 1 and plotted:
        axes[0].legend(loc="upper left", fontsize=9)
    names = ", ".join(run.label for run in runs)
    fig.suptitle(f"Latency and errors per number of users: {names}", fontsize=13)
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if notes:
        fig.supxlabel(
            "Note: " + "; ".join(sorted(notes)) + ".", fontsize=8, color="#555555", x=0.01, ha="left"
        )
    return fig


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


def timeseries_figure(runs: Sequence[Run]) -> Figure:
    """Draw the run(s) over time.

    Args:
        runs: one run, or several to overlay (each from its own start).

    Returns:
        A figure with four axes sharing the time axis: users; requests/s; response time (ms);
        failures/s. With one run the lines are labelled ``users``, ``requests/s``, ``p50``,
        ``p95``, ``average``, ``all failures`` and one per error kind present; with several, each
        line's label starts with the run's label (``base p95``...).
    """
    fig = Figure(figsize=(12, 10), layout="constrained")
    axes = fig.subplots(4, 1, sharex=True)
    frames = [_resample(intervals(run)) for run in runs]
    longest = max((float(f["elapsed_s"].max()) for f in frames if len(f)), default=0.0)
    unit, divisor = _time_unit(longest)
    single = len(runs) == 1
    scope = ""
    for index, (run, frame) in enumerate(zip(runs, frames, strict=True)):
        if frame.empty:
            continue
        scope = "last 10 s" if run.full_history else "run so far"
        prefix = "" if single else f"{run.label} "
        color = _color(index)
        x = frame["elapsed_s"].to_numpy(dtype=float) / divisor
        axes[0].plot(
            x, frame["sampled_users"], drawstyle="steps-pre", color=color, label=f"{prefix}users".strip()
        )
        axes[1].plot(x, frame["rps"], color=color, label=f"{prefix}requests/s")
        for key, style, width, own in (("p50", ":", 1.2, "#2ca02c"), ("p95", "-", 1.6, "#d62728")):
            if key in frame:
                axes[2].plot(
                    x,
                    frame[key],
                    color=own if single else color,
                    ls="-" if single else style,
                    lw=width,
                    label=f"{prefix}{key}",
                )
        if single:
            axes[2].plot(x, frame["avg_ms"], color="#1f77b4", ls="--", lw=1.0, label="average")
            axes[3].plot(x, frame["fps"], color=KIND_COLORS["all"], lw=1.6, label="all failures")
            duration = frame["duration_s"].replace(0, np.nan)
            for kind in KINDS:
                if float(frame[f"{kind}_failures"].sum()) > 0:
                    axes[3].plot(
                        x, frame[f"{kind}_failures"] / duration, color=KIND_COLORS[kind], lw=1.0, label=kind
                    )
        else:
            axes[3].plot(x, frame["fps"], color=color, label=f"{prefix}failures/s")
    titles = [
        ("Users", "users"),
        ("Throughput (per history interval)", "requests/s"),
        (f"Response time (percentiles: Locust's, over the {scope}; average: per interval)", "ms"),
        ("Failures (kinds: see docs/analysis.md)", "failures/s"),
    ]
    if not single:
        titles[2] = ("Response time (solid p95, dotted p50, as Locust wrote them)", "ms")
        titles[3] = ("Failures (all kinds)", "failures/s")
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
    merged = rows.groupby("bin").agg(elapsed_s=("elapsed_s", "max"), replies=("replies", "sum"))
    for column in ("ttft_p50_ms", "ttft_p95_ms", "ttft_p99_ms", "gap_p50_ms"):
        if column in rows:
            weighted = (rows[column] * rows["replies"]).groupby(rows["bin"]).sum(min_count=1)
            weights = rows["replies"].where(rows[column].notna(), 0.0).groupby(rows["bin"]).sum()
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
    if "gap_p50_ms" in series:
        over_gap.plot(x, series["gap_p50_ms"], color=colors["p50"], lw=1.3, label="p50")
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
            wslocust recorded streaming timings, ``LABEL_streaming.png``.
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
    return written


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``plot``."""
    parser = argparse.ArgumentParser(
        prog=f"{PROG} plot", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", help="the --csv PREFIX of the run (or one of its CSV files, or its directory)")
    parser.add_argument("-o", "--output", type=Path, metavar="DIR", help="directory for the PNG files")
    parser.add_argument(
        "--min-level-seconds",
        type=float,
        default=0.0,
        metavar="S",
        help="leave out users levels held for less than S seconds (ramp-up transients); default 0",
    )
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
