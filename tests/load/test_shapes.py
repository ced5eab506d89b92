"""Tests of wslocust.load.shapes: tick sequences on a fake clock, stages parsing, per-step math, stress search."""

from __future__ import annotations

import locust.shape
from locust import User, task
from locust.argument_parser import LocustArgumentParser
from locust.env import Environment
from locust.runners import WorkerRunner
from locust.stats import RequestStats
from locust.util.load_locustfile import is_shape_class

import argparse
import csv
import json
import re
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from wslocust.load.shapes import (
    SHAPES,
    STEP_CSV_COLUMNS,
    BurstShape,
    ConfigurableShape,
    SpikeShape,
    Stage,
    StagesShape,
    SteadyShape,
    StepRecorder,
    StepShape,
    StressShape,
    parse_stages,
    shape_from_options,
    steps_as_json,
    write_steps_csv,
)
from wslocust.plugin import shapes as plugin_shapes
from wslocust.plugin.shapes import add_shape_arguments, install_shape

__all__: list[str] = []

Tick = tuple[int, float] | None


class FakeClock:
    """Stands in for the ``time`` module inside ``locust.shape``: ``perf_counter()`` returns ``now``."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """A fake clock for LoadTestShape.get_run_time (``time.perf_counter() - self.start_time``)."""
    fake = FakeClock()
    monkeypatch.setattr(locust.shape, "time", fake)
    return fake


@pytest.fixture(autouse=True)
def _no_installed_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plugin_shapes._WebUi, "shape", None)


def run_ticks(
    shape: ConfigurableShape,
    clock: FakeClock,
    until: int,
    traffic: Callable[[int], None] | None = None,
    start: int = 0,
) -> dict[int, Tick]:
    """Ticks once a second like Locust's shape worker, from ``start`` to ``until`` or the first None.

    After each tick that returns users, ``traffic(users)`` may log that second's requests.
    """
    seen: dict[int, Tick] = {}
    for second in range(start, until + 1):
        clock.now = float(second)
        result = shape.tick()
        seen[second] = result
        if result is None:
            break
        if traffic is not None:
            traffic(result[0])
    return seen


def log(stats: RequestStats, count: int, ms: int, failures: int = 0) -> None:
    """Logs ``count`` requests of ``ms`` each, ``failures`` of them failed (Locust logs both for those)."""
    for _ in range(count):
        stats.log_request("WS", "chat", ms, 0)
    for _ in range(failures):
        stats.log_error("WS", "chat", "bot error")


def attach_stats(shape: ConfigurableShape) -> RequestStats:
    """Gives the shape a runner whose merged stats are a real RequestStats, as on a master."""
    stats = RequestStats()
    shape.runner = SimpleNamespace(stats=stats, user_count=0)  # type: ignore[assignment]
    return stats


def parse_cli(*args: str) -> argparse.Namespace:
    parser = LocustArgumentParser()
    add_shape_arguments(parser.add_argument_group("Load shapes"))
    return parser.parse_args(list(args))


# ------------------------------------------------------------------------------------------------- stages


def test_parse_stages_reads_stages_and_start_prefix() -> None:
    start, stages = parse_stages("1@2m:10, 5m:50,5m:100,10m:100,3m:10")
    assert start == 1
    assert stages == [Stage(120, 10), Stage(300, 50), Stage(300, 100), Stage(600, 100), Stage(180, 10)]


def test_parse_stages_without_prefix_gives_no_start() -> None:
    assert parse_stages("30s:5") == (None, [Stage(30.0, 5)])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no stages given"),
        ("2m:10,5x:50", "stage 2 '5x:50': bad duration '5x'"),
        ("2m:10,5m", "stage 2 '5m': expected DURATION:USERS"),
        ("2m:ten", "stage 1 '2m:ten': bad user count 'ten'"),
        ("2m:-3", "stage 1 '2m:-3': bad user count '-3'"),
        ("2m:10,", "stage 2 is empty"),
        ("a@2m:10", "bad start 'a'"),
        ("1@2@2m:10", "more than one '@'"),
        ("0s:10", "last 0 s in total"),
    ],
)
def test_parse_stages_error_names_the_bad_token(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_stages(text)


# ------------------------------------------------------------------------------------------ tick sequences


def test_step_shape_adds_step_users_every_step_duration_then_holds_max(clock: FakeClock) -> None:
    shape = StepShape(
        start_users=10, step_users=10, step_duration=60, max_users=30, hold_time=30, spawn_rate=5
    )
    seen = run_ticks(shape, clock, 300)
    assert seen[0] == (10, 5.0)
    assert seen[59] == (10, 5.0)
    assert seen[60] == (20, 5.0)
    assert seen[119] == (20, 5.0)
    assert seen[120] == (30, 5.0)
    assert seen[209] == (30, 5.0)
    assert seen[210] is None
    assert max(seen) == 210


def test_step_shape_cuts_the_last_step_to_max_users(clock: FakeClock) -> None:
    shape = StepShape(start_users=10, step_users=15, step_duration=10, max_users=30, spawn_rate=5)
    seen = run_ticks(shape, clock, 100)
    assert [seen[t] for t in (0, 10, 20, 30)] == [(10, 5.0), (25, 5.0), (30, 5.0), None]


def test_step_shape_time_limit_ends_the_test_mid_step(clock: FakeClock) -> None:
    shape = StepShape(start_users=10, step_users=10, step_duration=60, max_users=100, time_limit="90s")
    seen = run_ticks(shape, clock, 1000)
    assert seen[89] == (20, 10.0)
    assert seen[90] is None


def test_step_shape_never_skips_a_step_when_ticks_come_late(clock: FakeClock) -> None:
    shape = StepShape(start_users=10, step_users=10, step_duration=60, max_users=100)
    clock.now = 0.0
    assert shape.tick() == (10, 10.0)
    clock.now = 130.0  # the shape loop was blocked by a long ramp
    assert shape.tick() == (20, 10.0)
    clock.now = 189.0
    assert shape.tick() == (20, 10.0)
    clock.now = 190.0
    assert shape.tick() == (30, 10.0)


def test_burst_shape_alternates_idle_and_burst_then_ends_after_a_final_idle(clock: FakeClock) -> None:
    shape = BurstShape(
        base_users=5, burst_users=50, burst_duration=10, idle_duration=20, cycles=2, spawn_rate=25
    )
    seen = run_ticks(shape, clock, 200)
    expected: dict[int, Tick] = {
        0: (5, 25.0),
        19: (5, 25.0),
        20: (50, 25.0),
        29: (50, 25.0),
        30: (5, 25.0),
        50: (50, 25.0),
        60: (5, 25.0),
        79: (5, 25.0),
        80: None,
    }
    assert {t: seen[t] for t in expected} == expected
    assert max(seen) == 80


def test_stages_shape_moves_users_linearly_between_stage_targets(clock: FakeClock) -> None:
    shape = StagesShape(start_users=1, stages=[(120, 10), ("5m", 50), (60, 50), (60, 0)], spawn_rate=10)
    seen = run_ticks(shape, clock, 1000)
    assert seen[0] == (1, 10.0)
    assert seen[60] == (6, 10.0)  # 1 + 9 * 60/120 = 5.5, rounded half up
    assert seen[120] == (10, 10.0)
    assert seen[270] == (30, 10.0)
    assert seen[420] == (50, 10.0)
    assert seen[479] == (50, 10.0)
    assert seen[510] == (25, 10.0)
    assert seen[539] == (1, 10.0)
    assert seen[540] is None


def test_stages_shape_raises_spawn_rate_to_a_steeper_ramp_slope(clock: FakeClock) -> None:
    shape = StagesShape(stages=[(10, 1000), (10, 1000)], spawn_rate=10)
    seen = run_ticks(shape, clock, 30)
    assert seen[5] == (500, 100.0)
    assert seen[15] == (1000, 10.0)
    assert seen[20] is None


def test_stages_shape_reads_the_compact_string_with_its_start(clock: FakeClock) -> None:
    class Warmup(StagesShape):
        stages = "4@10s:14"

    shape = Warmup()
    assert shape.start_users == 4
    seen = run_ticks(shape, clock, 20)
    assert [seen[t] for t in (0, 5, 10)] == [(4, 10.0), (9, 10.0), None]


def test_steady_shape_holds_users_for_duration_after_the_ramp(clock: FakeClock) -> None:
    shape = SteadyShape(users=20, duration=30, spawn_rate=4)
    seen = run_ticks(shape, clock, 100)
    assert seen[0] == (20, 4.0)
    assert seen[34] == (20, 4.0)
    assert seen[35] is None  # 20 / 4 = 5 s of ramp, then 30 s


def test_spike_shape_jumps_to_peak_at_spike_at_for_spike_duration(clock: FakeClock) -> None:
    shape = SpikeShape(
        base_users=10, peak_users=100, spike_at=30, spike_duration=10, total_time="1m", spawn_rate=50
    )
    seen = run_ticks(shape, clock, 100)
    expected: dict[int, Tick] = {
        0: (10, 50.0),
        29: (10, 50.0),
        30: (100, 50.0),
        39: (100, 50.0),
        40: (10, 50.0),
        59: (10, 50.0),
        60: None,
    }
    assert {t: seen[t] for t in expected} == expected


def test_new_run_after_the_end_starts_again_from_the_first_step(clock: FakeClock) -> None:
    shape = StepShape(start_users=10, step_users=10, step_duration=10, max_users=20)
    assert run_ticks(shape, clock, 100)[20] is None
    shape.reset_time()  # Runner.start_shape() on the next start
    assert shape.tick() == (10, 10.0)
    assert shape.step_results == []


def test_reset_time_after_the_first_tick_keeps_the_open_step(clock: FakeClock) -> None:
    shape = StepShape(start_users=10, step_users=10, step_duration=10, max_users=20)
    assert shape.tick() == (10, 10.0)
    shape.reset_time()  # MasterRunner.start() resets the clock after the first tick
    seen = run_ticks(shape, clock, 30, start=1)
    assert [seen[t] for t in (1, 9, 10, 20)] == [(10, 10.0), (10, 10.0), (20, 10.0), None]
    assert [result.step for result in shape.step_results] == [1, 2]


# ------------------------------------------------------------------------------------------- step recorder


def test_step_recorder_computes_rate_percentiles_and_error_rate_of_a_step() -> None:
    stats = RequestStats()
    log(stats, 30, 50)  # before the step: not counted
    recorder = StepRecorder()
    recorder.begin(10, 5.0, stats.total)
    log(stats, 90, 100)
    log(stats, 10, 1000, failures=5)
    result = recorder.close(15.0, stats.total)
    assert result is not None
    assert (result.step, result.users, result.start, result.end, result.duration) == (1, 10, 5.0, 15.0, 10.0)
    assert (result.requests, result.failures) == (100, 5)
    assert result.requests_per_s == pytest.approx(10.0)
    assert (result.p50_ms, result.p95_ms, result.max_ms) == (100, 1000, 1000)
    assert result.error_rate == pytest.approx(0.05)
    assert recorder.results == [result]


def test_step_recorder_gives_a_step_its_own_max_not_the_running_max() -> None:
    stats = RequestStats()
    recorder = StepRecorder()
    recorder.begin(10, 0.0, stats.total)
    log(stats, 5, 3000)
    first = recorder.advance(20, 10.0, stats.total)
    log(stats, 5, 200)
    second = recorder.close(20.0, stats.total)
    assert first is not None
    assert second is not None
    assert (first.max_ms, second.max_ms) == (3000, 200)
    assert (second.step, second.users, second.requests, second.p95_ms) == (2, 20, 5, 200)


def test_step_recorder_counts_from_zero_after_locust_replaces_the_stats() -> None:
    stats = RequestStats()
    log(stats, 500, 900)
    recorder = StepRecorder()
    recorder.begin(10, 0.0, stats.total)
    stats.clear_all()  # Runner.start() clears the stats after the shape's first tick
    log(stats, 20, 100)
    result = recorder.close(10.0, stats.total)
    assert result is not None
    assert (result.requests, result.p95_ms, result.max_ms) == (20, 100, 100)


def test_step_recorder_counts_from_zero_after_a_stats_reset_in_place() -> None:
    stats = RequestStats()
    log(stats, 500, 900)
    recorder = StepRecorder()
    recorder.begin(10, 0.0, stats.total)
    stats.reset_all()  # the web UI's reset button
    log(stats, 600, 100)  # more than before the reset: only the reset itself tells
    result = recorder.close(10.0, stats.total)
    assert result is not None
    assert (result.requests, result.p95_ms) == (600, 100)


def test_step_recorder_without_stats_records_empty_steps() -> None:
    recorder = StepRecorder()
    recorder.begin(5, 0.0, None)
    result = recorder.close(10.0, None)
    assert result is not None
    assert (result.requests, result.requests_per_s, result.p95_ms, result.error_rate) == (0, 0.0, 0, 0.0)


def test_step_recorder_close_without_an_open_step_returns_none() -> None:
    assert StepRecorder().close(1.0, None) is None


def test_step_shape_records_one_result_per_step_from_the_runner_stats(clock: FakeClock) -> None:
    shape = StepShape(start_users=10, step_users=10, step_duration=60, max_users=30, hold_time=30)
    stats = attach_stats(shape)
    run_ticks(shape, clock, 1000, traffic=lambda users: log(stats, users // 10, users * 10))
    results = shape.step_results
    assert [(r.step, r.users, r.start, r.end) for r in results] == [
        (1, 10, 0.0, 60.0),
        (2, 20, 60.0, 120.0),
        (3, 30, 120.0, 210.0),
    ]
    assert [r.requests for r in results] == [60, 120, 270]
    assert [r.requests_per_s for r in results] == pytest.approx([1.0, 2.0, 3.0])
    assert [r.p95_ms for r in results] == [100, 200, 300]


# ------------------------------------------------------------------------------------------------- stress


def stress(**settings: object) -> tuple[StressShape, RequestStats]:
    defaults: dict[str, object] = {"start_users": 10, "step_users": 10, "step_duration": 10, "spawn_rate": 10}
    shape = StressShape(**{**defaults, **settings})
    return shape, attach_stats(shape)


def test_stress_shape_stops_when_the_last_steps_p95_exceeds_the_target(clock: FakeClock) -> None:
    shape, stats = stress(max_users=100, p95_ms=1000)

    def traffic(users: int) -> None:
        if users < 30:
            log(stats, 100, 50)
        else:
            log(stats, 5, 2000)

    seen = run_ticks(shape, clock, 1000, traffic)
    assert [seen[t] for t in (0, 10, 20, 29)] == [(10, 10.0), (20, 10.0), (30, 10.0), (30, 10.0)]
    assert seen[30] is None
    # over the whole run p95 would still pass: only the last step is judged
    assert stats.total.get_response_time_percentile(0.95) <= 1000
    point = shape.breaking_point
    assert point is not None
    assert (point.users, point.requests_per_s, point.p95_ms) == (20, pytest.approx(100.0), 50)
    assert (point.broken.step, point.broken.users, point.broken.p95_ms) == (3, 30, 2000)
    assert point.reason == "p95 2000 ms > target 1000 ms"
    assert shape.outcome == "broke"
    assert "Breaking point: 20 users" in shape.message


def test_stress_shape_stops_when_the_last_steps_error_rate_exceeds_the_limit(clock: FakeClock) -> None:
    shape, stats = stress(max_users=100, error_rate=0.05)
    run_ticks(shape, clock, 1000, lambda users: log(stats, 10, 100, failures=0 if users < 20 else 1))
    point = shape.breaking_point
    assert point is not None
    assert (point.users, point.broken.users) == (10, 20)
    assert point.broken.error_rate == pytest.approx(0.1)
    assert point.reason == "error rate 10.0% > limit 5.0%"


def test_stress_shape_breaks_on_a_step_where_no_request_completes(clock: FakeClock) -> None:
    shape, stats = stress(max_users=100)
    run_ticks(shape, clock, 1000, lambda users: log(stats, 10, 100) if users < 20 else None)
    point = shape.breaking_point
    assert point is not None
    assert (point.users, point.broken.users, point.broken.requests) == (10, 20, 0)
    assert "only 0 requests completed" in point.reason


def test_stress_shape_reports_a_breaking_point_below_the_first_step_when_it_breaks(clock: FakeClock) -> None:
    shape, stats = stress(max_users=100, p95_ms=1000)
    seen = run_ticks(shape, clock, 1000, lambda users: log(stats, 10, 5000))
    assert seen[10] is None
    point = shape.breaking_point
    assert point is not None
    assert (point.last_good, point.users, point.p95_ms, point.broken.users) == (None, None, None, 10)
    assert "breaking point is below 10 users" in shape.message


def test_stress_shape_stops_at_max_users_and_says_no_breaking_point_was_found(clock: FakeClock) -> None:
    shape, stats = stress(max_users=30)
    seen = run_ticks(shape, clock, 1000, lambda users: log(stats, 10, 100))
    assert [seen[t] for t in (0, 10, 20, 29, 30)] == [(10, 10.0), (20, 10.0), (30, 10.0), (30, 10.0), None]
    assert shape.breaking_point is None
    assert shape.outcome == "max_users"
    assert shape.message.startswith("No breaking point found up to max_users=30")
    assert [r.users for r in shape.step_results] == [10, 20, 30]


def test_stress_summary_is_json_and_carries_the_breaking_point(clock: FakeClock) -> None:
    shape, stats = stress(max_users=100, p95_ms=1000)
    run_ticks(shape, clock, 1000, lambda users: log(stats, 10, 100 if users < 20 else 3000))
    summary = json.loads(json.dumps(shape.summary()))
    assert summary["shape"] == "stress"
    assert summary["outcome"] == "broke"
    assert summary["breaking_point"]["users"] == 10
    assert summary["breaking_point"]["broken_users"] == 20
    assert [step["users"] for step in summary["steps"]] == [10, 20]


def test_stress_shape_stopped_from_outside_closes_its_step_and_says_so(clock: FakeClock) -> None:
    shape, stats = stress(max_users=100)
    run_ticks(shape, clock, 14, lambda users: log(stats, 10, 100))
    clock.now = 15.0
    shape.finish()
    assert shape.outcome == "stopped"
    assert [(r.users, r.end) for r in shape.step_results] == [(10, 10.0), (20, 15.0)]
    assert "last good step had 10 users" in shape.message


# ---------------------------------------------------------------------------------------------- outputs


def test_write_steps_csv_writes_prefix_steps_csv_with_the_step_columns(tmp_path: Path) -> None:
    stats = RequestStats()
    recorder = StepRecorder()
    recorder.begin(10, 0.0, stats.total)
    log(stats, 40, 120, failures=1)
    recorder.close(20.0, stats.total)
    path = write_steps_csv(tmp_path / "out" / "run", recorder.results)
    assert path == tmp_path / "out" / "run_steps.csv"
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == STEP_CSV_COLUMNS
    assert rows[1] == ["1", "10", "0.0", "20.0", "20.0", "40", "1", "2.00", "120", "120", "120", "0.0250"]


def test_steps_as_json_gives_one_serializable_dict_per_step() -> None:
    recorder = StepRecorder()
    recorder.begin(10, 0.0, None)
    recorder.advance(20, 10.0, None)
    recorder.close(20.0, None)
    data = json.loads(json.dumps(steps_as_json(recorder.results)))
    assert [(step["step"], step["users"], step["end"]) for step in data] == [(1, 10, 10.0), (2, 20, 20.0)]


# --------------------------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("shape_class", "settings", "message"),
    [
        (StepShape, {"step_users": 0}, "StepShape.step_users must be > 0"),
        (StepShape, {"step_duration": "1x"}, "StepShape.step_duration must be a duration of 0 or more"),
        (StepShape, {"step_duration": float("nan")}, "StepShape.step_duration must be a duration"),
        (StressShape, {"p95_ms": float("inf")}, "StressShape.p95_ms must be a number, got inf"),
        (StepShape, {"max_users": 5}, "StepShape.max_users must be >= start_users"),
        (StressShape, {"error_rate": 5}, "StressShape.error_rate must be a fraction"),
        (BurstShape, {"cycles": "two"}, "BurstShape.cycles must be a whole number"),
        (SpikeShape, {"spike_at": 170}, "SpikeShape.total_time must be >= spike_at"),
        (SteadyShape, {"spawn_rate": 0}, "SteadyShape.spawn_rate must be > 0"),
        (StagesShape, {"stages": "2m:10,oops"}, "StagesShape.stages: stage 2 'oops'"),
        (StagesShape, {"stages": [(10, -1)]}, "StagesShape.stages[0] has negative users (-1)"),
    ],
)
def test_shape_settings_reject_bad_values_naming_the_setting(
    shape_class: type[ConfigurableShape], settings: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        shape_class(**settings)


def test_shape_rejects_an_unknown_setting_name() -> None:
    with pytest.raises(TypeError, match="StepShape has no setting step_size"):
        StepShape(step_size=5)


def test_stages_shape_without_stages_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"StagesShape\.stages must list at least one"):
        StagesShape()


def test_locust_picks_a_locustfile_subclass_but_not_an_imported_shape() -> None:
    class Ramp(StepShape):
        step_users = 20

    assert not any(is_shape_class(shape) for shape in SHAPES.values())
    assert is_shape_class(Ramp)
    assert Ramp().step_users == 20


def test_shapes_registry_has_one_shape_per_name() -> None:
    assert set(SHAPES) == {"step", "burst", "stages", "stress", "steady", "spike"}
    assert all(shape.shape_name == name for name, shape in SHAPES.items())


# ------------------------------------------------------------------------------------------ command line


def test_shape_from_options_builds_the_chosen_shape_from_option_values() -> None:
    options = parse_cli(
        "--shape", "stress", "--step-users", "5", "--step-duration", "2m", "--stress-p95-ms", "800"
    )
    shape = shape_from_options(options)
    assert isinstance(shape, StressShape)
    assert (shape.step_users, shape.step_duration, shape.p95_ms) == (5, 120.0, 800.0)
    assert (shape.start_users, shape.max_users, shape.error_rate) == (10, 500, 0.05)


@pytest.mark.parametrize("share", ["5%", "0.05"])
def test_the_stress_error_rate_takes_a_share_as_every_rate_does(share: str) -> None:
    shape = shape_from_options(parse_cli("--shape", "stress", "--stress-error-rate", share))
    assert isinstance(shape, StressShape)
    assert shape.error_rate == 0.05


def test_a_stress_error_rate_above_100_percent_is_refused_naming_the_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        parse_cli("--shape", "stress", "--stress-error-rate", "150%")
    assert "argument --stress-error-rate: must be a fraction from 0 to 1" in capsys.readouterr().err


def test_shape_from_options_reads_stages_with_their_start() -> None:
    shape = shape_from_options(parse_cli("--shape", "stages", "--stages", "2@1m:10,1m:0"))
    assert isinstance(shape, StagesShape)
    assert (shape.start_users, shape.plan) == (2, (Stage(60.0, 10), Stage(60.0, 0)))


def test_shape_from_options_returns_none_without_a_shape() -> None:
    assert shape_from_options(parse_cli()) is None


def test_shape_from_options_requires_stages_for_the_stages_shape() -> None:
    with pytest.raises(ValueError, match="--shape stages needs --stages"):
        shape_from_options(parse_cli("--shape", "stages"))


@pytest.mark.parametrize(
    "args",
    [
        ["--step-duration", "2x"],
        ["--stages", "2m:10,5m"],
        ["--shape", "ramp"],
        ["--step-duration", "0"],
        ["--step-duration", "nan"],
        ["--shape-spawn-rate", "nan"],
        ["--shape-spawn-rate", "0"],
        ["--stress-p95-ms", "inf"],
        ["--stress-error-rate", "1.5"],
        ["--burst-cycles", "0"],
        ["--step-users", "-1"],
        ["--spike-at", "inf"],
    ],
)
def test_bad_shape_option_is_a_command_line_error(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parse_cli(*args)
    assert f"argument {args[0]}:" in capsys.readouterr().err


def test_a_zero_duration_is_accepted_where_it_means_none() -> None:
    options = parse_cli("--step-hold", "0", "--step-time-limit", "0", "--spike-at", "0")
    assert (options.step_hold, options.step_time_limit, options.spike_at) == ("0", "0", "0")


def test_shape_rereads_options_edited_in_the_web_ui_at_the_next_start(clock: FakeClock) -> None:
    options = parse_cli("--shape", "step", "--step-duration", "10", "--max-users", "20")
    shape = shape_from_options(options)
    assert shape is not None
    assert run_ticks(shape, clock, 100)[20] is None
    options.step_users = "5"  # the web UI form stores strings for options that default to None
    shape.reset_time()
    assert run_ticks(shape, clock, 100, start=0)[10] == (15, 10.0)


def test_web_ui_lists_only_the_installed_shapes_options() -> None:
    parser = LocustArgumentParser()
    add_shape_arguments(parser.add_argument_group("Load shapes"))
    assert not any(name.startswith(("shape", "step", "stress")) for name in parser.args_included_in_web_ui)
    plugin_shapes._WebUi.shape = "stress"
    parser = LocustArgumentParser()
    add_shape_arguments(parser)
    shown = set(parser.args_included_in_web_ui)
    assert {"step_users", "stress_p95_ms", "max_users", "shape_spawn_rate"} <= shown
    assert not shown & {"shape", "step_hold", "burst_users", "stages"}


# ----------------------------------------------------------------------------------------- install_shape


class NoopUser(User):
    @task
    def noop(self) -> None:
        pass


def test_install_shape_sets_the_environment_shape_and_its_runner() -> None:
    environment = Environment(user_classes=[NoopUser], parsed_options=parse_cli("--shape", "spike"))
    runner = environment.create_local_runner()
    shape = install_shape(environment)
    assert isinstance(shape, SpikeShape)
    assert environment.shape_class is shape
    assert shape.runner is runner
    assert environment.available_shape_classes == {"SpikeShape": shape}


def test_install_shape_does_nothing_without_a_shape_option() -> None:
    environment = Environment(user_classes=[NoopUser], parsed_options=parse_cli())
    environment.create_local_runner()
    assert install_shape(environment) is None
    assert environment.shape_class is None


class OfflineWorker(WorkerRunner):
    """A WorkerRunner that does not connect to a master."""

    def __init__(self) -> None:
        self.greenlet = None  # read by Runner.__del__


def test_install_shape_does_nothing_on_a_worker() -> None:
    environment = Environment(user_classes=[NoopUser], parsed_options=parse_cli("--shape", "step"))
    environment.runner = OfflineWorker()
    assert install_shape(environment) is None
    assert environment.shape_class is None


def test_install_shape_closes_the_open_step_and_writes_the_csv_when_the_test_stops(
    clock: FakeClock, tmp_path: Path
) -> None:
    options = parse_cli("--shape", "step", "--step-duration", "10")
    options.csv_prefix = str(tmp_path / "run")
    environment = Environment(user_classes=[NoopUser], parsed_options=options)
    environment.create_local_runner()
    shape = install_shape(environment)
    assert isinstance(shape, StepShape)
    run_ticks(shape, clock, 14, lambda users: log(environment.stats, 2, 100))
    clock.now = 15.0
    environment.events.test_stopping.fire(environment=environment)
    environment.events.test_stop.fire(environment=environment)
    assert [(r.users, r.end, r.requests) for r in shape.step_results] == [(10, 10.0, 20), (20, 15.0, 10)]
    with (tmp_path / "run_steps.csv").open(newline="") as handle:
        assert len(list(csv.reader(handle))) == 3
