"""Capacity search, as pure functions: which level to measure next, and how a measured level is judged.

A capacity run measures a series of levels (arrival rates, or user counts with ``--capacity-over
users``) and looks for the highest level at which every SLO holds at its percentile and the error
rate stays under its limit. :class:`CapacitySearch` decides the levels:

1. **bracket**: from the start level, multiply by ``growth`` while levels pass, up to ``upper``;
   when the first level already fails, divide by ``growth`` instead (at most three times);
2. **bisect**: between the highest passing level (``low``) and the lowest failing one (``high``),
   measure the midpoint, until ``high - low`` is within ``precision`` of ``low`` (one user apart
   over users);
3. **confirm**: the passing level it ends on is measured a second time; if it fails then, it counts
   as failing and the bisection goes on below it.

It stops after ``max_levels`` levels whatever it found, and at once when a level is *invalid*: the
load generator itself could not keep the level (its CPU near a core), so nothing above can be judged.

:func:`judge_level` turns the exact statistics of a level's measuring window into a
:class:`LevelResult`: passed, failed (and why) or invalid. Nothing here reads a clock or a socket.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ..outputs.figures import CAPACITY_FIGURES
from ..stats.aggregates import Histogram, ReplyStats

__all__ = [
    "CAPACITY_CSV_COLUMNS",
    "CPU_LIMIT_PERCENT",
    "LATE_SHARE_LIMIT",
    "CapacitySearch",
    "LevelResult",
    "Outcome",
    "judge_level",
    "level_histograms",
]

CPU_LIMIT_PERCENT = 90.0
"""A level during which a load-generating process used more CPU than this (percent of one core) is
invalid: its latencies may be the generator's, not the bot's."""

LATE_SHARE_LIMIT = 0.10
"""A level whose sends were late (no free user, see :mod:`wslocust.load.arrivals`) more than this share
of the time has a growing backlog: it fails, and a level may be cut short for it."""

Outcome = Literal["running", "found", "upper_bound", "none_passed", "max_levels", "invalid", "stopped"]

_SLO_HISTOGRAMS = {"ttft": "ttft", "tpot": "tpot", "e2e": "latency"}
"""The :class:`ReplyStats` histogram each ``--slo`` metric limits."""


def level_histograms(stats: ReplyStats) -> dict[str, Histogram]:
    """The histograms of a level's replies, by ``--slo`` metric name (``ttft``, ``tpot``, ``e2e``)."""
    return {metric: getattr(stats, attribute) for metric, attribute in _SLO_HISTOGRAMS.items()}


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True)
class LevelResult:
    """One measured level: its load, what its measuring window's replies showed, and the judgement."""

    level: int
    """Level number, from 1, in the order measured."""
    target: float
    """The level searched on: an arrival rate (prompts/s) or a user count."""
    users: int
    """Users running (over rates: the pool carrying the prompts)."""
    offered_rate_per_s: float | None
    """The arrival rate offered (over users: None, the closed model offers what the users ask)."""
    start_s: float
    """Run time at which the measuring window began, in seconds."""
    measured_s: float
    """Length of the measuring window, in seconds (whole seconds of replies)."""
    replies: int
    """Replies that ended in the window, failed ones included."""
    failures: int
    """Failed replies in the window."""
    error_rate: float
    """``failures / replies`` (0 without replies)."""
    achieved_rate_per_s: float
    """Replies a second in the window."""
    goodput_per_s: float
    """Replies a second that met every objective (every ``--slo``)."""
    users_in_flight: float
    """Replies under way on average (Little's law: achieved rate times mean E2E latency)."""
    percentile: float
    """The percentile the SLOs are judged at (99 for p99)."""
    ttft_ms: float | None
    """Time to first chunk at ``percentile``, ms."""
    e2e_ms: float | None
    """Send → end of reply at ``percentile``, ms."""
    tpot_ms: float | None
    """Time per output token at ``percentile``, ms."""
    ttft_p50_ms: float | None
    """Median time to first chunk, ms."""
    e2e_p50_ms: float | None
    """Median send → end of reply, ms."""
    tpot_p50_ms: float | None
    """Median time per output token, ms."""
    output_tokens_per_s: float
    """Output tokens a second over every reply of the window."""
    tokens_per_s_per_user: float | None
    """Mean output tokens a second of one reply (what one user sees)."""
    late_share: float | None
    """Share of the window's sends that went out late (open model; None over users)."""
    cpu_percent: float | None
    """Highest CPU use of a load-generating process during the window, percent of a core."""
    passed: bool | None
    """True: every limit held; False: one did not; None: invalid (the generator could not keep up)."""
    reason: str
    """Why the level failed or is invalid (empty when it passed)."""
    cut_short: bool = False
    """The level was ended before its window's end: clearly past the limit."""

    @property
    def verdict(self) -> str:
        """``pass``, ``fail`` or ``invalid``."""
        return {True: "pass", False: "fail", None: "invalid"}[self.passed]

    def as_dict(self) -> dict[str, Any]:
        """The level as a JSON-able dict (the summary's ``capacity.levels`` items)."""
        return {**asdict(self), "verdict": self.verdict}

    def csv_row(self) -> list[str]:
        """The row of ``PREFIX_capacity.csv``: the :data:`~wslocust.outputs.figures.CAPACITY_FIGURES`."""
        values = self.as_dict()
        return ["" if values[figure.key] is None else str(values[figure.key]) for figure in CAPACITY_FIGURES]


