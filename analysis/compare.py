"""Compare Locust runs side by side and flag regressions against the first (the baseline).

Each RUN is a --csv PREFIX (see `summarize --help`). Prints a table of the key figures of every
run with the change from the baseline, writes it as comparison.json and comparison.csv, and draws
the runs overlaid (levels.png: latency and error rates per number of users; timeseries.png).

When every run has wslocust's PREFIX_chat_stats.csv, the count, throughput, failure rate and
latencies compared are those of the WS replies (prompt -> reply round trips, its Aggregated row),
handshakes apart; otherwise (a plain Locust run among them) they are Locust's totals of all requests.
The table's header says which.

A run regresses when, compared with the baseline, its average, p50, p95 or p99 latency, or its
time to first chunk (p50, p95, p99) or p99 gap between chunks (from wslocust's chat statistics)
rises by more than --tolerance percent, its throughput or goodput falls by more than --tolerance
percent, or one of its error rates (all, client, server, unexpected) rises by more than
--error-tolerance percentage points. With --per-name, the average, p95 and error rate of every
request name present in both runs are checked too.

Given two repeat sets (BASE_repeat.json and RUN_repeat.json, see `repeat --help`), compare uses
their spreads: a figure regresses only when it is worse past the tolerance and the run's range of
values lies wholly on the worse side of the baseline's (else it is noise).

Exit code: 0 no regression, 1 at least one regression (for CI), 2 bad input.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import fmt
from .cli import EXIT_OK, EXIT_REGRESSION, PROG, add_common, run_command
from .load import Run, load_run
from .summarize import summarize


def is_repeat_set(spec: str | Path) -> bool:
    """Whether ``spec`` is the prefix of a repeat set (see :mod:`.repeat`)."""
    return Path(f"{spec}_repeat.json").is_file()


def compare_main(base: Path, run: Path, tolerance: float, error_tolerance: float) -> int:
    """Compare two repeat sets by their spreads (:func:`.repeat.compare_main`)."""
    from .repeat import compare_main as compare_sets_main  # it imports this module

    return compare_sets_main(base, run, tolerance, error_tolerance)


__all__ = [
    "ALL_REQUESTS",
    "METRICS",
    "REPLY_METRICS",
    "WS_REPLIES",
    "Comparison",
    "Metric",
    "Row",
    "build_parser",
    "compare_runs",
    "format_comparison",
    "main",
]

logger = logging.getLogger(__name__)

Summary = dict[str, Any]


@dataclass(frozen=True)
class Metric:
    """One figure compared between runs.

    Attributes:
        key: stable identifier (used in JSON).
        title: what a person reads.
        better: ``"lower"``, ``"higher"`` or ``None`` (shown, never a regression).
        points: the tolerance is in percentage points of a rate (else a relative change).
        get: reads the value from a summary (``None`` when not available).
        show: formats a value.
    """

    key: str
    title: str
    better: str | None
    points: bool
    get: Callable[[Summary], float | None]
    show: Callable[[float | None], str]


def _path(*keys: str) -> Callable[[Summary], float | None]:
    def get(summary: Summary) -> float | None:
        value: Any = summary
        for key in keys:
            if not isinstance(value, dict) or value.get(key) is None:
                return None
            value = value[key]
        return float(value)

    return get


METRICS: tuple[Metric, ...] = (
    Metric("requests", "requests", None, False, _path("totals", "requests"), fmt.count),
    Metric("requests_per_s", "requests/s", "higher", False, _path("totals", "requests_per_s"), fmt.rate),
    Metric("error_rate", "error rate", "lower", True, _path("totals", "error_rate"), fmt.percent),
    *(
        Metric(
            f"{kind}_error_rate",
            f"{kind} error rate",
            "lower",
            True,
            _path("errors_by_kind", kind, "rate"),
            fmt.percent,
        )
        for kind in ("client", "server", "unexpected")
    ),
    Metric("avg_ms", "average ms", "lower", False, _path("latency_ms", "avg_ms"), fmt.ms),
    Metric("p50_ms", "p50 ms", "lower", False, _path("latency_ms", "p50_ms"), fmt.ms),
    Metric("p95_ms", "p95 ms", "lower", False, _path("latency_ms", "p95_ms"), fmt.ms),
    Metric("p99_ms", "p99 ms", "lower", False, _path("latency_ms", "p99_ms"), fmt.ms),
    Metric("max_ms", "max ms", None, False, _path("latency_ms", "max_ms"), fmt.ms),
    Metric("goodput_per_s", "goodput/s", "higher", False, _path("chat", "total", "goodput_per_s"), fmt.rate),
    Metric(
        "ttft_p50_ms", "first chunk p50 ms", "lower", False, _path("chat", "total", "ttft_p50_ms"), fmt.ms
    ),
    Metric(
        "ttft_p95_ms", "first chunk p95 ms", "lower", False, _path("chat", "total", "ttft_p95_ms"), fmt.ms
    ),
    Metric(
        "ttft_p99_ms", "first chunk p99 ms", "lower", False, _path("chat", "total", "ttft_p99_ms"), fmt.ms
    ),
    Metric(
        "chunk_gap_p99_ms",
        "chunk gap p99 ms",
        "lower",
        False,
        _path("chat", "total", "chunk_gap_p99_ms"),
        fmt.ms,
    ),
    *(
        Metric(
            f"tpot_{key}_ms",
            f"time per output token {key} ms",
            "lower",
            False,
            _path("chat", "total", f"tpot_{key}_ms"),
            fmt.ms,
        )
        for key in ("p50", "p95", "p99")
    ),
    Metric(
        "goodput_share",
        "goodput share",
        "higher",
        True,
        _path("chat", "total", "goodput_share"),
        fmt.percent,
    ),
    Metric("exceptions", "exceptions in tasks", None, False, _path("totals", "exceptions"), fmt.count),
)
"""The figures compared, in display order (basis: Locust's totals of all requests)."""

ALL_REQUESTS = "all_requests"
"""Basis: Locust's totals of all requests (``WS`` round trips and ``CONNECT`` handshakes)."""
WS_REPLIES = "ws_replies"
"""Basis: the WS replies of wslocust's ``_chat_stats.csv`` (its ``Aggregated`` row)."""

REPLY_METRICS: dict[str, Metric] = {
    metric.key: metric
    for metric in (
        Metric("requests", "replies", None, False, _path("replies", "requests"), fmt.count),
        Metric("requests_per_s", "replies/s", "higher", False, _path("replies", "requests_per_s"), fmt.rate),
        Metric("error_rate", "failure rate", "lower", True, _path("replies", "error_rate"), fmt.percent),
        *(
            replace(metric, title=f"{metric.title} (all requests)")
            for metric in METRICS
            if metric.key.endswith("_error_rate")
        ),
        *(
            Metric(key, f"{title} ms", better, False, _path("replies", "latency_ms", key), fmt.ms)
            for key, title, better in (
                ("avg_ms", "average", "lower"),
                ("p50_ms", "p50", "lower"),
                ("p95_ms", "p95", "lower"),
                ("p99_ms", "p99", "lower"),
                ("max_ms", "max", None),
            )
        ),
    )
}
"""On the WS-replies basis, what replaces the figure of the same key of :data:`METRICS` (same keys,
so that scripts reading ``comparison.json`` keep working; its ``basis`` tells them apart). The error
kinds stay over all requests (failed handshakes are failures too) and say so."""


@dataclass
class Row:
    """One compared figure: the values of every run and which runs regressed.

    Attributes:
        key: the metric key, prefixed with ``TYPE NAME: `` for per-name rows.
        title: what a person reads.
        values: the value of each run, baseline first.
        changes: for each non-baseline run, the relative change (or the difference in percentage
            points for rates); ``None`` when it cannot be computed.
        regressed: labels of the runs worse than the baseline past the tolerance.
        points: whether ``changes`` are percentage points.
    """

    key: str
    title: str
    values: list[float | None]
    changes: list[float | None]
    regressed: list[str] = field(default_factory=list)
    points: bool = False
    show: Callable[[float | None], str] = fmt.rate


@dataclass
class Comparison:
    """The result of :func:`compare_runs`."""

    labels: list[str]
    tolerance: float
    error_tolerance: float
    rows: list[Row]
    basis: str = ALL_REQUESTS
    basis_note: str = ""

    @property
    def basis_title(self) -> str:
        """The basis in a few words, e.g. ``WS replies``."""
        return "WS replies" if self.basis == WS_REPLIES else "all requests"

    @property
    def regressions(self) -> list[tuple[str, Row]]:
        """``(run label, row)`` for every regression."""
        return [(label, row) for row in self.rows for label in row.regressed]

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable rendering."""
        return {
            "baseline": self.labels[0],
            "runs": self.labels,
            "basis": self.basis,
            "basis_note": self.basis_note,
            "tolerance_percent": self.tolerance,
            "error_tolerance_points": self.error_tolerance,
            "metrics": [
                {
                    "key": row.key,
                    "title": row.title,
                    "values": dict(zip(self.labels, (fmt.clean(v, 6) for v in row.values), strict=True)),
                    "changes": dict(
                        zip(self.labels[1:], (fmt.clean(c, 6) for c in row.changes), strict=True)
                    ),
                    "change_unit": "percentage points" if row.points else "fraction",
                    "regressed": row.regressed,
                }
                for row in self.rows
            ],
            "regressions": [{"run": label, "metric": row.key} for label, row in self.regressions],
        }


def _change(base: float | None, value: float | None, points: bool) -> float | None:
    if base is None or value is None or not (math.isfinite(base) and math.isfinite(value)):
        return None
    if points:
        return 100.0 * (value - base)
    if base == 0:
        return None if value == 0 else math.copysign(math.inf, value)
    return (value - base) / abs(base)


def _is_regression(metric: Metric, change: float | None, tolerance: float, error_tolerance: float) -> bool:
    if change is None or metric.better is None:
        return False
    worse = change if metric.better == "lower" else -change
    limit = error_tolerance if metric.points else tolerance / 100.0
    return worse > limit


def _row(
    metric: Metric,
    summaries: Sequence[Summary],
    labels: Sequence[str],
    tolerance: float,
    error_tolerance: float,
) -> Row | None:
    values = [metric.get(summary) for summary in summaries]
    if all(v is None for v in values):
        return None
    changes = [_change(values[0], v, metric.points) for v in values[1:]]
    regressed = [
        label
        for label, change in zip(labels[1:], changes, strict=True)
        if _is_regression(metric, change, tolerance, error_tolerance)
    ]
    return Row(metric.key, metric.title, values, changes, regressed, metric.points, metric.show)


def _per_name_metrics(type_: str, name: str) -> list[Metric]:
    def get(key: str) -> Callable[[Summary], float | None]:
        def read(summary: Summary) -> float | None:
            for row in summary["per_name"]:
                if row["type"] == type_ and row["name"] == name:
                    value = row.get(key)
                    return None if value is None else float(value)
            return None

        return read

    where = f"{type_} {name}".strip()
    return [
        Metric(f"{where}: avg_ms", f"{where}: average ms", "lower", False, get("avg_ms"), fmt.ms),
        Metric(f"{where}: p95_ms", f"{where}: p95 ms", "lower", False, get("p95_ms"), fmt.ms),
        Metric(f"{where}: error_rate", f"{where}: error rate", "lower", True, get("error_rate"), fmt.percent),
    ]


def compare_runs(
    summaries: Sequence[Summary],
    labels: Sequence[str],
    *,
    tolerance: float = 10.0,
    error_tolerance: float = 1.0,
    per_name: bool = False,
) -> Comparison:
    """Compare run summaries with the first.

    Args:
        summaries: the runs' summaries (:func:`analysis.summarize.summarize`), baseline first.
        labels: a distinct label per run.
        tolerance: allowed relative change of latencies and throughput, in percent.
        error_tolerance: allowed rise of an error rate, in percentage points.
        per_name: also compare every request name present in the baseline and the other run.

    Returns:
        The :class:`Comparison`: on the WS-replies basis (:data:`REPLY_METRICS`) when every summary
        has ``replies`` (wslocust's ``_chat_stats.csv``), else on Locust's totals of all requests.
    """
    basis, note = _basis(summaries, labels)
    metrics = [REPLY_METRICS.get(m.key, m) if basis == WS_REPLIES else m for m in METRICS]
    rows = [
        row for m in metrics if (row := _row(m, summaries, labels, tolerance, error_tolerance)) is not None
    ]
    if per_name:
        names = [(r["type"], r["name"]) for r in summaries[0]["per_name"]]
        for type_, name in names:
            for metric in _per_name_metrics(type_, name):
                row = _row(metric, summaries, labels, tolerance, error_tolerance)
                if row is not None:
                    rows.append(row)
    return Comparison(list(labels), tolerance, error_tolerance, rows, basis, note)


def _basis(summaries: Sequence[Summary], labels: Sequence[str]) -> tuple[str, str]:
    """The basis of the comparison and a sentence that says why."""
    with_chat = [label for label, s in zip(labels, summaries, strict=True) if s.get("replies") is not None]
    if len(with_chat) == len(summaries):
        return WS_REPLIES, "WS replies (wslocust's _chat_stats.csv, Aggregated row; handshakes apart)"
    note = "Locust's totals of all requests (WS + CONNECT)"
    if with_chat:
        without = [label for label in labels if label not in with_chat]
        note += f": {', '.join(without)} without wslocust's _chat_stats.csv"
    return ALL_REQUESTS, note


def _show_change(change: float | None, points: bool) -> str:
    if change is None:
        return ""
    if math.isinf(change):
        return " (new)"
    if points:
        return f" ({change:+.2f} pp)"
    return f" ({100 * change:+.1f} %)"


def format_comparison(comparison: Comparison) -> str:
    """Render a comparison as a plain-text table followed by the list of regressions.

    Args:
        comparison: the comparison.

    Returns:
        The text, ending with a newline.
    """
    labels = comparison.labels
    headers = [f"Metric ({comparison.basis_title})", f"{labels[0]} (baseline)", *labels[1:]]
    rows = []
    for row in comparison.rows:
        cells = [row.title, row.show(row.values[0])]
        for label, value, change in zip(labels[1:], row.values[1:], row.changes, strict=True):
            flag = "  WORSE" if label in row.regressed else ""
            cells.append(row.show(value) + _show_change(change, row.points) + flag)
        rows.append(cells)
    lines = [
        f"Comparison with {labels[0]} on {comparison.basis_note}; "
        f"tolerance {comparison.tolerance:g} % on latency and throughput, "
        f"{comparison.error_tolerance:g} percentage point{'' if comparison.error_tolerance == 1 else 's'}"
        " on error rates",
        fmt.table(headers, rows, align="l"),
        "",
    ]
    regressions = comparison.regressions
    if regressions:
        lines.append(f"{len(regressions)} regression(s):")
        lines += [
            f"  {label}: {row.title} {_show_change(row.changes[labels.index(label) - 1], row.points).strip()}"
            for label, row in regressions
        ]
    else:
        lines.append("No regression.")
    return "\n".join(lines) + "\n"


def _labels(runs: Sequence[Run]) -> list[str]:
    names = [run.label for run in runs]
    labels = [
        f"{run.prefix.parent.name}/{run.label}" if names.count(run.label) > 1 else run.label for run in runs
    ]
    for index, label in enumerate(list(labels)):
        if labels.count(label) > 1:
            labels[index] = f"{label}#{index + 1}"
    return labels


def write_outputs(
    comparison: Comparison, runs: Sequence[Run], directory: Path, plots: bool = True
) -> list[Path]:
    """Write ``comparison.json``, ``comparison.csv`` and the overlaid figures.

    Args:
        comparison: the comparison.
        runs: the runs, in the comparison's order (their labels are replaced by the comparison's).
        directory: where to write; created when missing.
        plots: whether to draw ``levels.png`` and ``timeseries.png``.

    Returns:
        The paths written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / "comparison.json"
    json_path.write_text(json.dumps(comparison.to_json(), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    csv_path = directory / "comparison.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["metric", *comparison.labels, *(f"change {label}" for label in comparison.labels[1:])]
        )
        for row in comparison.rows:
            writer.writerow(
                [
                    row.key,
                    *("" if v is None else f"{v:.6g}" for v in row.values),
                    *("" if c is None else f"{c:.6g}" for c in row.changes),
                ]
            )
    written = [json_path, csv_path]
    if plots:
        from .plot import levels_figure, save_figure, timeseries_figure

        relabelled = [replace(run, label=label) for run, label in zip(runs, comparison.labels, strict=True)]
        written.append(save_figure(levels_figure(relabelled), directory / "levels.png"))
        written.append(save_figure(timeseries_figure(relabelled), directory / "timeseries.png"))
    for path in written:
        logger.info("wrote %s", path)
    return written


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``compare``."""
    parser = argparse.ArgumentParser(
        prog=f"{PROG} compare", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("baseline", help="the --csv PREFIX of the baseline run")
    parser.add_argument(
        "runs", nargs="+", metavar="run", help="the --csv PREFIX of each run to compare with it"
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="DIR",
        help="directory for comparison.json, comparison.csv and the figures "
        "(default: compare_BASE_vs_RUN next to the baseline's files)",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=10.0,
        metavar="PERCENT",
        help="allowed relative change of latency and throughput, in %% (default 10)",
    )
    parser.add_argument(
        "--error-tolerance",
        type=float,
        default=1.0,
        metavar="POINTS",
        help="allowed rise of an error rate, in percentage points (default 1.0)",
    )
    parser.add_argument("--per-name", action="store_true", help="also compare each request name")
    parser.add_argument("--no-plots", action="store_true", help="write the table only (faster)")
    add_common(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``compare``.

    Args:
        argv: the arguments after the command name (``None``: the process's).

    Returns:
        0 without regression, 1 with at least one, 2 for bad input.
    """

    def body(args: argparse.Namespace) -> int:
        specs = [args.baseline, *args.runs]
        if len(specs) == 2 and all(is_repeat_set(spec) for spec in specs):  # spreads: see `repeat --help`
            return compare_main(Path(specs[0]), Path(specs[1]), args.tolerance, args.error_tolerance)
        runs = [load_run(spec) for spec in specs]
        labels = _labels(runs)
        summaries = [summarize(run) for run in runs]
        comparison = compare_runs(
            summaries,
            labels,
            tolerance=args.tolerance,
            error_tolerance=args.error_tolerance,
            per_name=args.per_name,
        )
        directory = args.output or runs[0].prefix.parent / ("compare_" + "_vs_".join(r.label for r in runs))
        written = write_outputs(comparison, runs, directory, plots=not args.no_plots)
        sys.stdout.write(format_comparison(comparison))
        sys.stdout.write(f"Written: {', '.join(str(p) for p in written)}\n")
        return EXIT_REGRESSION if comparison.regressions else EXIT_OK

    return run_command(build_parser(), argv, body)
