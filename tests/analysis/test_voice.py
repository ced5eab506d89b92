"""analysis voice: reads the PREFIX_voice.csv and the summary's voice section wslocust writes (their
columns and paths are the table of voice figures'), prints V2V and TTFA percentiles a name, plots them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.voice import COLUMNS, SUMMARY_PATHS, VOICE_SUFFIX, load_voice, main
from wslocust.outputs import summary
from wslocust.outputs.csv_files import VOICE_COLUMNS, write_voice_csv
from wslocust.outputs.csv_files import VOICE_SUFFIX as WRITTEN_SUFFIX
from wslocust.outputs.figures import VOICE_FIGURES

from ..outputs.test_voice_outputs import voice_run


@pytest.fixture
def voice_files(tmp_path: Path) -> Path:
    """A run's PREFIX_voice.csv and summary JSON (PREFIX.json); returns PREFIX."""
    stats = voice_run()
    write_voice_csv(tmp_path / ("run" + WRITTEN_SUFFIX), stats.voice)
    (tmp_path / "run.json").write_text(json.dumps(summary(stats, 10.0)), encoding="utf-8")
    return tmp_path / "run"


def test_analysis_reads_the_voice_columns_wslocust_writes_keyed_by_each_figures_key() -> None:
    assert list(COLUMNS) == VOICE_COLUMNS
    assert {"Name": "name", **{figure.title: figure.key for figure in VOICE_FIGURES}} == COLUMNS
    assert VOICE_SUFFIX == WRITTEN_SUFFIX


def test_analysis_reads_each_voice_figure_at_its_summary_path() -> None:
    assert {figure.key: f"{figure.summary}" for figure in VOICE_FIGURES} == SUMMARY_PATHS


def test_the_csv_and_the_summary_give_the_same_rows(voice_files: Path) -> None:
    from_csv = load_voice(voice_files)
    from_summary = load_voice(voice_files.with_suffix(".json"))

    assert list(from_csv["name"]) == list(from_summary["name"]) == ["greet", "order", "Aggregated"]
    for key in ("v2v_p95_ms", "ttfa_p99_ms", "underruns", "rtf_min", "frame_lateness_max_ms"):
        assert list(from_csv[key]) == pytest.approx(list(from_summary[key]), abs=0.01), key


def test_the_command_prints_v2v_and_ttfa_a_name_and_plots_them(
    voice_files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "voice.png"
    assert main([str(voice_files), "-o", str(png)]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["Name", "turns", "fails", "V2V"]
    assert [line.split()[0] for line in lines[1:]] == ["greet", "order", "Aggregated"]
    assert lines[1].split()[3] == "340"  # greet's V2V p50 (ms)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_missing_voice_file_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path / "nothing")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0
    assert "nothing_voice.csv: no such file" in error


def test_a_summary_without_audio_turns_is_refused_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "text.json").write_text(json.dumps({"total_requests": 3}), encoding="utf-8")
    assert main([str(tmp_path / "text.json")]) == 2
    assert "text.json: no voice section" in capsys.readouterr().err
