"""The capacity search's table printed at the end of a headless run: every level, then the verdict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["format_capacity"]

_COLUMNS = (
    ("level", "#", 3), ("target", "level", 8), ("users", "users", 6), ("achieved_rate_per_s", "replies/s", 9),
    ("users_in_flight", "in flight", 9), ("error_rate", "errors", 7), ("ttft_ms", "TTFT", 8),
    ("e2e_ms", "E2E", 8), ("tpot_ms", "TPOT", 7), ("verdict", "verdict", 7),
)  # fmt: skip
"""The keys of the summary's ``capacity.levels`` shown (see ``CAPACITY_FIGURES``), heading, width."""


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_capacity(section: Mapping[str, Any]) -> str:
    """The levels measured (latencies at the SLO percentile, in ms) and the search's verdict."""
    levels = section.get("levels") or []
    percentile = section.get("percentile", 99)
    header = " ".join(title.rjust(width) for _, title, width in _COLUMNS) + "  reason"
    lines = [
        f"Capacity search over {section.get('unit', '')} (TTFT, E2E, TPOT at p{percentile:g}, in ms)",
        header,
        "-" * len(header),
    ]
    for level in levels:
        cells = " ".join(_cell(level.get(key)).rjust(width) for key, _, width in _COLUMNS)
        lines.append(f"{cells}  {level.get('reason', '')}".rstrip())
    lines.append(str(section.get("message", "")))
    return "\n".join(lines)
