"""The chat CSV files: the stats CSV (whole, at a test's end; the web UI downloads the same text) and the
history CSV (a row a name and second, appended)."""

from __future__ import annotations

from pathlib import Path

from wslocust.errors import BotError, ReplyTimeout
from wslocust.outputs import (
    HISTORY_COLUMNS,
    STATS_COLUMNS,
    HistoryWriter,
    metric_columns,
    stats_rows,
    write_stats_csv,
)
from wslocust.stats import ChatStats, ReplyStats

from ..conftest import make_reply
from .conftest import DURATION_S, read_csv, run_stats


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
