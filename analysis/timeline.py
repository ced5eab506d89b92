"""Per-interval figures derived from ``_stats_history.csv``.

Locust's history rows hold running totals, sampled about once a second. The difference between two
consecutive Aggregated rows is exact: requests and failures in the interval, and (from the running
average times the running count) the sum, hence the average, of their response times. That is
what :func:`intervals` computes, one row per interval, plus:

- the percentiles of the row as Locust wrote them (whole run so far, or the last 10 s with
  ``--csv-full-history``; a ``0`` is Locust's "no sample in the window" and becomes ``NaN``);
- the highest response time of the interval when the running maximum rose in it (``max_ms``;
  ``NaN`` otherwise) and an upper bound for it (``max_bound_ms``: the running maximum, or with
  ``--csv-full-history`` the 10 s-window maximum plus what Locust's rounding of it may have cut);
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

Locust's Aggregated rows mix every request type; in a wslocust run, the ``WS`` round trips (what a
chatbot's users wait for) and the ``CONNECT`` handshakes (a few ms each, in bursts when users start).
Apart:

- :func:`type_intervals` does the same differences over the per-name rows of one type
  (``--csv-full-history`` only): the ``WS`` round trips, failed ones included;
- :func:`reply_seconds` lays wslocust's ``_chat_stats_history.csv`` (``WS`` replies only, per second
  of reply end, exact average, percentiles and max of the successful replies) on a grid of seconds,
  with the failures' kinds.

The average of the successful replies is wslocust's, second by second: it cannot be derived from
Locust's rows, whose samples are stamped with the second floored (a sample at 12.7 s reads 12) and,
on a master, hold what the workers had reported by then; a failed reply's time, taken out of the
interval its end falls in, would be taken out of the wrong one.
"""

from __future__ import annotations

import logging
from typing import cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from .classify import ErrorKind
from .load import AGGREGATED, Run

__all__ = [
    "CONNECT_TYPE",
    "KINDS",
    "REPLY_TYPE",
    "intervals",
    "kind_shares",
    "reply_seconds",
    "type_intervals",
]

KINDS: tuple[str, ...] = tuple(str(kind) for kind in ErrorKind)
"""The error kinds, in display order: client, server, unexpected."""

REPLY_TYPE = "WS"
"""The request type of wslocust's prompt -> reply round trips in Locust's files."""
CONNECT_TYPE = "CONNECT"
"""The request type of wslocust's WebSocket handshakes in Locust's files."""

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
    window_max = history["p100"] if run.full_history and "p100" in history else None
    frame = _deltas(history, window_max)
    for key in run.percentiles:
        if key in history:
            values = history[key].to_numpy(dtype=float)
            frame[key] = np.where(values > 0, values, np.nan)
    _split_kinds(run, frame)
    return frame


def type_intervals(run: Run, request_type: str) -> pd.DataFrame | None:
    """The figures of :func:`intervals` for the requests of one type only (``WS``, ``CONNECT``).

    They come from the per-name rows of ``--csv-full-history``: for every sample, the running totals
    of the names of that type are added up (the running maximum is the highest of theirs, the window
    maximum too), then differenced as :func:`intervals` does.

    Args:
        run: the run.
        request_type: the ``Type`` of the requests (Locust's method column).

    Returns:
        ``None`` without ``--csv-full-history``; else one row per interval of :func:`intervals`, in the
        same order and with its ``start``, ``end``, ``elapsed_s``, ``duration_s``, ``users`` and
        ``sampled_users``, and ``requests``, ``failures``, ``rt_sum_ms``, ``rps``, ``fps``,
        ``avg_ms``, ``max_ms``, ``max_bound_ms`` of the type's requests (zeros when it has none).
    """
    if not run.full_history:
        return None
    history = run.history
    rows = run.history_by_name[run.history_by_name["type"] == request_type]
    rows = rows.drop_duplicates(["name", "timestamp"], keep="last")
    timestamps = history["timestamp"]

    values = (
        [c for c in ("requests", "failures", "avg_ms", "max_ms", "p100") if c in rows] if len(rows) else []
    )
    table = rows.pivot(index="timestamp", columns="name", values=values).reindex(timestamps).ffill()

    def per_name(column: str) -> pd.DataFrame:
        """One column per name of the type, one row per sample (empty when the type has no row)."""
        return cast(pd.DataFrame, table[column]) if column in values else pd.DataFrame(index=timestamps)

    count = per_name("requests").fillna(0.0)
    totals = pd.DataFrame(
        {
            "timestamp": timestamps.to_numpy(dtype=float),
            "users": history["users"].to_numpy(dtype=float),
            "requests": count.sum(axis=1).to_numpy(dtype=float),
            "failures": per_name("failures").fillna(0.0).sum(axis=1).to_numpy(dtype=float),
            "avg_ms": np.zeros(len(history)),
            "max_ms": per_name("max_ms").max(axis=1).fillna(0.0).to_numpy(dtype=float),
        }
    )
    rt_total = (count * per_name("avg_ms").fillna(0.0)).sum(axis=1).to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        totals["avg_ms"] = np.where(totals["requests"] > 0, rt_total / totals["requests"], 0.0)
    window = per_name("p100").where(lambda v: v > 0).max(axis=1) if "p100" in rows else None
    return _deltas(totals, None if window is None else window.fillna(0.0))


