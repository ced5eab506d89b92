"""The capacity search as pure functions: which level next, how a level is judged, the report."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from wslocust.gates import evaluate, gates_from_options
from wslocust.load.capacity import (
    CAPACITY_CSV_COLUMNS,
    CapacitySearch,
    LevelResult,
    judge_level,
)
from wslocust.load.capacity_report import capacity_section, knee_of, verdict_text, write_capacity_csv
from wslocust.outputs.figures import CAPACITY_FIGURES
from wslocust.stats.aggregates import ReplyStats

from .support import replies


def search_with(limit: float, **settings: object) -> CapacitySearch:
    """Run a search against a bot that passes every level up to ``limit`` (included)."""
    search = CapacitySearch(**settings)  # type: ignore[arg-type]
    while (level := search.next_level()) is not None:
        search.record(level, level <= limit)
    return search


def levels_of(search: CapacitySearch) -> list[float]:
    return [level for level, _ in search.measured]


def test_the_search_brackets_by_growth_then_bisects_to_the_precision() -> None:
    search = search_with(55.0, start=10.0, growth=2.0, precision=0.05, max_levels=20)
    assert levels_of(search)[:4] == [10, 20, 40, 80]  # grows until 80 fails
    assert levels_of(search)[4:6] == [60, 50]  # then bisects between 40 and 80
    assert search.outcome == "found"
    capacity = search.capacity
    assert capacity is not None
    assert search.failing is not None
    assert capacity <= 55 < search.failing
    assert search.failing - capacity <= 0.05 * capacity


@pytest.mark.parametrize("limit", [3.0, 17.5, 42.0, 99.0, 250.0])
def test_the_capacity_found_is_within_the_precision_of_the_true_limit(limit: float) -> None:
    search = search_with(limit, start=5.0, precision=0.05, max_levels=30)
    capacity = search.capacity
    assert capacity is not None
    assert limit * 0.95 <= capacity <= limit


def test_the_level_the_search_ends_on_is_measured_twice() -> None:
    search = search_with(55.0, start=10.0, max_levels=20)
    capacity = search.capacity
    assert capacity is not None
    assert search.times_measured(capacity) == 2
    assert levels_of(search)[-1] == capacity


def test_a_confirmation_that_fails_moves_the_capacity_below_it() -> None:
    search = CapacitySearch(start=10.0, precision=0.2, max_levels=20)
    for level, passed in ((10, True), (20, True), (40, False), (30, False), (25, True)):
        assert search.next_level() == level
        search.record(level, passed)
    assert search.next_level() == 25  # (30 - 25) <= 0.2 * 25: confirm 25
    search.record(25, False)  # noise, or a limit just below
    assert search.capacity == 20
    assert search.next_level() == 22.5  # the bisection goes on between 20 and 25


def test_a_first_level_that_fails_makes_the_search_go_down() -> None:
    search = search_with(3.0, start=10.0, max_levels=20)
    assert levels_of(search)[:3] == [10, 5, 2.5]
    assert search.capacity is not None
    assert 2.5 <= search.capacity <= 3


def test_no_level_passing_ends_after_three_steps_down() -> None:
    search = search_with(0.0, start=8.0, max_levels=20)
    assert levels_of(search) == [8, 4, 2, 1]
    assert search.capacity is None
    assert search.outcome == "none_passed"


def test_every_level_passing_ends_at_the_upper_bound() -> None:
    search = search_with(math.inf, start=10.0, upper=50.0, max_levels=20)
    assert levels_of(search) == [10, 20, 40, 50]
    assert (search.capacity, search.outcome) == (50, "upper_bound")


def test_the_search_stops_after_max_levels() -> None:
    search = search_with(math.inf, start=1.0, max_levels=4)
    assert levels_of(search) == [1, 2, 4, 8]
    assert (search.capacity, search.outcome) == (8, "max_levels")


def test_an_invalid_level_ends_the_search_at_once() -> None:
    search = CapacitySearch(start=10.0)
    search.record(10, True)
    search.record(20, None)
    assert (search.next_level(), search.outcome, search.capacity) == (None, "invalid", 10)


def test_over_users_the_levels_are_whole_and_end_one_user_apart() -> None:
    search = search_with(6.0, start=2.0, whole=True, max_levels=20)
    assert levels_of(search) == [2, 4, 8, 6, 7, 6]
    assert (search.capacity, search.failing, search.outcome) == (6, 7, "found")


def test_over_users_a_growth_below_one_user_still_moves_up_a_user() -> None:
    search = search_with(3.0, start=1.0, growth=1.2, whole=True, max_levels=20)
    assert levels_of(search) == [1, 2, 3, 4, 3]
    assert (search.capacity, search.outcome) == (3, "found")


def test_over_users_an_upper_bound_between_users_ends_at_the_user_below_it() -> None:
    search = search_with(math.inf, start=2.0, upper=2.5, whole=True, max_levels=20)
    assert levels_of(search) == [2]
    assert (search.capacity, search.outcome) == (2, "upper_bound")


def test_over_users_a_growth_below_one_user_still_moves_down_a_user() -> None:
    search = search_with(1.0, start=2.0, growth=1.2, whole=True, max_levels=20)
    assert levels_of(search) == [2, 1, 1]
    assert (search.capacity, search.outcome) == (1, "found")


@pytest.mark.parametrize(
    ("settings", "culprit"),
    [
        ({"start": 0.0}, "start"),
        ({"start": math.nan}, "start"),
        ({"start": 1.0, "growth": 1.0}, "growth"),
        ({"start": 1.0, "precision": -0.1}, "precision"),
        ({"start": 1.0, "max_levels": 0}, "max_levels"),
        ({"start": 10.0, "upper": 5.0}, "upper"),
    ],
)
def test_bad_search_settings_are_refused_naming_the_setting(settings: dict[str, float], culprit: str) -> None:
    with pytest.raises(ValueError, match=culprit):
        CapacitySearch(**settings)  # type: ignore[arg-type]


def streamed(count: int, ttft_ms: float, e2e_ms: float, tokens: int = 11) -> ReplyStats:
    """``count`` successful streamed replies of ``tokens`` output tokens each."""
    stats = ReplyStats()
    for _ in range(count):
        stats.replies += 1
        stats.good += 1
        stats.tokens += tokens
        stats.latency.record(e2e_ms)
        stats.ttft.record(ttft_ms)
        stats.tpot.record((e2e_ms - ttft_ms) / (tokens - 1))
        stats.token_rate.record((tokens - 1) * 1000 / (e2e_ms - ttft_ms))
    return stats


def judged(stats: ReplyStats, **overrides: object) -> LevelResult:
    settings: dict[str, object] = {
        "level": 1, "target": 10.0, "users": 20, "offered_rate_per_s": 10.0, "start_s": 5.0,
        "measured_s": 10, "stats": stats, "slos": {"e2e": 500.0, "ttft": 200.0}, "percentile": 99.0,
        "max_error_rate": 0.01,
    }  # fmt: skip
    settings.update(overrides)
    return judge_level(**settings)  # type: ignore[arg-type]


def test_a_level_within_every_slo_passes_with_its_figures() -> None:
    result = judged(streamed(100, ttft_ms=100, e2e_ms=300))
    assert (result.passed, result.reason, result.verdict) == (True, "", "pass")
    assert (result.achieved_rate_per_s, result.goodput_per_s) == (10.0, 10.0)
    assert result.users_in_flight == pytest.approx(3.0)  # 10 replies/s x 0.3 s
    assert (result.ttft_ms, result.e2e_ms, result.tpot_ms) == (100, 300, 20)
    assert result.output_tokens_per_s == pytest.approx(110)
    assert result.tokens_per_s_per_user == pytest.approx(50)


def test_a_level_fails_on_the_slo_at_its_percentile_not_the_median() -> None:
    stats = streamed(98, ttft_ms=100, e2e_ms=300)
    stats.merge(streamed(2, ttft_ms=100, e2e_ms=900))  # the slowest 2 %: p99 is 900, p50 300
    assert judged(stats, percentile=50.0).passed is True
    result = judged(stats)
    assert result.passed is False
    assert result.reason == "e2e p99 900 ms > SLO 500 ms"


def test_a_level_fails_on_errors_above_the_limit() -> None:
    stats = streamed(95, 100, 300)
    stats.merge(replies(5, 0, failures=5))
    result = judged(stats)
    assert (result.passed, result.error_rate) == (False, 0.05)
    assert result.reason == "error rate 5.0% > 1.0%"


def test_a_level_with_a_backlog_of_late_sends_fails() -> None:
    result = judged(streamed(100, 100, 300), late=(100, 30))
    assert result.passed is False
    assert "backlog: 30% of the sends were late" in result.reason


def test_a_level_without_replies_fails() -> None:
    result = judged(ReplyStats())
    assert (result.passed, result.reason) == (False, "no reply ended in the measuring window")


def test_a_level_whose_generator_was_near_a_core_is_invalid() -> None:
    result = judged(streamed(100, 100, 300), cpu_percent=97.0)
    assert (result.passed, result.verdict) == (None, "invalid")
    assert "97% CPU" in result.reason


def _level(number: int, target: float, rate: float, e2e: float, passed: bool | None) -> LevelResult:
    result = judged(
        streamed(int(rate * 10), 100, e2e), level=number, target=target, offered_rate_per_s=target
    )
    fields = {key: value for key, value in result.as_dict().items() if key != "verdict"}
    fields["passed"] = passed
    fields["reason"] = "" if passed else f"e2e p99 {e2e:.0f} ms > SLO 500 ms"
    return LevelResult(**fields)


def test_the_knee_is_the_level_of_most_throughput_per_latency() -> None:
    found = [_level(1, 10, 10, 200, True), _level(2, 20, 20, 250, True), _level(3, 40, 25, 2000, False)]
    knee = knee_of(found)
    assert knee is not None
    assert knee.target == 20  # 20/250 beats 10/200 and 25/2000


def section_of(limit: float) -> dict[str, object]:
    search = CapacitySearch(start=10.0, max_levels=20)
    found: list[LevelResult] = []
    while (level := search.next_level()) is not None:
        passed = level <= limit
        found.append(_level(len(found) + 1, level, level, 300 if passed else 900, passed))
        search.record(level, passed)
    return capacity_section(
        found, search, search.outcome, over="rate", slos={"e2e": 500.0}, percentile=99.0, max_error_rate=0.01
    )


def test_the_section_names_the_capacity_the_next_failure_and_the_confidence() -> None:
    section = section_of(55.0)
    assert section["capacity"] == 55.0
    assert section["capacity_rate_per_s"] == 55.0
    assert section["limit_below"] == 57.5
    assert section["next_failed"] == {"level": 57.5, "reason": "e2e p99 900 ms > SLO 500 ms"}
    message = str(section["message"])
    assert message.startswith("Capacity: 55 prompts/s")
    assert "failed: e2e p99 900 ms > SLO 500 ms" in message
    assert "passed 2 of 2 measurements" in message


def test_the_verdict_says_when_no_level_passed() -> None:
    section = section_of(0.0)
    assert section["capacity"] is None
    assert verdict_text(section).startswith(
        "No level met e2e p99 <= 500 ms, errors <= 1.0%: the lowest, 1.25"
    )


def test_the_csv_has_a_row_a_level_under_the_figures_titles(tmp_path: Path) -> None:
    found = [_level(1, 10, 10, 300, True), _level(2, 20, 20, 900, False)]
    path = write_capacity_csv(tmp_path / "run", found)
    assert path.name == "run_capacity.csv"
    with path.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert tuple(rows[0]) == CAPACITY_CSV_COLUMNS == tuple(figure.title for figure in CAPACITY_FIGURES)
    assert [(row["Target"], row["Verdict"], row["E2E (ms)"]) for row in rows] == [
        ("10", "pass", "300.0"),
        ("20", "fail", "900.0"),
    ]


def test_every_level_key_is_a_figure_key() -> None:
    keys = set(_level(1, 10, 10, 300, True).as_dict())
    assert {figure.key for figure in CAPACITY_FIGURES} <= keys
    assert keys - {figure.key for figure in CAPACITY_FIGURES} == {"passed"}


@pytest.mark.parametrize(("minimum", "passed"), [(50, True), (55, True), (56, False)])
def test_the_min_capacity_gate_judges_the_capacity_found(minimum: float, passed: bool) -> None:
    gates = gates_from_options({"min_capacity": str(minimum)})
    verdict = evaluate(gates, {"capacity": section_of(55.0)})
    assert verdict.passed is passed
    assert verdict.results[0].measured == 55


def test_the_min_capacity_gate_fails_a_run_without_a_capacity() -> None:
    verdict = evaluate(gates_from_options({"min_capacity": "1"}), {"total_requests": 5})
    assert verdict.passed is False
    assert "no capacity search" in verdict.results[0].note


@pytest.mark.parametrize("value", ["-1", "0", "nan", "lots"])
def test_a_bad_min_capacity_is_refused_naming_the_option(value: str) -> None:
    with pytest.raises(ValueError, match="--min-capacity"):
        gates_from_options({"min_capacity": value})


def test_max_error_rate_is_each_levels_limit_in_a_capacity_run_not_a_gate() -> None:
    assert gates_from_options({"max_error_rate": "2%", "shape": "capacity"}) == []
    with pytest.raises(ValueError, match="--max-error-rate"):
        gates_from_options({"max_error_rate": "200", "shape": "capacity"})
