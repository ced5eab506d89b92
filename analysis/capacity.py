"""A capacity search's figures (``PREFIX_capacity.json`` and ``.csv``), and any run's latency CDFs.

A ``--shape capacity`` run writes, with ``--csv PREFIX``, ``PREFIX_capacity.csv`` (one row a level
measured) and ``PREFIX_capacity.json`` (the summary's ``capacity`` section: the verdict, the SLOs,
the capacity, and the same levels). From them:

- :func:`latency_figure`: TTFT, E2E and TPOT at the SLO percentile (and p50) against the offered
  rate (or users), each with its SLO line, the capacity marked;
- :func:`throughput_figure`: achieved against offered rate (where the bot saturates), and a Pareto
  figure of output tokens/s per user against total output tokens/s, one point a level, the Pareto
  front drawn (no other level has both more per-user and more total throughput);

and for any run with ``PREFIX_chat_histograms.jsonl``, :func:`cdf_figure`: the CDF of TTFT and E2E
from the exact histograms.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .errors import InputError
from .histograms import Histogram, SecondHistograms

__all__ = [
    "CAPACITY_COLUMNS",
    "CAPACITY_CSV_SUFFIX",
    "CAPACITY_JSON_SUFFIX",
    "Capacity",
    "capacity_html",
    "cdf_figure",
    "latency_figure",
    "pareto_front",
    "read_capacity",
    "throughput_figure",
]

CAPACITY_CSV_SUFFIX = "_capacity.csv"
CAPACITY_JSON_SUFFIX = "_capacity.json"

CAPACITY_COLUMNS: dict[str, str] = {
    "Level": "level", "Target": "target", "Users": "users", "Start (s)": "start_s",
    "Measured (s)": "measured_s", "Offered Rate/s": "offered_rate_per_s",
    "Achieved Rate/s": "achieved_rate_per_s", "Goodput/s": "goodput_per_s",
    "Users In Flight": "users_in_flight", "Replies": "replies", "Failures": "failures",
    "Error Rate": "error_rate", "TTFT (ms)": "ttft_ms", "E2E (ms)": "e2e_ms", "TPOT (ms)": "tpot_ms",
    "TTFT p50 (ms)": "ttft_p50_ms", "E2E p50 (ms)": "e2e_p50_ms", "TPOT p50 (ms)": "tpot_p50_ms",
    "Output Tokens/s": "output_tokens_per_s", "Tokens/s Per User": "tokens_per_s_per_user",
    "Late Share": "late_share", "CPU (%)": "cpu_percent", "Percentile": "percentile",
    "Verdict": "verdict", "Cut Short": "cut_short", "Reason": "reason",
}  # fmt: skip
"""The columns of ``PREFIX_capacity.csv`` (wslocust's ``CAPACITY_FIGURES``, in order) and their keys."""

_LATENCIES = (("ttft", "TTFT"), ("e2e", "E2E"), ("tpot", "TPOT"))
_VERDICT_COLORS = {"pass": "#2ca02c", "fail": "#d62728", "invalid": "#7f7f7f"}


@dataclass
class Capacity:
    """A capacity search: its section (verdict, SLOs, capacity) and its levels, one row each."""

    section: dict[str, Any]
    levels: pd.DataFrame

    @property
    def unit(self) -> str:
        return str(self.section.get("unit", "prompts/s"))

    @property
    def message(self) -> str:
        return str(self.section.get("message", ""))


def read_capacity(prefix: Path) -> Capacity | None:
    """Read ``PREFIX_capacity.json`` (the levels from ``PREFIX_capacity.csv`` when the JSON lacks
    them); None when the run was no capacity search.

    Raises:
        InputError: a file that is not what wslocust writes; the message names it.
    """
    path = Path(f"{prefix}{CAPACITY_JSON_SUFFIX}")
    if not path.exists():
        return None
    try:
        section = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: not a capacity section: {error}") from None
    if not isinstance(section, dict) or "levels" not in section:
        raise InputError(f"{path}: not a capacity section (no levels)")
    levels = pd.DataFrame(section["levels"])
    csv_path = Path(f"{prefix}{CAPACITY_CSV_SUFFIX}")
    if levels.empty and csv_path.exists():
        levels = pd.read_csv(csv_path).rename(columns=CAPACITY_COLUMNS)
    return Capacity(section, levels)


def _x(capacity: Capacity) -> tuple[pd.Series, str]:
    """The levels' x values: the offered rate (the users over users), and its axis label."""
    levels = capacity.levels
    if capacity.section.get("over") == "users":
        return levels["target"], "users"
    return levels["target"], "offered rate (prompts/s)"


def _mark_capacity(ax: Axes, capacity: Capacity) -> None:
    found = capacity.section.get("capacity")
    if found is not None:
        ax.axvline(float(found), color="#2ca02c", linestyle="--", linewidth=1.2)
        ax.annotate(f"capacity {found:g}", (float(found), 1.0), xycoords=("data", "axes fraction"),
                    xytext=(3, -12), textcoords="offset points", color="#2ca02c", fontsize=9)  # fmt: skip


def latency_figure(capacity: Capacity) -> Figure:
    """TTFT, E2E and TPOT (at the SLO percentile, and p50) against the offered load, with the SLOs."""
    x, label = _x(capacity)
    order = x.sort_values().index
    percentile = float(capacity.section.get("percentile", 99))
    slos = capacity.section.get("slos_ms") or {}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), layout="constrained")
    for ax, (metric, title) in zip(axes, _LATENCIES, strict=True):
        at = capacity.levels[f"{metric}_ms"].astype(float)
        median = capacity.levels[f"{metric}_p50_ms"].astype(float)
        ax.plot(x[order], at[order], marker="o", label=f"p{percentile:g}")
        ax.plot(x[order], median[order], marker=".", linestyle=":", label="p50")
        for verdict, color in _VERDICT_COLORS.items():
            chosen = capacity.levels["verdict"] == verdict
            ax.scatter(
                x[chosen], at[chosen], color=color, zorder=3, s=30, label=verdict if chosen.any() else None
            )
        if metric in slos:
            ax.axhline(float(slos[metric]), color="#d62728", linewidth=1, label=f"SLO {slos[metric]:g} ms")
        _mark_capacity(ax, capacity)
        ax.set_title(f"{title} against load")
        ax.set_xlabel(label)
        ax.set_ylabel(f"{title} (ms)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(capacity.message, fontsize=9, wrap=True)
    return fig


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """The indexes of the points no other point beats on both coordinates (higher is better)."""
    front = []
    for index, (a, b) in enumerate(points):
        if math.isnan(a) or math.isnan(b):
            continue
        beaten = any(
            other_a >= a and other_b >= b and (other_a, other_b) != (a, b)
            for other_a, other_b in points
            if not (math.isnan(other_a) or math.isnan(other_b))
        )
        if not beaten:
            front.append(index)
    return front


def throughput_figure(capacity: Capacity) -> Figure:
    """Achieved against offered load, and the Pareto figure of per-user against total tokens/s."""
    levels = capacity.levels
    x, label = _x(capacity)
    order = x.sort_values().index
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
    left.plot(x[order], levels["achieved_rate_per_s"][order], marker="o", label="achieved replies/s")
    left.plot(x[order], levels["goodput_per_s"][order], marker=".", linestyle=":", label="goodput/s")
    if capacity.section.get("over") != "users":
        top = float(x.max())
        left.plot([0, top], [0, top], color="#7f7f7f", linewidth=1, label="offered = achieved")
    _mark_capacity(left, capacity)
    left.set_title("Achieved against offered load")
    left.set_xlabel(label)
    left.set_ylabel("replies/s")
    left.grid(True, alpha=0.3)
    left.legend(fontsize=8)
    total = levels["output_tokens_per_s"].astype(float)
    per_user = levels["tokens_per_s_per_user"].astype(float)
    colors = [_VERDICT_COLORS.get(str(verdict), "#1f77b4") for verdict in levels["verdict"]]
    right.scatter(total, per_user, c=colors, zorder=3)
    for index in levels.index:
        right.annotate(f"{levels['target'][index]:g}", (total[index], per_user[index]),
                       xytext=(4, 4), textcoords="offset points", fontsize=8)  # fmt: skip
    front = pareto_front(list(zip(total.tolist(), per_user.tolist(), strict=True)))
    if front:
        chosen = levels.loc[front].sort_values("output_tokens_per_s")
        right.plot(chosen["output_tokens_per_s"], chosen["tokens_per_s_per_user"], color="#1f77b4",
                   linewidth=1, label="Pareto front")  # fmt: skip
        right.legend(fontsize=8)
    right.set_title("Per-user against total output tokens/s (a point a level)")
    right.set_xlabel("total output tokens/s")
    right.set_ylabel("output tokens/s per user")
    right.grid(True, alpha=0.3)
    return fig


def _cdf(ax: Axes, histogram: Histogram, label: str) -> None:
    if not histogram.count:
        return
    values = sorted(histogram.bins)
    seen = 0
    xs, ys = [], []
    for value in values:
        seen += histogram.bins[value]
        xs.append(min(max(value, histogram.minimum), histogram.maximum))
        ys.append(seen / histogram.count)
    ax.step(xs, ys, where="post", label=f"{label} ({histogram.count} replies)")


def cdf_figure(seconds: SecondHistograms, title: str) -> Figure | None:
    """The CDF of TTFT and E2E latency over the whole run, from the exact per-second histograms."""
    ttft, e2e = Histogram(), Histogram()
    for second in seconds.values():
        ttft.merge(second["time_to_first_chunk_ms"])
        e2e.merge(second["latency_ms"])
    if not e2e.count:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    _cdf(ax, ttft, "TTFT")
    _cdf(ax, e2e, "E2E")
    ax.set_xlabel("ms")
    ax.set_ylabel("share of replies at or below")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"CDF of TTFT and E2E latency: {title}")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return fig


