"""Pass/fail gates: limits on the run's figures, judged at the end of the run.

A gate is one limit on one figure of the JSON summary (:func:`wslocust.outputs.summary`): a maximum
average or percentile latency, a minimum request rate, a minimum success rate, and so on. At the end
of each test every gate set is judged; the verdict is a table (:func:`format_verdict`), a section of
the JSON summary (:meth:`Verdict.as_json`) and, when a gate fails, the process exit code
:data:`GATE_FAILED_EXIT_CODE` (:func:`verdict_exit_code`).

Limits are inclusive: a maximum passes when the measured value is at most the limit, a minimum when
it is at least the limit. A figure that could not be measured (no successful reply, so no latency;
no request, so no success rate) fails its gate, with a note saying why.

Every option defaults to ``None`` (not set); with no gate set nothing is judged and the run ends as a
plain Locust run does. See docs/gates.md.

The modules: :mod:`.gate` (a gate, its result, the verdict), :mod:`.measures` (reading a figure
from the summary), :mod:`.options` (the options and the gates they set), :mod:`.verdict` (judging,
the table, the exit code).
"""

from __future__ import annotations

from .gate import Comparison, Gate, GateResult, Measurement, Verdict
from .options import (
    DEFAULT_TTFT_PERCENTILE,
    GATE_OPTIONS,
    TTFT_PERCENTILE_KEYS,
    AddOption,
    add_gate_arguments,
    gates_from_options,
)
from .verdict import GATE_FAILED_EXIT_CODE, evaluate, format_verdict, verdict_exit_code

__all__ = [
    "DEFAULT_TTFT_PERCENTILE",
    "GATE_FAILED_EXIT_CODE",
    "GATE_OPTIONS",
    "TTFT_PERCENTILE_KEYS",
    "AddOption",
    "Comparison",
    "Gate",
    "GateResult",
    "Measurement",
    "Verdict",
    "add_gate_arguments",
    "evaluate",
    "format_verdict",
    "gates_from_options",
    "verdict_exit_code",
]
