"""Per-step results of the stepped shapes: what each step measured, and its CSV and JSON forms.

A step's results come from wslocust's exact statistics of the ``WS`` replies
(:class:`~wslocust.stats.aggregates.ReplyStats`): each finished second of replies is merged into the
step it belongs to, adding the counts of exact histograms, so a step's requests, failures, rate,
percentiles and max are all of the same replies, exact to 0.05 ms, and its p95 is never above its max.

Seconds are whole seconds of the clock the replies are timed on (the wall clock: a reply counts in the
second it ended). A step takes the seconds from its start to its end, each rounded to the nearest whole
second. On a master the seconds come with the workers' reports, so some arrive after their step ended:
they are merged into it then, and its result is computed again.
"""

from __future__ import annotations

import csv
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ...stats.aggregates import ReplyStats

__all__ = [
    "STEP_CSV_COLUMNS",
    "OpenStep",
    "PendingSeconds",
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

PendingSeconds = Callable[[], Iterable[tuple[int, Iterable[ReplyStats]]]]
"""Gives the seconds gathered but not yet final (on a master, some workers' reports are still to come):
``(second, the replies' statistics of that second)`` pairs, read but never kept."""


def _ms(value: float | None) -> float:
    """A time in ms to 0.1 ms (0 when there is none); rounding keeps the order, so p95 <= max stays."""
    return 0.0 if value is None else round(value, 1)


def _second(moment: float) -> int:
    """The whole second nearest to a moment: where a step's seconds begin or end."""
    return math.floor(moment + 0.5)


@dataclass(frozen=True)
class StepResult:
    """What happened during one step: its users level and the replies measured over it.

    Times are run times in seconds (from the shape's clock, 0 at the start of the test). The counts and
    latencies are of the step's ``WS`` replies (prompt→reply round trips); the latencies of the
    successful ones, as every wslocust timing.
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
    """Replies that ended during the step, failed ones included."""
    failures: int
    """Failed replies during the step."""
    requests_per_s: float
    """``requests`` over the whole seconds they were counted in (the duration, to whole seconds)."""
    p50_ms: float
    """Median latency of the step's successful replies, in ms (exact, to 0.1 ms)."""
    p95_ms: float
    """95th percentile latency of the step's successful replies, in ms."""
    p99_ms: float
    """99th percentile latency of the step's successful replies, in ms."""
    max_ms: float
    """Largest latency of the step's successful replies, in ms."""
    error_rate: float
    """``failures / requests`` (0.0 when there were no requests)."""

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
            f"{self.p50_ms:g}",
            f"{self.p95_ms:g}",
            f"{self.max_ms:g}",
            f"{self.error_rate:.4f}",
        ]

    def describe(self) -> str:
        """Returns a one-line human summary of the step."""
        return (
            f"step {self.step} ({self.users} users, {self.duration:.0f} s): {self.requests} requests, "
            f"{self.requests_per_s:.2f} req/s, p50 {self.p50_ms:g} ms, p95 {self.p95_ms:g} ms, "
            f"max {self.max_ms:g} ms, errors {self.error_rate:.1%}"
        )

    @classmethod
    def of(
        cls, step: int, users: int, start: float, end: float, seconds: int, replies: ReplyStats
    ) -> StepResult:
        """Computes a step's result from the statistics of its replies.

        Args:
            step: Step number, from 1.
            users: Users level of the step.
            start: Run time at the start of the step, in seconds.
            end: Run time at the end of the step, in seconds.
            seconds: How many whole seconds of replies the step took.
            replies: The statistics of the step's replies.

        Returns:
            The step's result.
        """
        duration = max(end - start, 0.0)
        requests, failures = replies.replies, replies.failures
        latency = replies.latency
        p50, p95, p99 = latency.percentiles((0.5, 0.95, 0.99))
        over = seconds if seconds > 0 else duration
        return cls(
            step=step,
            users=users,
            start=start,
            end=end,
            duration=duration,
            requests=requests,
            failures=failures,
            requests_per_s=requests / over if over > 0 else 0.0,
            p50_ms=_ms(p50),
            p95_ms=_ms(p95),
            p99_ms=_ms(p99),
            max_ms=_ms(latency.maximum if latency.count else None),
            error_rate=failures / requests if requests > 0 else 0.0,
        )


@dataclass
class OpenStep:
    """A step of the current run: the one under way (``end`` is None), or one that ended.

    Args:
        step: Step number, from 1.
        users: Users level of the step.
        start: Run time at which it began, in seconds.
        first_second: The first second of replies it takes.
    """

    step: int
    """Step number, from 1."""
    users: int
    """Users level of the step."""
    start: float
    """Run time at which it began, in seconds."""
    first_second: int
    """The first second of replies it takes."""
    end: float | None = None
    """Run time at which it ended, in seconds; None while it is under way."""
    end_second: int | None = None
    """The second after its last one; None while it is under way."""
    replies: ReplyStats = field(default_factory=ReplyStats)
    """The statistics of its final seconds so far."""

    def takes(self, second: int) -> bool:
        """Whether replies of this second belong to the step."""
        return self.first_second <= second and (self.end_second is None or second < self.end_second)


