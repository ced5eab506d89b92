"""Load shapes for wslocust: step ramp, bursts, linear stages, stress search, steady load and a spike.

Each shape is a Locust :class:`~locust.LoadTestShape`. Its ``tick()`` runs on the master (or on the single
process of a local run) once a second and returns ``(user_count, spawn_rate)``, or ``None`` to end the test.
In distributed mode ``runner.stats`` on the master is the merged view of all workers, which is what the
per-step results are computed from.

Two ways to use a shape:

* From the command line: ``--shape step --step-users 10 --step-duration 1m ...``. The options are
  registered by :func:`add_shape_arguments` and the shape is built and handed to Locust by
  :func:`install_shape`, called from an ``init`` event listener.
* In a locustfile: subclass a shape and set its class attributes::

      from wslocust.shapes import StepShape

      class Ramp(StepShape):
          step_users = 20
          step_duration = "2m"

  Like Locust's ``HttpUser``, the classes here are marked ``abstract`` so that merely importing them into
  a locustfile does not make Locust pick them; a subclass defined in the locustfile is picked.

Time comes only from :meth:`LoadTestShape.get_run_time` (``time.perf_counter()`` minus ``start_time``, reset
by Locust when a shape test starts), so tests can drive the shapes with a fake clock.

:class:`StepShape` and :class:`StressShape` record per-step results with a :class:`StepRecorder`: at each step
boundary the difference between two snapshots of ``runner.stats.total`` gives that step's request count,
failures, requests/s and latency percentiles.
"""

from __future__ import annotations

from locust.runners import WorkerRunner
from locust.shape import LoadTestShape
from locust.stats import StatsEntry, calculate_response_time_percentile

import argparse
import csv
import logging
import math
from abc import abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NamedTuple, Protocol

from ...values import DURATION_FORMS, argument_type, count, fraction, integer, number, seconds

if TYPE_CHECKING:
    from locust.env import Environment

__all__ = [
    "SHAPES",
    "STEP_CSV_COLUMNS",
    "BreakingPoint",
    "BurstShape",
    "ConfigurableShape",
    "OpenStep",
    "RecordingShape",
    "SpikeShape",
    "Stage",
    "StagesShape",
    "StatsSnapshot",
    "SteadyShape",
    "StepRecorder",
    "StepResult",
    "StepShape",
    "StressShape",
    "add_shape_arguments",
    "install_shape",
    "parse_stages",
    "shape_from_options",
    "steps_as_json",
    "write_steps_csv",
]

logger = logging.getLogger(__name__)

STEP_CSV_COLUMNS: tuple[str, ...] = (
    "Step",
    "Users",
    "Start",
    "End",
    "Duration (s)",
    "Requests",
    "Failures",
    "Requests/s",
    "p50 (ms)",
    "p95 (ms)",
    "Max (ms)",
    "Error Rate",
)
"""Header of the ``{prefix}_steps.csv`` file written by :func:`write_steps_csv`."""


# --------------------------------------------------------------------------------------------------------
# Durations and stages
# --------------------------------------------------------------------------------------------------------


class Stage(NamedTuple):
    """One stage of a :class:`StagesShape`: move linearly to ``users`` over ``duration`` seconds."""

    duration: float
    """Length of the stage in seconds; 0 makes an instant jump to ``users``."""
    users: int
    """User count reached at the end of the stage."""


def parse_stages(text: str) -> tuple[int | None, list[Stage]]:
    """Parses the compact stages syntax of ``--stages``.

    The syntax is comma-separated ``DURATION:USERS`` stages, optionally preceded by ``START@`` to ramp from
    ``START`` users instead of 0. Durations take :func:`~wslocust.values.seconds`'s forms. Example:
    ``"1@2m:10,5m:50,5m:100,10m:100,3m:10"`` warms up from 1 to 10 users over 2 minutes, ramps to 50 and
    then 100 over 5 minutes each, holds 100 for 10 minutes and cools down to 10 over 3 minutes.

    Args:
        text: The stages string.

    Returns:
        ``(start_users, stages)``; ``start_users`` is ``None`` when there is no ``START@`` prefix.

    Raises:
        ValueError: The string is empty or malformed; the message names the bad token.
    """
    body = text.strip()
    if not body:
        raise ValueError("no stages given: expected DURATION:USERS[,DURATION:USERS...], e.g. '2m:10,5m:50'")
    start: int | None = None
    if "@" in body:
        prefix, _, body = body.partition("@")
        prefix = prefix.strip()
        if "@" in body:
            raise ValueError(f"more than one '@' in {text!r}: only the start may be given, as START@...")
        if not prefix.isdigit():
            raise ValueError(
                f"bad start {prefix!r} in {text!r}: expected a whole number of users before '@', "
                "e.g. '1@2m:10'"
            )
        start = int(prefix)
    stages: list[Stage] = []
    for nth, raw in enumerate(body.split(","), start=1):
        token = raw.strip()
        if not token:
            raise ValueError(f"stage {nth} is empty in {text!r} (a stray comma?)")
        duration_text, colon, users_text = token.partition(":")
        if not colon:
            raise ValueError(f"stage {nth} {token!r}: expected DURATION:USERS, e.g. '2m:10'")
        try:
            duration = seconds(duration_text, positive=False)
        except ValueError:
            raise ValueError(
                f"stage {nth} {token!r}: bad duration {duration_text.strip()!r} ({DURATION_FORMS})"
            ) from None
        users_text = users_text.strip()
        if not users_text.isdigit():
            raise ValueError(
                f"stage {nth} {token!r}: bad user count {users_text!r} (expected a whole number >= 0)"
            )
        stages.append(Stage(duration, int(users_text)))
    if sum(stage.duration for stage in stages) <= 0:
        raise ValueError(f"the stages in {text!r} last 0 s in total")
    return start, stages


# --------------------------------------------------------------------------------------------------------
# Per-step results
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatsSnapshot:
    """The counters of a Locust :class:`~locust.stats.StatsEntry` at one moment.

    Snapshots are subtracted to get what happened between two moments. The entry object itself is kept to
    notice a stats reset (Locust replaces ``stats.total`` when a test starts; the web UI's reset button
    resets it in place).
    """

    entry: StatsEntry | None = field(compare=False, repr=False)
    """The entry the snapshot was taken of, or ``None`` for an empty snapshot."""
    start_time: float
    """``entry.start_time``: moves forward only when the entry is reset."""
    num_requests: int
    """Requests so far, failed ones included (Locust counts a failure as a request and an error)."""
    num_failures: int
    """Failed requests so far."""
    max_response_time: int
    """Largest response time so far, in ms."""
    response_times: Mapping[int, int]
    """Copy of ``entry.response_times``: rounded ms -> count."""

    @classmethod
    def take(cls, entry: StatsEntry | None) -> StatsSnapshot:
        """Snapshots an entry.

        Args:
            entry: Usually ``runner.stats.total``; ``None`` gives an empty snapshot.

        Returns:
            The snapshot.
        """
        if entry is None:
            return cls(None, 0.0, 0, 0, 0, {})
        return cls(
            entry=entry,
            start_time=float(entry.start_time),
            num_requests=int(entry.num_requests),
            num_failures=int(entry.num_failures),
            max_response_time=int(entry.max_response_time),
            response_times=dict(entry.response_times),
        )

    def is_baseline_for(self, later: StatsSnapshot) -> bool:
        """Tells whether ``later`` continues this snapshot's counters (no reset in between).

        Args:
            later: A snapshot taken after this one.

        Returns:
            False when the entry was replaced or reset in between.
        """
        return (
            self.entry is later.entry
            and later.start_time <= self.start_time
            and later.num_requests >= self.num_requests
            and later.num_failures >= self.num_failures
        )


