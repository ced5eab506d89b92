"""``PREFIX_chat_histograms.jsonl``: each second's exact histograms, a line a request name and second.

Raw enough to recompute a percentile over any span (a users level, a step) exactly: merge the bins
of its seconds, rather than average per-second percentiles. Written beside the history CSV, the
same seconds and names (without ``Aggregated``: merge the names). One JSON object a line::

    {"time": 1733350000, "name": "billing", "users": 4,
     "latency_ms": H, "time_to_first_chunk_ms": H, "chunk_gap_ms": H,
     "time_per_output_token_ms": H, "output_tokens_per_second_per_reply": H}

where ``H`` is ``{"count": n, "sum": v, "min": v, "max": v, "bins": [[v, n], ...]}``: the
successful replies' values (ms; tokens/s for the last) in 0.1 bins (each bin by its value,
ascending), the count, sum, min and max exact (docs/metrics.md defines each figure). A percentile
is nearest-rank: the value of the bin holding rank ``ceil(q * n)``, kept within ``[min, max]``;
rank 1 is ``min`` and rank ``n`` is ``max``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from ..stats.aggregates import Histogram, ReplyStats

__all__ = ["HISTOGRAMS", "HistogramsWriter", "histogram_json", "histograms_lines"]

HISTOGRAMS = {
    "latency_ms": "latency",
    "time_to_first_chunk_ms": "ttft",
    "chunk_gap_ms": "gap",
    "time_per_output_token_ms": "tpot",
    "output_tokens_per_second_per_reply": "token_rate",
}
"""Each histogram's field (as in the JSON summary), and the :class:`ReplyStats` histogram it is."""

_BIN_MS = 0.1


def histogram_json(histogram: Histogram) -> dict[str, Any]:
    """A histogram as its JSON object: count, sum, min, max and ``[value_ms, count]`` bins."""
    has = histogram.count > 0
    return {
        "count": histogram.count,
        "sum": histogram.total,
        "min": histogram.minimum if has else None,
        "max": histogram.maximum if has else None,
        "bins": [[round(key * _BIN_MS, 1), histogram.counts[key]] for key in sorted(histogram.counts)],
    }


def histograms_lines(
    seconds: Sequence[tuple[int, Mapping[str, ReplyStats]]], users_at: Mapping[int, int]
) -> list[str]:
    """The lines of finished seconds: one a name (sorted) and second, each second's user count."""
    lines = []
    for second, names in seconds:
        for name, stats in sorted(names.items()):
            line: dict[str, Any] = {"time": second, "name": name, "users": users_at.get(second)}
            for field, which in HISTOGRAMS.items():
                line[field] = histogram_json(getattr(stats, which))
            lines.append(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
    return lines


class HistogramsWriter:
    """Appends each finished second's histograms to ``_chat_histograms.jsonl``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stream: IO[str] = path.open("w", encoding="utf-8")

    def write(
        self, seconds: Sequence[tuple[int, Mapping[str, ReplyStats]]], users_at: Mapping[int, int]
    ) -> None:
        """Write the lines of finished seconds."""
        self._stream.writelines(histograms_lines(seconds, users_at))
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()
