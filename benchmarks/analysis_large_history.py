"""How long `wslocust-analysis summarize` takes on a 24-hour run recorded with --csv-full-history.

Generates, in a temporary directory, the CSV files Locust 2.4x would write for a day-long stepped
run sampled every second with 20 request names (``_stats_history.csv``: 86,400 seconds x 21 rows,
about 1.8 million rows, ~250 MB), then times reading them and building the summary (what the
``summarize`` command does before printing), and prints the figures::

    .venv/bin/python benchmarks/analysis_large_history.py [--seconds 86400] [--names 20] [--repeat 3] [--all]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis.load import load_run  # noqa: E402
from analysis.summarize import main as summarize_command  # noqa: E402
from analysis.summarize import summarize  # noqa: E402

__all__ = ["generate", "main"]

PERCENTILES = ["50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%"]
START = 1_700_000_000


def _history(seconds: int, names: list[str], rng: np.random.Generator) -> pd.DataFrame:
    """One block of rows per name (then Aggregated), with Locust's columns and running totals."""
    timestamps = START + np.arange(seconds)
    users = np.minimum(10 * (np.arange(seconds) // 3600 + 1), 240)
    blocks = []
    totals = {"count": np.zeros(seconds), "failures": np.zeros(seconds), "time": np.zeros(seconds)}
    for name in [*names, "Aggregated"]:
        if name == "Aggregated":
            count, failures, spent = totals["count"], totals["failures"], totals["time"]
        else:
            per_second = rng.poisson(users / 10.0)
            latency = 150.0 + users * rng.uniform(0.5, 1.5, seconds)
            count = np.cumsum(per_second).astype(float)
            failures = np.cumsum(rng.binomial(per_second, 0.01)).astype(float)
            spent = np.cumsum(per_second * latency)
            totals["count"] += count
            totals["failures"] += failures
            totals["time"] += spent
        average = np.divide(spent, count, out=np.zeros(seconds), where=count > 0)
        block: dict[str, Any] = {
            "Timestamp": timestamps,
            "User Count": users,
            "Type": "" if name == "Aggregated" else "WS",
            "Name": name,
            "Requests/s": np.round(np.diff(count, prepend=0.0), 6),
            "Failures/s": np.round(np.diff(failures, prepend=0.0), 6),
        }
        window = (average * rng.uniform(0.9, 1.1, seconds)).astype(int)
        for index, column in enumerate(PERCENTILES):
            block[column] = window + 10 * index
        block |= {
            "Total Request Count": count.astype(int),
            "Total Failure Count": failures.astype(int),
            "Total Median Response Time": average.astype(int),
            "Total Average Response Time": np.round(average, 6),
            "Total Min Response Time": 120.0,
            "Total Max Response Time": np.maximum.accumulate(window + 200),
            "Total Average Content Size": 512.0,
        }
        blocks.append(pd.DataFrame(block))
    return pd.concat(blocks).sort_values("Timestamp", kind="stable")


def generate(directory: Path, seconds: int, name_count: int) -> Path:
    """Write a run's CSV files as Locust would; returns the ``--csv`` prefix."""
    rng = np.random.default_rng(7)
    prefix = directory / "day"
    names = [f"intent_{index:02d}" for index in range(name_count)]
    history = _history(seconds, names, rng)
    history.to_csv(f"{prefix}_stats_history.csv", index=False)
    last = history.groupby("Name", sort=False).tail(1).set_index("Name")
    stats = pd.DataFrame(
        {
            "Type": ["WS"] * name_count + [""],
            "Name": [*names, "Aggregated"],
            "Request Count": last["Total Request Count"].to_numpy(),
            "Failure Count": last["Total Failure Count"].to_numpy(),
            "Median Response Time": last["Total Median Response Time"].to_numpy(),
            "Average Response Time": last["Total Average Response Time"].to_numpy(),
            "Min Response Time": 120.0,
            "Max Response Time": last["Total Max Response Time"].to_numpy(),
            "Average Content Size": 512.0,
            "Requests/s": last["Total Request Count"].to_numpy() / seconds,
            "Failures/s": last["Total Failure Count"].to_numpy() / seconds,
        }
    )
    for column in PERCENTILES:
        stats[column] = last[column].to_numpy()
    stats.to_csv(f"{prefix}_stats.csv", index=False)
    stamp = pd.Timestamp(START, unit="s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    end = pd.Timestamp(START + seconds - 1, unit="s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    errors = [
        "ReplyTimeout('no complete reply within 60.0 s')",
        "BotError('bot reported an error: model overloaded, try again')",
        "ProtocolError('unreadable message')",
    ]
    counts = stats["Failure Count"].to_numpy(dtype=int)
    failures = [
        ["WS", name, errors[index % 3], int(counts[index]), stamp, end] for index, name in enumerate(names)
    ]
    pd.DataFrame(
        failures, columns=["Method", "Name", "Error", "Occurrences", "First Seen", "Last Seen"]
    ).to_csv(f"{prefix}_failures.csv", index=False)
    Path(f"{prefix}_exceptions.csv").write_text("Count,Message,Traceback,Nodes\n")
    return prefix


def main(argv: list[str] | None = None) -> int:
    """Generate the run, time `summarize` on it, print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=86_400, help="length of the run (default: 24 h)")
    parser.add_argument("--names", type=int, default=20, help="request names (default 20)")
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions (default 3)")
    parser.add_argument("--all", action="store_true", help="also time the plot and report commands")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temporary:
        started = time.perf_counter()
        prefix = generate(Path(temporary), args.seconds, args.names)
        history = Path(f"{prefix}_stats_history.csv")
        rows = sum(1 for _ in history.open()) - 1
        size_mb = history.stat().st_size / 1e6
        sys.stdout.write(
            f"generated {rows:,} history rows ({size_mb:.0f} MB) in {time.perf_counter() - started:.1f} s\n"
        )
        timings = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            run = load_run(prefix)
            loaded = time.perf_counter()
            summary = summarize(run)
            done = time.perf_counter()
            timings.append((loaded - started, done - loaded, done - started))
        started = time.perf_counter()
        summarize_command([str(prefix), "--quiet", "-o", f"{temporary}/summary.json"])
        command = time.perf_counter() - started
        best = min(timings, key=lambda t: t[2])
        sys.stdout.write(
            f"summarize: {best[2]:.2f} s (read CSVs {best[0]:.2f} s + summary {best[1]:.2f} s), "
            f"best of {args.repeat}; {len(summary['levels'])} users levels, "
            f"{summary['totals']['requests']:,} requests\n"
            f"the whole command (read, summarize, write JSON): {command:.2f} s\n"
        )
        if args.all:
            from analysis.plot import main as plot_command
            from analysis.report import main as report_command

            for title, command_main, output in (
                ("plot", plot_command, temporary),
                ("report", report_command, f"{temporary}/report.html"),
            ):
                started = time.perf_counter()
                with contextlib.redirect_stdout(io.StringIO()):
                    command_main([str(prefix), "-o", output])
                sys.stdout.write(f"{title}: {time.perf_counter() - started:.2f} s\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
