"""The users-level table of a stepped run: one row per number of users.

Two sources, by what the run wrote:

**wslocust's chat history** (``_chat_stats_history.csv`` with at least one reply): the table is of the
``WS`` round trips only (a prompt and its reply), without the handshakes (``CONNECT``) that Locust's
``Aggregated`` rows mix in. ``source`` is ``"wslocust"``. From :func:`analysis.timeline.reply_seconds`,
each second counted at the user count of that second and grouped by it:

- ``duration_s``: the seconds at that count; ``requests``, ``failures``: the replies that ended in
  them, all and failed, exact (wslocust's counts);
- ``requests_per_s``, ``failures_per_s``, ``error_rate``, ``<kind>_error_rate``: of those replies;
  kinds from ``_failed_replies.jsonl``, each failed reply in the second it ended;
- ``p50_ms``, ``p95_ms``: the percentiles of the level's successful replies, exact (to 0.1 ms), from
  the merged histograms of its seconds in ``_chat_histograms.jsonl`` (``percentile_scope`` is
  ``"exact"``); without that file, wslocust's per-second percentiles averaged with the seconds'
  successful replies as weights, an approximation (``"per-second, reply-weighted"``);
- ``avg_ms``: the average of the successful replies, exact: wslocust's per-second ``Latency Avg
  (ms)`` weighted by the seconds' successful replies (``avg_scope`` = ``"successful replies"``). With
  an older history lacking that column and ``--csv-full-history``: from Locust's per-name rows of type
  ``WS`` (exact differences of their running totals, at Locust's user count), of all round trips,
  failed ones included (``"WS round trips"``); without either, ``NaN`` (``avg_scope`` empty);
- ``max_ms``: the highest time of a successful reply, exact, from the chat history's per-second
  ``Latency Max (ms)`` (so it is of the same replies and seconds as p50/p95). With an older history
  lacking that column: the highest time of a ``WS`` round trip (failed ones included) from the same
  per-name rows (exact when their running maximum rose during the level, else an upper bound), or
  without them Locust's maximum of all requests, always flagged as an upper bound
  (``max_is_upper_bound``);
- ``handshakes``, ``handshake_failures``, ``handshake_error_rate``: the ``CONNECT`` requests at that
  user count, from Locust's per-name rows (``NaN`` without ``--csv-full-history``).

**Locust's history only** (``source`` = ``"locust"``): built from the intervals of
:func:`analysis.timeline.intervals` (the Aggregated rows of ``_stats_history.csv``, every request
type), each counted at the user count of the sample that ends it (of the sample before when that is
0: the test stopping), grouped by that user count (a count held twice, e.g. on the way up and down,
is one row). Per level:

- ``duration_s``: time spent there; ``requests``, ``failures``: exact, from the running totals;
- ``requests_per_s``, ``failures_per_s``: those divided by the duration;
- ``error_rate`` and ``<kind>_error_rate``: failures (of the kind) per request, as fractions. The
  level's failures are split between kinds in the proportions of the failures counted in its
  intervals, as :mod:`analysis.timeline` explains (``kinds_exact``: nothing was estimated);
- ``avg_ms``: exact average response time (``avg_scope`` = ``"all requests"``); ``max_ms``: the
  highest response time, exact when the running maximum rose during the level, else an upper bound
  (``max_is_upper_bound``: the highest 10 s-window maximum with ``--csv-full-history``, the running
  maximum without);
- ``p50_ms``, ``p95_ms``... : Locust's percentile columns at the level's last sample, which cover
  the last 10 s with ``--csv-full-history`` and the whole run so far without
  (``percentile_scope`` says which).

With wslocust's ``_chat_stats_history.csv``, ``ttft_p50_ms`` and ``ttft_p95_ms`` are the time to
first chunk at that user count: exact from ``_chat_histograms.jsonl`` as p50 and p95 above, else
the per-second percentiles of the Aggregated rows averaged with the seconds' successful replies as
weights (an approximation; ``NaN`` without the history).

When wslocust's ``_steps.csv`` is there (a recording load shape), its per-step p50, p95 and max,
wslocust's exact statistics of each step's own ``WS`` replies (Locust's, to two significant digits, in
files of earlier releases), replace those of the levels with the same number of users
(``percentile_scope`` is then ``"step"``, and the max is exact).
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd

from .histograms import SecondHistograms, merged
from .load import Run
from .timeline import (
    CONNECT_TYPE,
    KINDS,
    REPLY_TYPE,
    intervals,
    kind_shares,
    reply_seconds,
    type_intervals,
)

__all__ = ["EXACT", "LEVEL_COLUMNS", "PER_SECOND", "users_levels"]

LEVEL_COLUMNS = (
    "users",
    "start",
    "end",
    "duration_s",
    "requests",
    "failures",
    "requests_per_s",
    "failures_per_s",
    "error_rate",
    *(f"{kind}_error_rate" for kind in KINDS),
    "kinds_exact",
    "avg_ms",
    "avg_scope",
    "max_ms",
    "max_is_upper_bound",
    "ttft_p50_ms",
    "ttft_p95_ms",
    "handshakes",
    "handshake_failures",
    "handshake_error_rate",
    "source",
)
"""The columns of :func:`users_levels`, before the percentile columns."""

_REPLY_PERCENTILES = ("p50", "p95")
_MAX_FLOOR = "_max_floor_ms"
PER_SECOND = "per-second, reply-weighted"
"""The ``percentile_scope`` of levels whose p50 and p95 come from wslocust's per-second percentiles."""
EXACT = "exact"
"""The ``percentile_scope`` of levels whose p50 and p95 come from wslocust's per-second histograms."""


