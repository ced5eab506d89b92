"""Per-step results from seconds of exact reply statistics: counts, rates, percentiles, late seconds."""

from __future__ import annotations

import csv
import json
import math
import random
from pathlib import Path

import pytest

from wslocust.load.shapes import STEP_CSV_COLUMNS, StepRecorder, steps_as_json, write_steps_csv
from wslocust.stats.aggregates import ReplyStats

from .support import FakeClock, replies

__all__: list[str] = []


def recorder_at(clock: FakeClock) -> StepRecorder:
    """A step recorder whose seconds are counted on ``clock``."""
    return StepRecorder(clock=clock.perf_counter)


def test_step_recorder_computes_rate_percentiles_and_error_rate_of_a_step() -> None:
    clock = FakeClock()
    recorder = recorder_at(clock)
    recorder.add_second(4, [replies(30, 50)])  # before the step: not counted
    clock.now = 5.0
    recorder.begin(10, 5.0)
    recorder.add_second(5, [replies(90, 100)])
    recorder.add_second(14, [replies(10, 1000, failures=5)])
    clock.now = 15.0
    result = recorder.close(15.0)
    assert result is not None
    assert (result.step, result.users, result.start, result.end, result.duration) == (1, 10, 5.0, 15.0, 10.0)
    assert (result.requests, result.failures) == (100, 5)
    assert result.requests_per_s == pytest.approx(10.0)
    assert (result.p50_ms, result.p95_ms, result.max_ms) == (100, 1000, 1000)
    assert result.error_rate == pytest.approx(0.05)
    assert recorder.results == [result]


def test_step_recorder_gives_a_step_its_own_max_not_the_running_max() -> None:
    clock = FakeClock()
    recorder = recorder_at(clock)
    recorder.begin(10, 0.0)
    recorder.add_second(3, [replies(5, 3000)])
    clock.now = 10.0
    first = recorder.advance(20, 10.0)
    recorder.add_second(12, [replies(5, 200)])
    clock.now = 20.0
    second = recorder.close(20.0)
    assert first is not None
    assert second is not None
    assert (first.max_ms, second.max_ms) == (3000, 200)
    assert (second.step, second.users, second.requests, second.p95_ms) == (2, 20, 5, 200)


def test_a_steps_figures_are_exact_and_its_p95_never_above_its_max() -> None:
    """Latencies Locust would round to two significant digits (1,260 ms counted as 1,300) stay exact."""
    rng = random.Random(12)
    clock = FakeClock()
    recorder = recorder_at(clock)
    recorder.begin(10, 0.0)
    latencies: list[float] = []
    failures = 0
    for second in range(30):
        stats = ReplyStats()
        for _ in range(rng.randrange(1, 40)):
            stats.replies += 1
            if rng.random() < 0.1:
                stats.failures += 1
                failures += 1
                continue
            latency = round(rng.choice((rng.uniform(10, 300), rng.uniform(1200, 1290))), 1)
            stats.latency.record(latency)
            latencies.append(latency)
        recorder.add_second(second, [stats])
    clock.now = 30.0
    result = recorder.close(30.0)
    assert result is not None
    ranked = sorted(latencies)
    nearest_rank = [ranked[max(1, math.ceil(share * len(ranked))) - 1] for share in (0.5, 0.95, 0.99)]
    assert (result.requests, result.failures) == (len(latencies) + failures, failures)
    assert [result.p50_ms, result.p95_ms, result.p99_ms] == pytest.approx(nearest_rank, abs=0.1)
    assert result.max_ms == max(latencies)
    assert result.p50_ms <= result.p95_ms <= result.p99_ms <= result.max_ms


def test_every_steps_p95_is_at_most_its_max_and_the_steps_count_every_reply() -> None:
    rng = random.Random(3)
    clock = FakeClock()
    recorder = recorder_at(clock)
    recorder.begin(1, 0.0)
    fed = 0
    for second in range(200):
        stats = ReplyStats()
        for _ in range(rng.randrange(0, 5)):
            stats.replies += 1
            stats.latency.record(rng.lognormvariate(6, 1.5))
        fed += stats.replies
        recorder.add_second(second, [stats])
        if second % 7 == 6:
            clock.now = float(second + 1)
            recorder.advance(second, clock.now)
    clock.now = 200.0
    recorder.close(clock.now)
    results = recorder.results
    assert len(results) == 29
    assert all(result.p95_ms <= result.max_ms for result in results)
    assert sum(result.requests for result in results) == fed


def test_a_second_arriving_after_its_step_closed_is_merged_into_it() -> None:
    """On a master the last seconds of a step come with later reports: the step's result takes them."""
    clock = FakeClock()
    recorder = recorder_at(clock)
    recorder.begin(10, 0.0)
    recorder.add_second(0, [replies(10, 100)])
    clock.now = 10.0
    recorder.advance(20, 10.0)
    recorder.add_second(9, [replies(10, 900, failures=1)])  # late: belongs to step 1
    recorder.add_second(10, [replies(4, 50)])  # step 2's
    first = recorder.results[0]
    assert (first.requests, first.failures, first.max_ms) == (20, 1, 900)
    assert first.p95_ms <= first.max_ms
    clock.now = 20.0
    second = recorder.close(20.0)
    assert second is not None
    assert (second.requests, second.max_ms) == (4, 50)