CAPACITY_CSV_COLUMNS: tuple[str, ...] = tuple(figure.title for figure in CAPACITY_FIGURES)
"""The header of ``PREFIX_capacity.csv``; latencies at the SLO percentile unless named p50."""


def judge_level(
    *,
    level: int,
    target: float,
    users: int,
    offered_rate_per_s: float | None,
    start_s: float,
    measured_s: float,
    stats: ReplyStats,
    slos: Mapping[str, float],
    percentile: float,
    max_error_rate: float,
    late: tuple[int, int] | None = None,
    cpu_percent: float | None = None,
    cut_short: bool = False,
) -> LevelResult:
    """Judge a level on the exact statistics of the replies of its measuring window.

    A level is invalid when a load generator's CPU was above :data:`CPU_LIMIT_PERCENT`; else it fails
    when it had no reply, when an SLO's metric at ``percentile`` is above its limit (a metric with no
    value, e.g. TPOT of one-chunk replies, fails its SLO), when the error rate is above
    ``max_error_rate``, or when more than :data:`LATE_SHARE_LIMIT` of its sends were late.

    Args:
        level: level number, from 1.
        target: the level searched on (rate or users).
        users: users running.
        offered_rate_per_s: the arrival rate offered (None over users).
        start_s: run time of the window's start.
        measured_s: the window's length in whole seconds of replies.
        stats: the window's replies.
        slos: limits in ms by metric (``ttft``, ``tpot``, ``e2e``).
        percentile: the SLOs' percentile, in (0, 100].
        max_error_rate: the largest error rate that passes, a fraction.
        late: ``(sends, late sends)`` in the window (open model), or None.
        cpu_percent: the highest generator CPU seen in the window, or None.
        cut_short: the window was cut short.

    Returns:
        The level's result.
    """
    fraction = percentile / 100.0
    histograms = level_histograms(stats)
    at = {metric: histogram.percentile(fraction) for metric, histogram in histograms.items()}
    median = {metric: histogram.percentile(0.5) for metric, histogram in histograms.items()}
    seconds = max(measured_s, 1e-9)
    replies, failures = stats.replies, stats.failures
    error_rate = failures / replies if replies else 0.0
    achieved = replies / seconds
    mean_e2e = stats.latency.mean
    late_share = late[1] / late[0] if late is not None and late[0] > 0 else None
    reasons: list[str] = []
    passed: bool | None = True
    label = f"p{percentile:g}"
    if cpu_percent is not None and cpu_percent > CPU_LIMIT_PERCENT:
        passed = None
        reasons.append(
            f"the load generator was at {cpu_percent:.0f}% CPU (> {CPU_LIMIT_PERCENT:g}%): "
            "add workers to measure higher"
        )
    else:
        if replies == 0:
            reasons.append("no reply ended in the measuring window")
        for metric, limit in slos.items():
            value = at[metric]
            if value is None and replies:
                reasons.append(f"{metric} {label}: no value (no successful reply measured it)")
            elif value is not None and value > limit:
                reasons.append(f"{metric} {label} {value:.0f} ms > SLO {limit:g} ms")
        if error_rate > max_error_rate:
            reasons.append(f"error rate {error_rate:.1%} > {max_error_rate:.1%}")
        if late_share is not None and late_share > LATE_SHARE_LIMIT:
            reasons.append(f"backlog: {late_share:.0%} of the sends were late (all users busy)")
        if reasons:
            passed = False
    return LevelResult(
        level=level, target=target, users=users, offered_rate_per_s=offered_rate_per_s,
        start_s=round(start_s, 1), measured_s=round(measured_s, 1), replies=replies, failures=failures,
        error_rate=round(error_rate, 4), achieved_rate_per_s=round(achieved, 3),
        goodput_per_s=round(stats.good / seconds, 3),
        users_in_flight=round(achieved * mean_e2e / 1000.0, 2) if mean_e2e is not None else 0.0,
        percentile=percentile, ttft_ms=_round(at["ttft"]), e2e_ms=_round(at["e2e"]),
        tpot_ms=_round(at["tpot"], 2), ttft_p50_ms=_round(median["ttft"]),
        e2e_p50_ms=_round(median["e2e"]), tpot_p50_ms=_round(median["tpot"], 2),
        output_tokens_per_s=round(stats.tokens / seconds, 2),
        tokens_per_s_per_user=_round(stats.token_rate.mean, 2),
        late_share=None if late_share is None else round(late_share, 4),
        cpu_percent=None if cpu_percent is None else round(cpu_percent, 1),
        passed=passed, reason="; ".join(reasons), cut_short=cut_short,
    )  # fmt: skip


