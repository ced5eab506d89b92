"""Per-interval figures derived from ``_stats_history.csv``.

Locust's history rows hold running totals, sampled about once a second. The difference between two
consecutive Aggregated rows is exact: requests and failures in the interval, and (from the running
average times the running count) the sum, hence the average, of their response times. That is
what :func:`intervals` computes, one row per interval, plus:

- the percentiles of the row as Locust wrote them (whole run so far, or the last 10 s with
  ``--csv-full-history``; a ``0`` is Locust's "no sample in the window" and becomes ``NaN``);
- the highest response time of the interval when the running maximum rose in it (``max_ms``;
  ``NaN`` otherwise) and an upper bound for it (``max_bound_ms``);
- the failures of each kind (see :mod:`analysis.classify`). The history does not say which errors
  happened when. wslocust's ``_failed_replies.jsonl`` does, for failed replies (``WS``): each is
  counted in the interval where it ended. What that file does not hold (handshakes, or everything
  when the file is missing or incomplete) is estimated: each error group of ``_failures.csv`` is
  spread evenly between its First Seen and Last Seen. Each interval's failures are then split in the
  proportions of these counts (the whole run's proportions when there is none). ``kinds_exact``
  marks the intervals where nothing was estimated, or where the run has only one kind of failure.

Each interval counts at the user count of the sample that ends it, unless that count is 0 (the
test stopping): then at the count of the sample before. A drop of the running request count
(``--reset-stats``) starts the totals again from zero.
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt
import pandas as pd

from .classify import ErrorKind
from .load import Run

__all__ = ["KINDS", "intervals", "kind_shares"]

KINDS: tuple[str, ...] = tuple(str(kind) for kind in ErrorKind)
"""The error kinds, in display order: client, server, unexpected."""

_Floats = npt.NDArray[np.float64]

logger = logging.getLogger(__name__)


def kind_shares(counts: dict[str, float]) -> dict[str, float]:
    """Turn failure counts by kind into shares that sum to 1 (all unexpected when there is none).

    Args:
        counts: failures per kind; missing kinds count 0.

    Returns:
        ``{kind: share}`` for every kind of :data:`KINDS`.
    """
    total = sum(counts.get(kind, 0.0) for kind in KINDS)
    if total <= 0:
        return {kind: float(kind == ErrorKind.UNEXPECTED) for kind in KINDS}
    return {kind: counts.get(kind, 0.0) / total for kind in KINDS}


def _run_kind_counts(run: Run) -> dict[str, float]:
    by_kind = run.failures.groupby("kind")["occurrences"].sum()
    return {kind: float(by_kind.get(kind, 0.0)) for kind in KINDS}


def intervals(run: Run) -> pd.DataFrame:
    """Derive one row per interval between consecutive history samples.

    Args:
        run: the run.

    Returns:
        Columns ``start``, ``end`` (Unix seconds), ``elapsed_s`` (end, from the first sample),
        ``duration_s``, ``users`` (the count the interval is counted at), ``sampled_users`` (the
        closing sample's), ``requests``, ``failures``, ``rt_sum_ms``, ``rps``, ``fps``,
        ``avg_ms``, ``max_ms``, ``max_bound_ms``, the percentile keys (``p50``...), per kind
        ``<kind>_failures`` (the interval's failures of that kind) and ``<kind>_expected`` (the
        counts they were split by), ``estimated_expected`` (how much of those counts is estimated)
        and ``kinds_exact``. The first interval starts one second before the first sample, from zero.
    """
    history = run.history
    n = len(history)
    end = history["timestamp"].to_numpy(dtype=float)
    count = history["requests"].fillna(0.0).to_numpy(dtype=float)
    fails = history["failures"].fillna(0.0).to_numpy(dtype=float)
    rt_total = count * history["avg_ms"].fillna(0.0).to_numpy(dtype=float)
    running_max = history["max_ms"].fillna(0.0).to_numpy(dtype=float)

    start = np.concatenate(([end[0] - 1.0], end[:-1])) if n else end.copy()
    # Previous running values; a drop of the request count means the totals were reset.
    prev_count = np.concatenate(([0.0], count[:-1])) if n else count.copy()
    reset = count < prev_count
    if n:
        reset[0] = True

    def delta(values: _Floats) -> _Floats:
        previous = np.concatenate(([0.0], values[:-1])) if n else values.copy()
        return np.where(reset, values, values - previous)

    requests = delta(count)
    failures = np.clip(delta(fails), 0.0, None)
    rt_sum = np.clip(delta(rt_total), 0.0, None)
    previous_max = np.concatenate(([0.0], running_max[:-1])) if n else running_max.copy()
    rose = (running_max > previous_max) | (reset & (running_max > 0))
    duration = end - start

    frame = pd.DataFrame(
        {
            "start": start,
            "end": end,
            "elapsed_s": end - (end[0] if n else 0.0),
            "duration_s": duration,
            "users": _interval_users(history["users"].to_numpy(dtype=float)),
            "sampled_users": history["users"].to_numpy(dtype=float),
            "requests": requests,
            "failures": failures,
            "rt_sum_ms": rt_sum,
        }
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["rps"] = np.where(duration > 0, requests / duration, np.nan)
        frame["fps"] = np.where(duration > 0, failures / duration, np.nan)
        frame["avg_ms"] = np.where(requests > 0, rt_sum / requests, np.nan)
    frame["max_ms"] = np.where(rose, running_max, np.nan)
    bound = running_max.copy()
    if run.full_history and "p100" in history:
        window_max = history["p100"].to_numpy(dtype=float)
        bound = np.where(np.isfinite(window_max) & (window_max > 0), np.minimum(window_max, bound), bound)
    frame["max_bound_ms"] = np.where(rose, running_max, np.where(requests > 0, bound, np.nan))
    for key in run.percentiles:
        if key in history:
            values = history[key].to_numpy(dtype=float)
            frame[key] = np.where(values > 0, values, np.nan)
    _split_kinds(run, frame)
    return frame


def _interval_users(users: _Floats) -> _Floats:
    """The user count of each interval: its closing sample's, or the opening one's when that is 0.

    A sample at 0 users after users ran is the end of the test: the interval's requests were sent by
    the users of the sample before.
    """
    previous = np.concatenate(([0.0], users[:-1])) if len(users) else users.copy()
    return np.where(users == 0, previous, users)


def _split_kinds(run: Run, frame: pd.DataFrame) -> None:
    """Add ``<kind>_failures``, ``<kind>_expected``, ``estimated_expected`` and ``kinds_exact`` columns."""
    n = len(frame)
    failures = frame["failures"].to_numpy(dtype=float)
    run_counts = _run_kind_counts(run)
    run_shares = kind_shares(run_counts)
    single_kind = sum(1 for kind in KINDS if run_counts[kind] > 0) <= 1
    expected = np.zeros((n, len(KINDS)))
    estimated = np.zeros(n)
    groups = run.failures
    replies = run.failed_replies
    if replies is not None and n:
        in_file = groups[groups["method"] == "WS"]
        if len(replies) >= float(in_file["occurrences"].sum()):
            expected += _count_replies(replies, frame)
            groups = groups[groups["method"] != "WS"]  # handshakes are not in the file
        else:
            logger.info("%d failed replies recorded of %d: kinds estimated", len(replies), len(in_file))
    spread = _spread_groups(groups, frame)
    expected += spread
    estimated += spread.sum(axis=1)

    shares = np.tile(np.array([run_shares[k] for k in KINDS]), (n, 1))
    known = expected.sum(axis=1) > 0
    shares[known] = expected[known] / expected[known].sum(axis=1, keepdims=True)
    for column, kind in enumerate(KINDS):
        frame[f"{kind}_failures"] = failures * shares[:, column]
        frame[f"{kind}_expected"] = expected[:, column]
    frame["estimated_expected"] = estimated
    frame["kinds_exact"] = single_kind | (failures == 0) | (known & (estimated == 0))


def _count_replies(replies: pd.DataFrame, frame: pd.DataFrame) -> _Floats:
    """Failed replies of each kind per interval, placed by the time each reply ended."""
    index = np.searchsorted(frame["end"].to_numpy(dtype=float), replies["end"].to_numpy(dtype=float), "left")
    inside = index < len(frame)
    kinds = replies["kind"].to_numpy()
    counts = np.zeros((len(frame), len(KINDS)))
    for column, kind in enumerate(KINDS):
        np.add.at(counts[:, column], index[inside & (kinds == kind)], 1.0)
    return counts


def _spread_groups(groups: pd.DataFrame, frame: pd.DataFrame) -> _Floats:
    """Expected failures of each kind per interval, each error group spread over its seen window."""
    result = np.zeros((len(frame), len(KINDS)))
    groups = groups.dropna(subset=["first_seen", "last_seen"])
    groups = groups[groups["occurrences"] > 0]
    if groups.empty or frame.empty:
        return result
    first = groups["first_seen"].to_numpy(dtype=float)
    last = groups["last_seen"].to_numpy(dtype=float) + 1.0  # the timestamps are floored to the second
    span = np.maximum(last - first, 1.0)
    start = frame["start"].to_numpy(dtype=float)
    end = frame["end"].to_numpy(dtype=float)
    kinds = groups["kind"].to_numpy()
    rate = groups["occurrences"].to_numpy(dtype=float) / span
    for column, kind in enumerate(KINDS):
        mine = kinds == kind
        for lo, hi, per_second in zip(first[mine], last[mine], rate[mine], strict=True):
            overlap = np.clip(np.minimum(end, hi) - np.maximum(start, lo), 0.0, None)
            result[:, column] += overlap * per_second
    return result
