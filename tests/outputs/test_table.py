"""The chatbot table printed at the end of a headless run."""

from __future__ import annotations

from wslocust.outputs import format_table, format_traffic, stats_rows
from wslocust.stats import ChatStats

from ..conftest import make_reply
from .conftest import DURATION_S, run_stats


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


def test_format_table_widens_the_name_column_for_a_profiles_longer_names_within_a_limit() -> None:
    stats = ChatStats()
    for name in ("passive/technical_support", "p/" + "x" * 60):
        stats.record(make_reply(name))
    lines = format_table(stats_rows(stats, DURATION_S)).splitlines()
    assert any(line.startswith("passive/technical_support ") for line in lines)
    assert any(line.startswith("p/" + "x" * 38 + " ") for line in lines)  # cut at 40 characters


def test_the_traffic_line_says_how_many_reply_messages_answered_no_prompt_in_flight() -> None:
    stats = run_stats()
    stats.traffic.messages_sent = 300
    assert "answered no prompt in flight" not in (format_traffic(stats_rows(stats, DURATION_S)) or "")

    stats.traffic.unmatched = 3
    line = format_traffic(stats_rows(stats, DURATION_S)) or ""

    assert line.endswith("; 3 reply messages answered no prompt in flight (late, duplicate or unknown id)")
