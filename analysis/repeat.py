"""Run the same test N times and report each headline figure with its spread (min, median, max).

  repeat -n 3 -o results/base -- locust -f locustfiles/chatbot.py --headless -u 10 -t 1m
      runs the command 3 times, adding --csv results/base_1 (_2, _3), and writes
      results/base_repeat.json: each headline figure's values, min, median, max and spread
  repeat -o results/base --runs results/a results/b results/c
      the same from runs made already

The headline figures are those `compare` checks (replies/s, failure rate, latency p50/p95/p99,
first chunk p95, time per output token p95, goodput/s: of the WS replies when wslocust's chat
statistics are there) and, for capacity searches, the capacity found.

`compare BASE RUN` with two such sets (BASE_repeat.json and RUN_repeat.json) tells a regression
from noise: a figure regresses only when its median is worse than the baseline's by more than
--tolerance percent (--error-tolerance points for a rate) AND the two ranges do not overlap (the
run's best value is worse than the baseline's worst). A change inside the baseline's own spread
is noise, however large.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from .cli import EXIT_OK, EXIT_REGRESSION, PROG, add_common, run_command
from .compare import METRICS, REPLY_METRICS, Metric
from .errors import InputError
from .load import load_run
from .summarize import summarize

__all__ = ["HEADLINES", "REPEAT_SUFFIX", "compare_main", "compare_sets", "main", "spread_of"]

logger = logging.getLogger(__name__)

REPEAT_SUFFIX = "_repeat.json"

HEADLINES = (
    "requests_per_s", "error_rate", "p50_ms", "p95_ms", "p99_ms", "ttft_p95_ms", "tpot_p95_ms",
    "goodput_per_s",
)  # fmt: skip
"""The keys of :mod:`.compare`'s metrics reported with their spread."""

_CAPACITY = Metric(
    "capacity", "capacity found", "higher", False, lambda summary: summary.get("capacity"), str
)


def _capacity_of(prefix: Path) -> float | None:
    path = Path(f"{prefix}_capacity.json")
    if not path.exists():
        return None
    value = json.loads(path.read_text(encoding="utf-8")).get("capacity")
    return None if value is None else float(value)


def spread_of(prefixes: list[Path]) -> dict[str, Any]:
    """Each headline figure of the runs: their values, min, median, max, and spread (max - min over
    the median); the figures no run has are left out.

    Raises:
        InputError: a prefix without Locust's CSV files.
    """
    runs = [load_run(prefix) for prefix in prefixes]
    replies = all(run.chat_stats is not None for run in runs)
    metrics = {metric.key: REPLY_METRICS.get(metric.key, metric) if replies else metric for metric in METRICS}
    summaries = [summarize(run) for run in runs]
    figures: dict[str, Any] = {}
    for key in HEADLINES:
        metric = metrics[key]
        values = [metric.get(summary) for summary in summaries]
        figures[key] = values
    figures["capacity"] = [_capacity_of(run.prefix) for run in runs]
    result: dict[str, Any] = {"runs": [str(prefix) for prefix in prefixes], "figures": {}}
    for key, values in figures.items():
        found = [value for value in values if value is not None]
        if not found:
            continue
        median = statistics.median(found)
        metric = _CAPACITY if key == "capacity" else metrics[key]
        result["figures"][key] = {
            "title": metric.title,
            "better": metric.better,
            "points": metric.points,
            "values": values,
            "min": min(found),
            "median": median,
            "max": max(found),
            "spread": (max(found) - min(found)) / median if median else None,
        }
    return result


def format_spread(result: dict[str, Any]) -> str:
    """The spread as a table: a figure a line, min / median / max and the spread."""
    lines = [
        f"{len(result['runs'])} runs: {', '.join(result['runs'])}",
        f"{'figure':<28}{'min':>12}{'median':>12}{'max':>12}{'spread':>9}",
    ]
    for figure in result["figures"].values():
        spread = "" if figure["spread"] is None else f"{figure['spread']:.1%}"
        lines.append(
            f"{figure['title']:<28}{figure['min']:>12.4g}{figure['median']:>12.4g}{figure['max']:>12.4g}{spread:>9}"
        )
    return "\n".join(lines) + "\n"


