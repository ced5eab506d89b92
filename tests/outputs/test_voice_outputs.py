"""The voice figures in the outputs: PREFIX_voice.csv, the summary's voice section, the end-of-run
table, each from the one table of voice figures; a run of text prompts writes none of them."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from wslocust.outputs import STATS_COLUMNS, stats_csv_text, summary
from wslocust.outputs.csv_files import VOICE_COLUMNS, voice_csv_text, voice_rows, write_voice_csv
from wslocust.outputs.figures import VOICE_FIGURES, VoiceFigure, summary_paths
from wslocust.outputs.table import format_voice_table
from wslocust.stats import ChatStats

from ..conftest import make_reply
from ..stats.test_voice import voice_reply
from .conftest import DURATION_S, run_stats


def voice_run() -> ChatStats:
    """Text replies and audio turns of two names: 'greet' answers after 300-390 ms, 'order' half speed."""
    stats = run_stats()
    for index in range(10):
        stats.record(voice_reply("greet", audio_times_ms=(1300.0 + 10 * index, 1400.0 + 10 * index)))
        stats.record(voice_reply("order", audio_times_ms=(1500.0, 1700.0, 1900.0), audio_seconds=(0.1,) * 3))
    stats.record(voice_reply("order", failed=True))
    return stats


def at(section: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        section = section[part]
    return section


def test_a_run_of_text_prompts_has_no_voice_section_and_the_same_chat_columns() -> None:
    stats = run_stats()

    assert "voice" not in summary(stats, DURATION_S)
    recall = ["recall Mean", "recall Min", "recall Missed", "recall Errors"]
    assert next(csv.reader(io.StringIO(stats_csv_text(stats, DURATION_S)))) == [*STATS_COLUMNS, *recall]


def test_audio_turns_change_no_figure_of_the_text_replies_beside_them() -> None:
    text_only, with_voice = ChatStats(), ChatStats()
    for stats in (text_only, with_voice):
        stats.record(make_reply("ask"))
    with_voice.record(voice_reply("greet"))

    assert (
        summary(with_voice, DURATION_S)["by_name"]["ask"] == summary(text_only, DURATION_S)["by_name"]["ask"]
    )


def test_the_voice_csv_has_a_row_a_name_with_audio_turns_then_aggregated(tmp_path: Path) -> None:
    path = tmp_path / "run_voice.csv"
    write_voice_csv(path, voice_run().voice)

    with path.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert list(rows[0]) == VOICE_COLUMNS
    assert [row["Name"] for row in rows] == ["greet", "order", "Aggregated"]
    greet, order, total = rows
    assert (greet["V2V p50 (ms)"], greet["V2V Max (ms)"], greet["TTFA Max (ms)"]) == (
        "340.0",
        "390.0",
        "1390.0",
    )
    assert (order["Voice Turns"], order["Voice Failures"], order["Underruns"]) == ("11", "1", "20")
    assert (order["Underrun p95 (ms)"], order["Real-Time Factor Min"]) == ("200.0", "0.6")
    assert (total["Voice Turns"], total["Frames Sent"], total["Underrun Answers"]) == ("21", "63", "10")


def test_the_web_uis_voice_download_without_audio_turns_is_the_header_alone() -> None:
    assert voice_csv_text(ChatStats().voice).splitlines() == [",".join(VOICE_COLUMNS)]


@pytest.mark.parametrize("figure", VOICE_FIGURES, ids=lambda figure: figure.key)
def test_a_voice_figure_is_the_same_number_in_the_csv_and_the_summary(figure: VoiceFigure) -> None:
    stats = voice_run()
    result = summary(stats, DURATION_S)["voice"]
    rows = voice_rows(stats.voice)

    assert rows[-1][figure.title] == pytest.approx(at(result, figure.summary), abs=0.01)
    assert rows[0][figure.title] == pytest.approx(at(result["by_name"]["greet"], figure.summary), abs=0.01)


def test_the_summarys_voice_section_is_named_in_the_table_of_what_it_holds() -> None:
    result = summary(voice_run(), DURATION_S)

    assert "voice" in {path.split(".")[0] for path in summary_paths()}
    assert sorted(result["voice"]["by_name"]) == ["greet", "order"]
    assert result["voice"]["voice_to_voice_ms"]["p95"] is not None


def test_the_end_of_run_voice_table_shows_each_name_and_the_aggregated_row() -> None:
    text = format_voice_table(voice_rows(voice_run().voice))
    lines = text.splitlines()

    assert lines[0].startswith("Voice statistics")
    assert tuple(word for word in ("V2V p95", "RTF min") if word in lines[1]) == ("V2V p95", "RTF min")
    assert [line.split()[0] for line in lines[3:] if not line.startswith("-")] == [
        "greet",
        "order",
        "Aggregated",
    ]
    assert lines[-1].split()[1:3] == ["21", "1"]
