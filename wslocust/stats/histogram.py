"""Exact, mergeable histograms: what every timing of the statistics is kept in.

Locust's own percentiles round response times to two significant digits (a 1,234 ms reply counts as
1,200 ms). A :class:`Histogram` keeps every value in a 0.1 ms bin of a sparse histogram, so
percentiles are exact to 0.05 ms at any magnitude, and histograms from several workers merge by
adding counts: the master's percentiles are those of all samples, never an average of percentiles.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from math import trunc  # int() of a float, at a third of int()'s cost (binning runs twice a reply)
from typing import Any

__all__ = ["BINS_PER_MS", "Histogram"]

BINS_PER_MS = 10.0
"""Bins a unit (a millisecond, a token/s): a value ``v`` counts in bin ``trunc(v * 10 + 0.5)``.

A float, so that binning a float value is a product of two floats, which the interpreter
specializes (a float times the int 10 takes its generic path, to the same result)."""


class Histogram:
    """Counts of values in 0.1-unit bins, with exact count, sum, min and max.

    Values are milliseconds for timings (tokens/s for rates): exact to 0.05 of a unit.
    """

    __slots__ = ("count", "counts", "maximum", "minimum", "total")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.count = 0
        self.total = 0.0
        self.minimum = math.inf
        self.maximum = -math.inf

    def record(self, value: float) -> None:
        """Add one value."""
        key = trunc(value * BINS_PER_MS + 0.5)
        counts = self.counts
        counts[key] = counts.get(key, 0) + 1
        self.count += 1
        self.total += value
        if value < self.minimum:
            self.minimum = value
        if value > self.maximum:
            self.maximum = value

    def record_gaps(self, times: list[float]) -> None:
        """Add each gap between consecutive ``times`` (two or more), as :meth:`record` would one by one."""
        counts = self.counts
        low, high = self.minimum, self.maximum
        earlier = times[0]
        for later in itertools.islice(times, 1, None):
            gap = later - earlier
            key = trunc(gap * BINS_PER_MS + 0.5)
            counts[key] = counts.get(key, 0) + 1
            if gap < low:
                low = gap
            if gap > high:
                high = gap
            earlier = later
        self.count += len(times) - 1
        self.total += times[-1] - times[0]  # the gaps' sum
        self.minimum, self.maximum = low, high

    def merge(self, other: Histogram) -> None:
        """Add another histogram's values to this one."""
        counts = self.counts
        for key, number in other.counts.items():
            counts[key] = counts.get(key, 0) + number
        self.count += other.count
        self.total += other.total
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)

    @property
    def mean(self) -> float | None:
        """The mean, or None when empty."""
        return self.total / self.count if self.count else None

    def percentiles(self, fractions: Iterable[float]) -> list[float | None]:
        """Nearest-rank percentiles (``0.95`` → p95); None when empty.

        The extremes are exact: p0 is the minimum and p100 the maximum.
        """
        wanted = list(fractions)
        if not self.count:
            return [None] * len(wanted)
        ranks = sorted(
            (max(1, math.ceil(fraction * self.count)), index) for index, fraction in enumerate(wanted)
        )
        results: list[float | None] = [None] * len(wanted)
        seen = 0
        position = 0
        for key in sorted(self.counts):
            seen += self.counts[key]
            while position < len(ranks) and ranks[position][0] <= seen:
                rank, index = ranks[position]
                if rank == 1:
                    results[index] = self.minimum  # the extremes are kept exactly, not binned
                elif rank >= self.count:
                    results[index] = self.maximum
                else:
                    results[index] = min(max(key / BINS_PER_MS, self.minimum), self.maximum)
                position += 1
            if position == len(ranks):
                break
        return results

    def percentile(self, fraction: float) -> float | None:
        """One nearest-rank percentile (``0.95`` → p95), or None when empty."""
        return self.percentiles((fraction,))[0]

    def to_wire(self) -> list[Any]:
        """A msgpack-friendly form (no float infinities, no int-keyed maps)."""
        return [self.count, self.total, self.minimum if self.count else 0, self.maximum if self.count else 0,
                [pair for item in self.counts.items() for pair in item]]  # fmt: skip

    @classmethod
    def from_wire(cls, wire: list[Any]) -> Histogram:
        """Rebuild a histogram sent with :meth:`to_wire`."""
        histogram = cls()
        count, total, minimum, maximum, flat = wire
        if count:
            histogram.count, histogram.total = int(count), float(total)
            histogram.minimum, histogram.maximum = float(minimum), float(maximum)
            histogram.counts = dict(zip(flat[0::2], flat[1::2], strict=True))
        return histogram
