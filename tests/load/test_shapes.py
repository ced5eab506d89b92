"""The shapes: tick sequences on a fake clock, per-step results fed by seconds of replies, the stress
search, and their settings."""

from __future__ import annotations

from locust.util.load_locustfile import is_shape_class

import json
import re

import pytest

from wslocust.load.shapes import (
    SHAPES,
    BurstShape,
    ConfigurableShape,
    SpikeShape,
    StagesShape,
    SteadyShape,
    StepShape,
    StressShape,
)

from .support import FakeClock, Seconds, Tick, run_ticks

__all__: list[str] = []


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


def test_step_shape_records_one_result_per_step_from_the_runner_stats(clock: FakeClock) -> None:
    shape = StepShape(start_users=10, step_users=10, step_duration=60, max_users=30, hold_time=30)
    stats = Seconds(shape, clock)
    run_ticks(shape, clock, 1000, traffic=lambda users: stats.log(users // 10, users * 10))
    results = shape.step_results
    assert [(r.step, r.users, r.start, r.end) for r in results] == [
        (1, 10, 0.0, 60.0),
        (2, 20, 60.0, 120.0),
        (3, 30, 120.0, 210.0),
    ]
    assert [r.requests for r in results] == [60, 120, 270]
    assert [r.requests_per_s for r in results] == pytest.approx([1.0, 2.0, 3.0])
    assert [r.p95_ms for r in results] == [100, 200, 300]


def stress(clock: FakeClock, **settings: object) -> tuple[StressShape, Seconds]:
    defaults: dict[str, object] = {"start_users": 10, "step_users": 10, "step_duration": 10, "spawn_rate": 10}
    shape = StressShape(**{**defaults, **settings})
    return shape, Seconds(shape, clock)


def test_stress_shape_stops_when_the_last_steps_p95_exceeds_the_target(clock: FakeClock) -> None:
    shape, stats = stress(clock, max_users=100, p95_ms=1000)

    def traffic(users: int) -> None:
        if users < 30:
            stats.log(100, 50)
        else:
            stats.log(5, 2000)

    seen = run_ticks(shape, clock, 1000, traffic)
    assert [seen[t] for t in (0, 10, 20, 29)] == [(10, 10.0), (20, 10.0), (30, 10.0), (30, 10.0)]
    assert seen[30] is None
    # over the whole run p95 would still pass: only the last step is judged
    assert (stats.total.latency.percentile(0.95) or 0) <= 1000
    point = shape.breaking_point
    assert point is not None
    assert (point.users, point.requests_per_s, point.p95_ms) == (20, pytest.approx(100.0), 50)
    assert (point.broken.step, point.broken.users, point.broken.p95_ms) == (3, 30, 2000)
    assert point.reason == "p95 2000 ms > target 1000 ms"
    assert shape.outcome == "broke"
    assert "Breaking point: 20 users" in shape.message


def test_stress_shape_stops_when_the_last_steps_error_rate_exceeds_the_limit(clock: FakeClock) -> None:
    shape, stats = stress(clock, max_users=100, error_rate=0.05)
    run_ticks(shape, clock, 1000, lambda users: stats.log(10, 100, failures=0 if users < 20 else 1))
    point = shape.breaking_point
    assert point is not None
    assert (point.users, point.broken.users) == (10, 20)
    assert point.broken.error_rate == pytest.approx(0.1)
    assert point.reason == "error rate 10.0% > limit 5.0%"


def test_stress_shape_breaks_on_a_step_where_no_request_completes(clock: FakeClock) -> None:
    shape, stats = stress(clock, max_users=100)
    run_ticks(shape, clock, 1000, lambda users: stats.log(10, 100) if users < 20 else None)
    point = shape.breaking_point
    assert point is not None
    assert (point.users, point.broken.users, point.broken.requests) == (10, 20, 0)
    assert "only 0 requests completed" in point.reason


def test_stress_shape_reports_a_breaking_point_below_the_first_step_when_it_breaks(clock: FakeClock) -> None:
    shape, stats = stress(clock, max_users=100, p95_ms=1000)
    seen = run_ticks(shape, clock, 1000, lambda users: stats.log(10, 5000))
    assert seen[10] is None
    point = shape.breaking_point
    assert point is not None
    assert (point.last_good, point.users, point.p95_ms, point.broken.users) == (None, None, None, 10)
    assert "breaking point is below 10 users" in shape.message


def test_stress_shape_stops_at_max_users_and_says_no_breaking_point_was_found(clock: FakeClock) -> None:
    shape, stats = stress(clock, max_users=30)
    seen = run_ticks(shape, clock, 1000, lambda users: stats.log(10, 100))
    assert [seen[t] for t in (0, 10, 20, 29, 30)] == [(10, 10.0), (20, 10.0), (30, 10.0), (30, 10.0), None]
    assert shape.breaking_point is None
    assert shape.outcome == "max_users"
    assert shape.message.startswith("No breaking point found up to max_users=30")
    assert [r.users for r in shape.step_results] == [10, 20, 30]


def test_stress_summary_is_json_and_carries_the_breaking_point(clock: FakeClock) -> None:
    shape, stats = stress(clock, max_users=100, p95_ms=1000)
    run_ticks(shape, clock, 1000, lambda users: stats.log(10, 100 if users < 20 else 3000))
    summary = json.loads(json.dumps(shape.summary()))
    assert summary["shape"] == "stress"
    assert summary["outcome"] == "broke"
    assert summary["breaking_point"]["users"] == 10
    assert summary["breaking_point"]["broken_users"] == 20
    assert [step["users"] for step in summary["steps"]] == [10, 20]


def test_stress_shape_stopped_from_outside_closes_its_step_and_says_so(clock: FakeClock) -> None:
    shape, stats = stress(clock, max_users=100)
    run_ticks(shape, clock, 14, lambda users: stats.log(10, 100))
    clock.now = 15.0
    shape.finish()
    assert shape.outcome == "stopped"
    assert [(r.users, r.end) for r in shape.step_results] == [(10, 10.0), (20, 15.0)]
    assert "last good step had 10 users" in shape.message


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
    assert set(SHAPES) == {"step", "burst", "stages", "stress", "steady", "spike", "capacity"}
    assert all(shape.shape_name == name for name, shape in SHAPES.items())
