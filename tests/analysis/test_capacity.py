"""analysis' capacity figures and report section, and any run's CDF, from files wslocust writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.lines import Line2D

from analysis.capacity import (
    CAPACITY_COLUMNS,
    capacity_html,
    cdf_figure,
    latency_figure,
    pareto_front,
    read_capacity,
    throughput_figure,
)
from analysis.histograms import read_histograms
from analysis.plot import main as plot_main
from analysis.report import main as report_main
from wslocust.load.capacity import CapacitySearch, LevelResult, judge_level
from wslocust.load.capacity_report import capacity_section, write_capacity_csv, write_capacity_json
from wslocust.outputs.figures import CAPACITY_FIGURES
from wslocust.stats.aggregates import ReplyStats

from .conftest import CopyRun, Runs

SLOS = {"e2e": 500.0, "ttft": 200.0}


def level(number: int, rate: float, e2e_ms: float) -> LevelResult:
    """A level offered ``rate`` prompts/s that achieved it, its replies of ``e2e_ms`` (TTFT 100 ms)."""
    stats = ReplyStats()
    count = int(rate * 10)
    for _ in range(count):
        stats.replies += 1
        stats.tokens += 11
        stats.latency.record(e2e_ms)
        stats.ttft.record(100)
        stats.tpot.record((e2e_ms - 100) / 10)
        stats.token_rate.record(10_000 / (e2e_ms - 100))
    return judge_level(
        level=number, target=rate, users=int(rate * 2), offered_rate_per_s=rate, start_s=number * 10.0,
        measured_s=10, stats=stats, slos=SLOS, percentile=99.0, max_error_rate=0.01,
    )  # fmt: skip


def write_capacity_run(prefix: Path) -> dict[str, object]:
    """A capacity search of rates 10, 20, 40 (fails), 30, 25, 25 written as wslocust writes it."""
    search = CapacitySearch(start=10.0, precision=0.25)
    levels: list[LevelResult] = []
    while (rate := search.next_level()) is not None:
        found = level(len(levels) + 1, rate, 300 if rate <= 25 else 900)
        levels.append(found)
        search.record(rate, found.passed)
    section = capacity_section(
        levels, search, search.outcome, over="rate", slos=SLOS, percentile=99.0, max_error_rate=0.01
    )
    write_capacity_csv(prefix, levels)
    write_capacity_json(prefix, section)
    return section


def test_analysis_reads_the_capacity_columns_wslocust_writes() -> None:
    assert {figure.title: figure.key for figure in CAPACITY_FIGURES} == CAPACITY_COLUMNS


def test_the_latency_figure_draws_each_slo_and_marks_the_capacity(tmp_path: Path) -> None:
    section = write_capacity_run(tmp_path / "run")
    capacity = read_capacity(tmp_path / "run")
    assert capacity is not None
    fig = latency_figure(capacity)
    ttft, e2e, tpot = fig.axes[:3]
    assert [ax.get_ylabel() for ax in (ttft, e2e, tpot)] == ["TTFT (ms)", "E2E (ms)", "TPOT (ms)"]
    assert e2e.get_xlabel() == "offered rate (prompts/s)"

    def flat_lines(ax: object) -> set[float]:
        return {line.get_ydata()[0] for line in ax.get_lines() if len(set(line.get_ydata())) == 1}  # type: ignore[attr-defined]

    def vertical_lines(ax: object) -> set[float]:
        return {line.get_xdata()[0] for line in ax.get_lines() if len(set(line.get_xdata())) == 1}  # type: ignore[attr-defined]

    assert 500.0 in flat_lines(e2e)
    assert 200.0 in flat_lines(ttft)
    assert section["capacity"] == 25.0
    assert vertical_lines(e2e) == {25.0}
    p99: Line2D = e2e.get_lines()[0]
    assert sorted(p99.get_xdata()) == sorted(capacity.levels["target"])
    assert max(p99.get_ydata()) == 900


def test_the_throughput_figure_puts_achieved_against_offered_and_the_pareto_front(tmp_path: Path) -> None:
    write_capacity_run(tmp_path / "run")
    capacity = read_capacity(tmp_path / "run")
    assert capacity is not None
    achieved, pareto = throughput_figure(capacity).axes[:2]
    assert (achieved.get_xlabel(), achieved.get_ylabel()) == ("offered rate (prompts/s)", "replies/s")
    assert list(achieved.get_lines()[0].get_ydata()) == sorted(capacity.levels["achieved_rate_per_s"])
    assert (pareto.get_xlabel(), pareto.get_ylabel()) == ("total output tokens/s", "output tokens/s per user")


def test_the_pareto_front_keeps_the_points_no_other_beats_on_both_axes() -> None:
    points = [(100.0, 50.0), (200.0, 40.0), (150.0, 30.0), (300.0, 10.0), (50.0, 50.0)]
    assert pareto_front(points) == [0, 1, 3]


def test_the_cdf_of_a_run_rises_to_one_over_its_replies(runs: Runs) -> None:
    seconds = read_histograms(Path(f"{runs.chatbot}_chat_histograms.jsonl"))
    assert seconds
    fig = cdf_figure(seconds, "chatbot")
    assert fig is not None
    ttft, e2e = fig.axes[0].get_lines()[:2]
    assert "TTFT" in str(ttft.get_label())
    assert "E2E" in str(e2e.get_label())
    assert e2e.get_ydata()[-1] == pytest.approx(1.0)
    assert min(e2e.get_xdata()) >= min(ttft.get_xdata())  # a reply ends after its first chunk


def test_plot_and_report_draw_a_capacity_run_with_its_verdict_first(
    runs: Runs, copy_run: CopyRun, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = copy_run(runs.chatbot)
    section = write_capacity_run(prefix)
    assert plot_main([str(prefix)]) == 0
    written = {Path(line).name for line in capsys.readouterr().out.split()}
    assert {"run_cdf.png", "run_capacity_latency.png", "run_capacity_throughput.png"} <= written
    assert report_main([str(prefix)]) == 0
    page = prefix.with_name("run_report.html").read_text()
    verdict = str(section["message"]).split(".")[0]
    assert verdict.startswith("Capacity: 25 prompts/s")
    assert page.index(verdict) < page.index("What was run")


def test_the_reports_capacity_section_names_the_knee_in_words(tmp_path: Path) -> None:
    section = write_capacity_run(tmp_path / "run")
    capacity = read_capacity(tmp_path / "run")
    assert capacity is not None
    knee = section["knee"]
    assert isinstance(knee, dict)
    page = capacity_html(capacity, lambda figure: "")
    note = page[page.index('<p class="note">') : page.index("<table>")]
    assert f"knee: {knee['level']:g} prompts/s ({knee['achieved_rate_per_s']:g} replies/s" in note
    assert "{" not in note
