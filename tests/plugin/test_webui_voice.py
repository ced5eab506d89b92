"""The web UI's Chatbot tab shows the voice figures of a run with audio turns (its charts data)."""

from __future__ import annotations

from locust.stats import RequestStats

from types import SimpleNamespace

from wslocust.outputs.csv_files import voice_rows
from wslocust.plugin.webui import VOICE_TABLE_COLUMNS, chart_data
from wslocust.stats import ChatStats

from ..conftest import make_reply
from ..stats.test_voice import voice_reply


def recorder_with(stats: ChatStats) -> SimpleNamespace:
    return SimpleNamespace(
        environment=SimpleNamespace(shape_class=None, stats=RequestStats()),
        history_rows=[],
        started_at=None,
        stats=stats,
    )


def test_the_charts_data_carries_the_voice_figures_a_row_a_name_then_aggregated() -> None:
    stats = ChatStats()
    stats.record(voice_reply("greet"))
    stats.record(voice_reply("order", audio_times_ms=(2000.0,), audio_seconds=(1.0,)))

    voice = chart_data(recorder_with(stats))["voice"]  # type: ignore[arg-type]
    assert [column["title"] for column in voice["columns"]] == ["Name", *VOICE_TABLE_COLUMNS]
    assert [row["name"] for row in voice["rows"]] == ["greet", "order", "Aggregated"]
    assert voice["rows"][1]["v2v_p95_ms"] == voice_rows(stats.voice)[1]["V2V p95 (ms)"] == 1000.0


def test_a_run_of_text_prompts_has_no_voice_table() -> None:
    stats = ChatStats()
    stats.record(make_reply("ask"))

    assert chart_data(recorder_with(stats))["voice"] is None  # type: ignore[arg-type]