class StepRecorder:
    """Records per-step results from the seconds of reply statistics it is given.

    The shape calls :meth:`begin` when a step starts and :meth:`close` (or :meth:`advance`, which does
    both) when it ends; the seconds of replies come through :meth:`add_second`, as they finish. A step's
    result is computed when it closes, from its final seconds and the :attr:`pending` ones, and again as
    late seconds arrive.

    Args:
        clock: The clock the seconds are counted on (the wall clock, as the replies' end times).
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        """The clock of the seconds: the step boundaries are its readings."""
        self.pending: PendingSeconds | None = None
        """Gives the seconds gathered but not yet final, counted in a closing step's result (the plugin
        sets it; ``None``: only the final seconds count)."""
        self.results: list[StepResult] = []
        """Results of the closed steps, in order."""
        self.open_step: OpenStep | None = None
        """The current step, if one has begun and not ended."""
        self._closed: list[OpenStep] = []  # the steps of self.results, in order

    def reset(self) -> None:
        """Forgets all steps (for a new run)."""
        self.results = []
        self.open_step = None
        self._closed = []

    def forget_open_step(self) -> None:
        """Forgets what the open step has counted so far (the statistics were reset): it counts anew."""
        if self.open_step is not None:
            self.open_step.replies = ReplyStats()

    def begin(self, users: int, now: float) -> OpenStep:
        """Begins the next step, closing the current one first if there is one.

        Args:
            users: Users level of the new step.
            now: Run time in seconds.

        Returns:
            The new open step.
        """
        second = _second(self.clock())
        self._close(now, second)
        last = self._closed[-1] if self._closed else None
        if last is not None and last.end == now and last.end_second is not None:
            second = last.end_second  # the next step takes on where the last one ended
        number = self.results[-1].step + 1 if self.results else 1
        self.open_step = OpenStep(step=number, users=users, start=now, first_second=second)
        return self.open_step

    def close(self, now: float) -> StepResult | None:
        """Ends the current step and records its result.

        Args:
            now: Run time in seconds.

        Returns:
            The step's result, or ``None`` if no step was open.
        """
        return self._close(now, _second(self.clock()))

    def advance(self, users: int, now: float) -> StepResult | None:
        """Ends the current step and begins the next one at the same moment.

        Args:
            users: Users level of the next step.
            now: Run time in seconds.

        Returns:
            The result of the step that ended, or ``None`` if no step was open.
        """
        result = self.close(now)
        self.begin(users, now)  # from the second the closed step ended at
        return result

    def discard_open_step(self) -> None:
        """Drops the open step without a result (it had not lasted at all)."""
        self.open_step = None

    def add_second(self, second: int, replies: Iterable[ReplyStats]) -> None:
        """Merges a finished second of replies into the step it belongs to (none: it is dropped).

        Args:
            second: The whole second the replies ended in, on :attr:`clock`.
            replies: Their statistics (one per request name, say).
        """
        current = self.open_step
        if current is not None and current.takes(second):
            for stats in replies:
                current.replies.merge(stats)
            return
        for index in range(len(self._closed) - 1, -1, -1):
            step = self._closed[index]
            if step.takes(second):
                for stats in replies:
                    step.replies.merge(stats)
                self.results[index] = self._result(step)
                return
            if step.first_second <= second:
                return

    def _close(self, now: float, second: int) -> StepResult | None:
        current = self.open_step
        if current is None:
            return None
        self.open_step = None
        current.end, current.end_second = now, max(second, current.first_second)
        self._closed.append(current)
        result = self._result(current)
        self.results.append(result)
        logger.info("wslocust %s", result.describe())
        return result

    def replies_of(self, step: OpenStep) -> ReplyStats:
        """A step's replies: its final seconds and the pending ones it takes (a copy when merged)."""
        pending: list[ReplyStats] = []
        if self.pending is not None:
            pending = [stats for second, group in self.pending() if step.takes(second) for stats in group]
        if not pending:
            return step.replies
        replies = ReplyStats()
        for stats in (step.replies, *pending):
            replies.merge(stats)
        return replies

    @property
    def closed_steps(self) -> list[OpenStep]:
        """The steps that ended, in order (each with its final seconds so far)."""
        return self._closed

    def _result(self, step: OpenStep) -> StepResult:
        """The step's result from its final seconds and the pending ones it takes."""
        assert step.end is not None
        assert step.end_second is not None
        return StepResult.of(
            step.step, step.users, step.start, step.end, step.end_second - step.first_second,
            self.replies_of(step),
        )  # fmt: skip


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