def compare_sets(
    base: dict[str, Any], run: dict[str, Any], *, tolerance: float, error_tolerance: float
) -> list[dict[str, Any]]:
    """Compare two repeat sets figure by figure (the rule is in the module's docstring).

    Returns:
        One row a figure both sets have: ``key``, ``title``, ``base`` and ``run`` medians, ``change``
        (relative, or points for a rate), ``verdict``: ``regression``, ``noise`` (worse past the
        tolerance but within the spread), ``better`` or ``same``.
    """
    rows = []
    for key, before in base["figures"].items():
        after = run["figures"].get(key)
        if after is None or before["better"] is None:
            continue
        lower_better = before["better"] == "lower"
        if before["points"]:
            change = (after["median"] - before["median"]) * 100
            limit = error_tolerance
        else:
            change = (
                (after["median"] - before["median"]) / before["median"] * 100 if before["median"] else 0.0
            )
            limit = tolerance
        worse_by = change if lower_better else -change
        apart = after["min"] > before["max"] if lower_better else after["max"] < before["min"]
        if worse_by > limit:
            verdict = "regression" if apart else "noise"
        else:
            verdict = "better" if -worse_by > limit else "same"
        rows.append({"key": key, "title": before["title"], "base": before["median"], "run": after["median"],
                     "change": change, "points": before["points"], "verdict": verdict})  # fmt: skip
    return rows


def read_set(prefix: Path) -> dict[str, Any]:
    """A repeat set's ``PREFIX_repeat.json``.

    Raises:
        InputError: no such file, or not a repeat set.
    """
    path = Path(f"{prefix}{REPEAT_SUFFIX}")
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: not a repeat set ({error})") from None
    if not isinstance(result, dict) or "figures" not in result:
        raise InputError(f"{path}: not a repeat set (no figures)")
    return result


def format_sets(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'figure':<28}{'base median':>14}{'run median':>14}{'change':>10}  verdict"]
    for row in rows:
        change = f"{row['change']:+.1f}{' pts' if row['points'] else '%'}"
        lines.append(
            f"{row['title']:<28}{row['base']:>14.4g}{row['run']:>14.4g}{change:>10}  {row['verdict']}"
        )
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``repeat``."""
    parser = argparse.ArgumentParser(
        prog=f"{PROG} repeat", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "-n", "--times", type=int, default=3, metavar="N", help="runs of the command (default 3)"
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="PREFIX",
        help="prefix of the set: its runs PREFIX_1..N (each command gets --csv PREFIX_i), PREFIX_repeat.json",
    )
    parser.add_argument(
        "--runs", nargs="+", type=Path, metavar="RUN", help="runs made already, instead of a command"
    )
    parser.add_argument(
        "command", nargs=argparse.REMAINDER, help="-- the Locust command line (without --csv)"
    )
    add_common(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``repeat``: the command N times (or read ``--runs``), then write and print the spread."""

    def body(args: argparse.Namespace) -> int:
        command = [part for part in args.command if part != "--"] if args.command else []
        if args.runs and command:
            raise InputError("give either --runs or a command after --, not both")
        if args.runs:
            prefixes = list(args.runs)
        elif command:
            if args.times < 1:
                raise InputError(f"-n must be 1 or more, got {args.times}")
            prefixes = []
            for index in range(1, args.times + 1):
                prefix = Path(f"{args.output}_{index}")
                logger.info("run %d of %d: %s", index, args.times, prefix)
                done = subprocess.run([*command, "--csv", str(prefix)], check=False)
                if done.returncode not in (0, 1):  # 1: a gate or a failure count, still a result
                    raise InputError(f"run {index} exited {done.returncode}: {' '.join(command)}")
                prefixes.append(prefix)
        else:
            raise InputError("give the command to repeat after --, or --runs")
        result = spread_of(prefixes)
        path = Path(f"{args.output}{REPEAT_SUFFIX}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        sys.stdout.write(format_spread(result))
        sys.stdout.write(f"Written: {path}\n")
        return EXIT_OK

    return run_command(build_parser(), argv, body)


def compare_main(base: Path, run: Path, tolerance: float, error_tolerance: float) -> int:
    """``compare BASE RUN`` of two repeat sets: print the table, exit 1 on a regression."""
    rows = compare_sets(read_set(base), read_set(run), tolerance=tolerance, error_tolerance=error_tolerance)
    sys.stdout.write(format_sets(rows))
    return EXIT_REGRESSION if any(row["verdict"] == "regression" for row in rows) else EXIT_OK
