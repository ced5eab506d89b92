"""Helpers of the outputs tests: a small run's statistics, a CSV file read back."""

from __future__ import annotations

import csv
import random
from pathlib import Path

from wslocust.errors import MetricFailure, ReplyTimeout, WsLocustError
from wslocust.stats import ChatStats

from ..conftest import make_reply

DURATION_S = 20.0


def run_stats(seed: int = 3) -> ChatStats:
    """A small run: three names, timings spread over seconds, failures, metrics and connects."""
    rng = random.Random(seed)
    stats = ChatStats()
    for index in range(300):
        name = ("shipping", "billing", "greeting")[index % 3]
        first = rng.uniform(5.0, 900.0)
        times = (first, first + rng.uniform(1.0, 80.0), first + rng.uniform(90.0, 300.0))
        recall = rng.choice((0.0, 0.5, 1.0))
        error: WsLocustError | None = None
        missed: list[str] = []
        if index % 17 == 0:
            error = ReplyTimeout("slow")
        elif recall == 0.0:
            error, missed = MetricFailure("metric failed: recall=0"), ["recall"]
        scores = {} if isinstance(error, ReplyTimeout) else {"recall": recall}
        stats.record(
            make_reply(
                name,
                total_time_ms=times[-1] + rng.uniform(0.0, 20.0),
                chunk_times_ms=times,
                text=" ".join(["word"] * rng.randint(1, 30)),
                error=error,
                started_at=1_000.0 + index * 0.05,
                scores=scores,
                missed=missed,
            )
        )
    stats.connects.add(12.0, None)
    stats.connects.add(18.0, None)
    stats.connects.add(3.0, "connection_refused")
    stats.connects.add(4.0, "handshake_rejected")
    return stats


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        return list(reader.fieldnames or []), list(reader)
