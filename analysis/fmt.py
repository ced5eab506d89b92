"""Formatting numbers, times and plain-text tables for people."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

__all__ = ["clean", "count", "iso", "ms", "percent", "rate", "table"]


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def clean(value: float | None, digits: int = 3) -> float | None:
    """Give a JSON-safe number: ``None`` for NaN/inf/None, else rounded to ``digits`` decimals."""
    if value is None or _missing(float(value)):
        return None
    return round(float(value), digits)


def count(value: float | None) -> str:
    """``1234.0`` -> ``1,234``; missing -> ``-``."""
    return "-" if _missing(value) else f"{round(float(value or 0)):,}"


def ms(value: float | None) -> str:
    """A duration in milliseconds, with fewer decimals as it grows; missing -> ``-``."""
    if value is None or _missing(value):
        return "-"
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def percent(fraction: float | None) -> str:
    """A fraction as a percentage (``0.0843`` -> ``8.43 %``); missing -> ``-``."""
    if fraction is None or _missing(fraction):
        return "-"
    return f"{100 * fraction:.2f} %"


def rate(value: float | None) -> str:
    """A per-second rate; missing -> ``-``."""
    if value is None or _missing(value):
        return "-"
    return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"


def iso(timestamp: float | None) -> str | None:
    """Unix seconds -> ``2024-05-01T12:00:00Z``; missing -> ``None``."""
    if timestamp is None or _missing(timestamp):
        return None
    return datetime.fromtimestamp(float(timestamp), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str = "", indent: str = "  ") -> str:
    """Lay out a plain-text table.

    Args:
        headers: the column titles.
        rows: the cells, already formatted.
        align: one letter per column, ``l`` (text) or ``r`` (numbers); missing letters mean ``r``.
        indent: put before every line.

    Returns:
        The lines, joined with newlines (no trailing newline).
    """
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    align = align.ljust(len(headers), "r")

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.ljust(width) if side == "l" else cell.rjust(width)
            for cell, width, side in zip(cells, widths, align, strict=False)
        ]
        return (indent + "  ".join(parts)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])
