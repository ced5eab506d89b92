"""Open-model load: prompts sent on a schedule, timed from when they were due.

Locust's users are a closed model: a user sends its next prompt only after the last reply (and its
think time), so when the bot stalls, the users wait with it and send less: the stall shows in a few
samples only, and the percentiles look better than what real users, who keep arriving, would see
(coordinated omission). In the open model, prompts are due at a fixed total rate, or at Poisson
arrivals of that mean rate, whatever the bot does; each prompt is timed from when it was due, so the
time it waited for a free user counts. The users are only a pool that carries the prompts: when none
is free at a prompt's due time, its send is late, and late sends are counted and reported.

The schedule of one process is :class:`ArrivalSchedule`; in a distributed run each worker follows its
share of the total rate (Poisson streams add up to a Poisson stream; constant ones are interleaved).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..values import choice, number

__all__ = ["ARRIVAL_KINDS", "LATE_AFTER_MS", "ArrivalSchedule", "ArrivalStats", "OpenModel"]

ARRIVAL_KINDS = ("constant", "poisson")
"""The arrival processes of ``--arrivals``."""

LATE_AFTER_MS = 10.0
"""A send later than this after its due time is counted late (below it is scheduling jitter)."""


class ArrivalSchedule:
    """The due times of one process's prompts.

    Args:
        rate_per_s: this process's mean rate, prompts a second.
        kind: ``constant`` (evenly spaced) or ``poisson`` (exponential gaps, seeded).
        phase: for ``constant``, the fraction of a gap by which this process's arrivals are offset
            (worker ``i`` of ``n`` takes ``i / n``, so the workers' arrivals interleave).
        seed: seed of the Poisson gaps.
        clock: the clock of the due times (``time.perf_counter``; tests pass a fake).
    """

    def __init__(
        self,
        rate_per_s: float,
        kind: str = "constant",
        *,
        phase: float = 0.0,
        seed: int | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.rate_per_s = number(rate_per_s, "rate_per_s", positive=True)
        self.kind = choice(kind, "kind", ARRIVAL_KINDS)
        self.clock = clock
        self._gap_s = 1.0 / rate_per_s
        self._random = random.Random(seed)
        self._next: float | None = None
        self._phase = phase % 1.0

    def claim(self) -> float:
        """Take the next due time (a ``clock()`` value); the first is now, plus the phase offset."""
        if self._next is None:
            self._next = self.clock() + self._phase * self._gap_s
        due = self._next
        gap = self._random.expovariate(self.rate_per_s) if self.kind == "poisson" else self._gap_s
        self._next = due + gap
        return due


@dataclass
class ArrivalStats:
    """How well the users kept to the schedule."""

    scheduled: int = 0
    """Prompts whose due time was claimed."""
    late: int = 0
    """Prompts sent more than :data:`LATE_AFTER_MS` after they were due (no user was free)."""
    max_delay_ms: float = 0.0
    """The latest send, ms after its due time."""

    def add(self, delay_ms: float) -> None:
        """Count one claimed prompt that goes out ``delay_ms`` after its due time (0 when on time)."""
        self.scheduled += 1
        if delay_ms > LATE_AFTER_MS:
            self.late += 1
        self.max_delay_ms = max(self.max_delay_ms, delay_ms)

    def merge(self, other: ArrivalStats) -> None:
        self.scheduled += other.scheduled
        self.late += other.late
        self.max_delay_ms = max(self.max_delay_ms, other.max_delay_ms)

    def to_wire(self) -> list[Any]:
        return [self.scheduled, self.late, self.max_delay_ms]

    def take(self) -> list[Any]:
        """Return the counts in wire form and start again from zero (a worker's report)."""
        wire = self.to_wire()
        self.scheduled, self.late, self.max_delay_ms = 0, 0, 0.0
        return wire

    @classmethod
    def from_wire(cls, wire: list[Any]) -> ArrivalStats:
        scheduled, late, max_delay_ms = wire
        return cls(int(scheduled), int(late), float(max_delay_ms))

    def summary(self, rate_per_s: float, kind: str) -> dict[str, Any]:
        """The JSON summary's ``open_model`` section."""
        return {
            "arrival_rate_per_s": rate_per_s,
            "arrivals": kind,
            "scheduled": self.scheduled,
            "late_sends": self.late,
            "late_share": round(self.late / self.scheduled, 4) if self.scheduled else None,
            "max_send_delay_ms": round(self.max_delay_ms, 3),
            "kept_up": self.late <= 0.01 * self.scheduled,
        }


class OpenModel:
    """One process's schedule and its punctuality, shared by the process's users.

    Args:
        total_rate_per_s: the run's rate over every process.
        kind: ``constant`` or ``poisson``.
        index: this process's index among ``count`` load-generating processes.
        count: how many processes share the rate.
        stats: where sends are counted (kept by the plugin across tests and reports).
        clock: the clock of the due times.
    """

    def __init__(
        self,
        total_rate_per_s: float,
        kind: str,
        *,
        index: int = 0,
        count: int = 1,
        stats: ArrivalStats | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.total_rate_per_s = number(total_rate_per_s, "total_rate_per_s", positive=True)
        self.kind = choice(kind, "kind", ARRIVAL_KINDS)
        self.clock = clock
        self.stats = stats if stats is not None else ArrivalStats()
        self.schedule = ArrivalSchedule(
            total_rate_per_s / count, kind, phase=index / count, seed=1000 + index, clock=clock
        )

    def claim(self) -> float:
        """Take the next due time and count how late it is already (0 when it is still ahead)."""
        due = self.schedule.claim()
        self.stats.add(max(0.0, (self.clock() - due) * 1000.0))
        return due
