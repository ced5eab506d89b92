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
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol

from .values import BadValue, fraction, integer, milliseconds, number

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

GATE_FAILED_EXIT_CODE = 3
"""The process exit code when a gate fails (Locust uses 1 for failed requests, wslocust 2 for
configuration errors)."""

DEFAULT_TTFT_PERCENTILE = 95
"""The percentile ``--max-ttft-ms`` limits when ``--ttft-percentile`` is not given."""

TTFT_PERCENTILE_KEYS: dict[int, str] = {50: "median", 90: "p90", 95: "p95", 99: "p99", 100: "max"}
"""``--ttft-percentile`` values and the key of ``time_to_first_chunk_ms`` in the summary each reads."""

GATE_OPTIONS: tuple[str, ...] = (
    "--max-avg-latency-ms",
    "--max-p95-ms",
    "--max-p99-ms",
    "--min-rps",
    "--min-success-rate",
    "--max-error-rate",
    "--min-connection-success-rate",
    "--max-ttft-ms",
    "--ttft-percentile",
)
"""Every option :func:`add_gate_arguments` registers, in order."""

Comparison = Literal["max", "min"]
"""``max``: the measured value must be at most the limit; ``min``: at least the limit."""

_UNITS = ("ms", "req/s", "fraction")


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
    """Unit of ``limit`` and of the measured value: ``ms``, ``req/s`` or ``fraction``."""

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


# --------------------------------------------------------------------------------------------------------
# Reading the summary
# --------------------------------------------------------------------------------------------------------


def _number(value: object) -> float | None:
    """A finite number from a JSON value, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _count(summary: Mapping[str, Any], key: str) -> int | None:
    value = _number(summary.get(key))
    return None if value is None else int(value)


def _no_value_reason(summary: Mapping[str, Any], otherwise: str) -> str:
    """Why a timing of successful replies is missing: no requests, no success, else ``otherwise``."""
    total = _count(summary, "total_requests")
    if total == 0:
        return "no requests"
    if _count(summary, "successful_requests") == 0 or _count(summary, "failed_requests") == total:
        return "no successful reply"
    return otherwise


def _timing(section: str, key: str, otherwise: str) -> Callable[[Mapping[str, Any]], Measurement]:
    """A reader of ``summary[section][key]`` (a timing of successful replies, in ms)."""

    def measure(summary: Mapping[str, Any]) -> Measurement:
        timings = summary.get(section)
        value = _number(timings.get(key)) if isinstance(timings, Mapping) else None
        return Measurement(value, "" if value is not None else _no_value_reason(summary, otherwise))

    return measure


def _requests_per_second(summary: Mapping[str, Any]) -> Measurement:
    value = _number(summary.get("requests_per_second"))
    if value is not None:
        return Measurement(value, "no requests" if value == 0 else "")
    return Measurement(None, "no requests" if _count(summary, "total_requests") == 0 else "no run duration")


def _shares(summary: Mapping[str, Any]) -> tuple[int, int] | None:
    """(successful, failed) replies from the summary's counts, or None when it has none."""
    total = _count(summary, "total_requests")
    failed = _count(summary, "failed_requests")
    successful = _count(summary, "successful_requests")
    if total is None:
        return None
    if failed is None and successful is not None:
        failed = total - successful
    if successful is None and failed is not None:
        successful = total - failed
    if successful is None or failed is None:
        return None
    return successful, failed


def _success_rate(summary: Mapping[str, Any]) -> Measurement:
    shares = _shares(summary)
    if shares is None:
        value = _number(summary.get("success_rate"))
        return Measurement(value, "" if value is not None else "no requests")
    successful, failed = shares
    if successful + failed <= 0:
        return Measurement(None, "no requests")
    return Measurement(successful / (successful + failed))


def _error_rate(summary: Mapping[str, Any]) -> Measurement:
    shares = _shares(summary)
    if shares is None:
        rate = _number(summary.get("success_rate"))
        return Measurement(None if rate is None else 1.0 - rate, "" if rate is not None else "no requests")
    successful, failed = shares
    if successful + failed <= 0:
        return Measurement(None, "no requests")
    return Measurement(failed / (successful + failed))


def _connection_success_rate(summary: Mapping[str, Any]) -> Measurement:
    connections = summary.get("connections")
    if not isinstance(connections, Mapping):
        return Measurement(None, "no connection figures in the summary")
    attempts = _number(connections.get("attempts"))
    successes = _number(connections.get("successes"))
    failures = _number(connections.get("failures"))
    if successes is None and attempts is not None and failures is not None:
        successes = attempts - failures
    if attempts is not None and attempts <= 0:
        return Measurement(None, "no connection attempts")
    if attempts is None or successes is None:
        value = _number(connections.get("success_rate"))
        return Measurement(value, "" if value is not None else "no connection attempts")
    return Measurement(successes / attempts)


# --------------------------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------------------------


class AddOption(Protocol):
    """The option-adding callable :func:`add_gate_arguments` is given (the plugin's ``add_option``)."""

    def __call__(
        self,
        group: Any,
        *flags: str,
        include_in_web_ui: bool = True,
        is_secret: bool = False,
        **kwargs: Any,
    ) -> None: ...


