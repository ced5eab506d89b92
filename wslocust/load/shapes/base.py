"""The base classes of the shapes: settings from class attributes, keyword arguments or options; steps."""

from __future__ import annotations

from locust.shape import LoadTestShape

import argparse
import logging
from abc import abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

from ...values import integer, number, seconds
from .stages import Stage, parse_stages
from .steps import StepRecorder, StepResult, steps_as_json

__all__ = ["ConfigurableShape", "Parse", "RecordingShape", "any_number", "duration_s", "stage_list"]

logger = logging.getLogger("wslocust.load.shapes")

Parse = Callable[[object, str], object]
"""A setting's parser: it takes the value and the name to blame, and returns the value checked or raises
:class:`~wslocust.values.BadValue` (a ``ValueError``) naming the setting. The parsers are
:mod:`wslocust.values`'s, with the limits the shapes read them with."""


def any_number(value: object, name: str) -> float:
    """A finite number, of any sign (the shape's own check gives the bounds)."""
    return number(value, name, minimum=None)


def duration_s(value: object, name: str) -> float:
    """A duration in seconds (``90``, ``90s``, ``2m``), 0 or more."""
    return seconds(value, name, positive=False)


def stage_list(value: object, name: str) -> tuple[Stage, ...]:
    """Stages: ``(duration_s, target_users)`` pairs, or the compact string of :func:`.parse_stages`."""
    if isinstance(value, str):
        return tuple(parse_stages(value)[1])
    if not isinstance(value, Iterable):
        raise ValueError(f"{name} must be a list of (duration_s, target_users) pairs, got {value!r}")
    stages: list[Stage] = []
    for index, item in enumerate(value):
        if not isinstance(item, Sequence) or isinstance(item, str) or len(item) != 2:
            raise ValueError(f"{name}[{index}] {item!r}: expected a (duration_s, target_users) pair")
        stages.append(Stage(duration_s(item[0], f"{name}[{index}]"), integer(item[1], f"{name}[{index}]")))
    return tuple(stages)


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
    """Key of the shape in :data:`~wslocust.load.shapes.options.SHAPES` and value of ``--shape``."""

    spawn_rate: float = 10.0
    """Users started (or stopped) per second when the shape changes the user count."""

    _settings: ClassVar[dict[str, Parse]] = {"spawn_rate": any_number}
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
        """Creates the shape from parsed command-line options.

        The options are those :func:`~wslocust.plugin.shapes.add_shape_arguments` adds.

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
            for name, parse in self._settings.items():
                value = settings[name] if name in settings else getattr(self, name)
                setattr(self, name, parse(value, f"{type(self).__name__}.{name}"))
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

    def _on_finish(self, now: float) -> None:
        open_step = self.recorder.open_step
        if open_step is not None and now > open_step.start:
            self.recorder.close(now)
        else:
            self.recorder.discard_open_step()

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
