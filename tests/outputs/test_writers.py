"""What the statistics become: the stats CSV, the history CSV, failed pairs, the summary, the table."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

from wslocust.errors import BotError, MetricFailure, ReplyTimeout, WsLocustError
from wslocust.outputs import (
    HISTORY_COLUMNS,
    STATS_COLUMNS,
    FailedPairsWriter,
    HistoryWriter,
    format_table,
    metric_columns,
    public_url,
    stats_rows,
    summary,
    write_stats_csv,
)
from wslocust.stats import ChatStats, ReplyStats

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


# --- write_stats_csv -----------------------------------------------------------------------------


def test_stats_csv_has_stats_columns_then_metric_columns(tmp_path: Path) -> None:
    path = tmp_path / "run_chat_stats.csv"

    write_stats_csv(path, run_stats(), DURATION_S)

    columns, _ = read_csv(path)
    assert columns == STATS_COLUMNS + metric_columns(["recall"])
    assert columns[-4:] == ["recall Mean", "recall Min", "recall Missed", "recall Errors"]


def test_stats_csv_has_one_row_a_name_sorted_then_aggregated(tmp_path: Path) -> None:
    path = tmp_path / "run_chat_stats.csv"

    write_stats_csv(path, run_stats(), DURATION_S)

    _, rows = read_csv(path)
    assert [row["Name"] for row in rows] == ["billing", "greeting", "shipping", "Aggregated"]


def test_stats_csv_values_match_the_statistics(tmp_path: Path) -> None:
    stats = run_stats()
    path = tmp_path / "run_chat_stats.csv"

    write_stats_csv(path, stats, DURATION_S)

    _, rows = read_csv(path)
    by_name = {row["Name"]: row for row in rows}
    for name, expected in [*stats.by_name.items(), ("Aggregated", stats.total)]:
        row = by_name[name]
        assert int(row["Replies"]) == expected.replies
        assert int(row["Failures"]) == expected.failures
        assert int(row["Goodput"]) == expected.good
        assert float(row["Replies/s"]) == round(expected.replies / DURATION_S, 2)
        assert float(row["TTFT p95 (ms)"]) == round(expected.ttft.percentile(0.95), 2)
        assert float(row["Latency p99 (ms)"]) == round(expected.latency.percentile(0.99), 2)
        assert float(row["Latency Max (ms)"]) == round(expected.latency.maximum, 2)
        assert float(row["Failure Rate"]) == round(expected.failures / expected.replies, 4)
        assert float(row["Chunk Gap p50 (ms)"]) == round(expected.gap.percentile(0.5), 2)
        recall = expected.metrics["recall"]
        assert float(row["recall Mean"]) == round(recall.mean, 4)
        assert float(row["recall Min"]) == 0.0
        assert int(row["recall Missed"]) == recall.missed
        assert int(row["recall Errors"]) == 0


def test_stats_csv_aggregated_row_counts_every_reply(tmp_path: Path) -> None:
    path = tmp_path / "run_chat_stats.csv"

    write_stats_csv(path, run_stats(), DURATION_S)

    _, rows = read_csv(path)
    *names, aggregated = rows
    assert int(aggregated["Replies"]) == sum(int(row["Replies"]) for row in names) == 300
    assert int(aggregated["Failures"]) == sum(int(row["Failures"]) for row in names)


def test_stats_csv_leaves_cells_empty_where_there_is_nothing_to_measure(tmp_path: Path) -> None:
    stats = ChatStats()
    stats.record(make_reply("lost", error=ReplyTimeout("slow")))
    path = tmp_path / "run_chat_stats.csv"

    write_stats_csv(path, stats, 0.0)

    _, rows = read_csv(path)
    row = rows[0]
    assert row["Replies"] == "1"
    assert row["Failure Rate"] == "1.0"
    for column in ("Replies/s", "Latency p50 (ms)", "TTFT p95 (ms)", "TTFT Max (ms)", "Tokens/Reply"):
        assert row[column] == "", column


def test_stats_csv_replaces_the_file_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "run_chat_stats.csv"
    path.write_text("old content that is much longer than a header\n" * 200, encoding="utf-8")
    small = ChatStats()
    small.record(make_reply("only"))

    write_stats_csv(path, small, DURATION_S)

    _, rows = read_csv(path)
    assert [row["Name"] for row in rows] == ["only", "Aggregated"]
    assert "old content" not in path.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run_chat_stats.csv"]


def test_stats_csv_of_no_replies_has_only_the_aggregated_row(tmp_path: Path) -> None:
    path = tmp_path / "run_chat_stats.csv"

    write_stats_csv(path, ChatStats(), DURATION_S)

    columns, rows = read_csv(path)
    assert columns == STATS_COLUMNS
    assert [(row["Name"], row["Replies"]) for row in rows] == [("Aggregated", "0")]


def test_stats_rows_metric_columns_include_metric_errors() -> None:
    stats = ChatStats()
    stats.record(make_reply("a", metric_errors={"judge": "RuntimeError: x"}))
    stats.record(make_reply("a", metric_errors={"judge": "RuntimeError: x"}))

    [row, aggregated] = stats_rows(stats, DURATION_S)

    assert row["judge Errors"] == aggregated["judge Errors"] == 2
    assert row["judge Mean"] == row["judge Min"] == ""


# --- HistoryWriter -------------------------------------------------------------------------------


def test_history_has_a_row_a_name_and_second_plus_aggregated_with_user_count(tmp_path: Path) -> None:
    stats = ChatStats()
    stats.record(make_reply("b", started_at=500.1, total_time_ms=100.0))
    stats.record(make_reply("a", started_at=500.2, total_time_ms=200.0))
    stats.record(make_reply("a", started_at=500.3, total_time_ms=300.0, error=BotError("x")))
    stats.record(make_reply("a", started_at=501.0, total_time_ms=50.0))
    path = tmp_path / "run_chat_stats_history.csv"
    writer = HistoryWriter(path)

    writer.write(stats.take_seconds(), {500: 4, 501: 6})
    writer.close()

    columns, rows = read_csv(path)
    assert columns == HISTORY_COLUMNS
    assert [(row["Timestamp"], row["Name"], row["User Count"]) for row in rows] == [
        ("500", "a", "4"),
        ("500", "b", "4"),
        ("500", "Aggregated", "4"),
        ("501", "a", "6"),
        ("501", "Aggregated", "6"),
    ]
    aggregated_500 = rows[2]
    assert (aggregated_500["Replies/s"], aggregated_500["Failures/s"], aggregated_500["Goodput/s"]) == (
        "3",
        "1",
        "2",
    )
    assert float(aggregated_500["Latency p95 (ms)"]) == 200.0
    assert float(aggregated_500["Latency Avg (ms)"]) == 150.0  # of the successful replies: not the 300 ms
    assert float(rows[0]["Latency p50 (ms)"]) == 200.0
    assert float(rows[0]["TTFT p50 (ms)"]) == 10.0
    assert float(rows[0]["Chunk Gap p50 (ms)"]) == 10.0


def test_history_leaves_user_count_empty_for_a_second_the_mapping_lacks(tmp_path: Path) -> None:
    stats = ReplyStats()
    stats.add(make_reply("a"), 3)
    path = tmp_path / "history.csv"
    writer = HistoryWriter(path)

    writer.write([(42, {"a": stats})], {})
    writer.close()

    _, rows = read_csv(path)
    assert [row["User Count"] for row in rows] == ["", ""]


def test_history_header_is_written_at_once_and_rows_appended_over_calls(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    writer = HistoryWriter(path)
    header_only = path.read_text(encoding="utf-8")
    stats = ChatStats()
    stats.record(make_reply("a", started_at=10.0))
    stats.record(make_reply("a", started_at=11.0))

    writer.write(stats.take_seconds(before=11), {})
    writer.write(stats.take_seconds(), {})
    writer.close()

    assert header_only.strip() == ",".join(HISTORY_COLUMNS)
    _, rows = read_csv(path)
    assert [row["Timestamp"] for row in rows] == ["10", "10", "11", "11"]


# --- FailedPairsWriter ---------------------------------------------------------------------------


def test_failed_pairs_file_has_one_json_object_a_line(tmp_path: Path) -> None:
    stats = ChatStats()
    stats.record(make_reply("a", text="nope", error=BotError("bot failed")))
    stats.record(
        make_reply(
            "b",
            text="réponse",
            error=MetricFailure("metric failed: recall=0"),
            scores={"recall": 0.0},
            missed=["recall"],
        )
    )
    stats.record(make_reply("c"))
    path = tmp_path / "failed.jsonl"
    writer = FailedPairsWriter(path)

    writer.write(stats.take_failed())
    writer.close()

    lines = path.read_text(encoding="utf-8").splitlines()
    pairs = [json.loads(line) for line in lines]
    assert len(pairs) == 2
    assert {key for pair in pairs for key in pair} >= {"prompt", "reply", "error", "kind", "scores"}
    assert (pairs[0]["prompt"], pairs[0]["reply"], pairs[0]["error"], pairs[0]["kind"]) == (
        "ask a",
        "nope",
        "bot failed",
        "bot_error",
    )
    assert (pairs[1]["reply"], pairs[1]["kind"], pairs[1]["scores"]) == (
        "réponse",
        "metric_failure",
        {"recall": 0.0},
    )
    assert "réponse" in lines[1]


def test_failed_pairs_writer_appends_over_calls(tmp_path: Path) -> None:
    path = tmp_path / "failed.jsonl"
    writer = FailedPairsWriter(path)

    writer.write([{"prompt": "1"}])
    writer.write([{"prompt": "2"}, {"prompt": "3"}])
    writer.close()

    assert [json.loads(line)["prompt"] for line in path.read_text(encoding="utf-8").splitlines()] == [
        "1",
        "2",
        "3",
    ]


# --- summary -------------------------------------------------------------------------------------


def test_summary_has_the_documented_keys() -> None:
    result = summary(run_stats(), DURATION_S)

    for key in (
        "total_requests",
        "successful_requests",
        "failed_requests",
        "success_rate",
        "requests_per_second",
        "latency_ms",
        "time_to_first_chunk_ms",
        "chunk_gap_ms",
        "metrics",
        "errors_by_kind",
        "connections",
        "by_name",
    ):
        assert key in result, key
    for timing in ("latency_ms", "time_to_first_chunk_ms"):
        assert set(result[timing]) == {"avg", "median", "min", "max", "p90", "p95", "p99"}
    assert set(result["metrics"]["recall"]) == {"mean", "min", "max", "scored", "missed", "errors"}
    assert {"attempts", "successes", "failures", "success_rate"} <= set(result["connections"])


def test_summary_totals_and_rates_match_the_statistics() -> None:
    stats = run_stats()

    result = summary(stats, DURATION_S)

    total = stats.total
    assert result["total_requests"] == total.replies == 300
    assert result["failed_requests"] == total.failures
    assert result["successful_requests"] == total.replies - total.failures
    assert result["success_rate"] == round((total.replies - total.failures) / total.replies, 4)
    assert result["requests_per_second"] == round(300 / DURATION_S, 3)
    latency = result["latency_ms"]
    assert latency["min"] == round(total.latency.minimum, 3)
    assert latency["max"] == round(total.latency.maximum, 3)
    assert latency["avg"] == round(total.latency.mean, 3)
    assert latency["median"] == round(total.latency.percentile(0.5), 3)
    assert latency["p99"] == round(total.latency.percentile(0.99), 3)
    assert result["time_to_first_chunk_ms"]["p95"] == round(total.ttft.percentile(0.95), 3)
    assert result["chunk_gap_ms"]["p50"] == round(total.gap.percentile(0.5), 3)


def test_summary_metrics_report_mean_min_max_scored_missed_and_errors() -> None:
    stats = ChatStats()
    stats.record(make_reply("a", scores={"recall": 0.5}))
    stats.record(make_reply("a", scores={"recall": 1.0}))
    stats.record(make_reply("a", scores={"recall": 0.0}, missed=["recall"], error=MetricFailure("recall=0")))
    stats.record(make_reply("a", metric_errors={"recall": "RuntimeError: x"}))

    recall = summary(stats, DURATION_S)["metrics"]["recall"]

    assert recall == {"mean": 0.5, "min": 0.0, "max": 1.0, "scored": 3, "missed": 1, "errors": 1}


def test_summary_errors_by_kind_join_reply_errors_and_connect_errors() -> None:
    stats = ChatStats()
    stats.record(make_reply("a", error=ReplyTimeout("slow")))
    stats.record(make_reply("a", error=ReplyTimeout("slow")))
    stats.record(make_reply("b", error=BotError("no")))
    stats.connects.add(1.0, "connection_refused")
    stats.connects.add(1.0, "connection_refused")
    stats.connects.add(1.0, "handshake_rejected")
    stats.connects.add(9.0, None)

    result = summary(stats, DURATION_S)

    assert result["errors_by_kind"] == {
        "bot_error": 1,
        "connection_refused": 2,
        "handshake_rejected": 1,
        "timeout": 2,
    }
    assert result["failed_requests"] == 3


def test_summary_connections_count_attempts_successes_failures_and_rate() -> None:
    result = summary(run_stats(), DURATION_S)

    connections = result["connections"]
    assert (connections["attempts"], connections["successes"], connections["failures"]) == (4, 2, 2)
    assert connections["success_rate"] == 0.5
    assert connections["handshake_ms"]["min"] == 12.0
    assert connections["handshake_ms"]["max"] == 18.0
    assert connections["errors_by_kind"] == {"connection_refused": 1, "handshake_rejected": 1}


def test_summary_by_name_has_a_section_a_name() -> None:
    stats = run_stats()

    by_name = summary(stats, DURATION_S)["by_name"]

    assert list(by_name) == ["billing", "greeting", "shipping"]
    for name, section in by_name.items():
        assert section["total_requests"] == stats.by_name[name].replies
        assert section["failed_requests"] == stats.by_name[name].failures
    assert sum(section["total_requests"] for section in by_name.values()) == 300


def test_summary_is_json_without_infinities_or_nan() -> None:
    for stats in (run_stats(), ChatStats()):
        text = json.dumps(summary(stats, DURATION_S), allow_nan=False)

        assert json.loads(text)["total_requests"] == stats.total.replies


def test_summary_of_nothing_has_none_where_nothing_was_measured() -> None:
    stats = ChatStats()
    stats.record(make_reply("a", error=ReplyTimeout("slow")))
    stats.record(make_reply("a", metric_errors={"judge": "x"}, error=BotError("x")))

    result = summary(stats, 0.0)

    assert result["requests_per_second"] is None
    assert result["latency_ms"] == dict.fromkeys(("avg", "median", "min", "max", "p90", "p95", "p99"))
    assert result["metrics"]["judge"]["mean"] is None
    assert result["connections"]["success_rate"] is None
    json.dumps(result, allow_nan=False)


def test_summary_extra_entries_are_added() -> None:
    result = summary(ChatStats(), DURATION_S, {"host": "ws://bot"})

    assert result["host"] == "ws://bot"


# --- format_table --------------------------------------------------------------------------------


def test_format_table_shows_each_name_and_the_aggregated_line() -> None:
    stats = run_stats()

    table = format_table(stats_rows(stats, DURATION_S))

    lines = table.splitlines()
    for name in ("billing", "greeting", "shipping"):
        assert any(line.startswith(name) for line in lines), name
    aggregated = next(line for line in lines if line.startswith("Aggregated"))
    assert aggregated.split()[1] == "300"
    assert "recall" in lines[1]


def test_format_table_has_latency_percentiles_and_says_counts_include_failures() -> None:
    stats = run_stats()

    lines = format_table(stats_rows(stats, DURATION_S)).splitlines()

    assert "failed ones included" in lines[0]
    assert "successful replies" in lines[0]
    assert "lat p50  lat p95  lat p99" in lines[1]
    cells = next(line for line in lines if line.startswith("Aggregated")).split()
    assert int(cells[2]) == stats.total.failures > 0
    p50, p95, p99 = stats.total.latency.percentiles((0.5, 0.95, 0.99))
    assert [float(cell) for cell in cells[4:7]] == [round(p50, 2), round(p95, 2), round(p99, 2)]


def test_format_table_separates_the_aggregated_line_with_a_rule() -> None:
    lines = format_table(stats_rows(run_stats(), DURATION_S)).splitlines()

    index = next(i for i, line in enumerate(lines) if line.startswith("Aggregated"))
    assert set(lines[index - 1]) == {"-"}


def test_format_table_cuts_long_names_to_keep_columns_aligned() -> None:
    name = "a-very-long-request-name-that-goes-on-and-on"
    stats = ChatStats()
    stats.record(make_reply(name))

    lines = format_table(stats_rows(stats, DURATION_S)).splitlines()

    header, row = lines[1], next(line for line in lines if line.startswith(name[:24]))
    assert len(row) == len(header)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("wss://bot.example/prod?token=s3cr3t#frag", "wss://bot.example/prod"),
        ("ws://user:s3cr3t@bot.example:8443/chat", "ws://bot.example:8443/chat"),
        ("ws://[::1]:9000", "ws://[::1]:9000"),
        ("ws://[::1", ""),
    ],
)
def test_public_url_drops_user_info_query_and_fragment(url: str, shown: str) -> None:
    assert public_url(url) == shown