def test_a_closing_step_counts_the_pending_seconds_without_keeping_them() -> None:
    clock = FakeClock()
    recorder = recorder_at(clock)
    pending = {9: [replies(6, 700)], 10: [replies(3, 40)]}  # gathered, not final; 10 is the next step's
    recorder.pending = lambda: list(pending.items())
    recorder.begin(10, 0.0)
    recorder.add_second(2, [replies(4, 100)])
    clock.now = 10.0
    closed = recorder.close(10.0)
    assert closed is not None
    assert (closed.requests, closed.max_ms) == (10, 700)
    pending.clear()  # the recorder takes second 9 as final: it arrives once
    recorder.add_second(9, [replies(6, 700)])
    assert (recorder.results[0].requests, recorder.results[0].max_ms) == (10, 700)


def test_seconds_before_the_first_step_and_after_the_last_are_not_counted() -> None:
    clock = FakeClock()
    recorder = recorder_at(clock)
    clock.now = 5.0
    recorder.begin(10, 0.0)
    clock.now = 10.0
    recorder.close(5.0)
    recorder.add_second(4, [replies(7, 100)])
    recorder.add_second(10, [replies(7, 100)])
    assert recorder.results[0].requests == 0


def test_step_boundaries_fall_on_the_nearest_whole_second() -> None:
    clock = FakeClock()
    recorder = recorder_at(clock)
    clock.now = 100.4
    recorder.begin(10, 0.0)
    clock.now = 103.6
    recorder.advance(20, 3.2)
    for second in (99, 100, 103, 104):
        recorder.add_second(second, [replies(1, second)])
    clock.now = 106.0
    recorder.close(5.6)
    assert [(result.requests, result.max_ms) for result in recorder.results] == [(2, 103), (1, 104)]
    assert recorder.results[0].requests_per_s == pytest.approx(2 / 4)  # seconds 100 to 103


def test_forgetting_the_open_step_makes_it_count_from_a_stats_reset() -> None:
    clock = FakeClock()
    recorder = recorder_at(clock)
    recorder.begin(10, 0.0)
    recorder.add_second(1, [replies(500, 900)])
    recorder.forget_open_step()  # the web UI's reset button
    recorder.add_second(2, [replies(600, 100)])
    clock.now = 10.0
    result = recorder.close(10.0)
    assert result is not None
    assert (result.requests, result.p95_ms, result.max_ms) == (600, 100, 100)


def test_step_recorder_without_seconds_records_empty_steps() -> None:
    clock = FakeClock()
    recorder = recorder_at(clock)
    recorder.begin(5, 0.0)
    clock.now = 10.0
    result = recorder.close(10.0)
    assert result is not None
    assert (result.requests, result.requests_per_s, result.p95_ms, result.error_rate) == (0, 0.0, 0, 0.0)


def test_a_step_of_failures_only_has_no_latency_and_a_full_error_rate() -> None:
    clock = FakeClock()
    recorder = recorder_at(clock)
    recorder.begin(5, 0.0)
    recorder.add_second(3, [replies(4, 0, failures=4)])
    clock.now = 10.0
    result = recorder.close(10.0)
    assert result is not None
    assert (result.requests, result.failures, result.p95_ms, result.max_ms) == (4, 4, 0, 0)
    assert result.error_rate == 1.0


def test_step_recorder_close_without_an_open_step_returns_none() -> None:
    assert StepRecorder().close(1.0) is None


def test_write_steps_csv_writes_prefix_steps_csv_with_the_step_columns(tmp_path: Path) -> None:
    clock = FakeClock()
    recorder = recorder_at(clock)
    recorder.begin(10, 0.0)
    recorder.add_second(7, [replies(40, 120.5, failures=1)])
    clock.now = 20.0
    recorder.close(20.0)
    path = write_steps_csv(tmp_path / "out" / "run", recorder.results)
    assert path == tmp_path / "out" / "run_steps.csv"
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == STEP_CSV_COLUMNS
    assert rows[1] == [
        "1",
        "10",
        "0.0",
        "20.0",
        "20.0",
        "40",
        "1",
        "2.00",
        "120.5",
        "120.5",
        "120.5",
        "0.0250",
    ]


def test_steps_as_json_gives_one_serializable_dict_per_step() -> None:
    clock = FakeClock()
    recorder = recorder_at(clock)
    recorder.begin(10, 0.0)
    clock.now = 10.0
    recorder.advance(20, 10.0)
    clock.now = 20.0
    recorder.close(20.0)
    data = json.loads(json.dumps(steps_as_json(recorder.results)))
    assert [(step["step"], step["users"], step["end"]) for step in data] == [(1, 10, 10.0), (2, 20, 20.0)]
    assert {"requests", "failures", "p50_ms", "p95_ms", "p99_ms", "max_ms", "error_rate"} <= set(data[0])