def _knee_text(knee: Any, unit: str) -> str:
    """The summary's ``capacity.knee`` in words: ``6 users (396 replies/s, E2E 15.7 ms, TTFT 12.4 ms)``."""
    if not isinstance(knee, dict):
        return "none"
    figures = [f"{knee.get('achieved_rate_per_s', 0):g} replies/s"] + [
        f"{name} {knee[key]:g} ms"
        for key, name in (("e2e_ms", "E2E"), ("ttft_ms", "TTFT"))
        if knee.get(key) is not None
    ]
    return f"{knee.get('level', 0):g} {unit} ({', '.join(figures)})"


def capacity_html(capacity: Capacity, data_uri: Callable[[Figure], str]) -> str:
    """The report's capacity section: the verdict, the levels' table, the two figures."""
    section = capacity.section
    shown = (
        ("level", "#"), ("target", capacity.unit), ("users", "users"), ("achieved_rate_per_s", "replies/s"),
        ("users_in_flight", "in flight"), ("error_rate", "errors"), ("ttft_ms", "TTFT"), ("e2e_ms", "E2E"),
        ("tpot_ms", "TPOT"), ("verdict", "verdict"), ("reason", "reason"),
    )  # fmt: skip
    head = "".join(f"<th>{html.escape(title)}</th>" for _, title in shown)
    rows = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape('' if pd.isna(value) else str(value))}</td>" for value in row)
        + "</tr>"
        for row in capacity.levels[[key for key, _ in shown]].itertuples(index=False)
    )
    css = "pass" if section.get("capacity") is not None else "fail"
    percentile = section.get("percentile", 99)
    images = "".join(
        f'<img alt="{title}" src="{data_uri(draw(capacity))}">'
        for title, draw in (("Latency against load", latency_figure), ("Throughput", throughput_figure))
    )
    return (
        f'<p class="verdict {css}">{html.escape(capacity.message)}</p>'
        f'<p class="note">Levels in the order measured; TTFT, E2E and TPOT at p{percentile:g}, in ms; '
        f"knee: {html.escape(_knee_text(section.get('knee'), capacity.unit))}</p>"
        f"<table><tr>{head}</tr>{rows}</table>{images}"
    )
