"""``compare``: side by side, regressions past the tolerance, exit 1 for CI, overlaid figures."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from analysis.compare import compare_runs, format_comparison, main
from analysis.load import load_run
from analysis.summarize import summarize

from .conftest import CopyRun, Runs

pytestmark = pytest.mark.slow  # reads the session's real Locust runs (subprocesses)


def _slow_down(prefix: Path, factor: float) -> None:
    """Multiply every latency of ``_stats.csv`` by ``factor`` (a slower candidate)."""
    path = prefix.with_name(prefix.name + "_stats.csv")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    fields = list(rows[0])
    latency = [f for f in fields if f.endswith("%") or "Response Time" in f]
    for row in rows:
        for field in latency:
            if row[field] != "N/A":
                row[field] = str(float(row[field]) * factor)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fields)
        writer.writeheader()
        writer.writerows(rows)


def test_a_run_compared_with_itself_has_no_regression(runs: Runs) -> None:
    summary = summarize(load_run(runs.chatbot))
    comparison = compare_runs([summary, summary], ["a", "b"])
    assert comparison.regressions == []
    keys = [row.key for row in comparison.rows]
    assert keys[:4] == ["requests", "requests_per_s", "error_rate", "client_error_rate"]
    assert "p95_ms" in keys
    assert "ttft_p95_ms" in keys
    assert "No regression." in format_comparison(comparison)


def test_slower_latency_past_the_tolerance_is_a_regression(runs: Runs) -> None:
    base = summarize(load_run(runs.synthetic_full))
    slower = json.loads(json.dumps(base))
    slower["latency_ms"]["p95_ms"] = base["latency_ms"]["p95_ms"] * 1.15
    slower["latency_ms"]["p50_ms"] = base["latency_ms"]["p50_ms"] * 1.05
    comparison = compare_runs([base, slower], ["base", "new"], tolerance=10)
    assert [(label, row.key) for label, row in comparison.regressions] == [("new", "p95_ms")]
    assert comparison.to_json()["regressions"] == [{"run": "new", "metric": "p95_ms"}]
    assert compare_runs([base, slower], ["base", "new"], tolerance=20).regressions == []


def test_error_rates_use_percentage_points_and_throughput_must_not_fall(runs: Runs) -> None:
    base = summarize(load_run(runs.synthetic_full))
    worse = json.loads(json.dumps(base))
    worse["totals"]["error_rate"] = base["totals"]["error_rate"] + 0.015
    worse["totals"]["requests_per_s"] = base["totals"]["requests_per_s"] * 0.8
    keys = {row.key for _, row in compare_runs([base, worse], ["b", "w"], error_tolerance=1.0).regressions}
    assert keys == {"error_rate", "requests_per_s"}
    keys = {row.key for _, row in compare_runs([base, worse], ["b", "w"], error_tolerance=2.0).regressions}
    assert keys == {"requests_per_s"}


def test_per_name_rows_are_checked_on_request(runs: Runs) -> None:
    base = summarize(load_run(runs.synthetic_full))
    worse = json.loads(json.dumps(base))
    billing = next(r for r in worse["per_name"] if r["name"] == "billing")
    billing["p95_ms"] *= 2
    assert compare_runs([base, worse], ["b", "w"]).regressions == []
    regressions = compare_runs([base, worse], ["b", "w"], per_name=True).regressions
    assert [row.key for _, row in regressions] == ["WS billing: p95_ms"]


def test_main_exits_1_on_a_regression_and_writes_table_and_figures(
    runs: Runs, copy_run: CopyRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = copy_run(runs.synthetic_plain, "base")
    slow = copy_run(runs.synthetic_plain, "slow")
    _slow_down(slow, 1.5)
    out = tmp_path / "cmp"
    assert main([str(base), str(slow), "-o", str(out)]) == 1
    text = capsys.readouterr().out
    assert "WORSE" in text
    assert "regression(s):" in text
    assert "slow: p95 ms (+50.0 %)" in text
    data = json.loads((out / "comparison.json").read_text())
    assert data["baseline"] == "base"
    assert data["runs"] == ["base", "slow"]
    assert {"run": "slow", "metric": "p95_ms"} in data["regressions"]
    with (out / "comparison.csv").open() as handle:
        assert next(csv.reader(handle)) == ["metric", "base", "slow", "change slow"]
    assert (out / "levels.png").stat().st_size > 20_000
    assert (out / "timeseries.png").stat().st_size > 20_000


def test_main_exits_0_without_regression(
    runs: Runs, copy_run: CopyRun, capsys: pytest.CaptureFixture[str]
) -> None:
    base = copy_run(runs.chatbot, "base")
    again = copy_run(runs.chatbot, "again")
    assert main([str(base), str(again), "--no-plots"]) == 0
    assert "No regression." in capsys.readouterr().out
    directory = base.parent / "compare_base_vs_again"
    assert sorted(p.name for p in directory.iterdir()) == ["comparison.csv", "comparison.json"]


def test_runs_with_the_same_name_get_distinct_labels(
    runs: Runs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = [str(runs.synthetic_full), str(runs.synthetic_plain), "--no-plots", "-o", str(tmp_path)]
    assert main([*arguments, "--tolerance", "1000", "--error-tolerance", "100"]) == 0
    header = capsys.readouterr().out.splitlines()[1]
    assert "synthetic_full/run (baseline)" in header
    assert "synthetic_plain/run" in header


def test_a_bad_run_is_exit_2(runs: Runs, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(runs.synthetic_full), str(tmp_path / "missing"), "-o", str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def _slow_down_replies(prefix: Path, factor: float) -> None:
    """Multiply the latencies and times to first chunk of wslocust's ``_chat_stats.csv`` only."""
    path = prefix.with_name(prefix.name + "_chat_stats.csv")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    fields = list(rows[0])
    timings = [f for f in fields if f.startswith(("Latency ", "TTFT "))]
    for row in rows:
        for field in timings:
            if row[field] not in {"", "N/A"}:
                row[field] = str(float(row[field]) * factor)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fields)
        writer.writeheader()
        writer.writerows(rows)