def users_levels(run: Run, min_seconds: float = 0.0, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """Build the users-level table.

    Args:
        run: the run.
        min_seconds: leave out the levels held for less than this (ramp-up transients).
        frame: the run's intervals when already computed (:func:`analysis.timeline.intervals`).

    Returns:
        One row per user count, ascending, with :data:`LEVEL_COLUMNS` then ``<percentile>_ms``
        columns (``p50_ms`` and ``p95_ms`` from wslocust's chat history; all of Locust's without it)
        and ``percentile_scope`` (``"exact"``, ``"per-second, reply-weighted"``, ``"last 10 s"``,
        ``"run so far"`` or ``"step"``). Levels at 0 users without requests are left out.
    """
    steps = intervals(run) if frame is None else frame
    seconds = reply_seconds(run)
    if seconds is not None and float(seconds["requests"].sum()) > 0:
        table = _reply_levels(run, seconds, steps)
    else:
        table = _request_levels(run, steps)
    if run.steps is not None and not run.steps.empty and not table.empty:
        # an exact max of the WS rows of --csv-full-history beats a step's, which files of earlier
        # releases knew only to Locust's bucket when the step set no new maximum
        own_max = bool((table["source"] == "wslocust").all()) and run.full_history
        _merge_steps(table, run.steps, keep_exact_max=own_max)
    table = table.drop(columns=[_MAX_FLOOR], errors="ignore")
    if min_seconds > 0:
        table = table[table["duration_s"] >= min_seconds]
    return table.reset_index(drop=True)


def _segments(frame: pd.DataFrame) -> dict[float, list[pd.DataFrame]]:
    """Per user count, the runs of consecutive rows held at it."""
    segment = (frame["users"] != frame["users"].shift()).cumsum()
    return {
        float(cast(float, users)): [part for _, part in level.groupby(segment[level.index], sort=True)]
        for users, level in frame.groupby("users", sort=True)
    }


def _counts(level: pd.DataFrame) -> dict[str, object]:
    """Duration, counts, rates and error rates by kind of the rows of one level."""
    requests = float(level["requests"].sum())
    failures = float(level["failures"].sum())
    duration = float(level["duration_s"].sum())
    row: dict[str, object] = {
        "start": float(level["start"].min()),
        "end": float(level["end"].max()),
        "duration_s": duration,
        "requests": requests,
        "failures": failures,
        "requests_per_s": requests / duration if duration > 0 else np.nan,
        "failures_per_s": failures / duration if duration > 0 else np.nan,
        "error_rate": failures / requests if requests > 0 else np.nan,
        "kinds_exact": bool(level["kinds_exact"].all()),
    }
    counts = {kind: float(level[f"{kind}_expected"].sum()) for kind in KINDS}
    if sum(counts.values()) > 0:  # split the level's failures in the proportions of its counts
        shares = kind_shares(counts)
        split = {kind: failures * shares[kind] for kind in KINDS}
        exact = float(level["estimated_expected"].sum()) == 0
        row["kinds_exact"] = exact or bool(level["kinds_exact"].all())
    else:
        split = {kind: float(level[f"{kind}_failures"].sum()) for kind in KINDS}
    for kind in KINDS:
        row[f"{kind}_error_rate"] = split[kind] / requests if requests > 0 else np.nan
    return row


def _request_levels(run: Run, steps: pd.DataFrame) -> pd.DataFrame:
    """The table of all requests, from Locust's Aggregated history rows."""
    percentiles = [key for key in run.percentiles if key in steps]
    scope = "last 10 s" if run.full_history else "run so far"
    columns = [*LEVEL_COLUMNS, *(f"{key}_ms" for key in percentiles), "percentile_scope"]
    if steps.empty:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
    ttft = _ttft_by_users(reply_seconds(run))
    rows = []
    for users, segments in _segments(steps).items():
        level = pd.concat(segments)
        row = _counts(level)
        requests = cast(float, row["requests"])
        if users == 0 and requests == 0:
            continue
        longest = max(segments, key=lambda part: float(part["duration_s"].sum()))
        max_ms, upper = _level_max(segments)
        row.update(
            users=int(users),
            avg_ms=float(level["rt_sum_ms"].sum()) / requests if requests > 0 else np.nan,
            avg_scope="all requests",
            max_ms=max_ms,
            max_is_upper_bound=upper,
            ttft_p50_ms=ttft.get((users, "ttft_p50_ms"), np.nan),
            ttft_p95_ms=ttft.get((users, "ttft_p95_ms"), np.nan),
            handshakes=np.nan,
            handshake_failures=np.nan,
            handshake_error_rate=np.nan,
            source="locust",
            percentile_scope=scope,
        )
        for key in percentiles:
            row[f"{key}_ms"] = float(longest[key].iloc[-1])
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def _reply_levels(run: Run, seconds: pd.DataFrame, steps: pd.DataFrame) -> pd.DataFrame:
    """The table of the WS replies, from wslocust's chat history (and Locust's per-name rows)."""
    columns = [*LEVEL_COLUMNS, *(f"{key}_ms" for key in _REPLY_PERCENTILES), "percentile_scope"]
    weighted = _weighted_by_users(
        seconds, ("latency_avg_ms", "latency_p50_ms", "latency_p95_ms", "ttft_p50_ms", "ttft_p95_ms")
    )
    replies = None if seconds["latency_avg_ms"].notna().any() else type_intervals(run, REPLY_TYPE)
    handshakes = type_intervals(run, CONNECT_TYPE)
    reply_segments = _segments(replies) if replies is not None else {}
    all_segments = _segments(steps) if replies is None and not steps.empty else {}
    rows = []
    for users, level in seconds.groupby("users", sort=True):
        key = float(cast(float, users))
        row = _counts(level)
        if key == 0 and cast(float, row["requests"]) == 0:
            continue
        row.update(users=int(key), source="wslocust", percentile_scope=PER_SECOND)
        for name in ("p50", "p95"):
            row[f"{name}_ms"] = weighted.get((key, f"latency_{name}_ms"), np.nan)
        for name in ("ttft_p50_ms", "ttft_p95_ms"):
            row[name] = weighted.get((key, name), np.nan)
        if run.chat_histograms is not None:
            row.update(_exact_percentiles(run.chat_histograms, level))
        row.update(avg_ms=np.nan, avg_scope="", max_ms=np.nan, max_is_upper_bound=False)
        if (key, "latency_avg_ms") in weighted:  # exact: the seconds' averages, weighted by their replies
            row.update(avg_ms=weighted[(key, "latency_avg_ms")], avg_scope="successful replies")
        if replies is not None:
            row.update(_reply_times(reply_segments.get(key, [])))
        elif key in all_segments and cast(float, row["requests"]) > 0:
            row["max_ms"], _ = _level_max(all_segments[key])  # of every request: only a bound
            row["max_is_upper_bound"] = True
        exact_max = level.get("latency_max_ms")
        if exact_max is not None and exact_max.notna().any():
            # wslocust's exact per-second max of the successful replies, aligned with their p50/p95
            row.update(max_ms=float(exact_max.max()), max_is_upper_bound=False)
        row.update(_handshakes(handshakes, key))
        row[_MAX_FLOOR] = float(level["latency_p95_ms"].max())  # a reply took that long: max >= it
        rows.append(row)
    return pd.DataFrame(rows, columns=[*columns, _MAX_FLOOR])


def _exact_percentiles(histograms: SecondHistograms, level: pd.DataFrame) -> dict[str, object]:
    """A level's p50 and p95 of latency and time to first chunk, from its seconds' histograms."""
    seconds = [int(second) for second in level["start"]]
    latency = merged(histograms, seconds, "latency_ms")
    ttft = merged(histograms, seconds, "time_to_first_chunk_ms")
    return {
        "p50_ms": latency.percentile(0.5),
        "p95_ms": latency.percentile(0.95),
        "ttft_p50_ms": ttft.percentile(0.5),
        "ttft_p95_ms": ttft.percentile(0.95),
        "percentile_scope": EXACT,
    }


def _reply_times(segments: list[pd.DataFrame]) -> dict[str, object]:
    """Average and max of the WS round trips (failed ones included) of a level, from
    :func:`analysis.timeline.type_intervals`: for a chat history without wslocust's averages."""
    if not segments:
        return {}
    level = pd.concat(segments)
    requests = float(level["requests"].sum())
    max_ms, upper = _level_max(segments)
    return {
        "avg_ms": float(level["rt_sum_ms"].sum()) / requests if requests > 0 else np.nan,
        "avg_scope": "WS round trips" if requests > 0 else "",
        "max_ms": max_ms,
        "max_is_upper_bound": upper,
    }


def _handshakes(frame: pd.DataFrame | None, users: float) -> dict[str, object]:
    """The CONNECT requests counted at a user count (``NaN`` without Locust's per-name rows)."""
    if frame is None:
        return {"handshakes": np.nan, "handshake_failures": np.nan, "handshake_error_rate": np.nan}
    level = frame[frame["users"] == users]
    count = float(level["requests"].sum())
    failures = float(level["failures"].sum())
    return {
        "handshakes": count,
        "handshake_failures": failures,
        "handshake_error_rate": failures / count if count > 0 else np.nan,
    }


def _level_max(segments: list[pd.DataFrame]) -> tuple[float, bool]:
    """Highest response time over the segments of a level, and whether it is only an upper bound."""
    exact = [float(part["max_ms"].max()) for part in segments if part["max_ms"].notna().any()]
    bounds = [float(part["max_bound_ms"].max()) for part in segments if part["max_ms"].isna().all()]
    bounds = [b for b in bounds if np.isfinite(b)]
    best_exact = max(exact, default=np.nan)
    best_bound = max(bounds, default=np.nan)
    if np.isnan(best_bound) or (np.isfinite(best_exact) and best_bound <= best_exact):
        return best_exact, False
    if np.isnan(best_exact):
        return best_bound, True
    return max(best_exact, best_bound), True


def _weighted_by_users(
    seconds: pd.DataFrame | None, columns: tuple[str, ...]
) -> dict[tuple[float, str], float]:
    """Per user count, each per-second figure (an average, a percentile) averaged with the seconds'
    successful replies as weights."""
    result: dict[tuple[float, str], float] = {}
    if seconds is None:
        return result
    successes = seconds["requests"] - seconds["failures"]
    for key, group in seconds.groupby("users"):
        users = float(cast(float, key))
        for column in columns:
            valid = group[column].notna() & (successes[group.index] > 0)
            weights = successes[group.index][valid].to_numpy(dtype=float)
            if weights.sum() > 0:
                values = group.loc[valid, column].to_numpy(dtype=float)
                result[(users, column)] = float(np.average(values, weights=weights))
    return result


def _ttft_by_users(seconds: pd.DataFrame | None) -> dict[tuple[float, str], float]:
    """Time to first chunk per user count: wslocust's per-second p50/p95, weighted by successful replies."""
    return _weighted_by_users(seconds, ("ttft_p50_ms", "ttft_p95_ms"))


def _merge_steps(table: pd.DataFrame, steps: pd.DataFrame, keep_exact_max: bool = False) -> None:
    """Take p50, p95 and max from wslocust's per-step results for the levels they cover.

    With ``keep_exact_max``, a level keeps its own max when it is exact, and when a step's is below
    what a reply is known to have taken (the level's highest per-second p95, in ``_MAX_FLOOR``): a
    step's max is only known to Locust's bucket when the step set no new maximum of the run.
    """
    exact_max = (table["max_ms"].notna() & ~table["max_is_upper_bound"].astype(bool)).to_numpy()
    floor = table[_MAX_FLOOR].to_numpy(dtype=float) if _MAX_FLOOR in table else np.full(len(table), np.nan)
    for row, (index, users) in enumerate(table["users"].items()):
        mine = steps[steps["users"] == users]
        if mine.empty:
            continue
        longest = mine.loc[mine["duration_s"].idxmax()]
        for key in ("p50", "p95"):
            if f"{key}_ms" in table and pd.notna(longest[f"{key}_ms"]):
                table.loc[index, f"{key}_ms"] = float(longest[f"{key}_ms"])
        step_max = float(mine["max_ms"].max())
        too_low = bool(step_max < floor[row])  # False when either is NaN
        if np.isfinite(step_max) and not (keep_exact_max and (bool(exact_max[row]) or too_low)):
            table.loc[index, "max_ms"] = step_max
            table.loc[index, "max_is_upper_bound"] = False
        table.loc[index, "percentile_scope"] = "step"