@dataclass
class CapacitySearch:
    """Which level to measure next, from the verdicts so far (see the module's docstring).

    Args:
        start: the first level.
        growth: factor between levels while bracketing, above 1.
        precision: bisection stops when ``high - low <= precision * low``.
        max_levels: the most levels measured.
        upper: the highest level tried (None: no bound but ``max_levels``).
        whole: levels are whole numbers (users).
        confirm: measure the final passing level twice.
    """

    start: float
    growth: float = 2.0
    precision: float = 0.05
    max_levels: int = 12
    upper: float | None = None
    whole: bool = False
    confirm: bool = True
    measured: list[tuple[float, bool | None]] = field(default_factory=list)
    """``(level, passed)`` of each level measured, in order (``passed`` None: invalid)."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and self.start > 0):
            raise ValueError(f"start must be a number above 0, got {self.start!r}")
        if not (math.isfinite(self.growth) and self.growth > 1):
            raise ValueError(f"growth must be a number above 1, got {self.growth!r}")
        if not (math.isfinite(self.precision) and self.precision > 0):
            raise ValueError(f"precision must be a number above 0, got {self.precision!r}")
        if self.max_levels < 1:
            raise ValueError(f"max_levels must be 1 or more, got {self.max_levels!r}")
        if self.upper is not None and self.upper < self.start:
            raise ValueError(f"upper ({self.upper:g}) must be at least start ({self.start:g})")

    def record(self, level: float, passed: bool | None) -> None:
        """Note a measured level's verdict (None: invalid, which ends the search)."""
        self.measured.append((level, passed))

    @property
    def failing(self) -> float | None:
        """The lowest level that failed at least once (None: none failed)."""
        return min((level for level, passed in self.measured if passed is False), default=None)

    @property
    def capacity(self) -> float | None:
        """The highest level below every failure that passed each time it was measured."""
        high = self.failing
        verdicts: dict[float, list[bool | None]] = {}
        for level, passed in self.measured:
            verdicts.setdefault(level, []).append(passed)
        good = [
            level
            for level, seen in verdicts.items()
            if all(passed is True for passed in seen) and (high is None or level < high)
        ]
        return max(good, default=None)

    def times_measured(self, level: float) -> int:
        """How many times ``level`` was measured."""
        return sum(1 for measured, _ in self.measured if measured == level)

    @property
    def outcome(self) -> Outcome:
        """Where the search stands: ``running``, or why it ended."""
        return self._next()[1]

    def next_level(self) -> float | None:
        """The level to measure next, or None when the search has ended (see :attr:`outcome`)."""
        return self._next()[0]

    def _shape(self, value: float) -> float:
        return float(max(1, round(value))) if self.whole else value

    def _step(self, value: float, base: float) -> float:
        """``value`` as the level after ``base``; over users a whole number at least a user from it."""
        if not self.whole:
            return value
        rounded = float(round(value))
        return max(rounded, base + 1) if value > base else min(rounded, base - 1)

    def _next(self) -> tuple[float | None, Outcome]:
        if not self.measured:
            return self._shape(self.start), "running"
        if any(passed is None for _, passed in self.measured):
            return None, "invalid"
        low, high = self.capacity, self.failing
        if low is not None and high is not None and self._close_enough(low, high):
            if self.confirm and self.times_measured(low) < 2 and len(self.measured) < self.max_levels:
                return low, "running"
            return None, "found"
        if len(self.measured) >= self.max_levels:
            return None, "max_levels"
        if high is None:  # every level so far passed: grow
            assert low is not None
            grown = self._step(low * self.growth, low)
            if self.upper is not None:
                grown = min(grown, math.floor(self.upper) if self.whole else self.upper)
            if grown <= low:
                return None, "upper_bound"
            return grown, "running"
        if low is None:  # nothing passes below the lowest failure: go down, three times at most
            lower = self._step(high / self.growth, high)
            too_low = (self.whole and lower < 1) or high / self.growth < self.start / self.growth**3
            if too_low or lower >= high:
                return None, "none_passed"
            return lower, "running"
        middle = self._shape((low + high) / 2)
        if middle <= low or middle >= high:
            return None, "found"
        return middle, "running"

    def _close_enough(self, low: float, high: float) -> bool:
        if self.whole:
            return high - low <= 1
        return high - low <= self.precision * low