def _deltas(history: pd.DataFrame, window_max: pd.Series[float] | None) -> pd.DataFrame:
    """The interval figures of running totals (``timestamp``, ``users``, ``requests``, ``failures``,
    ``avg_ms``, ``max_ms`` per sample; ``window_max``: the highest time of the last 10 s, or None)."""
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
    if window_max is not None:
        window = _unrounded(np.asarray(window_max, dtype=np.float64))
        bound = np.where(np.isfinite(window) & (window > 0), np.minimum(window, bound), bound)
    frame["max_bound_ms"] = np.where(rose, running_max, np.where(requests > 0, bound, np.nan))
    return frame


def _unrounded(rounded: _Floats) -> _Floats:
    """The highest time a percentile Locust rounded could stand for.

    Locust keeps its percentiles' times rounded: to the ms below 100 ms, then to two significant
    digits (372 ms is kept as 370, 1,234 ms as 1,200); a maximum of 370 may have been 374.9.
    """
    with np.errstate(invalid="ignore"):
        slack = np.select([rounded < 100, rounded < 1000, rounded < 10000], [0.5, 5.0, 50.0], 500.0)
    result: _Floats = rounded + slack.astype(np.float64)
    return result


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
    expected = np.zeros((n, len(KINDS)))
    estimated = np.zeros(n)
    groups = run.failures
    replies = run.failed_replies
    if replies is not None and n:
        in_file = groups[groups["method"] == REPLY_TYPE]
        if len(replies) >= float(in_file["occurrences"].sum()):
            expected += _count_replies(replies, frame)
            groups = groups[groups["method"] != REPLY_TYPE]  # handshakes are not in the file
        else:
            logger.info("%d failed replies recorded of %d: kinds estimated", len(replies), len(in_file))
    spread = _spread_groups(groups, frame)
    expected += spread
    estimated += spread.sum(axis=1)
    _share_failures(frame, expected, estimated, _run_kind_counts(run))


def _share_failures(
    frame: pd.DataFrame, expected: npt.NDArray[np.float64], estimated: _Floats, run_counts: dict[str, float]
) -> None:
    """Split each row's failures between the kinds in the proportions of ``expected`` (of the run's
    counts where a row has none), and add the columns :func:`intervals` describes."""
    n = len(frame)
    failures = frame["failures"].to_numpy(dtype=float)
    run_shares = kind_shares(run_counts)
    single_kind = sum(1 for kind in KINDS if run_counts.get(kind, 0.0) > 0) <= 1
    shares = np.tile(np.array([run_shares[k] for k in KINDS]), (n, 1))
    known = expected.sum(axis=1) > 0
    shares[known] = expected[known] / expected[known].sum(axis=1, keepdims=True)
    for column, kind in enumerate(KINDS):
        frame[f"{kind}_failures"] = failures * shares[:, column]
        frame[f"{kind}_expected"] = expected[:, column]
    frame["estimated_expected"] = estimated
    frame["kinds_exact"] = single_kind | (failures == 0) | (known & (estimated == 0))


