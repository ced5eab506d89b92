"""The web UI's Chatbot tab shows the conversations' and the connections' lives' figures beside the
voice ones: tables of its charts data, the same figures as the run's other outputs."""

from __future__ import annotations

from locust.stats import RequestStats

from types import SimpleNamespace

from wslocust.conversations import CONVERSATION_REQUEST_TYPE
from wslocust.outputs.csv_files import CONVERSATIONS_COLUMNS
from wslocust.outputs.lifecycle import lifecycle_section
from wslocust.plugin.webui import chart_data
from wslocust.stats import ChatStats


def recorder_with(stats: ChatStats, requests: RequestStats) -> SimpleNamespace:
    return SimpleNamespace(
        environment=SimpleNamespace(shape_class=None, stats=requests),
        history_rows=[],
        started_at=None,
        stats=stats,
    )


def test_the_charts_data_carries_the_conversations_a_row_a_name_then_aggregated() -> None:
    requests = RequestStats()
    for name, time_ms in (("billing", 1200), ("billing", 1800), ("refund", 900)):
        requests.log_request(CONVERSATION_REQUEST_TYPE, name, time_ms, 0)
    requests.log_error(CONVERSATION_REQUEST_TYPE, "refund", "turn 2 failed")
    requests.log_request("WS", "billing", 100, 0)  # a turn: no conversation

    table = chart_data(recorder_with(ChatStats(), requests))["conversations"]  # type: ignore[arg-type]

    assert table["title"] == "Conversations"
    assert [column["title"] for column in table["columns"]] == CONVERSATIONS_COLUMNS
    by_name = {row["name"]: row for row in table["rows"]}
    assert list(by_name) == ["billing", "refund", "Aggregated"]
    assert (by_name["billing"]["completed"], by_name["billing"]["failed"]) == (2, 0)
    assert (by_name["refund"]["completed"], by_name["refund"]["failed"]) == (0, 1)
    assert by_name["Aggregated"]["completed"] == 2
    assert by_name["Aggregated"]["failed"] == 1
    assert by_name["Aggregated"]["duration_ms.max"] == 1800


def test_the_charts_data_carries_the_connections_lives_as_the_summary_has_them() -> None:
    stats = ChatStats()
    stats.lifecycle.add_outage(250.0)
    stats.lifecycle.add_outage(750.0)
    stats.lifecycle.failovers = 3
    stats.lifecycle.add_close(1006)
    stats.lifecycle.add_close(1001)
    stats.lifecycle.add_close(1006)

    table = chart_data(recorder_with(stats, RequestStats()))["lifecycle"]  # type: ignore[arg-type]

    section = lifecycle_section(stats.lifecycle)
    assert table["title"] == "Connections"
    [row] = table["rows"]
    titles = {column["key"]: column["title"] for column in table["columns"]}
    assert titles["time_to_recover_ms.p95"] == "Time to Recover p95 (ms)"
    assert (row["outages"], row["failovers"]) == (2, 3)
    assert row["time_to_recover_ms.max"] == section["time_to_recover_ms"]["max"]
    assert row["time_to_recover_ms.avg"] == 500.0
    assert row["close_codes"] == "1001: 1, 1006: 2"


def test_a_run_without_conversations_or_connection_events_has_neither_table() -> None:
    requests = RequestStats()
    requests.log_request("WS", "billing", 100, 0)

    data = chart_data(recorder_with(ChatStats(), requests))  # type: ignore[arg-type]

    assert (data["conversations"], data["lifecycle"]) == (None, None)
