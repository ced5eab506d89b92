"""``summarize``: the figures agree with Locust's files, the JSON is written, the text is readable."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from analysis import fmt
from analysis.load import load_run
from analysis.summarize import format_summary, main, summarize

from .conftest import CopyRun, Runs

pytestmark = pytest.mark.slow  # reads the session's real Locust runs (subprocesses)


def _aggregated_row(prefix: Path) -> dict[str, str]:
    with prefix.with_name(prefix.name + "_stats.csv").open(newline="") as handle:
        return next(row for row in csv.DictReader(handle) if row["Name"] == "Aggregated")


def test_the_totals_are_locusts(runs: Runs) -> None:
    summary = summarize(load_run(runs.synthetic_full))
    row = _aggregated_row(runs.synthetic_full)
    totals, latency = summary["totals"], summary["latency_ms"]
    assert totals["requests"] == int(row["Request Count"])
    assert totals["failures"] == int(row["Failure Count"])
    assert totals["success_rate"] == pytest.approx(1 - totals["failures"] / totals["requests"], abs=1e-6)
    assert totals["requests_per_s"] == pytest.approx(float(row["Requests/s"]), abs=1e-3)
    assert latency["p95_ms"] == float(row["95%"])
    assert latency["avg_ms"] == pytest.approx(float(row["Average Response Time"]), abs=1e-3)
    assert totals["exceptions"] >= 0


def test_failures_are_grouped_by_error_with_their_kind(runs: Runs) -> None:
    summary = summarize(load_run(runs.synthetic_full))
    failures = {f["error"]: f for f in summary["failures"]}
    timeout = failures["ReplyTimeout('no complete reply within 5.0 s')"]
    assert timeout["kind"] == "server"
    assert len(timeout["names"]) >= 2
    assert all(name.startswith("WS ") for name in timeout["names"])
    assert failures["HandshakeRejected('handshake rejected: HTTP 401 Unauthorized')"]["names"] == [
        "CONNECT connect"
    ]
    assert sum(f["occurrences"] for f in summary["failures"]) == summary["totals"]["failures"]
    by_kind = summary["errors_by_kind"]
    assert sum(k["failures"] for k in by_kind.values()) == summary["totals"]["failures"]
    assert by_kind["unexpected"]["failures"] > 0


def test_the_per_name_table_has_every_name_and_its_kinds(runs: Runs) -> None:
    summary = summarize(load_run(runs.synthetic_full))
    rows = {(r["type"], r["name"]): r for r in summary["per_name"]}
    assert ("WS", "NA") in rows
    assert ("WS", 'order "status", eu') in rows
    connect = rows[("CONNECT", "connect")]
    assert connect["client_failures"] == connect["failures"]
    for row in rows.values():
        assert row["client_failures"] + row["server_failures"] + row["unexpected_failures"] == row["failures"]


def test_a_stepped_run_has_levels(runs: Runs) -> None:
    summary = summarize(load_run(runs.synthetic_full), min_level_seconds=1.5)
    assert [level["users"] for level in summary["levels"]] == [2, 4, 6]
    assert summary["run"]["full_history"] is True
    assert summary["run"]["peak_users"] == 6
    assert summary["chat"] is None


def test_wslocust_chat_statistics_are_summarized(runs: Runs) -> None:
    summary = summarize(load_run(runs.chatbot))
    chat = summary["chat"]
    assert chat is not None
    total = chat["total"]
    ws = sum(r["requests"] for r in summary["per_name"] if r["type"] == "WS")
    assert total["replies"] == pytest.approx(ws, abs=12)  # counted apart from Locust's
    assert 0 < total["ttft_p50_ms"] <= total["ttft_p95_ms"] <= total["ttft_p99_ms"]
    assert total["chunk_gap_p50_ms"] > 0
    assert {row["name"] for row in chat["per_name"]} == {
        r["name"] for r in summary["per_name"] if r["type"] == "WS"
    }
    run = load_run(runs.chatbot)
    assert run.chat_stats is not None
    metrics = {" ".join(c.split(" ")[1:-1]) for c in run.chat_stats.columns if c.startswith("metric ")}
    assert set(total["metrics"]) == metrics
    assert "Streaming, from wslocust" in format_summary(summary)


def test_a_plain_run_notes_what_is_estimated(runs: Runs) -> None:
    summary = summarize(load_run(runs.synthetic_plain))
    assert summary["chat"] is None
    notes = " ".join(summary["level_notes"])
    assert "no --csv-full-history" in notes
    assert "estimated" in notes


def test_a_zero_request_run_has_no_rates(runs: Runs) -> None:
    summary = summarize(load_run(runs.silent))
    assert summary["totals"]["requests"] == 0
    assert summary["totals"]["success_rate"] is None
    assert summary["latency_ms"]["avg_ms"] is None
    assert summary["latency_ms"]["p95_ms"] is None
    assert summary["per_name"] == []
    assert summary["failures"] == []
    text = format_summary(summary)
    assert "Requests     0" in text


def test_main_prints_the_summary_and_writes_json(
    runs: Runs, copy_run: CopyRun, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = copy_run(runs.synthetic_full)
    assert main([str(prefix)]) == 0
    out = capsys.readouterr().out
    for heading in (
        "Requests",
        "Latency ms",
        "Per name",
        "Failures by error",
        "Per users level",
    ):
        assert heading in out
    written = json.loads(prefix.with_name("run_summary.json").read_text())
    assert written["totals"]["requests"] > 0
    assert written == json.loads(json.dumps(written))  # plain JSON: no NaN


def test_main_can_write_json_to_stdout(runs: Runs, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(runs.silent), "-o", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["totals"]["requests"] == 0


def test_a_missing_history_is_one_line_and_exit_2(
    runs: Runs, copy_run: CopyRun, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = copy_run(runs.synthetic_plain, skip=("_stats_history.csv",))
    assert main([str(prefix)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"wslocust-analysis summarize: error: {prefix}_stats_history.csv: no such file "
        "(Locust writes it when run with --csv PREFIX)"
    ]


def test_the_chatbot_run_summarizes(runs: Runs, tmp_path: Path) -> None:
    assert main([str(runs.chatbot), "-q", "-o", str(tmp_path / "s.json")]) == 0
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["totals"]["requests"] > 0
    types = {row["type"] for row in summary["per_name"]}
    assert types == {"CONNECT", "WS"}
    assert all(f["kind"] == "server" for f in summary["failures"])  # the demo's BotError


def _chat_aggregated(prefix: Path) -> dict[str, str]:
    with prefix.with_name(prefix.name + "_chat_stats.csv").open(newline="") as handle:
        return next(row for row in csv.DictReader(handle) if row["Name"] == "Aggregated")


def test_the_headline_is_of_ws_replies_with_the_handshakes_apart(runs: Runs) -> None:
    summary = summarize(load_run(runs.chatbot))
    chat = _chat_aggregated(runs.chatbot)
    replies = summary["replies"]
    assert replies["requests"] == int(chat["Replies"])
    assert replies["failures"] == int(chat["Failures"])
    assert replies["requests_per_s"] == pytest.approx(float(chat["Replies/s"]))
    for key in ("avg", "p50", "p95", "p99", "max"):
        column = f"Latency {key.capitalize() if key in ('avg', 'max') else key} (ms)"
        assert replies["latency_ms"][f"{key}_ms"] == pytest.approx(float(chat[column]))
    with runs.chatbot.with_name("run_stats.csv").open(newline="") as handle:
        connect = next(row for row in csv.DictReader(handle) if row["Type"] == "CONNECT")
    handshakes = summary["handshakes"]
    assert handshakes["requests"] == int(connect["Request Count"]) > 0
    assert handshakes["failures"] == int(connect["Failure Count"])
    assert handshakes["avg_ms"] == pytest.approx(float(connect["Average Response Time"]), abs=1e-3)
    # Locust's all-request totals stay, and are the replies' plus the handshakes'
    row = _aggregated_row(runs.chatbot)
    assert summary["totals"]["requests"] == int(row["Request Count"])
    assert summary["latency_ms"]["avg_ms"] == pytest.approx(float(row["Average Response Time"]), abs=1e-3)
    assert summary["latency_ms"]["avg_ms"] < replies["latency_ms"]["avg_ms"]  # the handshakes pull it down
    text = format_summary(summary).splitlines()
    head = [line for line in text if line.startswith(("Replies (WS)", "Throughput", "Latency ms"))]
    assert head[0].startswith(f"Replies (WS) {int(chat['Replies'])}")
    assert "replies/s" in head[1]
    assert head[2].startswith(f"Latency ms   avg {fmt.ms(float(chat['Latency Avg (ms)']))}")
    assert any(line.startswith("Handshakes") and "CONNECT" in line for line in text)
    assert any(line.startswith("All requests") and "Locust's Aggregated" in line for line in text)
    assert "Per users level (WS replies, from wslocust's chat history)" in text
    assert any("handshakes apart" in line for line in summary["level_notes"])


def test_a_plain_run_keeps_the_headline_of_all_requests(runs: Runs) -> None:
    summary = summarize(load_run(runs.synthetic_full))
    assert summary["replies"] is None
    assert summary["handshakes"]["requests"] > 0  # the synthetic locustfile fires CONNECT requests
    text = format_summary(summary)
    assert "\nRequests     " in text
    assert "Replies (WS)" not in text
    assert "Per users level (all requests, from Locust's history)" in text
