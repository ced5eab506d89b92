"""The capacity shape on a fake clock: levels settled, measured, judged on their window's replies."""

from __future__ import annotations

import pytest

from wslocust.load.shapes import shape_from_options
from wslocust.load.shapes.capacity import CapacityShape

from .support import FakeClock, Seconds, parse_cli, run_ticks


def capacity(clock: FakeClock, **settings: object) -> tuple[CapacityShape, Seconds]:
    defaults: dict[str, object] = {"over": "users", "start": 2, "settle_time": 2, "measure_time": 3}
    shape = CapacityShape(slos=("e2e:500",), **{**defaults, **settings})
    return shape, Seconds(shape, clock)


def test_levels_are_judged_on_their_measuring_window_only(clock: FakeClock) -> None:
    """Slow replies while a level settles do not count; a window's own slow replies fail it."""
    shape, stats = capacity(clock, max_levels=3)
    rates: list[float] = []

    def traffic(users: int) -> None:
        level = shape._level
        assert level is not None
        if level.phase == "settle":
            stats.log(10, 5000)  # the queue of the last level, draining: not judged
        else:
            stats.log(10 * users, 100 if users <= 4 else 900)
        rates.append(users)

    run_ticks(shape, clock, 200, traffic)
    assert [(level.target, level.passed) for level in shape.levels] == [(2, True), (4, True), (8, False)]
    assert [level.e2e_ms for level in shape.levels] == [100, 100, 900]
    assert shape.levels[0].achieved_rate_per_s == 20  # 20 replies a second of the 3-second window
    assert shape.levels[2].reason == "e2e p99 900 ms > SLO 500 ms"
    assert shape.outcome == "max_levels"


def test_the_search_moves_through_levels_and_ends_with_its_verdict(clock: FakeClock) -> None:
    shape, stats = capacity(clock)
    seen = run_ticks(shape, clock, 500, lambda users: stats.log(10 * users, 100 if users <= 6 else 900))
    assert [level.target for level in shape.levels] == [2, 4, 8, 6, 7, 6]
    assert shape.outcome == "found"
    assert list(seen.values())[-1] is None
    section = shape.capacity_section()
    assert (section["capacity"], section["capacity_users"], section["limit_below"]) == (6, 6, 7)
    assert shape.verdict().startswith("Capacity: 6 users (60.00 replies/s")


def test_the_users_stop_for_a_settling_period_after_a_failed_level(clock: FakeClock) -> None:
    shape, stats = capacity(clock, max_levels=4)
    seen = run_ticks(shape, clock, 500, lambda users: stats.log(10 * users, 100 if users <= 4 else 900))
    users = [tick[0] for tick in seen.values() if tick is not None]
    after_8 = users[users.index(8) :]
    assert 0 in after_8
    assert after_8[after_8.index(0) + 2] == 6  # two seconds (the settling period) without users, then 6


def test_after_a_failed_level_the_users_stop_until_the_last_pool_has_stopped(clock: FakeClock) -> None:
    """Locust stops users at the spawn rate: 8 users at 2 a second need 4 s to stop, not the 2 s settle."""
    shape, stats = capacity(clock, max_levels=4, spawn_rate=2)
    seen = run_ticks(shape, clock, 500, lambda users: stats.log(10 * users, 100 if users <= 4 else 900))
    users = [tick[0] for tick in seen.values() if tick is not None]
    after_8 = users[users.index(8) :]
    first_idle = after_8.index(0)
    assert after_8[first_idle : first_idle + 5] == [0, 0, 0, 0, 6]


def test_a_level_clearly_past_the_limit_is_cut_short(clock: FakeClock) -> None:
    shape, stats = capacity(clock, max_levels=2, measure_time=30)
    run_ticks(shape, clock, 500, lambda users: stats.log(50, 100, failures=0 if users <= 2 else 40))
    cut = shape.levels[1]
    assert (cut.passed, cut.cut_short) == (False, True)
    assert cut.measured_s < 30
    assert "error rate" in cut.reason


def test_the_run_ends_at_max_duration(clock: FakeClock) -> None:
    shape, stats = capacity(clock, max_duration=12)
    seen = run_ticks(shape, clock, 500, lambda users: stats.log(10 * users, 100))
    assert max(seen) == 12
    assert seen[12] is None
    assert shape.outcome == "stopped"


