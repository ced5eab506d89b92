"""The chatbot table printed at the end of a headless run (after Locust's own tables)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .rows import AGGREGATED

__all__ = ["format_table", "format_traffic", "format_voice_table"]

_COLUMNS = [
    ("Name", "Name", 24), ("Replies", "# replies", 9), ("Failures", "# fails", 8),
    ("Goodput/s", "good/s", 8), ("Latency p50 (ms)", "lat p50", 8), ("Latency p95 (ms)", "lat p95", 8),
    ("Latency p99 (ms)", "lat p99", 8), ("TTFT p50 (ms)", "TTFT p50", 8),
    ("TTFT p95 (ms)", "TTFT p95", 8), ("TTFT p99 (ms)", "TTFT p99", 8), ("TTFT Max (ms)", "TTFT max", 8),
    ("Chunk Gap p50 (ms)", "gap p50", 8), ("Chunk Gap p99 (ms)", "gap p99", 8),
    ("TPOT p50 (ms)", "TPOT p50", 8), ("TPOT p95 (ms)", "TPOT p95", 8),
    ("Tokens/Reply", "tok/reply", 9), ("Output Tokens/s", "tok/s", 8),
]  # fmt: skip
"""The figures shown (CSV titles of :data:`.figures.FIGURES`), each with its short heading and width."""

_NAME_WIDTH_MAX = 40
"""The widest the name column grows; a longer name is cut."""


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """A fixed-width table of the main columns of :func:`.rows.stats_rows`, for the end of a headless run.

    The counts are of every reply that ended, failed ones included; the timings of the successful ones.
    """
    metric_names = [key[: -len(" Mean")] for key in (rows[0] if rows else {}) if key.endswith(" Mean")]
    # The name column widens for longer names (a profile's: passive/technical_support), within a limit.
    name_width = max(
        _COLUMNS[0][2], min(_NAME_WIDTH_MAX, max((len(str(row.get("Name", ""))) for row in rows), default=0))
    )
    columns = [("Name", "Name", name_width), *_COLUMNS[1:]]
    columns += [(f"{name} Mean", name[:10], 10) for name in metric_names]
    header = " ".join(
        title.rjust(width) if index else title.ljust(width) for index, (_, title, width) in enumerate(columns)
    )
    title = (
        "Chatbot statistics (# replies, # fails: every reply that ended, failed ones included; "
        "latency, TTFT, gaps and TPOT: of the successful replies, in ms; docs/metrics.md)"
    )
    lines = [title, header, "-" * len(header)]
    for row in rows:
        cells = []
        for index, (key, _, width) in enumerate(columns):
            value = row.get(key, "")
            text = str(value)[:width] if index == 0 else str(value)
            cells.append(text.ljust(width) if index == 0 else text.rjust(width))
        if row.get("Name") == AGGREGATED:
            lines.append("-" * len(header))
        lines.append(" ".join(cells))
    return "\n".join(lines)


_VOICE_COLUMNS = [
    ("Name", "Name", 24), ("Voice Turns", "# turns", 8), ("Voice Failures", "# fails", 8),
    ("V2V p50 (ms)", "V2V p50", 8), ("V2V p95 (ms)", "V2V p95", 8), ("V2V p99 (ms)", "V2V p99", 8),
    ("TTFA p50 (ms)", "TTFA p50", 8), ("TTFA p95 (ms)", "TTFA p95", 8),
    ("First Transcript p95 (ms)", "1st tr95", 8), ("Final Transcript p95 (ms)", "fin tr95", 8),
    ("Audio Out (s)", "audio s", 8), ("Real-Time Factor Min", "RTF min", 8),
    ("Underruns", "underrun", 8), ("Underrun p95 (ms)", "under p95", 9),
    ("Frame Lateness p99 (ms)", "late p99", 8), ("Frame Lateness Max (ms)", "late max", 8),
]  # fmt: skip
"""The voice figures shown (titles of :data:`.figures.VOICE_FIGURES`), each with its heading and width."""


def format_voice_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """A fixed-width table of the main voice figures (the rows of ``_voice.csv``), for the end of a
    headless run with audio turns."""
    name_width = max(
        _VOICE_COLUMNS[0][2],
        min(_NAME_WIDTH_MAX, max((len(str(row.get("Name", ""))) for row in rows), default=0)),
    )
    columns = [("Name", "Name", name_width), *_VOICE_COLUMNS[1:]]
    header = " ".join(
        title.rjust(width) if index else title.ljust(width) for index, (_, title, width) in enumerate(columns)
    )
    title = (
        "Voice statistics (audio turns; V2V: end of speech to first audio, TTFA: utterance start to "
        "first audio, in ms; RTF: audio seconds per wall second, lowest; underruns: playback gaps; "
        "frame lateness: the sender's; docs/metrics.md)"
    )
    lines = [title, header, "-" * len(header)]
    for row in rows:
        cells = []
        for index, (key, _, width) in enumerate(columns):
            text = str(row.get(key, ""))
            cells.append(text[:width].ljust(width) if index == 0 else text.rjust(width))
        if row.get("Name") == AGGREGATED:
            lines.append("-" * len(header))
        lines.append(" ".join(cells))
    return "\n".join(lines)


def format_traffic(rows: Sequence[Mapping[str, Any]]) -> str | None:
    """One line of the WebSocket traffic (the ``Aggregated`` row's ``WS`` figures), or None without it."""
    total = next((row for row in rows if row.get("Name") == AGGREGATED), None)
    if total is None or total.get("WS Messages Sent", "") == "":
        return None
    unmatched = total.get("WS Unmatched Replies")
    return (
        "WebSocket traffic: {WS Messages Sent} messages sent ({WS Messages Sent/s}/s), {WS Bytes Sent} bytes "
        "({WS Bytes Sent/s}/s); {WS Messages Received} received ({WS Messages Received/s}/s), of which "
        "{WS Pushes Received} pushed between replies, {WS Bytes Received} bytes ({WS Bytes Received/s}/s); "
        "control frames (ping, pong, close): {WS Control Frames Received} received, "
        "{WS Control Frames Sent} sent"
    ).format_map(total) + (
        f"; {unmatched} reply messages answered no prompt in flight (late, duplicate or unknown id)"
        if unmatched not in (None, "", 0, "0")
        else ""
    )