def reply_seconds(run: Run) -> pd.DataFrame | None:
    """wslocust's WS replies second by second, from the Aggregated rows of ``_chat_stats_history.csv``.

    The rows are laid on a grid of whole seconds, from the first second of the run (the first history
    sample's, or the first row's when earlier) to the last (the second before the last history sample,
    or the last row's when later); a second without a row is a second in which no reply ended (0
    replies, no percentiles). A reply counts in the second it ended, as Locust counts a request in the
    interval it ended.

    Each second counts at wslocust's ``User Count`` of that second. Where it is empty (wslocust noted
    none that second) or there is no row, the count is Locust's: that of the history sample that ends
    the interval holding the second (the first sample at or after its end). A second at 0 users with
    replies (the test stopping) counts at the users of the second before, as :func:`intervals` does.

    Failed replies get their kinds as in :func:`intervals`: from ``_failed_replies.jsonl`` (each in the
    second it ended) when it holds every failed reply, else estimated from the ``WS`` error groups of
    ``_failures.csv`` (spread between their First Seen and Last Seen).

    Args:
        run: the run.

    Returns:
        ``None`` without the chat history or when it holds no Aggregated row; else one row per second
        with ``start``, ``end`` (Unix seconds: ``start + 1``), ``elapsed_s`` (end, from the first
        history sample), ``duration_s`` (1), ``users``, ``sampled_users`` (before the 0-users rule),
        ``requests`` (replies that ended), ``failures``, ``rps``, ``fps``, ``latency_p50_ms``,
        ``latency_p95_ms``, ``ttft_p50_ms``, ``ttft_p95_ms``, ``latency_avg_ms``, ``latency_max_ms``
        (of the second's successful replies, exact; ``NaN`` in a file without the column) and the kind
        columns of :func:`intervals`.
    """
    chat = run.chat_history
    if chat is None:
        return None
    rows = chat[chat["name"] == AGGREGATED].drop_duplicates("timestamp", keep="last")
    if rows.empty:
        return None
    seconds = np.floor(rows["timestamp"].to_numpy(dtype=float))
    history = run.history["timestamp"].to_numpy(dtype=float)
    first = min(float(seconds.min()), float(history[0])) if len(history) else float(seconds.min())
    last = max(float(seconds.max()), float(history[-1]) - 1.0) if len(history) else float(seconds.max())
    grid = np.arange(first, last + 1.0)
    columns = [
        "users",
        "replies_per_s",
        "failures_per_s",
        "latency_p50_ms",
        "latency_p95_ms",
        "ttft_p50_ms",
        "ttft_p95_ms",
        "latency_avg_ms",  # empty in a file written before wslocust added the column
        "latency_max_ms",
    ]
    values = rows.assign(second=seconds).set_index("second")[columns].reindex(grid)

    users = values["users"].to_numpy(dtype=float)
    if len(history):
        closing = np.minimum(np.searchsorted(history, grid + 1.0, "left"), len(history) - 1)
        locust = run.history["users"].to_numpy(dtype=float)[closing]
        users = np.where(np.isnan(users), locust, users)
    users = pd.Series(users).ffill().bfill().fillna(0.0).to_numpy(dtype=float)
    replies = values["replies_per_s"].fillna(0.0).to_numpy(dtype=float)  # of that second: a count
    failures = values["failures_per_s"].fillna(0.0).to_numpy(dtype=float)
    origin = float(history[0]) if len(history) else first
    frame = pd.DataFrame(
        {
            "start": grid,
            "end": grid + 1.0,
            "elapsed_s": grid + 1.0 - origin,
            "duration_s": 1.0,
            "users": _held_users(users, replies),
            "sampled_users": users,
            "requests": replies,
            "failures": failures,
            "rps": replies,
            "fps": failures,
        }
    )
    for column in columns[3:]:
        frame[column] = values[column].to_numpy(dtype=float)
    _split_reply_kinds(run, frame)
    return frame


def _held_users(users: _Floats, replies: _Floats) -> _Floats:
    """The users of each second, those of the second before for a second at 0 users with replies."""
    held = users.copy()
    for index in range(1, len(held)):
        if held[index] == 0 and replies[index] > 0:
            held[index] = held[index - 1]
    return held


def _split_reply_kinds(run: Run, frame: pd.DataFrame) -> None:
    """Add the kind columns to :func:`reply_seconds` (failed replies only; handshakes are apart)."""
    n = len(frame)
    groups = run.failures[run.failures["method"] == REPLY_TYPE]
    replies = run.failed_replies
    recorded = replies is not None and len(replies) >= float(frame["failures"].sum())
    if replies is not None and recorded:
        expected = _count_replies(replies, frame)
        estimated = np.zeros(n)
        by_kind = replies["kind"].value_counts()
        run_counts = {kind: float(by_kind.get(kind, 0)) for kind in KINDS}
    else:
        if replies is not None:
            logger.info(
                "%d failed replies recorded of %d: kinds estimated", len(replies), frame["failures"].sum()
            )
        expected = _spread_groups(groups, frame)
        estimated = expected.sum(axis=1)
        by_group = groups.groupby("kind")["occurrences"].sum()
        run_counts = {kind: float(by_group.get(kind, 0.0)) for kind in KINDS}
    _share_failures(frame, expected, estimated, run_counts)


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
