"""The shapes' wiring into Locust: their options on the command line and in the web UI, install_shape,
and the steps fed from the recorder's seconds."""

from __future__ import annotations

from locust import User, task
from locust.argument_parser import LocustArgumentParser
from locust.env import Environment
from locust.runners import WorkerRunner

import csv
from pathlib import Path

import pytest

from wslocust.load.shapes import SpikeShape, Stage, StagesShape, StepShape, StressShape, shape_from_options
from wslocust.plugin import shapes as plugin_shapes
from wslocust.plugin.recording import Recording
from wslocust.plugin.shapes import add_shape_arguments, connect_steps, install_shape

from ..conftest import make_reply
from ..load.support import FakeClock, Seconds, fake_clock, parse_cli, run_ticks

__all__: list[str] = []


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """A fake clock for the shapes' run time."""
    return fake_clock(monkeypatch)


@pytest.fixture(autouse=True)
def _no_installed_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plugin_shapes._WebUi, "shape", None)


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
    seconds = Seconds(shape, clock)
    run_ticks(shape, clock, 14, lambda users: seconds.log(2, 100))
    clock.now = 15.0
    environment.events.test_stopping.fire(environment=environment)
    environment.events.test_stop.fire(environment=environment)
    assert [(r.users, r.end, r.requests) for r in shape.step_results] == [(10, 10.0, 20), (20, 15.0, 10)]
    with (tmp_path / "run_steps.csv").open(newline="") as handle:
        assert len(list(csv.reader(handle))) == 3


def test_connect_steps_feeds_the_steps_from_the_recorders_seconds_late_ones_included(
    clock: FakeClock, tmp_path: Path
) -> None:
    """A step closing with a second still being gathered counts it; once the recorder takes every second,
    the summary and the steps CSV hold the final figures."""
    options = parse_cli("--shape", "step", "--step-duration", "10", "--step-users", "10", "--max-users", "20")
    options.csv_prefix = str(tmp_path / "run")
    environment = Environment(user_classes=[NoopUser], parsed_options=options)
    environment.create_local_runner()
    shape = install_shape(environment)
    assert isinstance(shape, StepShape)
    recorder = Recording(environment, csv_prefix=options.csv_prefix)
    connect_steps(environment, recorder)
    environment.events.test_start.fire(environment=environment)
    wall = 1_000_000.0
    shape.recorder.clock = lambda: wall + clock.now
    run_ticks(shape, clock, 0)  # step 1 begins
    for started_at, ms in ((wall + 0.2, 120.5), (wall + 6.5, 3000.0)):  # end in seconds 0 and 9
        recorder.stats.record(make_reply(total_time_ms=ms, started_at=started_at))
    run_ticks(shape, clock, 10, start=10)  # step 1 ends with second 9 still being gathered
    assert [(r.requests, r.max_ms) for r in shape.step_results] == [(2, 3000.0)]
    recorder.stats.record(make_reply(total_time_ms=40.0, started_at=wall + 9.9))  # ends in second 9
    clock.now = 15.0
    environment.events.test_stopping.fire(environment=environment)
    recorder.finish()  # the test's books close: every second is taken
    first, second = shape.step_results
    assert (first.requests, first.p95_ms, first.max_ms) == (3, 3000.0, 3000.0)
    assert second.requests == 0
    assert recorder.last_summary is not None
    assert [step["requests"] for step in recorder.last_summary["steps"]["steps"]] == [3, 0]
    with (tmp_path / "run_steps.csv").open(newline="") as handle:
        assert [row["Requests"] for row in csv.DictReader(handle)] == ["3", "0"]
