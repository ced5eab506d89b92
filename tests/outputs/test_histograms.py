"""The per-second histograms file: beside the history CSV, raw enough to recompute its percentiles."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from wslocust.errors import BotError
from wslocust.outputs import HistoryWriter
from wslocust.stats import ChatStats

from ..conftest import make_reply
from .conftest import read_csv, run_stats


def nearest_rank(histogram: dict[str, Any], fraction: float) -> float:
    """A percentile as docs/outputs.md says to compute it from a histogram's JSON object."""
    rank = max(1, math.ceil(fraction * histogram["count"]))
    if rank == 1:
        return float(histogram["min"])
    if rank >= histogram["count"]:
        return float(histogram["max"])
    seen = 0
    for value, number in histogram["bins"]:
        seen += number
        if seen >= rank:
            return float(min(max(value, histogram["min"]), histogram["max"]))
    raise AssertionError("the bins hold fewer values than the count")


def write_history(tmp_path: Path, stats: ChatStats, users: dict[int, int]) -> tuple[Path, Path]:
    path = tmp_path / "run_chat_stats_history.csv"
    writer = HistoryWriter(path)
    writer.write(stats.take_seconds(), users)
    writer.close()
    return path, tmp_path / "run_chat_histograms.jsonl"


def test_the_histograms_have_a_line_a_name_and_second_of_the_successful_replies(tmp_path: Path) -> None:
    stats = ChatStats()
    stats.record(make_reply("b", started_at=500.1, total_time_ms=100.0))
    stats.record(make_reply("a", started_at=500.2, total_time_ms=200.0))
    stats.record(make_reply("a", started_at=500.3, total_time_ms=300.0, error=BotError("x")))
    stats.record(make_reply("a", started_at=501.0, total_time_ms=50.0))

    _, histograms = write_history(tmp_path, stats, {500: 4, 501: 6})

    lines = [json.loads(line) for line in histograms.read_text(encoding="utf-8").splitlines()]
    assert [(line["time"], line["name"], line["users"]) for line in lines] == [
        (500, "a", 4),
        (500, "b", 4),
        (501, "a", 6),
    ]
    latency = lines[0]["latency_ms"]
    assert latency == {"count": 1, "sum": 200.0, "min": 200.0, "max": 200.0, "bins": [[200.0, 1]]}
    assert set(lines[0]) == {
        "time",
        "name",
        "users",
        "latency_ms",
        "time_to_first_chunk_ms",
        "chunk_gap_ms",
        "time_per_output_token_ms",
        "output_tokens_per_second_per_reply",
    }


def test_the_histograms_give_back_each_seconds_percentiles_of_the_history(tmp_path: Path) -> None:
    history, histograms = write_history(tmp_path, run_stats(), {})

    _, rows = read_csv(history)
    by_second: dict[tuple[int, str], dict[str, Any]] = {}
    for line in map(json.loads, histograms.read_text(encoding="utf-8").splitlines()):
        by_second[(line["time"], line["name"])] = line
        assert sum(number for _, number in line["latency_ms"]["bins"]) == line["latency_ms"]["count"]
    named = [row for row in rows if row["Name"] != "Aggregated" and row["Latency p95 (ms)"]]
    assert len(named) > 10
    for row in named:
        line = by_second[(int(row["Timestamp"]), row["Name"])]
        for fraction, column in (
            (0.5, "Latency p50 (ms)"),
            (0.95, "Latency p95 (ms)"),
            (1.0, "Latency Max (ms)"),
        ):
            assert round(nearest_rank(line["latency_ms"], fraction), 2) == float(row[column])
        assert round(nearest_rank(line["time_to_first_chunk_ms"], 0.99), 2) == float(row["TTFT p99 (ms)"])


def test_a_history_file_not_named_as_a_runs_has_no_histograms_beside_it(tmp_path: Path) -> None:
    writer = HistoryWriter(tmp_path / "history.csv")
    writer.close()
    assert [path.name for path in tmp_path.iterdir()] == ["history.csv"]
