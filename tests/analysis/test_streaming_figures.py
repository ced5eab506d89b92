"""analysis reads the streaming figures (TPOT, goodput share, the new histograms) of wslocust's files,
and still reads the files of versions before them (docs/metrics.md)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from analysis.errors import InputError
from analysis.histograms import read_histograms
from analysis.load import load_run
from analysis.summarize import format_summary, summarize

from .conftest import CopyRun, Runs

LATER_COLUMNS_FROM = "Latency p90 (ms)"
"""The first ``_chat_stats.csv`` column of the streaming figures: those from it on are new."""


def _aggregated(path: Path) -> dict[str, str]:
    with path.open(newline="") as handle:
        return next(row for row in csv.DictReader(handle) if row["Name"] == "Aggregated")


@pytest.mark.slow
def test_summarize_gives_tpot_and_the_goodput_share_the_chat_stats_give(runs: Runs) -> None:
    row = _aggregated(runs.chatbot.with_name(runs.chatbot.name + "_chat_stats.csv"))
    summary = summarize(load_run(runs.chatbot))
    total = summary["chat"]["total"]

    assert total["tpot_p50_ms"] > 0
    assert total["tpot_p50_ms"] == pytest.approx(float(row["TPOT p50 (ms)"]))
    assert total["tpot_p99_ms"] == pytest.approx(float(row["TPOT p99 (ms)"]))
    assert total["reply_tokens_per_s_max"] == pytest.approx(float(row["Output Tokens/s Max (per reply)"]))
    assert total["goodput_share"] > 0
    assert total["goodput_share"] == pytest.approx(float(row["Goodput Share"]))
    assert "TPOT p50" in format_summary(summary)


@pytest.mark.slow
def test_a_chat_stats_file_of_an_earlier_version_reads_with_the_later_figures_missing(
    runs: Runs, copy_run: CopyRun
) -> None:
    prefix = copy_run(runs.chatbot)
    path = prefix.with_name(prefix.name + "_chat_stats.csv")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or [])
        rows = list(reader)
    earlier = header[: header.index(LATER_COLUMNS_FROM)]  # no metric column either: an old run's
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, earlier, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)

    total = summarize(load_run(prefix))["chat"]["total"]

    assert total["ttft_p50_ms"] > 0
    assert (total["tpot_p50_ms"], total["goodput_share"]) == (None, None)


def _line(**fields: object) -> str:
    histogram = {"count": 1, "sum": 20.0, "min": 20.0, "max": 20.0, "bins": [[20.0, 1]]}
    return json.dumps({"time": 100, "name": "a", "users": 1, **{name: histogram for name in fields}}) + "\n"


def test_a_histograms_line_of_an_earlier_version_reads_with_empty_tpot_and_token_rate(tmp_path: Path) -> None:
    path = tmp_path / "run_chat_histograms.jsonl"
    path.write_text(_line(latency_ms=1, time_to_first_chunk_ms=1, chunk_gap_ms=1))

    seconds = read_histograms(path)

    assert seconds is not None
    assert seconds[100]["chunk_gap_ms"].percentile(0.5) == 20.0
    assert seconds[100]["time_per_output_token_ms"].count == 0
    assert seconds[100]["output_tokens_per_second_per_reply"].count == 0


def test_a_histograms_line_lacking_an_original_field_is_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "run_chat_histograms.jsonl"
    path.write_text(_line(latency_ms=1, time_to_first_chunk_ms=1, time_per_output_token_ms=1))

    with pytest.raises(InputError, match=r"run_chat_histograms\.jsonl"):
        read_histograms(path)