def _is_unset(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _latency_limit(option: str, value: object) -> float:
    return milliseconds(value, option, positive=True)


def _percentile(option: str, value: object) -> int:
    expected = f"one of {', '.join(str(key) for key in TTFT_PERCENTILE_KEYS)} (100 is the maximum)"
    text = value.strip().lower().removeprefix("p") if isinstance(value, str) else value
    try:
        percentile = integer(text, option)
    except BadValue:
        raise BadValue(option, value, expected) from None
    if percentile not in TTFT_PERCENTILE_KEYS:
        raise BadValue(option, value, expected)
    return percentile


def add_gate_arguments(group: Any, add: AddOption) -> None:
    """Registers the gate options on an argument group (all shown in the web UI's form).

    Every option defaults to ``None`` (no gate) and has no argparse ``type``: values stay as given
    (the web UI sends strings) and :func:`gates_from_options` reads and checks them.

    Args:
        group: ``parser.add_argument_group(...)`` of Locust's parser.
        add: Adds one option to the group and marks it for the web UI, called as
            ``add(group, *flags, include_in_web_ui=..., **argparse_kwargs)``.
    """
    add(group, "--max-avg-latency-ms", metavar="MS", help="Gate: fail the run above this average latency")
    add(group, "--max-p95-ms", metavar="MS", help="Gate: fail the run above this p95 latency")
    add(group, "--max-p99-ms", metavar="MS", help="Gate: fail the run above this p99 latency")
    add(group, "--min-rps", metavar="RATE", help="Gate: fail the run below this many requests a second")
    add(
        group,
        "--min-success-rate",
        metavar="RATE",
        help="Gate: fail the run below this share of successful replies: 0.99, or 99 with a percent sign",
    )
    add(
        group,
        "--max-error-rate",
        metavar="RATE",
        help="Gate: fail the run above this share of failed replies: 0.01, or 1 with a percent sign",
    )
    add(
        group,
        "--min-connection-success-rate",
        metavar="RATE",
        help="Gate: fail the run below this share of successful WebSocket handshakes: 0.95, "
        "or 95 with a percent sign",
    )
    add(
        group,
        "--max-ttft-ms",
        metavar="MS",
        help="Gate: fail the run above this time to first chunk, at --ttft-percentile",
    )
    add(
        group,
        "--ttft-percentile",
        metavar="P",
        help=f"Percentile --max-ttft-ms limits: {', '.join(str(key) for key in TTFT_PERCENTILE_KEYS)} "
        f"(100 = max; default {DEFAULT_TTFT_PERCENTILE})",
    )


def _latency_gate(name: str, label: str, option: str, key: str, limit: float) -> Gate:
    return Gate(
        name, label, option, limit, "max", "ms", _timing("latency_ms", key, "no latency in the summary")
    )


def gates_from_options(options: argparse.Namespace | Mapping[str, object]) -> list[Gate]:
    """Builds the gates set by the options of :func:`add_gate_arguments`.

    An option that is missing, ``None`` or an empty string is not set. Values may be numbers or
    strings (the web UI sends strings); rates may be fractions (``0.99``) or percentages (``99%``).
    ``--ttft-percentile`` without ``--max-ttft-ms`` is checked but sets no gate.

    Args:
        options: Parsed options (e.g. ``environment.parsed_options``), or a mapping of option
            destinations (``max_p95_ms``...) to values.

    Returns:
        The gates set, in the order of :data:`GATE_OPTIONS`; empty when none is set.

    Raises:
        ConfigurationError: A value is bad; the message names the option and the value.
    """
    values: Mapping[str, object] = vars(options) if isinstance(options, argparse.Namespace) else options

    def given(dest: str) -> object | None:
        value = values.get(dest)
        return None if _is_unset(value) else value

    gates: list[Gate] = []
    latency = (
        ("max_avg_latency_ms", "latency avg", "--max-avg-latency-ms", "avg"),
        ("max_p95_ms", "latency p95", "--max-p95-ms", "p95"),
        ("max_p99_ms", "latency p99", "--max-p99-ms", "p99"),
    )
    for dest, label, option, key in latency:
        if (value := given(dest)) is not None:
            gates.append(_latency_gate(dest, label, option, key, _latency_limit(option, value)))
    if (value := given("min_rps")) is not None:
        limit = number(value, "--min-rps", positive=True, what="a number of requests a second")
        gates.append(Gate("min_rps", "requests/s", "--min-rps", limit, "min", "req/s", _requests_per_second))
    rates: Sequence[tuple[str, str, Comparison, Callable[[Mapping[str, Any]], Measurement]]] = (
        ("min_success_rate", "success rate", "min", _success_rate),
        ("max_error_rate", "error rate", "max", _error_rate),
        ("min_connection_success_rate", "connection success rate", "min", _connection_success_rate),
    )
    for dest, label, comparison, measure in rates:
        if (value := given(dest)) is not None:
            option = "--" + dest.replace("_", "-")
            gates.append(Gate(dest, label, option, fraction(value, option), comparison, "fraction", measure))
    percentile = DEFAULT_TTFT_PERCENTILE
    if (value := given("ttft_percentile")) is not None:
        percentile = _percentile("--ttft-percentile", value)
    if (value := given("max_ttft_ms")) is not None:
        limit = _latency_limit("--max-ttft-ms", value)
        key = TTFT_PERCENTILE_KEYS[percentile]
        gates.append(
            Gate(
                f"max_ttft_p{percentile}_ms",
                f"time to first chunk {'max' if percentile == 100 else f'p{percentile}'}",
                "--max-ttft-ms",
                limit,
                "max",
                "ms",
                _timing("time_to_first_chunk_ms", key, "no successful reply with a chunk"),
            )
        )
    return gates


# --------------------------------------------------------------------------------------------------------
# Verdict
# --------------------------------------------------------------------------------------------------------


def evaluate(gates: Sequence[Gate], summary: Mapping[str, Any]) -> Verdict:
    """Judges every gate on a JSON summary.

    Args:
        gates: The gates, e.g. from :func:`gates_from_options`.
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
