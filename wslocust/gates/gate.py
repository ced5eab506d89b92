"""A gate (one limit on one figure of the JSON summary), its result, and the verdict of a run's gates."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

__all__ = ["Comparison", "Gate", "GateResult", "Measurement", "Verdict"]

Comparison = Literal["max", "min"]
"""``max``: the measured value must be at most the limit; ``min``: at least the limit."""

_UNITS = ("ms", "req/s", "fraction", "level")


class Measurement(NamedTuple):
    """A figure read from a summary, or why there is none."""

    value: float | None
    """The measured value; None when nothing was measured."""

    note: str = ""
    """Why nothing was measured (``no successful reply``), or a remark on the value (``no requests``
    for a request rate of 0); shown when the gate fails."""


@dataclass(frozen=True)
class Gate:
    """One limit on one figure of the JSON summary."""

    name: str
    """Stable name of the gate, e.g. ``max_p95_ms``: the ``gate`` key of the JSON verdict."""

    label: str
    """What the gate limits, in words, e.g. ``latency p95``."""

    option: str
    """The command-line option that sets the gate, e.g. ``--max-p95-ms``."""

    limit: float
    """The limit, in ``unit``; a rate is a fraction from 0 to 1."""

    comparison: Comparison
    """``max`` (the measured value must be at most ``limit``) or ``min`` (at least ``limit``)."""

    unit: str
    """Unit of ``limit`` and of the measured value: ``ms``, ``req/s``, ``fraction`` or ``level`` (a
    capacity search's, prompts/s or users as it searched)."""

    measure: Callable[[Mapping[str, Any]], Measurement] = field(compare=False, repr=False)
    """Reads the measured value from a JSON summary (the dict :func:`wslocust.outputs.summary` builds)."""

    def __post_init__(self) -> None:
        if self.comparison not in ("max", "min"):
            raise ValueError(f"comparison must be 'max' or 'min', got {self.comparison!r}")
        if self.unit not in _UNITS:
            raise ValueError(f"unit must be one of {', '.join(_UNITS)}, got {self.unit!r}")

    def allows(self, value: float) -> bool:
        """Whether a measured value is within the limit (the limit itself is within)."""
        return value <= self.limit if self.comparison == "max" else value >= self.limit

    def judge(self, summary: Mapping[str, Any]) -> GateResult:
        """Measures the gate's figure in a summary and judges it.

        Args:
            summary: The JSON summary of a test.

        Returns:
            The result; nothing measured fails, with a note saying why.
        """
        measured = self.measure(summary)
        if measured.value is None:
            return GateResult(self, None, False, f"nothing measured: {measured.note or 'no value'}")
        if self.allows(measured.value):
            return GateResult(self, measured.value, True, "")
        side = "above" if self.comparison == "max" else "below"
        note = f"{side} the limit: {measured.note}" if measured.note else f"{side} the limit"
        return GateResult(self, measured.value, False, note)


@dataclass(frozen=True)
class GateResult:
    """The judgement of one gate."""

    gate: Gate
    """The gate judged."""

    measured: float | None
    """The measured value, in the gate's unit; None when nothing was measured."""

    passed: bool
    """Whether the measured value is within the limit (nothing measured fails)."""

    note: str = ""
    """Why the gate failed (``above the limit``, ``nothing measured: no requests``...); empty on a pass."""


@dataclass(frozen=True)
class Verdict:
    """The judgement of every gate of a run."""

    results: list[GateResult]
    """One result a gate, in the order of the gates."""

    @property
    def passed(self) -> bool:
        """Whether every gate passed (True when there are no gates)."""
        return all(result.passed for result in self.results)

    @property
    def failed(self) -> list[GateResult]:
        """The results of the gates that failed."""
        return [result for result in self.results if not result.passed]

    def as_json(self) -> dict[str, Any]:
        """The verdict as a JSON-able dict, for the ``gates`` key of the JSON summary.

        Returns:
            ``{"passed": bool, "gates": [{"gate", "limit", "measured", "passed", "unit",
            "comparison", "note"}, ...]}``; rates are fractions, ``measured`` is None when nothing
            was measured.
        """
        return {
            "passed": self.passed,
            "gates": [
                {
                    "gate": result.gate.name,
                    "limit": result.gate.limit,
                    "measured": None if result.measured is None else round(result.measured, 6),
                    "passed": result.passed,
                    "unit": result.gate.unit,
                    "comparison": result.gate.comparison,
                    "note": result.note,
                }
                for result in self.results
            ],
        }
