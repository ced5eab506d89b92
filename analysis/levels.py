"""The users-level table of a stepped run: one row per number of users.

Built from the intervals of :func:`analysis.timeline.intervals` (the Aggregated rows of
``_stats_history.csv``), each counted at the user count of the sample that ends it (of the sample
before when that is 0: the test stopping), grouped by that user count (a count held twice, e.g. on
the way up and down, is one row). Per level:

- ``duration_s``: time spent there; ``requests``, ``failures``: exact, from the running totals;
- ``requests_per_s``, ``failures_per_s``: those divided by the duration;
- ``error_rate`` and ``<kind>_error_rate``: failures (of the kind) per request, as fractions. The
  level's failures are split between kinds in the proportions of the failures counted in its
  intervals, as :mod:`analysis.timeline` explains (``kinds_exact``: nothing was estimated);
- ``avg_ms``: exact average response time; ``max_ms``: the highest response time, exact when the
  running maximum rose during the level, else an upper bound (``max_is_upper_bound``: the highest
  10 s-window maximum with ``--csv-full-history``, the running maximum without);
- ``p50_ms``, ``p95_ms``... : Locust's percentile columns at the level's last sample, which cover
  the last 10 s with ``--csv-full-history`` and the whole run so far without
  (``percentile_scope`` says which).

With wslocust's ``_chat_stats_history.csv``, ``ttft_p50_ms`` and ``ttft_p95_ms`` are the time to
first chunk at that user count: the per-second percentiles of the Aggregated rows, averaged with the
seconds' replies as weights (an approximation of the level's percentiles; ``NaN`` without the file).

When wslocust's ``_steps.csv`` is there (a recording load shape), its per-step p50, p95 and max,
computed over each step's own requests, replace those of the levels with the same number of users
(``percentile_scope`` is then ``"step"``, and the max is exact).
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd

from .load import AGGREGATED, Run
from .timeline import KINDS, intervals, kind_shares

__all__ = ["LEVEL_COLUMNS", "users_levels"]

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
    "max_ms",
    "max_is_upper_bound",
    "ttft_p50_ms",
    "ttft_p95_ms",
)
"""The columns of :func:`users_levels`, before the percentile columns."""


def users_levels(run: Run, min_seconds: float = 0.0, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """Build the users-level table.

    Args:
        run: the run.
        min_seconds: leave out the levels held for less than this (ramp-up transients).
        frame: the run's intervals when already computed (:func:`analysis.timeline.intervals`).

    Returns:
        One row per user count, ascending, with :data:`LEVEL_COLUMNS` then ``<percentile>_ms``
        columns and ``percentile_scope`` (``"last 10 s"`` or ``"run so far"``). Levels at 0 users
        without requests are left out.
    """
    steps = intervals(run) if frame is None else frame
    percentiles = [key for key in run.percentiles if key in steps]
    scope = "last 10 s" if run.full_history else "run so far"
    columns = [*LEVEL_COLUMNS, *(f"{key}_ms" for key in percentiles), "percentile_scope"]
    if steps.empty:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in columns})

    segment = (steps["users"] != steps["users"].shift()).cumsum()
    ttft = _ttft_by_users(run)
    rows = []
    for key, level in steps.groupby("users", sort=True):
        users = cast(float, key)
        segments = [part for _, part in level.groupby(segment[level.index], sort=True)]
        longest = max(segments, key=lambda part: float(part["duration_s"].sum()))
        requests = float(level["requests"].sum())
        failures = float(level["failures"].sum())
        duration = float(level["duration_s"].sum())
        if float(users) == 0 and requests == 0:
            continue
        max_ms, upper = _level_max(segments)
        row: dict[str, object] = {
            "users": int(float(users)),
            "start": float(level["start"].min()),
            "end": float(level["end"].max()),
            "duration_s": duration,
            "requests": requests,
            "failures": failures,
            "requests_per_s": requests / duration if duration > 0 else np.nan,
            "failures_per_s": failures / duration if duration > 0 else np.nan,
            "error_rate": failures / requests if requests > 0 else np.nan,
            "kinds_exact": bool(level["kinds_exact"].all()),
            "avg_ms": float(level["rt_sum_ms"].sum()) / requests if requests > 0 else np.nan,
            "max_ms": max_ms,
            "max_is_upper_bound": upper,
            "percentile_scope": scope,
            "ttft_p50_ms": ttft.get((float(users), "ttft_p50_ms"), np.nan),
            "ttft_p95_ms": ttft.get((float(users), "ttft_p95_ms"), np.nan),
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
        for key in percentiles:
            row[f"{key}_ms"] = float(longest[key].iloc[-1])
        rows.append(row)
    table = pd.DataFrame(rows, columns=columns)
    if run.steps is not None and not run.steps.empty:
        _merge_steps(table, run.steps)
    if min_seconds > 0:
        table = table[table["duration_s"] >= min_seconds]
    return table.reset_index(drop=True)


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


def _ttft_by_users(run: Run) -> dict[tuple[float, str], float]:
    """Time to first chunk per user count: wslocust's per-second p50/p95, weighted by replies."""
    chat = run.chat_history
    if chat is None or "ttft_p50_ms" not in chat or chat["users"].isna().all():
        return {}
    rows = chat[(chat["name"] == AGGREGATED) & chat["users"].notna()]
    result: dict[tuple[float, str], float] = {}
    for key, group in rows.groupby("users"):
        users = float(cast(float, key))
        for column in ("ttft_p50_ms", "ttft_p95_ms"):
            valid = group[group[column].notna() & (group["replies"] > 0)]
            weights = valid["replies"].to_numpy(dtype=float)
            if weights.sum() > 0:
                result[(users, column)] = float(
                    np.average(valid[column].to_numpy(dtype=float), weights=weights)
                )
    return result


def _merge_steps(table: pd.DataFrame, steps: pd.DataFrame) -> None:
    """Take p50, p95 and max from wslocust's per-step results for the levels they cover."""
    for index, users in table["users"].items():
        mine = steps[steps["users"] == users]
        if mine.empty:
            continue
        longest = mine.loc[mine["duration_s"].idxmax()]
        for key in ("p50", "p95"):
            if f"{key}_ms" in table and pd.notna(longest[f"{key}_ms"]):
                table.loc[index, f"{key}_ms"] = float(longest[f"{key}_ms"])
        if mine["max_ms"].notna().any():
            table.loc[index, "max_ms"] = float(mine["max_ms"].max())
            table.loc[index, "max_is_upper_bound"] = False
        table.loc[index, "percentile_scope"] = "step"