def test_chat_runs_are_compared_on_the_ws_replies(
    runs: Runs, copy_run: CopyRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = copy_run(runs.chatbot, "base")
    slow = copy_run(runs.chatbot, "slow")
    _slow_down_replies(slow, 1.3)  # Locust's _stats.csv untouched: all requests alike
    out = tmp_path / "cmp"
    assert main([str(base), str(slow), "-o", str(out), "--no-plots"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert "on WS replies" in lines[0]
    assert lines[1].lstrip().startswith("Metric (WS replies)")
    assert any(line.lstrip().startswith("replies/s") for line in lines)
    data = json.loads((out / "comparison.json").read_text())
    assert data["basis"] == "ws_replies"
    regressed = {item["metric"] for item in data["regressions"]}
    assert {"avg_ms", "p50_ms", "p95_ms", "p99_ms", "ttft_p95_ms"} <= regressed
    assert not regressed & {"requests_per_s", "error_rate"}
    replies = summarize(load_run(base))["replies"]
    p95 = next(m for m in data["metrics"] if m["key"] == "p95_ms")
    assert p95["values"]["base"] == pytest.approx(replies["latency_ms"]["p95_ms"])
    assert p95["changes"]["slow"] == pytest.approx(0.3, abs=0.01)
    errors = next(m for m in data["metrics"] if m["key"] == "error_rate")
    assert errors["title"] == "failure rate"
    assert errors["values"]["base"] == pytest.approx(replies["error_rate"])


def test_ws_reply_regressions_are_missed_on_all_requests_only_when_a_run_lacks_chat_files(
    runs: Runs, copy_run: CopyRun, capsys: pytest.CaptureFixture[str]
) -> None:
    base = copy_run(runs.chatbot, "base")
    plain = copy_run(runs.chatbot, "plain", skip=("_chat_stats.csv", "_chat_stats_history.csv"))
    assert main([str(base), str(plain), "--no-plots"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "Locust's totals of all requests (WS + CONNECT): plain without wslocust's" in lines[0]
    assert lines[1].lstrip().startswith("Metric (all requests)")
    summaries = [summarize(load_run(base)), summarize(load_run(plain))]
    comparison = compare_runs(summaries, ["base", "plain"])
    assert comparison.basis == "all_requests"
    p95 = next(row for row in comparison.rows if row.key == "p95_ms")
    assert p95.values[0] == summaries[0]["latency_ms"]["p95_ms"]
    assert compare_runs(summaries[:1] * 2, ["a", "b"]).basis == "ws_replies"


def test_plain_locust_runs_stay_on_all_requests(runs: Runs) -> None:
    summary = summarize(load_run(runs.synthetic_full))
    comparison = compare_runs([summary, summary], ["a", "b"])
    assert comparison.basis == "all_requests"
    assert comparison.to_json()["basis_note"] == "Locust's totals of all requests (WS + CONNECT)"
    assert [row.title for row in comparison.rows][:3] == ["requests", "requests/s", "error rate"]
