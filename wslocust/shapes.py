"""The load shapes by the path locustfiles import them from (``from wslocust.shapes import StepShape``;
README.md and docs/shapes.md use it, and earlier releases held them here).

The shapes live in :mod:`wslocust.load.shapes`; their wiring into Locust (:func:`add_shape_arguments`,
:func:`install_shape`) in :mod:`wslocust.plugin.shapes`.
"""

from __future__ import annotations

from .load.shapes import (
    SHAPES,
    STEP_CSV_COLUMNS,
    BreakingPoint,
    BurstShape,
    CapacityShape,
    ConfigurableShape,
    OpenStep,
    RecordingShape,
    SpikeShape,
    Stage,
    StagesShape,
    SteadyShape,
    StepRecorder,
    StepResult,
    StepShape,
    StressShape,
    parse_stages,
    shape_from_options,
    steps_as_json,
    write_steps_csv,
)
from .plugin.shapes import add_shape_arguments, install_shape

__all__ = [
    "SHAPES",
    "STEP_CSV_COLUMNS",
    "BreakingPoint",
    "BurstShape",
    "CapacityShape",
    "ConfigurableShape",
    "OpenStep",
    "RecordingShape",
    "SpikeShape",
    "Stage",
    "StagesShape",
    "SteadyShape",
    "StepRecorder",
    "StepResult",
    "StepShape",
    "StressShape",
    "add_shape_arguments",
    "install_shape",
    "parse_stages",
    "shape_from_options",
    "steps_as_json",
    "write_steps_csv",
]
