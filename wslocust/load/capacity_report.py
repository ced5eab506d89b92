"""A capacity search's report: the summary's ``capacity`` section, its verdict, and ``PREFIX_capacity.csv``.

The knee is the level of greatest *power* (achieved rate over latency at the SLO percentile, after
Kleinrock): past it, latency grows faster than throughput. The confidence note says how close the
bracket is, how many times the capacity level was measured, and whether the windows held enough
replies for the percentile.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .capacity import CAPACITY_CSV_COLUMNS, CapacitySearch, LevelResult, Outcome

__all__ = ["capacity_section", "knee_of", "verdict_text", "write_capacity_csv", "write_capacity_json"]


def knee_of(levels: Sequence[LevelResult]) -> LevelResult | None:
    """The valid level of greatest power: achieved rate over E2E latency at the percentile (TTFT
    when no E2E); None without such a level."""
    best: tuple[float, LevelResult] | None = None
    for level in levels:
        latency = level.e2e_ms if level.e2e_ms is not None else level.ttft_ms
        if level.passed is None or not latency:
            continue
        power = level.achieved_rate_per_s / latency
        if best is None or power > best[0]:
            best = (power, level)
    return best[1] if best is not None else None


def _confidence(levels: Sequence[LevelResult], search: CapacitySearch, capacity: float | None) -> str:
    notes: list[str] = []
    high = search.failing
    if capacity is not None:
        times = search.times_measured(capacity)
        notes.append(f"the capacity level passed {times} of {times} measurement{'s' if times > 1 else ''}")
        if high is not None:
            notes.append(
                f"the limit lies between {capacity:g} and {high:g} (±{(high - capacity) / 2 / capacity:.0%})"
            )
    at = [level for level in levels if level.target == capacity]
    if at:
        fewest = min(level.replies for level in at)
        percentile = at[0].percentile
        needed = round(100 / (100 - percentile)) if percentile < 100 else 1
        if fewest < needed:
            notes.append(
                f"only {fewest} replies in a window: p{percentile:g} needs {needed} or more to mean "
                "anything; measure longer (--capacity-measure)"
            )
    return "; ".join(notes) or "no level passed"


def capacity_section(
    levels: Sequence[LevelResult],
    search: CapacitySearch | None,
    outcome: Outcome,
    *,
    over: str,
    slos: dict[str, float],
    percentile: float,
    max_error_rate: float,
) -> dict[str, Any]:
    """The JSON summary's ``capacity`` section (docs/metrics.md lists its keys)."""
    search = search if search is not None else CapacitySearch(1.0)
    capacity = search.capacity
    high = search.failing
    at = [level for level in levels if level.target == capacity and level.passed]
    best = at[-1] if at else None
    failed = next((level for level in levels if level.target == high and level.passed is False), None)
    invalid = next((level for level in levels if level.passed is None), None)
    knee = knee_of(levels)
    section: dict[str, Any] = {
        "over": over,
        "unit": "prompts/s" if over == "rate" else "users",
        "outcome": outcome,
        "percentile": percentile,
        "slos_ms": slos,
        "max_error_rate": max_error_rate,
        "capacity": capacity,
        "capacity_rate_per_s": None
        if best is None
        else (best.offered_rate_per_s if over == "rate" else best.achieved_rate_per_s),
        "capacity_users": None if best is None else best.users,
        "capacity_users_in_flight": None if best is None else best.users_in_flight,
        "limit_below": high,
        "next_failed": None if failed is None else {"level": failed.target, "reason": failed.reason},
        "invalid": None if invalid is None else {"level": invalid.target, "reason": invalid.reason},
        "knee": None if knee is None else {
            "level": knee.target, "achieved_rate_per_s": knee.achieved_rate_per_s,
            "e2e_ms": knee.e2e_ms, "ttft_ms": knee.ttft_ms,
        },
        "confidence": _confidence(levels, search, capacity),
        "levels": [level.as_dict() for level in levels],
    }  # fmt: skip
    section["message"] = verdict_text(section)
    return section


def verdict_text(section: dict[str, Any]) -> str:
    """The verdict of a ``capacity`` section in a sentence or two."""
    unit = section["unit"]
    label = f"p{section['percentile']:g}"
    slos = ", ".join(f"{metric} {label} <= {limit:g} ms" for metric, limit in section["slos_ms"].items())
    limits = f"{slos}, errors <= {section['max_error_rate']:.1%}"
    capacity = section["capacity"]
    outcome = section["outcome"]
    failed = section["next_failed"]
    if capacity is None:
        if outcome == "none_passed" and failed is not None:
            return (
                f"No level met {limits}: the lowest, {failed['level']:g} {unit}, failed: {failed['reason']}."
            )
        return f"No capacity found ({outcome}): no level met {limits}."
    rate = section["capacity_rate_per_s"]
    head = (
        f"Capacity: {capacity:g} {unit} ({rate:.2f} replies/s, "
        f"{section['capacity_users_in_flight']:g} users in flight) within {limits}."
    )
    if outcome == "upper_bound":
        return f"{head} Every level passed up to the bound (--capacity-max): the capacity is at least this."
    parts = [head]
    if failed is not None:
        parts.append(f"The next level, {failed['level']:g} {unit}, failed: {failed['reason']}.")
    if section["invalid"] is not None:
        invalid = section["invalid"]
        parts.append(f"Level {invalid['level']:g} {unit} is invalid: {invalid['reason']}.")
    if outcome in ("max_levels", "stopped"):
        parts.append(f"The search ended early ({outcome}): the capacity is at least this.")
    parts.append(f"Confidence: {section['confidence']}.")
    return " ".join(parts)


def write_capacity_csv(prefix: str | Path, levels: Sequence[LevelResult]) -> Path:
    """Write ``{prefix}_capacity.csv``: one row a measured level (:data:`CAPACITY_CSV_COLUMNS`)."""
    path = Path(f"{prefix}_capacity.csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CAPACITY_CSV_COLUMNS)
        writer.writerows(level.csv_row() for level in levels)
    return path


def write_capacity_json(prefix: str | Path, section: dict[str, Any]) -> Path:
    """Write ``{prefix}_capacity.json``: the summary's ``capacity`` section (for ``analysis``)."""
    path = Path(f"{prefix}_capacity.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(section, indent=2) + "\n", encoding="utf-8")
    return path