def test_over_rates_each_level_sets_the_rate_and_a_pool_of_users(clock: FakeClock) -> None:
    shape = CapacityShape(
        start=5, settle_time=1, measure_time=2, pool_time=4, slos=("e2e:500",), max_levels=2
    )
    stats = Seconds(shape, clock)
    rates: list[float] = []
    shape.rate_listener = rates.append
    seen = run_ticks(shape, clock, 100, lambda users: stats.log(users, 100))
    assert rates == [5, 10]
    assert {tick[0] for tick in seen.values() if tick is not None} == {20, 40}  # rate x pool time


def test_over_rates_the_next_levels_rate_starts_when_its_users_do_not_while_the_last_ones_stop(
    clock: FakeClock,
) -> None:
    """A schedule begun while no user could send would owe its sends at once when the users come."""
    shape = CapacityShape(
        start=5, settle_time=1, measure_time=2, pool_time=4, slos=("e2e:500",), max_levels=3, spawn_rate=10
    )
    stats = Seconds(shape, clock)
    rates: dict[int, float] = {}
    shape.rate_listener = lambda rate: rates.setdefault(int(clock.now), rate)
    seen = run_ticks(shape, clock, 100, lambda users: stats.log(users, 100 if users <= 20 else 900))
    users = {second: tick[0] for second, tick in seen.items() if tick is not None}
    assert list(rates.values()) == [5, 10, 7.5]  # 10 failed: half-way down
    [second] = [second for second, rate in rates.items() if rate == 7.5]
    assert users[second - 1] == 0  # the 40 users of 10 prompts/s stopping (4 s at 10 a second)
    assert users[second] == 30


def test_the_options_make_a_capacity_search() -> None:
    options = parse_cli("--shape", "capacity", "--capacity-over", "users", "--capacity-settle", "5s",
                        "--capacity-measure", "1m", "--capacity-max-levels", "7")  # fmt: skip
    options.slo, options.slo_percentile, options.max_error_rate = ["ttft:800", "e2e:5000"], "95", "2%"
    shape = shape_from_options(options)
    assert isinstance(shape, CapacityShape)
    assert (shape.over, shape.start, shape.settle_time, shape.measure_time, shape.max_levels) == (
        "users", 1, 5, 60, 7,
    )  # fmt: skip
    assert (shape.slos, shape.percentile, shape.max_error_rate) == (
        (("ttft", 800), ("e2e", 5000)), 95, 0.02,
    )  # fmt: skip


def test_over_rates_the_first_level_is_the_arrival_rate() -> None:
    options = parse_cli("--shape", "capacity")
    options.slo, options.arrival_rate = ["e2e:500"], "12.5"
    shape = shape_from_options(options)
    assert isinstance(shape, CapacityShape)
    assert shape.start == 12.5


@pytest.mark.parametrize(
    ("args", "extra", "culprit"),
    [
        ((), {"arrival_rate": "5"}, "--slo"),
        ((), {"slo": ["e2e:500"]}, "--arrival-rate"),
        ((), {"slo": ["e2e:500", "e2e:600"], "arrival_rate": "5"}, "--slo e2e is given twice"),
        (("--capacity-over", "users"), {"slo": ["e2e:500"], "slo_percentile": "0"}, "--slo-percentile"),
        (("--capacity-over", "users"), {"slo": ["e2e:500"], "max_error_rate": "-1"}, "--max-error-rate"),
        (("--capacity-over", "users", "--capacity-growth", "1"), {"slo": ["e2e:500"]}, "--capacity-growth"),
    ],
)
def test_bad_capacity_settings_are_refused_naming_the_culprit(
    args: tuple[str, ...], extra: dict[str, object], culprit: str
) -> None:
    options = parse_cli("--shape", "capacity", *args)
    for name, value in extra.items():
        setattr(options, name, value)
    with pytest.raises(ValueError, match=culprit):
        shape_from_options(options)


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--slo-percentile", "101"),
        ("--slo-percentile", "nan"),
        ("--capacity-measure", "-3"),
        ("--capacity-over", "tokens"),
        ("--capacity-start", "-1"),
    ],
)
def test_bad_capacity_options_stop_the_parser_naming_the_option(
    flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        parse_cli("--shape", "capacity", flag, value)
    assert stopped.value.code == 2
    assert flag in capsys.readouterr().err
