"""Judging the gates: the verdict of a run, its table and the exit code it asks for."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .gate import Gate, GateResult, Verdict

__all__ = ["GATE_FAILED_EXIT_CODE", "evaluate", "format_verdict", "verdict_exit_code"]

GATE_FAILED_EXIT_CODE = 3
"""The process exit code when a gate fails (Locust uses 1 for failed requests, wslocust 2 for
configuration errors)."""


def evaluate(gates: Sequence[Gate], summary: Mapping[str, Any]) -> Verdict:
    """Judges every gate on a JSON summary.

    Args:
        gates: The gates, e.g. from :func:`~wslocust.gates.options.gates_from_options`.
        summary: The JSON summary of the test (:func:`wslocust.outputs.summary`).

    Returns:
        The verdict: one result a gate, in order; it passes when every gate passes.
    """
    return Verdict([gate.judge(summary) for gate in gates])


def _plain(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _with_unit(text: str, unit: str) -> str:
    if unit == "fraction":
        return f"{text}%"
    return f"{text} {unit}"


def _shown(value: float, unit: str, digits: int) -> str:
    return _with_unit(_plain(value * 100.0 if unit == "fraction" else value, digits), unit)


def _cells(result: GateResult) -> tuple[str, str]:
    """The limit and measured cells; the measured value gets more digits if it would read as the limit."""
    gate = result.gate
    sign = "<=" if gate.comparison == "max" else ">="
    digits = 2
    limit = _shown(gate.limit, gate.unit, digits)
    if result.measured is None:
        return f"{sign} {limit}", "-"
    measured = _shown(result.measured, gate.unit, digits)
    while measured == limit and result.measured != gate.limit and digits < 6:
        digits += 1
        measured = _shown(result.measured, gate.unit, digits)
    return f"{sign} {limit}", measured


_TITLES = ("Gate", "Limit", "Measured", "Result")


def format_verdict(verdict: Verdict) -> str:
    """The verdict as a fixed-width table, for the end of a run.

    Args:
        verdict: The verdict of :func:`evaluate`.

    Returns:
        A title, one line a gate (gate, limit, measured, PASS/FAIL and a note) and a last line
        ``Verdict: PASS`` or ``Verdict: FAIL (n of m gates failed)``; no trailing newline.
    """
    rows = [
        (result.gate.name, *_cells(result), "PASS" if result.passed else "FAIL", result.note)
        for result in verdict.results
    ]
    widths = [max([len(title), *(len(row[index]) for row in rows)]) for index, title in enumerate(_TITLES)]

    def line(cells: Sequence[str]) -> str:
        name, limit, measured, outcome = cells
        return "  ".join((name.ljust(widths[0]), limit.ljust(widths[1]), measured.rjust(widths[2]), outcome))

    header = line(_TITLES)
    rule = "-" * len(header)
    lines = ["Gates (latency and time to first chunk: successful replies)", header, rule]
    for *cells, note in rows:
        text = line(cells)
        lines.append(f"{text}  {note}" if note else text)
    lines.append(rule)
    failed = len(verdict.failed)
    if failed:
        total = len(verdict.results)
        lines.append(f"Verdict: FAIL ({failed} of {total} {'gate' if total == 1 else 'gates'} failed)")
    else:
        lines.append("Verdict: PASS")
    return "\n".join(lines)


def verdict_exit_code(
    verdict: Verdict | None, current: int | None = None, *, crashed: bool = False
) -> int | None:
    """The process exit code a verdict asks for, to put in ``environment.process_exit_code``.

    With gates set, the gates decide instead of Locust's ``--exit-code-on-error``: a failed gate
    gives :data:`GATE_FAILED_EXIT_CODE`; all gates passing gives 0 even if some requests failed (the
    error-rate gate is the judge of those), unless an exit code was already set by someone else, or
    the run crashed.

    Args:
        verdict: The verdict of the last test, or None when no gate was judged.
        current: ``environment.process_exit_code`` as it stands (set by a locustfile, say).
        crashed: Locust saw an unexpected error (``locust.log.unhandled_greenlet_exception``): a
            passing verdict then leaves the code to Locust (2).

    Returns:
        The code to set, or ``current`` unchanged (None: Locust decides as usual) when there is no
        verdict, no gate, or the gates passed but the code is already set or the run crashed.
    """
    if verdict is None or not verdict.results:
        return current
    if not verdict.passed:
        return GATE_FAILED_EXIT_CODE
    if current is not None or crashed:
        return current
    return 0
