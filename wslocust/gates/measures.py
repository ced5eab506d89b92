"""Reading a gate's figure from the JSON summary: a :class:`~.gate.Measurement`, or why there is none."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from .gate import Measurement

__all__ = [
    "capacity",
    "connection_success_rate",
    "error_rate",
    "requests_per_second",
    "success_rate",
    "timing",
]


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


def timing(section: str, key: str, otherwise: str) -> Callable[[Mapping[str, Any]], Measurement]:
    """A reader of ``summary[section][key]`` (a timing of successful replies, in ms)."""

    def measure(summary: Mapping[str, Any]) -> Measurement:
        timings = summary.get(section)
        value = _number(timings.get(key)) if isinstance(timings, Mapping) else None
        return Measurement(value, "" if value is not None else _no_value_reason(summary, otherwise))

    return measure


def requests_per_second(summary: Mapping[str, Any]) -> Measurement:
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


def success_rate(summary: Mapping[str, Any]) -> Measurement:
    shares = _shares(summary)
    if shares is None:
        value = _number(summary.get("success_rate"))
        return Measurement(value, "" if value is not None else "no requests")
    successful, failed = shares
    if successful + failed <= 0:
        return Measurement(None, "no requests")
    return Measurement(successful / (successful + failed))


def error_rate(summary: Mapping[str, Any]) -> Measurement:
    shares = _shares(summary)
    if shares is None:
        rate = _number(summary.get("success_rate"))
        return Measurement(None if rate is None else 1.0 - rate, "" if rate is not None else "no requests")
    successful, failed = shares
    if successful + failed <= 0:
        return Measurement(None, "no requests")
    return Measurement(failed / (successful + failed))


def connection_success_rate(summary: Mapping[str, Any]) -> Measurement:
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


def capacity(summary: Mapping[str, Any]) -> Measurement:
    """The capacity a ``--shape capacity`` run found (``capacity.capacity``, in the unit it searched)."""
    section = summary.get("capacity")
    if not isinstance(section, Mapping):
        return Measurement(None, "no capacity search in this run (--shape capacity)")
    value = _number(section.get("capacity"))
    if value is None:
        return Measurement(None, f"no level passed ({section.get('outcome', 'no outcome')})")
    return Measurement(value, str(section.get("unit", "")))
