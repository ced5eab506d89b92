"""The table of figures: every figure written under its one name, wherever the table says."""

from __future__ import annotations

from typing import Any

import pytest

from wslocust.outputs import history_rows, stats_rows, summary, ui_rows
from wslocust.outputs.figures import (
    CHAT_HISTORY,
    CHAT_STATS,
    FIGURES,
    METRIC_PARTS,
    TRAFFIC_SECTION,
    Figure,
    summary_paths,
)

from .conftest import DURATION_S, run_stats

SUMMARY_FIGURES = [figure for figure in FIGURES if figure.summary]
BOTH = [figure for figure in SUMMARY_FIGURES if CHAT_STATS in figure.files]


def at(section: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        section = section[part]
    return section


@pytest.mark.parametrize("figure", SUMMARY_FIGURES, ids=lambda figure: figure.title)
def test_each_figure_is_at_its_summary_path_in_the_totals_and_each_name(figure: Figure) -> None:
    """The traffic's figures (``messages``) are the whole test's: at the top level, in no name."""
    result = summary(run_stats(), DURATION_S)
    of_names = not (figure.summary or "").startswith(f"{TRAFFIC_SECTION}.")
    for section in [result, *(result["by_name"].values() if of_names else ())]:
        assert isinstance(at(section, figure.summary or ""), (int, float)), figure.summary
    if not of_names:
        assert all(TRAFFIC_SECTION not in section for section in result["by_name"].values())


@pytest.mark.parametrize("figure", BOTH, ids=lambda figure: figure.title)
def test_a_figure_of_the_csv_and_the_summary_is_the_same_number_in_both(figure: Figure) -> None:
    stats = run_stats()
    csv_row = stats_rows(stats, DURATION_S)[-1]  # Aggregated
    assert csv_row[figure.title] == pytest.approx(
        at(summary(stats, DURATION_S), figure.summary or ""), abs=0.01
    )


def test_the_summary_holds_nothing_the_table_does_not_name() -> None:
    result = summary(run_stats(), DURATION_S, {"run": {}, "gates": {}})
    named = {path.split(".")[0] for path in summary_paths()}
    assert set(result) <= named
    for section in result["by_name"].values():
        assert set(section) <= named


def test_the_web_ui_rows_are_keyed_by_the_figures_keys_and_the_metric_columns() -> None:
    [*_, total] = ui_rows(run_stats(), DURATION_S)
    keys = {figure.key for figure in FIGURES if CHAT_STATS in figure.files}
    metric_keys = {f"recall_{part.title.lower()}" for part in METRIC_PARTS if part.in_csv}
    assert set(total) == keys | metric_keys
    assert total["chunk_gap_p50_ms"] == stats_rows(run_stats(), DURATION_S)[-1]["Chunk Gap p50 (ms)"]


def test_the_history_rows_have_the_history_figures_of_the_table() -> None:
    stats = run_stats()
    rows = history_rows(stats.take_seconds(), {})
    titles = {figure.title for figure in FIGURES if CHAT_HISTORY in figure.files}
    assert rows
    assert all(set(row) == titles for row in rows)
