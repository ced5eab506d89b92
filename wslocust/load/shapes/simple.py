"""The simple shapes: bursts, linear stages, steady load and a spike."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

from ...values import integer
from .base import ConfigurableShape, Parse, any_number, duration_s, stage_list
from .stages import Stage, parse_stages

__all__ = ["BurstShape", "SpikeShape", "StagesShape", "SteadyShape"]


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

    _settings: ClassVar[dict[str, Parse]] = {
        "base_users": integer,
        "burst_users": integer,
        "burst_duration": duration_s,
        "idle_duration": duration_s,
        "cycles": integer,
        "spawn_rate": any_number,
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

    _settings: ClassVar[dict[str, Parse]] = {
        "start_users": integer,
        "stages": stage_list,
        "spawn_rate": any_number,
    }
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
        return tuple(Stage(duration_s(duration, "stages"), int(users)) for duration, users in self.stages)

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

    _settings: ClassVar[dict[str, Parse]] = {
        "users": integer,
        "duration": duration_s,
        "spawn_rate": any_number,
    }
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

    _settings: ClassVar[dict[str, Parse]] = {
        "base_users": integer,
        "peak_users": integer,
        "spike_at": duration_s,
        "spike_duration": duration_s,
        "total_time": duration_s,
        "spawn_rate": any_number,
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
