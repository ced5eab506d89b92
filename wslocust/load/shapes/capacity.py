"""The capacity shape: search for the highest arrival rate (or user count) a bot sustains within its SLOs.

Each level runs for a settling period, then a measuring period; the level is judged on the replies
that ended in its measuring window only (the exact per-second statistics of the recorder, merged
over the workers on a master), by :func:`~wslocust.load.capacity.judge_level`, and
:class:`~wslocust.load.capacity.CapacitySearch` picks the next level. See docs/shapes.md.
"""

from __future__ import annotations

import argparse
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from ...metrics import parse_slo
from ...values import choice, fraction, integer, number
from ..capacity import CapacitySearch, LevelResult, Outcome, judge_level
from ..capacity_report import capacity_section, verdict_text
from .base import Parse, RecordingShape, any_number, duration_s

__all__ = ["CAPACITY_OVER", "CapacityShape", "slo_limits"]

logger = logging.getLogger("wslocust.load.shapes")

CAPACITY_OVER = ("rate", "users")
"""What ``--capacity-over`` searches: arrival rates (open model) or user counts (closed model)."""

_CLEARLY_PAST_MIN = 20
"""Sends (or replies) a level needs before it may be cut short as clearly past the limit."""


def slo_limits(value: object, name: str) -> tuple[tuple[str, float], ...]:
    """``--slo`` values (``["ttft:800", "e2e:5000"]``) as ``(metric, limit_ms)`` pairs, each metric once."""
    items = [value] if isinstance(value, str) else list(value) if isinstance(value, Iterable) else [value]
    limits: dict[str, float] = {}
    for item in items:
        if isinstance(item, tuple):
            metric, limit = item
        else:
            metric, limit = parse_slo(item, name)
        if metric in limits:
            raise ValueError(f"{name} {metric} is given twice: give each metric one limit")
        limits[str(metric)] = float(limit)
    return tuple(limits.items())


def _percentile(value: object, name: str) -> float:
    return number(value, name, positive=True, maximum=100.0, what="a percentile in (0, 100]")


def _over(value: object, name: str) -> str:
    return choice(value, name, CAPACITY_OVER)


@dataclass
class _Level:
    """The level under way: its target, users, and where it is in (drain →) settle → measure → report."""

    target: float
    users: int
    began: float
    phase: str = "settle"
    window_start: float = 0.0
    window_end: float = 0.0
    sends_at_start: tuple[int, int] = (0, 0)
    sends: tuple[int, int] | None = None
    cpu_percent: float | None = None
    cut_short: bool = False
    drain_s: float = 0.0


