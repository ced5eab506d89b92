"""Load shapes for wslocust: step ramp, bursts, linear stages, stress search, steady load, a spike and a
capacity search.

Each shape is a Locust :class:`~locust.LoadTestShape`. Its ``tick()`` runs on the master (or on the single
process of a local run) once a second and returns ``(user_count, spawn_rate)``, or ``None`` to end the test.

Two ways to use a shape:

* From the command line: ``--shape step --step-users 10 --step-duration 1m ...``. The options are the
  table :data:`~.options.SHAPE_OPTIONS`; the plugin (:mod:`wslocust.plugin.shapes`) adds them to
  Locust's parser and hands Locust the shape they choose.
* In a locustfile: subclass a shape and set its class attributes::

      from wslocust.shapes import StepShape

      class Ramp(StepShape):
          step_users = 20
          step_duration = "2m"

  Like Locust's ``HttpUser``, the classes here are marked ``abstract`` so that merely importing them into
  a locustfile does not make Locust pick them; a subclass defined in the locustfile is picked.

Time comes only from :meth:`LoadTestShape.get_run_time` (``time.perf_counter()`` minus ``start_time``, reset
by Locust when a shape test starts), so tests can drive the shapes with a fake clock.

The modules: :mod:`.base` (the base classes), :mod:`.stepped` (step and stress), :mod:`.simple` (burst,
stages, steady, spike), :mod:`.stages` (the stages syntax), :mod:`.steps` (per-step results),
:mod:`.options` (the shapes by name and their options), :mod:`.capacity` (the capacity search's levels).
"""

from __future__ import annotations

from .base import ConfigurableShape, RecordingShape
from .capacity import CapacityShape
from .options import SHAPES, shape_from_options
from .simple import BurstShape, SpikeShape, StagesShape, SteadyShape
from .stages import Stage, parse_stages
from .stepped import BreakingPoint, StepShape, StressShape
from .steps import (
    STEP_CSV_COLUMNS,
    OpenStep,
    PendingSeconds,
    StepRecorder,
    StepResult,
    steps_as_json,
    write_steps_csv,
)

__all__ = [
    "SHAPES",
    "STEP_CSV_COLUMNS",
    "BreakingPoint",
    "BurstShape",
    "CapacityShape",
    "ConfigurableShape",
    "OpenStep",
    "PendingSeconds",
    "RecordingShape",
    "SpikeShape",
    "Stage",
    "StagesShape",
    "SteadyShape",
    "StepRecorder",
    "StepResult",
    "StepShape",
    "StressShape",
    "parse_stages",
    "shape_from_options",
    "steps_as_json",
    "write_steps_csv",
]
