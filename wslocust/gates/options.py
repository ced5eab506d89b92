"""The gate options: their registration on Locust's parser, and the gates they set."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from ..values import BadValue, fraction, integer, milliseconds, number
from .gate import Comparison, Gate, Measurement
from .measures import capacity, connection_success_rate, error_rate, requests_per_second, success_rate, timing
from .voice import voice_gates

__all__ = [
    "DEFAULT_TTFT_PERCENTILE",
    "GATE_OPTIONS",
    "TTFT_PERCENTILE_KEYS",
    "AddOption",
    "add_gate_arguments",
    "gates_from_options",
]

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
    "--min-capacity",
)
"""Every option :func:`add_gate_arguments` registers, in order (the voice gates' are
:data:`~.voice.VOICE_GATE_OPTIONS`: their own group)."""


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
    add(
        group,
        "--min-capacity",
        metavar="LEVEL",
        help="Gate: fail a --shape capacity run whose capacity is below this (prompts/s, or users with "
        "--capacity-over users)",
    )


def _latency_gate(name: str, label: str, option: str, key: str, limit: float) -> Gate:
    return Gate(
        name, label, option, limit, "max", "ms", timing("latency_ms", key, "no latency in the summary")
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
        gates.append(Gate("min_rps", "requests/s", "--min-rps", limit, "min", "req/s", requests_per_second))
    rates: Sequence[tuple[str, str, Comparison, Callable[[Mapping[str, Any]], Measurement]]] = (
        ("min_success_rate", "success rate", "min", success_rate),
        ("max_error_rate", "error rate", "max", error_rate),
        ("min_connection_success_rate", "connection success rate", "min", connection_success_rate),
    )
    capacity_run = values.get("shape") == "capacity"
    for dest, label, comparison, measure in rates:
        if dest == "max_error_rate" and capacity_run:
            fraction(values.get(dest) or 0, "--max-error-rate")  # each level's limit (docs/shapes.md)
            continue
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
                timing("time_to_first_chunk_ms", key, "no successful reply with a chunk"),
            )
        )
    if (value := given("min_capacity")) is not None:
        limit = number(value, "--min-capacity", positive=True, what="a capacity (prompts/s or users)")
        gates.append(Gate("min_capacity", "capacity", "--min-capacity", limit, "min", "level", capacity))
    return gates + voice_gates(given)