class CapacityShape(RecordingShape):
    """Capacity search: levels of arrival rate (or users), each settled then measured, then judged.

    Over rates, the users are a pool carrying the open model's prompts (``--arrival-rate`` is the
    first level's rate); the plugin sets :attr:`rate_listener` to move every process's schedule to a
    level's rate. Over users (``--capacity-over users``), each level runs that many users (closed
    model). Each measuring window is a step of :attr:`step_results`; the judged levels are
    :attr:`levels`; :meth:`capacity_section` is the JSON summary's ``capacity`` section.
    """

    abstract = True
    shape_name = "capacity"

    over: str = "rate"
    """``rate``: search arrival rates (open model); ``users``: search user counts (closed model)."""
    start: float = 0.0
    """The first level: a rate (default: ``--arrival-rate``) or users (default 1)."""
    settle_time: float = 10.0
    """Seconds each level runs before its measuring window (the queue settles), not judged. After a
    failed level, the users also stop this long (at least 1 s, and at least as long as the last
    level's users take to stop at :attr:`spawn_rate`) first: their connections close, so a
    bot that drops a closed connection's work starts the next level idle."""
    measure_time: float = 30.0
    """Seconds of each level's measuring window: the replies judged."""
    growth: float = 2.0
    """Factor between levels while the search brackets the limit (above 1)."""
    precision: float = 0.05
    """The search ends when the highest passing and lowest failing levels are this close (a share)."""
    max_levels: int = 12
    """The most levels measured."""
    upper: float = 0.0
    """The highest level tried; 0 for no bound but ``max_levels``."""
    pool_time: float = 10.0
    """Over rates: users in the pool = rate times this many seconds (enough for replies this long)."""
    max_duration: float = 0.0
    """Seconds after which the run ends whatever the search found; 0 for no bound."""
    slos: tuple[tuple[str, float], ...] = ()
    """The SLOs, ``(metric, limit_ms)``, from ``--slo``: at least one is needed."""
    percentile: float = 99.0
    """The percentile each SLO holds at (``--slo-percentile``), in (0, 100]."""
    max_error_rate: float = 0.01
    """The largest error rate of a passing level (``--max-error-rate``), a fraction."""
    report_lag: float = 0.0
    """Seconds a level's load is held after its window before it is judged: on a master, the
    workers' reports of the window's last seconds (the plugin sets it)."""
    spawn_rate: float = 100.0
    """Users started or stopped a second between levels."""

    _settings: ClassVar[dict[str, Parse]] = {
        "over": _over, "start": any_number, "settle_time": duration_s, "measure_time": duration_s,
        "growth": any_number, "precision": fraction, "max_levels": integer, "upper": any_number,
        "pool_time": duration_s, "max_duration": duration_s, "slos": slo_limits,
        "percentile": _percentile, "max_error_rate": fraction, "report_lag": duration_s,
        "spawn_rate": any_number,
    }  # fmt: skip
    _option_map: ClassVar[dict[str, str]] = {
        "capacity_over": "over", "capacity_start": "start", "capacity_settle": "settle_time",
        "capacity_measure": "measure_time", "capacity_growth": "growth",
        "capacity_precision": "precision", "capacity_max_levels": "max_levels",
        "capacity_max": "upper", "capacity_pool": "pool_time", "max_duration": "max_duration",
        "slo": "slos", "slo_percentile": "percentile", "max_error_rate": "max_error_rate",
        "shape_spawn_rate": "spawn_rate",
    }  # fmt: skip

    def __init__(self, **settings: object) -> None:
        """Creates the shape.

        Args:
            **settings: Overrides of the class-attribute settings.
        """
        self.rate_listener: Callable[[float], None] | None = None
        """Called with each level's arrival rate (over rates), before its users run."""
        self.sends: Callable[[], tuple[int, int]] | None = None
        """Gives the open model's ``(sends, late sends)`` so far (the plugin sets it)."""
        self.cpu: Callable[[], float] | None = None
        """Gives the highest CPU use of a load-generating process now, percent (the plugin sets it)."""
        self.levels: list[LevelResult] = []
        """The judged levels of the current (or last) run."""
        self.outcome: Outcome = "running"
        """Why the search ended (``found``, ``upper_bound``, ``none_passed``, ``max_levels``,
        ``invalid``, ``stopped``), or ``running``."""
        self.search: CapacitySearch | None = None
        self._level: _Level | None = None
        super().__init__(**settings)

    @classmethod
    def from_options(cls, options: argparse.Namespace) -> CapacityShape:
        """Creates the shape from parsed options; a bad value's message names its option.

        Raises:
            ValueError: a value is bad, or ``--slo`` (or, over rates, ``--arrival-rate``) is missing.
        """
        try:
            shape = super().from_options(options)
        except ValueError as error:
            text = str(error)
            for dest, name in sorted(cls._option_map.items(), key=lambda item: -len(item[1])):
                text = text.replace(f"{cls.__name__}.{name} ", "--" + dest.replace("_", "-") + " ")
            raise ValueError(text) from None
        assert isinstance(shape, CapacityShape)
        return shape

    @classmethod
    def _settings_from(cls, options: argparse.Namespace) -> dict[str, object]:
        settings = super()._settings_from(options)
        over = settings.get("over", cls.over)
        if "start" not in settings and over == "rate":
            rate = getattr(options, "arrival_rate", None)
            if rate is None or rate == "":
                raise ValueError(
                    "--shape capacity needs --arrival-rate RATE (the first level's rate), "
                    "or --capacity-over users"
                )
            settings["start"] = rate
        if not settings.get("slos"):
            raise ValueError("--shape capacity needs at least one --slo, e.g. --slo e2e:2000")
        return settings

    def _validate(self) -> None:
        super()._validate()
        if self.start == 0 and self.over == "users":
            self.start = 1.0
        self._require(self.start > 0, "start", "must be > 0 (the first level)")
        self._require(self.settle_time >= 0, "settle_time", "must be >= 0 s")
        self._require(self.measure_time >= 1, "measure_time", "must be >= 1 s")
        self._require(self.growth > 1, "growth", "must be > 1")
        self._require(self.precision > 0, "precision", "must be > 0")
        self._require(self.max_levels >= 1, "max_levels", "must be >= 1")
        self._require(self.upper == 0 or self.upper >= self.start, "upper", "must be 0 or >= start")
        self._require(self.pool_time > 0, "pool_time", "must be > 0 s")
        self._require(0 < self.percentile <= 100, "percentile", "must be in (0, 100]")

    @property
    def rate_unit(self) -> str:
        """What a level counts: ``prompts/s`` or ``users``."""
        return "prompts/s" if self.over == "rate" else "users"

    def _reset(self) -> None:
        super()._reset()
        self.levels = []
        self.outcome = "running"
        self.search = CapacitySearch(
            self.start, self.growth, self.precision, self.max_levels,
            self.upper or None, whole=self.over == "users",
        )  # fmt: skip
        self._level = None

    def users_for(self, target: float) -> int:
        """Users running at a level: the target over users, the pool for the rate over rates."""
        if self.over == "users":
            return max(1, round(target))
        return max(1, math.ceil(target * self.pool_time))

    def tick(self) -> tuple[int, float] | None:
        """Returns the level's ``(users, spawn_rate)``, or None once the search has ended."""
        now = self._now()
        assert self.search is not None
        if self._level is None:
            first = self.search.next_level()
            assert first is not None
            self._begin_level(first, now)
        level = self._level
        assert level is not None
        if self.max_duration and now >= self.max_duration:
            self._end("stopped", now)
            return None
        if level.phase == "drain":
            if now - level.began < level.drain_s:
                return 0, self.spawn_rate
            level.phase, level.began = "settle", now
            self._set_rate(level)
        if level.phase == "settle" and now - level.began >= self.settle_time:
            self.recorder.begin(level.users, now)
            level.phase, level.window_start = "measure", now
            level.sends_at_start = self.sends() if self.sends is not None else (0, 0)
        elif level.phase == "measure":
            self._watch_cpu(level)
            if now - level.window_start >= self.measure_time or self._clearly_past(level):
                level.cut_short = now - level.window_start < self.measure_time
                self._close_window(level, now)
        if level.phase == "report" and now - level.window_end >= (0 if level.cut_short else self.report_lag):
            self._judge(level)
            following = self.search.next_level()
            if following is None:
                self._end(self.search.outcome, now)
                return None
            self._begin_level(following, now, drain=self.levels[-1].passed is not True)
            return self.tick_of(self._level)
        return self.tick_of(level)

    def tick_of(self, level: _Level | None) -> tuple[int, float]:
        """The ``(users, spawn_rate)`` of a level: none while it drains the last one's backlog."""
        users = 0 if level is None or level.phase == "drain" else level.users
        return users, self.spawn_rate

    def _begin_level(self, target: float, now: float, *, drain: bool = False) -> None:
        level = _Level(target, self.users_for(target), now, phase="drain" if drain else "settle")
        if drain and self._level is not None:  # Locust stops the last level's users at the spawn rate
            level.drain_s = max(self.settle_time, 1.0, self._level.users / self.spawn_rate)
        self._level = level
        if not drain:  # after a drain, when its users start: a schedule begun earlier owes sends at once
            self._set_rate(level)
        logger.info("wslocust capacity: level %d at %g %s", len(self.levels) + 1, target, self.rate_unit)

    def _set_rate(self, level: _Level) -> None:
        if self.over == "rate" and self.rate_listener is not None:
            self.rate_listener(level.target)

    def _watch_cpu(self, level: _Level) -> None:
        if self.cpu is not None:
            level.cpu_percent = max(level.cpu_percent or 0.0, self.cpu())

    def _sends_in(self, level: _Level) -> tuple[int, int] | None:
        if self.over != "rate" or self.sends is None:
            return None
        now = self.sends()
        return now[0] - level.sends_at_start[0], now[1] - level.sends_at_start[1]

    def _clearly_past(self, level: _Level) -> bool:
        """Past the limit beyond doubt before the window's end: most sends late, or many errors."""
        sends = self._sends_in(level)
        if sends is not None and sends[0] >= _CLEARLY_PAST_MIN and sends[1] > 0.5 * sends[0]:
            return True
        step = self.recorder.open_step
        if step is None:
            return False
        replies = self.recorder.replies_of(step)
        limit = max(2 * self.max_error_rate, 0.1)
        return replies.replies >= _CLEARLY_PAST_MIN and replies.failures > limit * replies.replies

    def _close_window(self, level: _Level, now: float) -> None:
        level.sends = self._sends_in(level)
        self.recorder.close(now)
        level.phase, level.window_end = "report", now

    def _judge(self, level: _Level) -> None:
        step = self.recorder.closed_steps[-1]
        assert step.end_second is not None
        assert self.search is not None
        result = judge_level(
            level=len(self.levels) + 1, target=level.target, users=level.users,
            offered_rate_per_s=level.target if self.over == "rate" else None,
            start_s=level.window_start, measured_s=step.end_second - step.first_second,
            stats=self.recorder.replies_of(step), slos=dict(self.slos), percentile=self.percentile,
            max_error_rate=self.max_error_rate, late=level.sends, cpu_percent=level.cpu_percent,
            cut_short=level.cut_short,
        )  # fmt: skip
        self.levels.append(result)
        self.search.record(level.target, result.passed)
        logger.info(
            "wslocust capacity: level %d at %g %s: %s%s", result.level, result.target, self.rate_unit,
            result.verdict, f" ({result.reason})" if result.reason else "",
        )  # fmt: skip

    def _end(self, outcome: Outcome, now: float) -> None:
        self.outcome = outcome
        level = self._level
        if level is not None and level.phase == "measure":
            self.recorder.close(now)
        self._stop()
        logger.info("wslocust capacity: %s", self.verdict())

    def _on_finish(self, now: float) -> None:
        super()._on_finish(now)
        if self.outcome == "running":
            self.outcome = "stopped"

    def verdict(self) -> str:
        """The search's verdict in a sentence or two."""
        return verdict_text(self.capacity_section())

    def capacity_section(self) -> dict[str, Any]:
        """The JSON summary's ``capacity`` section (see docs/metrics.md)."""
        return capacity_section(
            self.levels, self.search, self.outcome, over=self.over, slos=dict(self.slos),
            percentile=self.percentile, max_error_rate=self.max_error_rate,
        )  # fmt: skip
