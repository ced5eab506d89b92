"""Per-step results of the stepped shapes: what each step measured, and its CSV and JSON forms."""

from __future__ import annotations

from locust.stats import StatsEntry, calculate_response_time_percentile

import csv
import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = [
    "STEP_CSV_COLUMNS",
    "OpenStep",
    "StatsSnapshot",
    "StepRecorder",
    "StepResult",
    "steps_as_json",
    "write_steps_csv",
]

logger = logging.getLogger("wslocust.load.shapes")

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
