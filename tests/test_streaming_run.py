"""Streaming figures and SLOs in a real headless run against the embedded demo bot, whose time to
first chunk, gap between chunks and chunk count are set: the figures must be what it was told."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import UNIT
from .test_locust_run import read_rows, run_locust
from .test_startup_run import assert_one_clear_error, run_in

TTFT_MS, ITL_MS, CHUNKS = 60.0, 20.0, 6
"""The demo bot's schedule: chunk i (from 0) is due ``TTFT_MS + i * ITL_MS`` after the prompt came."""

LATE_MS = 25.0 * UNIT
"""How much later than due a chunk may reach the client on a loaded machine (loopback, one process)."""


@pytest.mark.slow
def test_a_run_writes_ttft_itl_tpot_e2e_and_goodput_with_slos_as_the_demo_bot_streamed(
    tmp_path: Path,
) -> None:
    prefix, summary_path = tmp_path / "run", tmp_path / "summary.json"
    result = run_locust(
        "--headless", "-u", "3", "-r", "3", "-t", "4s", "--think-time", "0", "--stop-timeout", "5",
        "--csv", str(prefix), "--summary-json", str(summary_path), "--tokens", "chunks",
        "--demo-ttft-ms", str(TTFT_MS), "--demo-itl-ms", str(ITL_MS), "--demo-chunks", str(CHUNKS),
        "--demo-error-rate", "0", "--demo-wrong-rate", "0",
        "--slo", "ttft:10000", "--slo", "e2e:60000", "--slo", "tpot:1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(summary_path.read_text())
    replies = summary["successful_requests"]
    assert replies == summary["total_requests"] > 20

    ttft, gap, tpot, e2e = (summary[key] for key in (
        "time_to_first_chunk_ms", "chunk_gap_ms", "time_per_output_token_ms", "latency_ms"))  # fmt: skip
    assert TTFT_MS <= ttft["median"] <= TTFT_MS + LATE_MS
    assert ITL_MS - LATE_MS / 2 <= gap["p50"] <= ITL_MS + LATE_MS
    # one token a chunk: TPOT is (E2E - TTFT) / (CHUNKS - 1), the mean gap, and 1000 / TPOT tokens/s
    assert ITL_MS - LATE_MS / (CHUNKS - 1) <= tpot["median"] <= ITL_MS + LATE_MS
    rate = summary["output_tokens_per_second_per_reply_p50"]
    assert 1000.0 / (ITL_MS + LATE_MS) <= rate <= 1000.0 / (ITL_MS - LATE_MS / (CHUNKS - 1))
    assert TTFT_MS + (CHUNKS - 1) * ITL_MS <= e2e["median"] <= TTFT_MS + (CHUNKS - 1) * ITL_MS + 2 * LATE_MS
    for section in (ttft, gap, tpot, e2e):
        assert {"avg", "p90", "p95", "p99", "max", "min"} <= set(section)
        assert section["min"] <= section["p90"] <= section["p95"] <= section["p99"] <= section["max"]
    assert tpot["min"] <= tpot["avg"] <= tpot["max"]

    # every reply met TTFT and E2E and missed TPOT 1 ms: no goodput
    assert summary["slos"] == {
        "ttft": {"limit_ms": 10000.0, "missed": 0, "met": replies},
        "e2e": {"limit_ms": 60000.0, "missed": 0, "met": replies},
        "tpot": {"limit_ms": 1.0, "missed": replies, "met": 0},
    }
    assert (summary["goodput"], summary["goodput_per_second"], summary["goodput_share"]) == (0, 0.0, 0.0)

    (aggregated,) = [row for row in read_rows(tmp_path / "run_chat_stats.csv") if row["Name"] == "Aggregated"]
    assert float(aggregated["TPOT p50 (ms)"]) == pytest.approx(tpot["median"], abs=0.01)
    assert float(aggregated["Chunk Gap p95 (ms)"]) == pytest.approx(gap["p95"], abs=0.01)
    assert float(aggregated["Output Tokens/s Max (per reply)"]) > 0
    assert (aggregated["Goodput"], aggregated["Goodput Share"], aggregated["tpot Missed"]) == (
        "0",
        "0.0",
        str(replies),
    )
    history = [
        row for row in read_rows(tmp_path / "run_chat_stats_history.csv") if row["Name"] == "Aggregated"
    ]
    assert all(float(row["TTFT p50 (ms)"]) >= TTFT_MS for row in history if row["TTFT p50 (ms)"])
    assert any(row["TPOT p95 (ms)"] for row in history)
    lines = [json.loads(line) for line in (tmp_path / "run_chat_histograms.jsonl").read_text().splitlines()]
    assert sum(line["time_per_output_token_ms"]["count"] for line in lines) == replies
    assert sum(line["chunk_gap_ms"]["count"] for line in lines) == replies * (CHUNKS - 1)
    assert "TPOT p50" in result.stderr + result.stdout  # the end-of-run table


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--slo", "itl:800"], ["--slo", "'itl:800'", "ttft, tpot, e2e"]),
        (["--slo", "ttft:-5"], ["--slo", "'ttft:-5'"]),
        (["--slo", "tpot:nan"], ["--slo", "'tpot:nan'"]),
        (["--slo", "e2e"], ["--slo", "'e2e'"]),
        (["--slo", "ttft:800", "--slo", "ttft:900"], ["--slo ttft is given twice"]),
    ],
)
def test_a_bad_slo_stops_the_run_at_start_up_naming_the_option(
    tmp_path: Path, args: list[str], needles: list[str]
) -> None:
    result = run_in(tmp_path, *args)
    assert_one_clear_error(result, *needles)
    assert list(tmp_path.iterdir()) == []
