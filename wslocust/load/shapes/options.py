"""The shapes by name, and their command-line options as a table of data."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from ...values import argument_type, count, fraction, number, seconds
from .base import ConfigurableShape, duration_s
from .capacity import CAPACITY_OVER, CapacityShape
from .simple import BurstShape, SpikeShape, StagesShape, SteadyShape
from .stages import parse_stages
from .stepped import StepShape, StressShape

__all__ = ["SHAPES", "SHAPE_OPTIONS", "ShapeOption", "shape_from_options"]

SHAPES: dict[str, type[ConfigurableShape]] = {
    shape.shape_name: shape
    for shape in (StepShape, BurstShape, StagesShape, StressShape, SteadyShape, SpikeShape, CapacityShape)
}
"""The shapes by ``--shape`` name."""


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
_POSITIVE_OR_0 = argument_type(number, keep_text=True)


@dataclass(frozen=True)
class ShapeOption:
    """A command-line option of the shapes: its flag, the shapes reading it, its help and its parser."""

    flag: str
    """The flag, e.g. ``--step-users``."""
    shapes: tuple[str, ...]
    """The :data:`SHAPES` names of the shapes that read it."""
    help: str
    """What it sets (its defaults are added by :meth:`help_text`)."""
    convert: Any = _COUNT
    """The argparse ``type=``: checks the value and keeps it as written."""
    metavar: str = "<int>"
    """The value's placeholder in the help."""

    @property
    def dest(self) -> str:
        """The attribute of the parsed options, e.g. ``step_users``."""
        return self.flag.lstrip("-").replace("-", "_")

    def help_text(self) -> str:
        """The help: the shapes reading the option, what it sets, and their defaults."""
        return f"[{', '.join(self.shapes)}] {self.help}{_default_text(self)}"


def _duration_option(
    flag: str, shapes: tuple[str, ...], help_text: str, *, positive: bool = True
) -> ShapeOption:
    """A duration option, kept as written (the web UI's form shows ``2m``); 0 only if not ``positive``."""
    return ShapeOption(
        flag, shapes, help_text, argument_type(seconds, positive=positive, keep_text=True), "<duration>"
    )


def _default_text(option: ShapeOption) -> str:
    """Returns the defaults of an option, taken from the class attributes of the shapes using it."""
    dest = option.dest
    values: dict[str, str] = {}
    for name in option.shapes:
        shape = SHAPES[name]
        value = getattr(shape, shape._option_map[dest])
        if isinstance(value, float):
            values[name] = f"{value:g}" + (
                " s" if shape._settings[shape._option_map[dest]] is duration_s else ""
            )
        elif isinstance(value, int):
            values[name] = str(value)
    if not values:
        return ""
    if len(set(values.values())) == 1:
        return f" (default {next(iter(values.values()))})"
    return " (defaults: " + ", ".join(f"{name} {value}" for name, value in values.items()) + ")"


_STEPPED = ("step", "stress")

_CAPACITY = ("capacity",)
_POSITIVE = argument_type(number, positive=True, keep_text=True)


def _over_argument(value: str) -> str:
    if value not in CAPACITY_OVER:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(CAPACITY_OVER)}, got {value!r}")
    return value


