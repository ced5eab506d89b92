"""wslocust's per-second histograms (``PREFIX_chat_histograms.jsonl``): exact percentiles over any span.

Each line is one request name and second: the exact histograms of that second's successful replies
(``latency_ms``, ``time_to_first_chunk_ms``, ``chunk_gap_ms``, ``time_per_output_token_ms``,
``output_tokens_per_second_per_reply``; files of earlier versions have the first three: the others
read as empty), each ``{"count", "sum", "min", "max", "bins": [[value, n], ...]}`` in 0.1 bins (ms,
or tokens/s for the last). Merging the bins of a span's seconds gives that span's
percentiles exactly as wslocust computes them (nearest rank; rank 1 is the min, the last the max),
where averaging per-second percentiles only approximates them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import read_json_lines

__all__ = ["FIELDS", "Histogram", "SecondHistograms", "merged", "read_histograms"]

FIELDS = (
    "latency_ms",
    "time_to_first_chunk_ms",
    "chunk_gap_ms",
    "time_per_output_token_ms",
    "output_tokens_per_second_per_reply",
)
"""The histograms of each line."""

_LATER_FIELDS = frozenset({"time_per_output_token_ms", "output_tokens_per_second_per_reply"})
"""Fields an earlier version's lines lack (read as empty histograms)."""


@dataclass
class Histogram:
    """Counts of values in 0.1 ms bins, with the exact count, min and max."""

    count: int = 0
    minimum: float = math.inf
    maximum: float = -math.inf
    bins: dict[float, int] = field(default_factory=dict)

    def merge(self, other: Histogram) -> None:
        """Add another histogram's values to this one."""
        for value, number in other.bins.items():
            self.bins[value] = self.bins.get(value, 0) + number
        self.count += other.count
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)

    def percentile(self, fraction: float) -> float:
        """The nearest-rank percentile (``0.95`` → p95); ``NaN`` when empty."""
        if not self.count:
            return math.nan
        rank = max(1, math.ceil(fraction * self.count))
        if rank == 1:
            return self.minimum
        if rank >= self.count:
            return self.maximum
        seen = 0
        for value in sorted(self.bins):
            seen += self.bins[value]
            if seen >= rank:
                return min(max(value, self.minimum), self.maximum)
        return self.maximum

    @classmethod
    def from_json(cls, item: dict[str, object]) -> Histogram:
        count = int(item["count"])  # type: ignore[call-overload]
        if not count:
            return cls()
        bins: dict[float, int] = {}
        for value, number in item["bins"]:  # type: ignore[attr-defined]
            bins[float(value)] = bins.get(float(value), 0) + int(number)
        return cls(count, float(item["min"]), float(item["max"]), bins)  # type: ignore[arg-type]


SecondHistograms = dict[int, dict[str, Histogram]]
"""Per Unix second, each field's histogram of every request name together."""


def read_histograms(path: Path) -> SecondHistograms | None:
    """Read ``_chat_histograms.jsonl``, merging each second's names.

    Returns:
        ``None`` when the file does not exist.

    Raises:
        InputError: a line that is not one second's histograms; the message names the file and line.
    """
    if not path.exists():
        return None
    seconds: SecondHistograms = {}

    def take(item: Any) -> None:
        second = seconds.setdefault(int(item["time"]), {name: Histogram() for name in FIELDS})
        for name in FIELDS:
            if name in item or name not in _LATER_FIELDS:
                second[name].merge(Histogram.from_json(item[name]))

    read_json_lines(path, "a second's histograms", take)
    return seconds


def merged(seconds: SecondHistograms, which: Iterable[int], name: str) -> Histogram:
    """One field's histogram over some seconds (those without replies count for nothing)."""
    total = Histogram()
    for second in which:
        found = seconds.get(second)
        if found is not None:
            total.merge(found[name])
    return total
