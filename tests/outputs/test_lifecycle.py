"""Connections' lives in the outputs: the JSON summary's lifecycle section and the end-of-run text."""

from __future__ import annotations

from wslocust.outputs import summary
from wslocust.outputs.figures import summary_paths
from wslocust.outputs.lifecycle import lifecycle_text
from wslocust.stats.aggregates import ChatStats


def _stats() -> ChatStats:
    stats = ChatStats()
    for code in (1001, 1001, 1006, 4001):
        stats.lifecycle.add_close(code)
    for recover_ms in (100.0, 300.0):
        stats.lifecycle.add_outage(recover_ms)
    stats.lifecycle.failovers = 3
    return stats


def test_the_summary_holds_outages_time_to_recover_failovers_and_close_codes() -> None:
    section = summary(_stats(), 10.0)["lifecycle"]
    assert section["outages"] == 2
    assert section["failovers"] == 3
    assert section["close_codes"] == {"1001": 2, "1006": 1, "4001": 1}
    assert section["time_to_recover_ms"]["max"] == 300.0
    assert section["time_to_recover_ms"]["avg"] == 200.0
    assert 100.0 <= section["time_to_recover_ms"]["p50"] <= 300.0


def test_the_summary_section_is_there_when_nothing_happened() -> None:
    section = summary(ChatStats(), 1.0)["lifecycle"]
    assert section == {
        "outages": 0,
        "time_to_recover_ms": {"avg": None, "p50": None, "p95": None, "p99": None, "max": None},
        "failovers": 0,
        "close_codes": {},
    }
    assert "lifecycle" in summary_paths()


def test_the_end_of_run_text_names_each_figure_and_is_left_out_when_nothing_happened() -> None:
    text = lifecycle_text(_stats().lifecycle)
    assert text is not None
    assert "3 failovers, 2 outages recovered" in text
    assert "max 300" in text
    assert "1001: 2, 1006: 1, 4001: 1" in text
    assert lifecycle_text(ChatStats().lifecycle) is None