@dataclass(frozen=True)
class StepResult:
    """What happened during one step: its users level and the traffic measured over it.

    Times are run times in seconds (from the shape's clock, 0 at the start of the test).
    """

    step: int
    """Step number, from 1."""
    users: int
    """Users level of the step (the shape's target)."""
    start: float
    """Run time at which the step began, in seconds."""
    end: float
    """Run time at which the step ended, in seconds."""
    duration: float
    """``end - start``, in seconds."""
    requests: int
    """Requests completed during the step, failed ones included."""
    failures: int
    """Failed requests during the step."""
    requests_per_s: float
    """``requests / duration``."""
    p50_ms: int
    """Median response time over the step's requests, in ms (Locust's rounded buckets)."""
    p95_ms: int
    """95th percentile response time over the step's requests, in ms."""
    max_ms: int
    """Largest response time during the step, in ms."""
    error_rate: float
    """``failures / requests`` (1.0 when there were failures but no requests, 0.0 when neither)."""

    def as_dict(self) -> dict[str, int | float]:
        """Returns the result as a JSON-able dict keyed by field name."""
        return asdict(self)

    def csv_row(self) -> list[str]:
        """Returns the row for :data:`STEP_CSV_COLUMNS`."""
        return [
            str(self.step),
            str(self.users),
            f"{self.start:.1f}",
            f"{self.end:.1f}",
            f"{self.duration:.1f}",
            str(self.requests),
            str(self.failures),
            f"{self.requests_per_s:.2f}",
            str(self.p50_ms),
            str(self.p95_ms),
            str(self.max_ms),
            f"{self.error_rate:.4f}",
        ]

    def describe(self) -> str:
        """Returns a one-line human summary of the step."""
        return (
            f"step {self.step} ({self.users} users, {self.duration:.0f} s): {self.requests} requests, "
            f"{self.requests_per_s:.2f} req/s, p50 {self.p50_ms} ms, p95 {self.p95_ms} ms, "
            f"max {self.max_ms} ms, errors {self.error_rate:.1%}"
        )

    @classmethod
    def between(
        cls, step: int, users: int, start: float, end: float, before: StatsSnapshot, after: StatsSnapshot
    ) -> StepResult:
        """Computes a step's result from the snapshots taken at its start and end.

        If the stats were reset in between, everything in ``after`` counts as the step's.

        Args:
            step: Step number, from 1.
            users: Users level of the step.
            start: Run time at the start of the step, in seconds.
            end: Run time at the end of the step, in seconds.
            before: Snapshot at the start.
            after: Snapshot at the end.

        Returns:
            The step's result.
        """
        if not before.is_baseline_for(after):
            before = StatsSnapshot(after.entry, after.start_time, 0, 0, 0, {})
        requests = after.num_requests - before.num_requests
        failures = after.num_failures - before.num_failures
        times = {
            ms: count - before.response_times.get(ms, 0)
            for ms, count in after.response_times.items()
            if count - before.response_times.get(ms, 0) > 0
        }
        timed = sum(times.values())
        p50 = calculate_response_time_percentile(times, timed, 0.5) if timed else 0
        p95 = calculate_response_time_percentile(times, timed, 0.95) if timed else 0
        if after.max_response_time > before.max_response_time:
            max_ms = after.max_response_time  # the all-time max was set during this step: exact
        else:  # the step's own max is only known to its bucket
            max_ms = min(max(times, default=0), after.max_response_time)
        duration = max(end - start, 0.0)
        error_rate = failures / requests if requests > 0 else (1.0 if failures > 0 else 0.0)
        return cls(
            step=step,
            users=users,
            start=start,
            end=end,
            duration=duration,
            requests=requests,
            failures=failures,
            requests_per_s=requests / duration if duration > 0 else 0.0,
            p50_ms=int(p50),
            p95_ms=int(p95),
            max_ms=int(max_ms),
            error_rate=error_rate,
        )


@dataclass(frozen=True)
class OpenStep:
    """A step that has begun and not yet ended."""

    step: int
    """Step number, from 1."""
    users: int
    """Users level of the step."""
    start: float
    """Run time at which it began, in seconds."""
    baseline: StatsSnapshot
    """Stats snapshot taken when it began."""


class StepRecorder:
    """Records per-step results from snapshots of a stats entry taken at step boundaries.

    The shape calls :meth:`begin` when a step starts and :meth:`close` (or :meth:`advance`, which does both)
    when it ends, passing ``runner.stats.total``; on the master that is the merged view of all workers.
    """

    def __init__(self) -> None:
        """Creates an empty recorder."""
        self.results: list[StepResult] = []
        """Results of the closed steps, in order."""
        self.open_step: OpenStep | None = None
        """The current step, if one has begun and not ended."""

    def reset(self) -> None:
        """Forgets all steps (for a new run)."""
        self.results = []
        self.open_step = None

    def begin(self, users: int, now: float, entry: StatsEntry | None) -> OpenStep:
        """Begins the next step, closing the current one first if there is one.

        Args:
            users: Users level of the new step.
            now: Run time in seconds.
            entry: Stats entry to measure, usually ``runner.stats.total``; ``None`` records zeros.

        Returns:
            The new open step.
        """
        return self._begin(users, now, StatsSnapshot.take(entry))

    def close(self, now: float, entry: StatsEntry | None) -> StepResult | None:
        """Ends the current step and records its result.

        Args:
            now: Run time in seconds.
            entry: The same stats entry as given to :meth:`begin` (or its replacement after a reset).

        Returns:
            The step's result, or ``None`` if no step was open.
        """
        return self._close(now, StatsSnapshot.take(entry))

    def advance(self, users: int, now: float, entry: StatsEntry | None) -> StepResult | None:
        """Ends the current step and begins the next one at the same moment, from one snapshot.

        Args:
            users: Users level of the next step.
            now: Run time in seconds.
            entry: Stats entry to measure.

        Returns:
            The result of the step that ended, or ``None`` if no step was open.
        """
        snapshot = StatsSnapshot.take(entry)
        result = self._close(now, snapshot)
        self._begin(users, now, snapshot)
        return result

    def _begin(self, users: int, now: float, snapshot: StatsSnapshot) -> OpenStep:
        self._close(now, snapshot)
        number = self.results[-1].step + 1 if self.results else 1
        self.open_step = OpenStep(step=number, users=users, start=now, baseline=snapshot)
        return self.open_step

    def _close(self, now: float, snapshot: StatsSnapshot) -> StepResult | None:
        current = self.open_step
        if current is None:
            return None
        self.open_step = None
        result = StepResult.between(
            current.step, current.users, current.start, now, current.baseline, snapshot
        )
        self.results.append(result)
        logger.info("wslocust %s", result.describe())
        return result


