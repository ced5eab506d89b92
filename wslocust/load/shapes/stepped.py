"""The stepped shapes: a step ramp, and a stress search that stops at the first step missing a target."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from ...values import fraction, integer
from .base import Parse, RecordingShape, any_number, duration_s
from .steps import StepResult

__all__ = ["BreakingPoint", "StepShape", "StressOutcome", "StressShape"]

logger = logging.getLogger("wslocust.load.shapes")


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


_RAMP_SETTINGS: dict[str, Parse] = {
    "start_users": integer,
    "step_users": integer,
    "step_duration": duration_s,
    "max_users": integer,
    "spawn_rate": any_number,
}
"""The settings of a ramp of steps, shared by the step and stress shapes, with their parsers."""

_RAMP_OPTIONS: dict[str, str] = {
    "step_start_users": "start_users",
    "step_users": "step_users",
    "step_duration": "step_duration",
    "max_users": "max_users",
    "shape_spawn_rate": "spawn_rate",
}
"""The command-line options of a ramp of steps (their ``dest``) and the settings they set."""


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

    _settings: ClassVar[dict[str, Parse]] = {
        **_RAMP_SETTINGS,
        "hold_time": duration_s,
        "time_limit": duration_s,
    }
    _option_map: ClassVar[dict[str, str]] = {
        **_RAMP_OPTIONS,
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
        if self.time_limit > 0 and now >= self.time_limit:
            self.recorder.close(now)
            self._stop()
            return None
        current = self.recorder.open_step
        if current is None:
            current = self.recorder.begin(self.users_for_step(0), now)
        elif now - current.start >= self.step_length(current.step - 1):
            if current.step >= self.step_count:
                self.recorder.close(now)
                self._stop()
                return None
            self.recorder.advance(self.users_for_step(current.step), now)
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
    def p95_ms(self) -> float | None:
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

    _settings: ClassVar[dict[str, Parse]] = {
        **_RAMP_SETTINGS,
        "p95_ms": any_number,
        "error_rate": fraction,
        "min_requests": integer,
    }
    _option_map: ClassVar[dict[str, str]] = {
        **_RAMP_OPTIONS,
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
            reasons.append(f"p95 {result.p95_ms:g} ms > target {self.p95_ms:g} ms")
        if result.error_rate > self.error_rate:
            reasons.append(f"error rate {result.error_rate:.1%} > limit {self.error_rate:.1%}")
        return "; ".join(reasons) or None

    def tick(self) -> tuple[int, float] | None:
        """Returns the current step's ``(users, spawn_rate)``, or None once a step broke or max passed."""
        now = self._now()
        current = self.recorder.open_step
        if current is None:
            current = self.recorder.begin(self.users_for_step(0), now)
        elif now - current.start >= self.step_duration:
            result = self.recorder.close(now)
            assert result is not None
            reason = self.judge(result)
            if reason is not None:
                self._break(result, reason)
                return None
            self._last_good = result
            if result.users >= self.max_users:
                self._no_break(result)
                return None
            current = self.recorder.begin(self.users_for_step(current.step), now)
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
                f"p95 {good.p95_ms:g} ms, errors {good.error_rate:.1%}); step {result.step} at "
                f"{result.users} users broke: {reason}."
            )
        logger.info("wslocust stress: %s", self.message)
        self._stop()

    def _no_break(self, result: StepResult) -> None:
        self.outcome = "max_users"
        self.message = (
            f"No breaking point found up to max_users={self.max_users}: the last step ({result.users} "
            f"users) had {result.requests_per_s:.2f} req/s, p95 {result.p95_ms:g} ms, errors "
            f"{result.error_rate:.1%}."
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
