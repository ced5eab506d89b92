"""The connections' lives in the outputs: outages and their time to recover, failovers, close codes.

One figure each, under the JSON summary's ``lifecycle`` section (docs/outputs.md), and the same
figures in the end-of-run text and the web UI's Chatbot tab (:data:`LIFECYCLE_COLUMNS`).
"""

from __future__ import annotations

from typing import Any

from ..stats.lifecycle import LifecycleStats
from .figures import summary_number

__all__ = ["LIFECYCLE_COLUMNS", "RECOVER_PERCENTILES", "lifecycle_row", "lifecycle_section", "lifecycle_text"]

RECOVER_PERCENTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
"""The percentiles of the time to recover that are reported (with its average and maximum)."""


def lifecycle_section(stats: LifecycleStats) -> dict[str, Any]:
    """The summary's ``lifecycle`` section: ``outages``, ``time_to_recover_ms`` (``avg``, ``p50``,
    ``p95``, ``p99``, ``max``; ``None`` without outages), ``failovers`` and ``close_codes``."""
    histogram = stats.time_to_recover
    values = histogram.percentiles(RECOVER_PERCENTILES.values())
    recover: dict[str, float | None] = {"avg": summary_number(histogram.mean, "ms")}
    recover.update(
        {key: summary_number(value, "ms") for key, value in zip(RECOVER_PERCENTILES, values, strict=True)}
    )
    recover["max"] = summary_number(histogram.maximum if histogram.count else None, "ms")
    return {
        "outages": stats.outages,
        "time_to_recover_ms": recover,
        "failovers": stats.failovers,
        "close_codes": dict(sorted(stats.close_codes.items())),
    }


LIFECYCLE_COLUMNS = {
    "outages": "Outages",
    "time_to_recover_ms.avg": "Time to Recover Avg (ms)",
    "time_to_recover_ms.p50": "Time to Recover p50 (ms)",
    "time_to_recover_ms.p95": "Time to Recover p95 (ms)",
    "time_to_recover_ms.p99": "Time to Recover p99 (ms)",
    "time_to_recover_ms.max": "Time to Recover Max (ms)",
    "failovers": "Failovers",
    "close_codes": "Server Closes by Code",
}  # fmt: skip
"""The lifecycle figures as a table shows them: each summary path (under ``lifecycle``) and its title."""


def lifecycle_row(stats: LifecycleStats) -> dict[str, Any]:
    """The lifecycle figures as one row keyed by :data:`LIFECYCLE_COLUMNS`' titles, in its order (the
    close codes as text: ``1001: 2, 1006: 1``; a time to recover without outages empty)."""
    section = lifecycle_section(stats)
    values: dict[str, Any] = {"outages": section["outages"], "failovers": section["failovers"]}
    for key, value in section["time_to_recover_ms"].items():
        values[f"time_to_recover_ms.{key}"] = "" if value is None else value
    values["close_codes"] = ", ".join(f"{code}: {number}" for code, number in section["close_codes"].items())
    return {title: values[path] for path, title in LIFECYCLE_COLUMNS.items()}


def lifecycle_text(stats: LifecycleStats) -> str | None:
    """The end-of-run lines of the connections' lives; None when nothing happened to any connection."""
    if stats.empty:
        return None
    section = lifecycle_section(stats)
    recover = section["time_to_recover_ms"]
    lines = [f"Connections: {stats.failovers} failovers, {stats.outages} outages recovered"]
    if stats.outages:
        lines.append(
            "  time to recover (ms): "
            + ", ".join(f"{key} {value:g}" for key, value in recover.items() if value is not None)
        )
    if stats.close_codes:
        codes = ", ".join(f"{code}: {number}" for code, number in section["close_codes"].items())
        lines.append(f"  closed by the server, by close code: {codes} (1006: lost without a close frame)")
    return "\n".join(lines)