_CAPACITY_OPTIONS: tuple[ShapeOption, ...] = (
    ShapeOption(
        "--capacity-over",
        _CAPACITY,
        "Search arrival rates (rate: open model, the first is --arrival-rate) or user counts (users)",
        _over_argument,
        "{rate,users}",
    ),
    ShapeOption(
        "--capacity-start",
        _CAPACITY,
        "The first level: a rate, or users (default --arrival-rate, or 1 user)",
        _POSITIVE,
        "<level>",
    ),
    _duration_option(
        "--capacity-settle", _CAPACITY, "Time each level runs before it is measured", positive=False
    ),
    _duration_option("--capacity-measure", _CAPACITY, "Time each level is measured (its replies are judged)"),
    ShapeOption(
        "--capacity-growth",
        _CAPACITY,
        "Factor between levels until one fails (above 1)",
        argument_type(number, minimum=1.0, positive=True, keep_text=True),
        "<factor>",
    ),
    ShapeOption(
        "--capacity-precision",
        _CAPACITY,
        "Stop when the last pass and first fail are this close (0.05 or 5%%)",
        argument_type(fraction, keep_text=True),
        "<share>",
    ),
    ShapeOption("--capacity-max-levels", _CAPACITY, "The most levels measured", _AT_LEAST_ONE),
    ShapeOption(
        "--capacity-max", _CAPACITY, "The highest level tried; 0 for no bound", _POSITIVE_OR_0, "<level>"
    ),
    _duration_option(
        "--capacity-pool", _CAPACITY, "Over rates: users = rate x this (the longest reply carried)"
    ),
    _duration_option(
        "--max-duration",
        _CAPACITY,
        "The capacity run ends after this whatever it found; 0 for none",
        positive=False,
    ),
    ShapeOption(
        "--slo-percentile",
        _CAPACITY,
        "The percentile every --slo holds at, in (0, 100]",
        argument_type(number, positive=True, maximum=100.0, keep_text=True),
        "<p>",
    ),
)

SHAPE_OPTIONS: tuple[ShapeOption, ...] = (
    ShapeOption(
        "--shape-spawn-rate",
        tuple(SHAPES),
        "Users started/stopped per second when the shape changes the user count",
        argument_type(number, positive=True, keep_text=True),
        "<float>",
    ),
    ShapeOption("--step-start-users", _STEPPED, "Users in the first step"),
    ShapeOption("--step-users", _STEPPED, "Users added at each step", _AT_LEAST_ONE),
    _duration_option("--step-duration", _STEPPED, "Length of each step, e.g. 60, 90s, 2m"),
    ShapeOption("--max-users", _STEPPED, "Users of the last step", _AT_LEAST_ONE),
    _duration_option("--step-hold", ("step",), "Extra time at max users after the last step", positive=False),
    _duration_option("--step-time-limit", ("step",), "Total run time limit; 0 for none", positive=False),
    ShapeOption(
        "--stress-p95-ms",
        ("stress",),
        "A step with a higher p95 latency breaks",
        argument_type(number, positive=True, what="a number of ms", keep_text=True),
        "<ms>",
    ),
    ShapeOption(
        "--stress-error-rate",
        ("stress",),
        "A step with a higher error rate (0.05 or 5%%) breaks",
        argument_type(fraction, keep_text=True),
        "<share>",
    ),
    ShapeOption("--stress-min-requests", ("stress",), "A step completing fewer requests breaks; 0 disables"),
    ShapeOption("--burst-base-users", ("burst",), "Users between bursts"),
    ShapeOption("--burst-users", ("burst",), "Users during a burst", _AT_LEAST_ONE),
    _duration_option("--burst-duration", ("burst",), "Length of a burst"),
    _duration_option("--burst-idle", ("burst",), "Time at base users before each burst and after the last"),
    ShapeOption("--burst-cycles", ("burst",), "Number of bursts", _AT_LEAST_ONE),
    ShapeOption(
        "--stages",
        ("stages",),
        "Linear stages DURATION:USERS,... with an optional START@ prefix, e.g. '1@2m:10,5m:50,10m:50,3m:0'",
        _stages_argument,
        "<stages>",
    ),
    ShapeOption("--steady-users", ("steady",), "Users to hold", _AT_LEAST_ONE),
    _duration_option("--steady-duration", ("steady",), "Time to hold them once spawned"),
    ShapeOption("--spike-base-users", ("spike",), "Users before and after the spike"),
    ShapeOption("--spike-users", ("spike",), "Users during the spike", _AT_LEAST_ONE),
    _duration_option("--spike-at", ("spike",), "When the spike starts", positive=False),
    _duration_option("--spike-duration", ("spike",), "Length of the spike"),
    _duration_option("--spike-total-time", ("spike",), "Length of the spike test"),
    *_CAPACITY_OPTIONS,
)
"""Every shape option, in the order of the help and the web UI's form."""


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