def steps_as_json(results: Iterable[StepResult]) -> list[dict[str, int | float]]:
    """Returns step results as a JSON-able list of dicts (keys are :class:`StepResult`'s field names).

    Args:
        results: Step results, e.g. ``shape.step_results``.

    Returns:
        One dict per step.
    """
    return [result.as_dict() for result in results]


def write_steps_csv(prefix: str | Path, results: Iterable[StepResult]) -> Path:
    """Writes step results to ``{prefix}_steps.csv`` with the :data:`STEP_CSV_COLUMNS` header.

    Args:
        prefix: The CSV prefix, as given to Locust's ``--csv``; missing directories are created.
        results: Step results, e.g. ``shape.step_results``.

    Returns:
        The path written.
    """
    path = Path(f"{prefix}_steps.csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(STEP_CSV_COLUMNS)
        writer.writerows(result.csv_row() for result in results)
    return path


# --------------------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------------------

_Kind = Literal["int", "float", "fraction", "duration", "stages"]


def _to_duration(name: str, value: object) -> float:
    return seconds(value, name, positive=False)


def _to_stages(name: str, value: object) -> tuple[Stage, ...]:
    if isinstance(value, str):
        return tuple(parse_stages(value)[1])
    if not isinstance(value, Iterable):
        raise ValueError(f"{name} must be a list of (duration_s, target_users) pairs, got {value!r}")
    stages: list[Stage] = []
    for index, item in enumerate(value):
        if not isinstance(item, Sequence) or isinstance(item, str) or len(item) != 2:
            raise ValueError(f"{name}[{index}] {item!r}: expected a (duration_s, target_users) pair")
        stages.append(Stage(_to_duration(f"{name}[{index}]", item[0]), integer(item[1], f"{name}[{index}]")))
    return tuple(stages)


def _coerce(name: str, kind: _Kind, value: object) -> object:
    if kind == "int":
        return integer(value, name)
    if kind == "float":
        return number(value, name, minimum=None)
    if kind == "fraction":
        return fraction(value, name)
    if kind == "duration":
        return _to_duration(name, value)
    return _to_stages(name, value)


# --------------------------------------------------------------------------------------------------------
# Base classes
# --------------------------------------------------------------------------------------------------------


class ConfigurableShape(LoadTestShape):
    """Base of the wslocust shapes: settings from class attributes, keyword arguments or parsed options.

    A shape is configured, in increasing priority, by its class attributes (set them in a subclass),
    by keyword arguments to the constructor, and by parsed command-line options (:meth:`from_options`).
    Settings are checked when the shape is created; bad values raise ``ValueError`` naming the setting.

    A shape built from options re-reads them when a new run starts, so values edited in the web UI's
    form take effect on the next start.
    """

    abstract = True

    shape_name: ClassVar[str] = ""
    """Key of the shape in :data:`SHAPES` and value of ``--shape``."""

    spawn_rate: float = 10.0
    """Users started (or stopped) per second when the shape changes the user count."""

    _settings: ClassVar[dict[str, _Kind]] = {"spawn_rate": "float"}
    _option_map: ClassVar[dict[str, str]] = {"shape_spawn_rate": "spawn_rate"}

    def __init__(self, **settings: object) -> None:
        """Creates the shape.

        Args:
            **settings: Overrides of the class-attribute settings, e.g. ``step_users=20``.

        Raises:
            TypeError: A setting name is unknown.
            ValueError: A setting has a bad value.
        """
        super().__init__()
        self._options: argparse.Namespace | None = None
        self._last_tick: float | None = None
        self._finished = False
        self.configure(**settings)

    @classmethod
    def from_options(cls, options: argparse.Namespace) -> ConfigurableShape:
        """Creates the shape from parsed command-line options (those of :func:`add_shape_arguments`).

        Options left unset (``None`` or empty) keep the class-attribute defaults.

        Args:
            options: Parsed options, e.g. ``environment.parsed_options``.

        Returns:
            The configured shape; it keeps a reference to ``options`` to re-read them on each new run.
        """
        shape = cls(**cls._settings_from(options))
        shape._options = options
        return shape

    @classmethod
    def _settings_from(cls, options: argparse.Namespace) -> dict[str, object]:
        settings: dict[str, object] = {}
        for dest, name in cls._option_map.items():
            value = getattr(options, dest, None)
            if value is not None and value != "":
                settings[name] = value
        return settings

    def configure(self, **settings: object) -> None:
        """Changes settings; all of them are checked again, and on error none is changed.

        Args:
            **settings: New values, by setting name.

        Raises:
            TypeError: A setting name is unknown.
            ValueError: A value is bad; the message names the setting.
        """
        unknown = sorted(set(settings) - set(self._settings))
        if unknown:
            raise TypeError(
                f"{type(self).__name__} has no setting {', '.join(unknown)}; "
                f"its settings are {', '.join(sorted(self._settings))}"
            )
        previous = {name: getattr(self, name) for name in self._settings}
        try:
            for name, kind in self._settings.items():
                value = settings[name] if name in settings else getattr(self, name)
                setattr(self, name, _coerce(f"{type(self).__name__}.{name}", kind, value))
            self._validate()
        except ValueError:
            for name, value in previous.items():
                setattr(self, name, value)
            raise

    def settings(self) -> dict[str, object]:
        """Returns the current settings by name."""
        return {name: getattr(self, name) for name in self._settings}

    def __repr__(self) -> str:
        """Returns the class name and settings."""
        body = ", ".join(f"{name}={value!r}" for name, value in self.settings().items())
        return f"{type(self).__name__}({body})"

    def _validate(self) -> None:
        self._require(self.spawn_rate > 0, "spawn_rate", "must be > 0")

    def _require(self, condition: bool, name: str, problem: str) -> None:
        if not condition:
            raise ValueError(f"{type(self).__name__}.{name} {problem}, got {getattr(self, name)!r}")

    def _now(self) -> float:
        """Returns the run time, starting a new run first if the shape had ended or the clock went back."""
        now = float(self.get_run_time())
        if self._finished or self._last_tick is None or now < self._last_tick:
            self._new_run()
        self._last_tick = now
        return now

    def _new_run(self) -> None:
        self._finished = False
        if self._options is not None:
            try:
                self.configure(**self._settings_from(self._options))
            except (TypeError, ValueError) as error:
                logger.error("wslocust: keeping the previous %s settings: %s", type(self).__name__, error)
        self._reset()

    def _reset(self) -> None:
        """Clears per-run state; subclasses with state extend it."""

    def _stop(self) -> None:
        """Marks the run as ended; ``tick()`` returns None after calling this."""
        self._finished = True

    def finish(self) -> None:
        """Ends the run from outside (the test was stopped before the shape ended); idempotent."""
        if not self._finished and self._last_tick is not None:
            self._on_finish(float(self.get_run_time()))
        self._finished = True

    def _on_finish(self, now: float) -> None:
        """Hook for :meth:`finish`: close what is open at run time ``now``."""

    @abstractmethod
    def tick(self) -> tuple[int, float] | None:
        """Returns ``(user_count, spawn_rate)`` for now, or ``None`` to end the test."""


class RecordingShape(ConfigurableShape):
    """A shape that runs in steps and records a :class:`StepResult` for each with a :class:`StepRecorder`."""

    abstract = True

    def __init__(self, **settings: object) -> None:
        """Creates the shape.

        Args:
            **settings: Overrides of the class-attribute settings.
        """
        self.recorder = StepRecorder()
        """Per-step results of the current (or last) run."""
        super().__init__(**settings)

    @property
    def step_results(self) -> list[StepResult]:
        """Results of the steps completed so far in the current (or last) run."""
        return self.recorder.results

    def _reset(self) -> None:
        self.recorder.reset()

    request_type: str | None = "WS"
    """Measure steps over the requests of this type only (prompt→reply round trips, not handshakes);
    None measures every request (Locust's total)."""

    _type_total: StatsEntry | None = None

    def _stats_entry(self) -> StatsEntry | None:
        runner = self.runner
        if runner is None:
            return None
        stats = runner.stats
        if self.request_type is None:
            return stats.total
        # One entry object per RequestStats, refilled from the entries of the type at each snapshot:
        # its identity and start time change only when Locust replaces or resets the stats.
        total = self._type_total
        if total is None or total.stats is not stats:
            total = StatsEntry(stats, self.request_type, "", use_response_times_cache=False)
            self._type_total = total
        total.reset()
        for (_, method), entry in list(stats.entries.items()):
            if method == self.request_type:
                total.extend(entry)
        total.start_time = stats.total.start_time
        return total

    def _on_finish(self, now: float) -> None:
        open_step = self.recorder.open_step
        if open_step is not None and now > open_step.start:
            self.recorder.close(now, self._stats_entry())
        else:
            self.recorder.open_step = None

    def summary(self) -> dict[str, Any]:
        """Returns a JSON-able end-of-run summary: the shape's settings and its per-step results."""
        return {
            "shape": self.shape_name,
            "settings": {name: _jsonable(value) for name, value in self.settings().items()},
            "finished": self._finished,
            "steps": steps_as_json(self.step_results),
        }


def _jsonable(value: object) -> object:
    if isinstance(value, tuple):
        return [_jsonable(item) for item in value]
    return value


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


# --------------------------------------------------------------------------------------------------------
# The shapes
# --------------------------------------------------------------------------------------------------------


class StepShape(RecordingShape):
    """Step ramp: ``start_users``, then ``step_users`` more every ``step_duration`` up to ``max_users``.

    The step at ``max_users`` lasts ``step_duration + hold_time``; then the test ends (or earlier, at
    ``time_limit``). A step ends at the first tick at least ``step_duration`` after it began, so a slow
    ramp never makes the shape skip a step. Each step's traffic is recorded in :attr:`step_results`.
    """

    abstract = True
    shape_name = "step"

    start_users: int = 10
    """Users in the first step."""
    step_users: int = 10
    """Users added at each step."""
    step_duration: float = 60.0
    """Length of each step, in seconds (a string such as ``"2m"`` is accepted)."""
    max_users: int = 100
    """Users in the last step; the last step is cut to this if a full step would exceed it."""
    hold_time: float = 0.0
    """Extra seconds to stay at ``max_users`` after the last step's ``step_duration``; 0 for none."""
    time_limit: float = 0.0
    """Total run time after which the test ends whatever the step, in seconds; 0 for no limit."""

    _settings: ClassVar[dict[str, _Kind]] = {
        "start_users": "int",
        "step_users": "int",
        "step_duration": "duration",
        "max_users": "int",
        "spawn_rate": "float",
        "hold_time": "duration",
        "time_limit": "duration",
    }
    _option_map: ClassVar[dict[str, str]] = {
        "step_start_users": "start_users",
        "step_users": "step_users",
        "step_duration": "step_duration",
        "max_users": "max_users",
        "shape_spawn_rate": "spawn_rate",
        "step_hold": "hold_time",
        "step_time_limit": "time_limit",
    }

    def _validate(self) -> None:
        super()._validate()
        self._require(self.start_users >= 0, "start_users", "must be >= 0")
        self._require(self.step_users > 0, "step_users", "must be > 0")
        self._require(self.step_duration > 0, "step_duration", "must be > 0 s")
        self._require(
            self.max_users >= max(self.start_users, 1), "max_users", "must be >= start_users and > 0"
        )

    @property
    def step_count(self) -> int:
        """Number of steps, the one at ``max_users`` included."""
        return _ceil_div(self.max_users - self.start_users, self.step_users) + 1

    def users_for_step(self, index: int) -> int:
        """Returns the users level of step ``index`` (from 0)."""
        return min(self.start_users + index * self.step_users, self.max_users)

    def step_length(self, index: int) -> float:
        """Returns the length of step ``index`` (from 0) in seconds; the last one includes the hold."""
        return self.step_duration + (self.hold_time if index == self.step_count - 1 else 0.0)

    def tick(self) -> tuple[int, float] | None:
        """Returns the current step's ``(users, spawn_rate)``, or None after the last step or the limit."""
        now = self._now()
        entry = self._stats_entry()
        if self.time_limit > 0 and now >= self.time_limit:
            self.recorder.close(now, entry)
            self._stop()
            return None
        current = self.recorder.open_step
        if current is None:
            current = self.recorder.begin(self.users_for_step(0), now, entry)
        elif now - current.start >= self.step_length(current.step - 1):
            if current.step >= self.step_count:
                self.recorder.close(now, entry)
                self._stop()
                return None
            self.recorder.advance(self.users_for_step(current.step), now, entry)
            current = self.recorder.open_step
            assert current is not None
        return current.users, self.spawn_rate

    def summary(self) -> dict[str, Any]:
        """Returns the settings, the per-step results and the step with the most requests/s."""
        result = super().summary()
        best = max(self.step_results, key=lambda step: step.requests_per_s, default=None)
        result["peak"] = best.as_dict() if best is not None else None
        return result


@dataclass(frozen=True)
class BreakingPoint:
    """Where a :class:`StressShape` run broke: the last good step and the step that broke, with why."""

    last_good: StepResult | None
    """The last step within the targets, or ``None`` if the first step already broke."""
    broken: StepResult
    """The first step that missed a target."""
    reason: str
    """Why ``broken`` broke, e.g. ``"p95 6000 ms > target 5000 ms"``."""

    @property
    def users(self) -> int | None:
        """Users of the last good step (the load the system sustained), or ``None``."""
        return self.last_good.users if self.last_good is not None else None

    @property
    def requests_per_s(self) -> float | None:
        """Requests/s of the last good step, or ``None``."""
        return self.last_good.requests_per_s if self.last_good is not None else None

    @property
    def p95_ms(self) -> int | None:
        """p95 latency of the last good step in ms, or ``None``."""
        return self.last_good.p95_ms if self.last_good is not None else None

    def as_dict(self) -> dict[str, Any]:
        """Returns a JSON-able dict of the breaking point."""
        return {
            "users": self.users,
            "requests_per_s": self.requests_per_s,
            "p95_ms": self.p95_ms,
            "broken_step": self.broken.step,
            "broken_users": self.broken.users,
            "reason": self.reason,
            "last_good_step": self.last_good.as_dict() if self.last_good is not None else None,
            "broken_step_result": self.broken.as_dict(),
        }


StressOutcome = Literal["not started", "running", "broke", "max_users", "stopped"]


class StressShape(RecordingShape):
    """Stress search: add ``step_users`` every ``step_duration`` until the last step misses a target.

    At each step boundary the step that just ended is judged on its own traffic only: it breaks if its p95
    latency exceeds ``p95_ms``, its error rate exceeds ``error_rate``, or fewer than ``min_requests``
    requests completed in it. Then :attr:`breaking_point` is set and the test ends. If the step at
    ``max_users`` passes, the test ends without a breaking point (:attr:`outcome` ``"max_users"``).
    """

    abstract = True
    shape_name = "stress"

    start_users: int = 10
    """Users in the first step."""
    step_users: int = 10
    """Users added at each step."""
    step_duration: float = 60.0
    """Length of each step, in seconds; each is judged on its own traffic, so keep it well above the
    ramp time (``step_users / spawn_rate``) and the worker report interval (3 s)."""
    max_users: int = 500
    """Users of the last step; passing it ends the test without a breaking point."""
    p95_ms: float = 5000.0
    """Target p95 latency of a step, in ms; a step above it breaks."""
    error_rate: float = 0.05
    """Largest acceptable error rate of a step, a fraction (0.05) or, as text, a percentage (``"5%"``);
    a step above it breaks."""
    min_requests: int = 1
    """Fewest completed requests a step needs to pass (a stalled server completes none); 0 disables."""

    _settings: ClassVar[dict[str, _Kind]] = {
        "start_users": "int",
        "step_users": "int",
        "step_duration": "duration",
        "max_users": "int",
        "spawn_rate": "float",
        "p95_ms": "float",
        "error_rate": "fraction",
        "min_requests": "int",
    }
    _option_map: ClassVar[dict[str, str]] = {
        "step_start_users": "start_users",
        "step_users": "step_users",
        "step_duration": "step_duration",
        "max_users": "max_users",
        "shape_spawn_rate": "spawn_rate",
        "stress_p95_ms": "p95_ms",
        "stress_error_rate": "error_rate",
        "stress_min_requests": "min_requests",
    }

    def __init__(self, **settings: object) -> None:
        """Creates the shape.

        Args:
            **settings: Overrides of the class-attribute settings.
        """
        self.breaking_point: BreakingPoint | None = None
        """Set when a step broke; readable after the test for the end-of-run summary."""
        self.outcome: StressOutcome = "not started"
        """``"not started"``, ``"running"``, ``"broke"``, ``"max_users"`` (no breaking point found) or
        ``"stopped"`` (ended from outside before either)."""
        self.message = "The stress test has not started."
        """Human summary of the outcome."""
        self._last_good: StepResult | None = None
        super().__init__(**settings)

    def _validate(self) -> None:
        super()._validate()
        self._require(self.start_users > 0, "start_users", "must be > 0")
        self._require(self.step_users > 0, "step_users", "must be > 0")
        self._require(self.step_duration > 0, "step_duration", "must be > 0 s")
        self._require(self.max_users >= self.start_users, "max_users", "must be >= start_users")
        self._require(self.p95_ms > 0, "p95_ms", "must be > 0 ms")
        self._require(
            0 <= self.error_rate <= 1, "error_rate", "must be a fraction between 0 and 1 (0.05 for 5 %)"
        )
        self._require(self.min_requests >= 0, "min_requests", "must be >= 0")

    def _reset(self) -> None:
        super()._reset()
        self.breaking_point = None
        self._last_good = None
        self.outcome = "running"
        self.message = "The stress test is running."

    def users_for_step(self, index: int) -> int:
        """Returns the users level of step ``index`` (from 0)."""
        return min(self.start_users + index * self.step_users, self.max_users)

    def judge(self, result: StepResult) -> str | None:
        """Returns why a step broke (reasons joined by ``"; "``), or ``None`` if it met every target.

        Args:
            result: The step's result.
        """
        reasons = []
        if result.requests < self.min_requests:
            reasons.append(f"only {result.requests} requests completed (< min_requests {self.min_requests})")
        if result.p95_ms > self.p95_ms:
            reasons.append(f"p95 {result.p95_ms} ms > target {self.p95_ms:g} ms")
        if result.error_rate > self.error_rate:
            reasons.append(f"error rate {result.error_rate:.1%} > limit {self.error_rate:.1%}")
        return "; ".join(reasons) or None

    def tick(self) -> tuple[int, float] | None:
        """Returns the current step's ``(users, spawn_rate)``, or None once a step broke or max passed."""
        now = self._now()
        entry = self._stats_entry()
        current = self.recorder.open_step
        if current is None:
            current = self.recorder.begin(self.users_for_step(0), now, entry)
        elif now - current.start >= self.step_duration:
            result = self.recorder.close(now, entry)
            assert result is not None
            reason = self.judge(result)
            if reason is not None:
                self._break(result, reason)
                return None
            self._last_good = result
            if result.users >= self.max_users:
                self._no_break(result)
                return None
            current = self.recorder.begin(self.users_for_step(current.step), now, entry)
        return current.users, self.spawn_rate

    def _break(self, result: StepResult, reason: str) -> None:
        self.breaking_point = BreakingPoint(self._last_good, result, reason)
        self.outcome = "broke"
        good = self._last_good
        if good is None:
            self.message = (
                f"The first step ({result.users} users) already broke: {reason}. "
                f"The breaking point is below {result.users} users."
            )
        else:
            self.message = (
                f"Breaking point: {good.users} users (step {good.step}: {good.requests_per_s:.2f} req/s, "
                f"p95 {good.p95_ms} ms, errors {good.error_rate:.1%}); step {result.step} at "
                f"{result.users} users broke: {reason}."
            )
        logger.info("wslocust stress: %s", self.message)
        self._stop()

    def _no_break(self, result: StepResult) -> None:
        self.outcome = "max_users"
        self.message = (
            f"No breaking point found up to max_users={self.max_users}: the last step ({result.users} users) "
            f"had {result.requests_per_s:.2f} req/s, p95 {result.p95_ms} ms, errors {result.error_rate:.1%}."
        )
        logger.info("wslocust stress: %s", self.message)
        self._stop()

    def _on_finish(self, now: float) -> None:
        super()._on_finish(now)
        if self.outcome == "running":
            self.outcome = "stopped"
            good = self._last_good
            last = f" The last good step had {good.users} users." if good is not None else ""
            self.message = f"The stress test was stopped before a breaking point was found.{last}"

    def summary(self) -> dict[str, Any]:
        """Returns the settings, per-step results, outcome, message and breaking point (or None)."""
        result = super().summary()
        result["outcome"] = self.outcome
        result["message"] = self.message
        result["breaking_point"] = self.breaking_point.as_dict() if self.breaking_point is not None else None
        return result


class BurstShape(ConfigurableShape):
    """Bursts: ``idle_duration`` at ``base_users`` then ``burst_duration`` at ``burst_users``, repeated.

    Each of the ``cycles`` cycles is an idle time then a burst. A final ``idle_duration`` at ``base_users``
    follows the last burst, to show the recovery; the test lasts
    ``cycles * (idle_duration + burst_duration) + idle_duration`` seconds.
    """

    abstract = True
    shape_name = "burst"

    spawn_rate: float = 50.0
    """Users started or stopped per second, on the way into and out of each burst."""
    base_users: int = 5
    """Users between bursts."""
    burst_users: int = 50
    """Users during a burst (the total, not added to ``base_users``)."""
    burst_duration: float = 30.0
    """Length of each burst, in seconds."""
    idle_duration: float = 60.0
    """Time at ``base_users`` before each burst and after the last one, in seconds."""
    cycles: int = 3
    """Number of bursts."""

    _settings: ClassVar[dict[str, _Kind]] = {
        "base_users": "int",
        "burst_users": "int",
        "burst_duration": "duration",
        "idle_duration": "duration",
        "cycles": "int",
        "spawn_rate": "float",
    }
    _option_map: ClassVar[dict[str, str]] = {
        "burst_base_users": "base_users",
        "burst_users": "burst_users",
        "burst_duration": "burst_duration",
        "burst_idle": "idle_duration",
        "burst_cycles": "cycles",
        "shape_spawn_rate": "spawn_rate",
    }

    def _validate(self) -> None:
        super()._validate()
        self._require(self.base_users >= 0, "base_users", "must be >= 0")
        self._require(self.burst_users > 0, "burst_users", "must be > 0")
        self._require(self.burst_duration > 0, "burst_duration", "must be > 0 s")
        self._require(self.idle_duration > 0, "idle_duration", "must be > 0 s")
        self._require(self.cycles >= 1, "cycles", "must be >= 1")

    @property
    def total_time(self) -> float:
        """Length of the test in seconds."""
        return self.cycles * (self.idle_duration + self.burst_duration) + self.idle_duration

    def tick(self) -> tuple[int, float] | None:
        """Returns ``(base_users or burst_users, spawn_rate)`` for now, or None after the final idle."""
        now = self._now()
        if now >= self.total_time:
            self._stop()
            return None
        cycle_length = self.idle_duration + self.burst_duration
        in_cycles = now < self.cycles * cycle_length
        bursting = in_cycles and now % cycle_length >= self.idle_duration
        return (self.burst_users if bursting else self.base_users), self.spawn_rate


class StagesShape(ConfigurableShape):
    """Linear stages: the user count moves linearly to each stage's target over the stage's duration.

    ``stages`` is a list of ``(duration_s, target_users)`` pairs, or the compact string of
    :func:`parse_stages` (``"1@2m:10,5m:50,5m:100,10m:100,3m:10"``; a ``START@`` prefix there overrides
    ``start_users``). The first stage ramps from ``start_users``. The spawn rate sent with each tick is
    ``spawn_rate``, raised to the ramp's own slope when that is steeper, so Locust keeps up with it.
    """

    abstract = True
    shape_name = "stages"

    start_users: int = 0
    """Users at time 0, the first stage ramps from here."""
    stages: Sequence[tuple[float | str, int]] | str = ()
    """The stages: ``(duration_s, target_users)`` pairs (durations may be strings like ``"2m"``) or the
    compact string syntax."""

    _settings: ClassVar[dict[str, _Kind]] = {"start_users": "int", "stages": "stages", "spawn_rate": "float"}
    _option_map: ClassVar[dict[str, str]] = {"stages": "stages", "shape_spawn_rate": "spawn_rate"}

    def configure(self, **settings: object) -> None:
        """Changes settings (see :meth:`ConfigurableShape.configure`); a stages string is parsed here.

        Args:
            **settings: New values, by setting name.
        """
        raw = settings.get("stages", self.stages)
        if isinstance(raw, str):
            try:
                start, parsed = parse_stages(raw)
            except ValueError as error:
                raise ValueError(f"{type(self).__name__}.stages: {error}") from None
            settings = {**settings, "stages": parsed}
            if start is not None:
                settings["start_users"] = start
            elif "start_users" not in settings:
                settings["start_users"] = type(self).start_users
        super().configure(**settings)

    def _validate(self) -> None:
        super()._validate()
        self._require(self.start_users >= 0, "start_users", "must be >= 0")
        self._require(
            len(self.stages) > 0, "stages", "must list at least one (duration_s, target_users) stage"
        )
        for index, (duration, users) in enumerate(self.plan):
            if users < 0:
                raise ValueError(f"{type(self).__name__}.stages[{index}] has negative users ({users})")
            if duration < 0:  # pragma: no cover - seconds() rejects negatives
                raise ValueError(f"{type(self).__name__}.stages[{index}] has a negative duration")
        self._require(self.total_time > 0, "stages", "must last more than 0 s in total")

    @property
    def plan(self) -> tuple[Stage, ...]:
        """The stages, normalized (durations in seconds)."""
        if isinstance(self.stages, str):
            return tuple(parse_stages(self.stages)[1])
        return tuple(Stage(_to_duration("stages", duration), int(users)) for duration, users in self.stages)

    @property
    def total_time(self) -> float:
        """Length of the test in seconds."""
        return sum(stage.duration for stage in self.plan)

    def users_at(self, now: float) -> tuple[int, float] | None:
        """Returns ``(users, spawn_rate)`` at run time ``now``, or None at or after the end.

        Args:
            now: Run time in seconds.
        """
        start_time = 0.0
        previous = self.start_users
        for stage in self.plan:
            end_time = start_time + stage.duration
            if now < end_time:
                slope = (stage.users - previous) / stage.duration
                users = math.floor(previous + slope * (now - start_time) + 0.5)
                return users, max(self.spawn_rate, abs(slope))
            start_time, previous = end_time, stage.users
        return None

    def tick(self) -> tuple[int, float] | None:
        """Returns the interpolated ``(users, spawn_rate)`` for now, or None after the last stage."""
        result = self.users_at(self._now())
        if result is None:
            self._stop()
        return result


class SteadyShape(ConfigurableShape):
    """Steady load: ``users`` spawned at ``spawn_rate``, then held for ``duration`` seconds.

    The test lasts ``users / spawn_rate + duration`` seconds.
    """

    abstract = True
    shape_name = "steady"

    users: int = 10
    """Users to hold."""
    duration: float = 300.0
    """Time at ``users`` once they are all spawned, in seconds."""

    _settings: ClassVar[dict[str, _Kind]] = {"users": "int", "duration": "duration", "spawn_rate": "float"}
    _option_map: ClassVar[dict[str, str]] = {
        "steady_users": "users",
        "steady_duration": "duration",
        "shape_spawn_rate": "spawn_rate",
    }

    def _validate(self) -> None:
        super()._validate()
        self._require(self.users > 0, "users", "must be > 0")
        self._require(self.duration > 0, "duration", "must be > 0 s")

    @property
    def ramp_time(self) -> float:
        """Seconds it takes to spawn ``users`` at ``spawn_rate``."""
        return self.users / self.spawn_rate

    def tick(self) -> tuple[int, float] | None:
        """Returns ``(users, spawn_rate)`` until the ramp plus ``duration`` is over, then None."""
        if self._now() >= self.ramp_time + self.duration:
            self._stop()
            return None
        return self.users, self.spawn_rate


class SpikeShape(ConfigurableShape):
    """Spike: ``base_users``, a sudden jump to ``peak_users`` at ``spike_at`` for ``spike_duration``,
    back to ``base_users`` until ``total_time``."""

    abstract = True
    shape_name = "spike"

    spawn_rate: float = 50.0
    """Users started or stopped per second (for the initial ramp and for the spike)."""
    base_users: int = 10
    """Users before and after the spike."""
    peak_users: int = 100
    """Users during the spike."""
    spike_at: float = 60.0
    """Run time at which the spike starts, in seconds."""
    spike_duration: float = 30.0
    """Length of the spike, in seconds."""
    total_time: float = 180.0
    """Length of the test, in seconds."""

    _settings: ClassVar[dict[str, _Kind]] = {
        "base_users": "int",
        "peak_users": "int",
        "spike_at": "duration",
        "spike_duration": "duration",
        "total_time": "duration",
        "spawn_rate": "float",
    }
    _option_map: ClassVar[dict[str, str]] = {
        "spike_base_users": "base_users",
        "spike_users": "peak_users",
        "spike_at": "spike_at",
        "spike_duration": "spike_duration",
        "spike_total_time": "total_time",
        "shape_spawn_rate": "spawn_rate",
    }

    def _validate(self) -> None:
        super()._validate()
        self._require(self.base_users >= 0, "base_users", "must be >= 0")
        self._require(self.peak_users > 0, "peak_users", "must be > 0")
        self._require(self.spike_duration > 0, "spike_duration", "must be > 0 s")
        self._require(
            self.spike_at + self.spike_duration <= self.total_time,
            "total_time",
            f"must be >= spike_at + spike_duration ({self.spike_at + self.spike_duration:g} s)",
        )

    def tick(self) -> tuple[int, float] | None:
        """Returns ``(base_users or peak_users, spawn_rate)`` for now, or None at ``total_time``."""
        now = self._now()
        if now >= self.total_time:
            self._stop()
            return None
        spiking = self.spike_at <= now < self.spike_at + self.spike_duration
        return (self.peak_users if spiking else self.base_users), self.spawn_rate


SHAPES: dict[str, type[ConfigurableShape]] = {
    shape.shape_name: shape
    for shape in (StepShape, BurstShape, StagesShape, StressShape, SteadyShape, SpikeShape)
}
"""The shapes by ``--shape`` name."""


# --------------------------------------------------------------------------------------------------------
# Command line and Locust wiring
# --------------------------------------------------------------------------------------------------------


class _ArgumentContainer(Protocol):
    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action: ...


def _stages_argument(value: str) -> str:
    """Argparse type of ``--stages``: checks the syntax but keeps the string."""
    try:
        parse_stages(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return value


# Checked, but kept as written for the web UI's form (see wslocust.plugin.options.add_arguments).
_COUNT = argument_type(count, keep_text=True)
_AT_LEAST_ONE = argument_type(count, minimum=1, keep_text=True)


@dataclass(frozen=True)
class _Option:
    flag: str
    shapes: tuple[str, ...]
    help: str
    convert: Any = _COUNT
    metavar: str = "<int>"


def _duration_option(flag: str, shapes: tuple[str, ...], help_text: str, *, positive: bool = True) -> _Option:
    """A duration option, kept as written (the web UI's form shows ``2m``); 0 only if not ``positive``."""
    return _Option(
        flag, shapes, help_text, argument_type(seconds, positive=positive, keep_text=True), "<duration>"
    )


def _default_text(option: _Option) -> str:
    """Returns the defaults of an option, taken from the class attributes of the shapes using it."""
    dest = option.flag.lstrip("-").replace("-", "_")
    values: dict[str, str] = {}
    for name in option.shapes:
        shape = SHAPES[name]
        value = getattr(shape, shape._option_map[dest])
        if isinstance(value, float):
            values[name] = f"{value:g}" + (
                " s" if shape._settings[shape._option_map[dest]] == "duration" else ""
            )
        elif isinstance(value, int):
            values[name] = str(value)
    if not values:
        return ""
    if len(set(values.values())) == 1:
        return f" (default {next(iter(values.values()))})"
    return " (defaults: " + ", ".join(f"{name} {value}" for name, value in values.items()) + ")"


_STEPPED = ("step", "stress")

_OPTIONS: tuple[_Option, ...] = (
    _Option(
        "--shape-spawn-rate",
        tuple(SHAPES),
        "Users started/stopped per second when the shape changes the user count",
        argument_type(number, positive=True, keep_text=True),
        "<float>",
    ),
    _Option("--step-start-users", _STEPPED, "Users in the first step"),
    _Option("--step-users", _STEPPED, "Users added at each step", _AT_LEAST_ONE),
    _duration_option("--step-duration", _STEPPED, "Length of each step, e.g. 60, 90s, 2m"),
    _Option("--max-users", _STEPPED, "Users of the last step", _AT_LEAST_ONE),
    _duration_option("--step-hold", ("step",), "Extra time at max users after the last step", positive=False),
    _duration_option("--step-time-limit", ("step",), "Total run time limit; 0 for none", positive=False),
    _Option(
        "--stress-p95-ms",
        ("stress",),
        "A step with a higher p95 latency breaks",
        argument_type(number, positive=True, what="a number of ms", keep_text=True),
        "<ms>",
    ),
    _Option(
        "--stress-error-rate",
        ("stress",),
        "A step with a higher error rate (0.05 or 5%%) breaks",
        argument_type(fraction, keep_text=True),
        "<share>",
    ),
    _Option("--stress-min-requests", ("stress",), "A step completing fewer requests breaks; 0 disables"),
    _Option("--burst-base-users", ("burst",), "Users between bursts"),
    _Option("--burst-users", ("burst",), "Users during a burst", _AT_LEAST_ONE),
    _duration_option("--burst-duration", ("burst",), "Length of a burst"),
    _duration_option("--burst-idle", ("burst",), "Time at base users before each burst and after the last"),
    _Option("--burst-cycles", ("burst",), "Number of bursts", _AT_LEAST_ONE),
    _Option(
        "--stages",
        ("stages",),
        "Linear stages DURATION:USERS,... with an optional START@ prefix, e.g. '1@2m:10,5m:50,10m:50,3m:0'",
        _stages_argument,
        "<stages>",
    ),
    _Option("--steady-users", ("steady",), "Users to hold", _AT_LEAST_ONE),
    _duration_option("--steady-duration", ("steady",), "Time to hold them once spawned"),
    _Option("--spike-base-users", ("spike",), "Users before and after the spike"),
    _Option("--spike-users", ("spike",), "Users during the spike", _AT_LEAST_ONE),
    _duration_option("--spike-at", ("spike",), "When the spike starts", positive=False),
    _duration_option("--spike-duration", ("spike",), "Length of the spike"),
    _duration_option("--spike-total-time", ("spike",), "Length of the spike test"),
)


class _WebUi:
    """Which shape's options the web UI shows: those of the installed shape (``"*"``: every shape's, when
    ``--class-picker`` offers them all), none before one is installed."""

    shape: str | None = None


def _mark_web_ui(action: argparse.Action, shown: bool) -> None:
    # Locust's web UI lists the parser actions carrying these attributes; LocustArgumentParser.add_argument
    # sets them but an argument group's add_argument does not accept them, so they are set here for both.
    setattr(action, "include_in_web_ui", shown)  # noqa: B010
    setattr(action, "is_secret", False)  # noqa: B010
    setattr(action, "is_required", False)  # noqa: B010
    setattr(action, "is_multiple", False)  # noqa: B010


def add_shape_arguments(parser_group: _ArgumentContainer) -> None:
    """Registers the shape options on a Locust argument parser or one of its argument groups.

    Call it from an ``init_command_line_parser`` listener. Every option defaults to ``None``, meaning the
    shape class's own default. The options of the installed shape (see :func:`install_shape`) are shown
    in the web UI's form and re-read at each start; ``--shape`` itself is command-line only.

    Args:
        parser_group: ``parser`` or ``parser.add_argument_group(...)``.
    """
    _mark_web_ui(
        parser_group.add_argument(
            "--shape",
            choices=["none", *SHAPES],
            default="none",
            help="Load shape to run instead of a fixed --users count (default none). See docs/shapes.md",
        ),
        False,
    )
    for option in _OPTIONS:
        action = parser_group.add_argument(
            option.flag,
            type=option.convert,
            metavar=option.metavar,
            default=None,
            help=f"[{', '.join(option.shapes)}] {option.help}{_default_text(option)}",
        )
        _mark_web_ui(action, _WebUi.shape == "*" or _WebUi.shape in option.shapes)


def shape_from_options(options: argparse.Namespace) -> ConfigurableShape | None:
    """Builds the shape chosen by ``--shape`` from parsed options.

    Args:
        options: Parsed options, e.g. ``environment.parsed_options``.

    Returns:
        The shape, or ``None`` for ``--shape none`` (or no ``--shape`` option at all).

    Raises:
        ValueError: The shape name is unknown or an option value is bad (the message names it).
    """
    name = getattr(options, "shape", None) or "none"
    if name == "none":
        return None
    if name not in SHAPES:
        raise ValueError(f"unknown --shape {name!r}: choose one of none, {', '.join(SHAPES)}")
    if name == "stages" and not getattr(options, "stages", None):
        raise ValueError("--shape stages needs --stages, e.g. --stages '1@2m:10,5m:50,10m:50,3m:0'")
    return SHAPES[name].from_options(options)


def install_shape(environment: Environment, *, write_csv: bool = True) -> ConfigurableShape | None:
    """Makes Locust run the shape chosen by ``--shape``; call it from an ``init`` event listener.

    It sets ``environment.shape_class`` (Locust reads it when the headless run or the web UI's start button
    starts the test), attaches the runner to the shape (Locust does that only for a shape known when the
    runner is created), lists the shape in ``environment.available_shape_classes``; with ``--class-picker``
    it lists every shape there, built from the options, so the web UI can pick any. When a test stops,
    the running shape closes its open step and, with ``write_csv`` and ``--csv PREFIX``, a step or stress
    shape writes ``PREFIX_steps.csv``. It does nothing on workers: the shape runs on the master.

    Args:
        environment: The Locust environment, with ``parsed_options`` set.
        write_csv: Write the step results next to Locust's CSV files.

    Returns:
        The installed shape, or ``None`` (``--shape none``, a worker, or no parsed options).

    Raises:
        ValueError: A shape option is bad.
    """
    options = environment.parsed_options
    if options is None or isinstance(environment.runner, WorkerRunner):
        return None
    shape = shape_from_options(options)
    offered = (
        _offer_every_shape(environment, options, shape) if getattr(options, "class_picker", False) else 0
    )
    if shape is None and not offered:
        return None
    _stop_hooks(environment, options, write_csv)
    if shape is None:
        return None
    if environment.shape_class is not None:
        logger.warning(
            "wslocust: --shape %s replaces the locustfile's shape %s",
            shape.shape_name,
            type(environment.shape_class).__name__,
        )
    common = {"--users": "num_users", "--spawn-rate": "spawn_rate", "--run-time": "run_time"}
    ignored = [flag for flag, dest in common.items() if getattr(options, dest, None)]
    if ignored:
        logger.warning(
            "wslocust: %s ignored with --shape %s; the shape sets users, spawn rate and duration",
            ", ".join(ignored),
            shape.shape_name,
        )
    if environment.runner is not None:
        shape.runner = environment.runner
    environment.shape_class = shape
    if environment.available_shape_classes is None:
        environment.available_shape_classes = {}
    environment.available_shape_classes[type(shape).__name__] = shape
    if _WebUi.shape != "*":
        _WebUi.shape = shape.shape_name
    logger.info("wslocust: load shape %r", shape)
    return shape


def _offer_every_shape(
    environment: Environment, options: argparse.Namespace, chosen: ConfigurableShape | None
) -> int:
    """List every shape for the web UI's class picker; return how many were listed."""
    if environment.available_shape_classes is None:
        environment.available_shape_classes = {}
    offered = 0
    for name, shape_class in SHAPES.items():
        if chosen is not None and chosen.shape_name == name:
            shape: ConfigurableShape = chosen
        else:
            try:
                shape = shape_class.from_options(options)
            except ValueError as error:  # e.g. stages without --stages: not offered
                logger.info("wslocust: shape %s not offered in the class picker: %s", name, error)
                continue
        environment.available_shape_classes[type(shape).__name__] = shape
        offered += 1
    _WebUi.shape = "*"
    return offered


def _stop_hooks(environment: Environment, options: argparse.Namespace, write_csv: bool) -> None:
    """When a test stops, the running shape (whichever was picked) closes its step and writes its CSV."""

    def on_test_stopping(**_kwargs: object) -> None:
        shape = environment.shape_class
        if isinstance(shape, ConfigurableShape):
            shape.finish()

    def on_test_stop(**_kwargs: object) -> None:
        shape = environment.shape_class
        prefix = getattr(options, "csv_prefix", None)
        if write_csv and prefix and isinstance(shape, RecordingShape):
            path = write_steps_csv(prefix, shape.step_results)
            logger.info("wslocust: step results written to %s", path)

    environment.events.test_stopping.add_listener(on_test_stopping)
    environment.events.test_stop.add_listener(on_test_stop)
