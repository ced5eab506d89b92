"""Summarize one Locust run from its CSV files: print a readable summary and write it as JSON.

Reads PREFIX_stats.csv, PREFIX_stats_history.csv and PREFIX_failures.csv (required), and
PREFIX_exceptions.csv and wslocust's own files when present (PREFIX_chat_stats.csv,
PREFIX_chat_stats_history.csv, PREFIX_failed_replies.jsonl, PREFIX_steps.csv), as written by
`locust --csv PREFIX` (with or without --csv-full-history).

The summary has the totals (requests, failures, success rate, requests/s) and the latency
statistics (with wslocust's files: of the WS replies, then the CONNECT handshakes and Locust's totals
of all requests), errors by kind (client, server, unexpected: see docs/analysis.md), a per-name
table, the failures grouped by error, the exceptions, time to first chunk, gaps between chunks,
goodput and quality metrics when wslocust recorded them, and, for a stepped run, one row per number
of users derived from the history (of the WS replies, from wslocust's chat history, when it is there).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from . import fmt
from .cli import EXIT_OK, PROG, add_common, add_level_options, run_command
from .levels import EXACT, PER_SECOND, users_levels
from .load import AGGREGATED, Run, load_run
from .timeline import CONNECT_TYPE, KINDS, intervals

__all__ = ["build_parser", "format_summary", "main", "summarize"]

logger = logging.getLogger(__name__)

_HEADLINE_PERCENTILES = ("p50", "p90", "p95", "p99")


def _num(value: Any, digits: int = 3) -> float | None:
    try:
        return fmt.clean(float(value), digits)
    except (TypeError, ValueError):
        return None


def _latency(values: Mapping[Any, Any], percentiles: Sequence[str]) -> dict[str, float | None]:
    """Latency figures of a stats row; all ``None`` without requests (Locust writes 0 or N/A then)."""
    keys = ["avg_ms", "min_ms", "median_ms", "max_ms", *percentiles]
    if not values.get("requests"):
        return {(key if key.endswith("_ms") else f"{key}_ms"): None for key in keys}
    result = {key: _num(values.get(key)) for key in keys[:4]}
    result.update({f"{key}_ms": _num(values.get(key)) for key in percentiles})
    return result


def _per_name(run: Run) -> list[dict[str, Any]]:
    kinds = run.failures.pivot_table(
        index=["method", "name"], columns="kind", values="occurrences", aggfunc="sum", fill_value=0.0
    )
    rows = []
    for record in run.stats.to_dict("records"):
        requests = float(record["requests"])
        failures = float(record["failures"])
        key = (record["type"], record["name"])
        row: dict[str, Any] = {
            "type": record["type"],
            "name": record["name"],
            "requests": int(requests),
            "failures": int(failures),
            "error_rate": _num(failures / requests, 6) if requests else None,
            "requests_per_s": _num(record["rps"]),
            "failures_per_s": _num(record["fps"]),
        }
        row.update(_latency(record, run.percentiles))
        for kind in KINDS:
            found = key in kinds.index and kind in kinds.columns
            row[f"{kind}_failures"] = int(kinds.loc[key, kind]) if found else 0
        rows.append(row)
    return rows


def _failures(run: Run) -> list[dict[str, Any]]:
    failures = run.failures
    if failures.empty:
        return []
    total = float(failures["occurrences"].sum())
    failures = failures.assign(where=failures["method"].str.cat(failures["name"], sep=" ").str.strip())
    groups = failures.groupby(["error", "kind"], sort=False).agg(
        occurrences=("occurrences", "sum"),
        first_seen=("first_seen", "min"),
        last_seen=("last_seen", "max"),
        names=("where", lambda names: sorted(set(names))),
    )
    groups = groups.sort_values("occurrences", ascending=False, kind="stable")
    return [
        {
            "error": error,
            "kind": kind,
            "occurrences": int(row["occurrences"]),
            "share": _num(row["occurrences"] / total, 6) if total else None,
            "names": list(row["names"]),
            "first_seen": fmt.iso(row["first_seen"]),
            "last_seen": fmt.iso(row["last_seen"]),
        }
        for (error, kind), row in ((cast(tuple[str, str], key), row) for key, row in groups.iterrows())
    ]


def _exceptions(run: Run) -> list[dict[str, Any]]:
    exceptions = run.exceptions.sort_values("count", ascending=False, kind="stable")
    return [
        {
            "count": int(row["count"]) if np.isfinite(row["count"]) else 0,
            "message": str(row["message"]),
            "traceback": str(row["traceback"]),
            "nodes": str(row["nodes"]),
        }
        for row in exceptions.to_dict("records")
    ]


_CHAT_FIELDS = (
    "replies",
    "failures",
    "failure_rate",
    "goodput",
    "goodput_per_s",
    "replies_per_s",
    "latency_avg_ms",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "latency_max_ms",
    "ttft_avg_ms",
    "ttft_p50_ms",
    "ttft_p90_ms",
    "ttft_p95_ms",
    "ttft_p99_ms",
    "ttft_max_ms",
    "chunk_gap_p50_ms",
    "chunk_gap_p99_ms",
    "chunks_per_reply",
    "tokens_per_reply",
    "reply_tokens_per_s_p50",
    "tokens_per_s",
    "latency_p90_ms",
    "chunk_gap_avg_ms",
    "chunk_gap_p90_ms",
    "chunk_gap_p95_ms",
    "chunk_gap_max_ms",
    "tpot_avg_ms",
    "tpot_p50_ms",
    "tpot_p90_ms",
    "tpot_p95_ms",
    "tpot_p99_ms",
    "tpot_max_ms",
    "reply_tokens_per_s_avg",
    "reply_tokens_per_s_min",
    "reply_tokens_per_s_p90",
    "reply_tokens_per_s_p95",
    "reply_tokens_per_s_p99",
    "reply_tokens_per_s_max",
    "goodput_share",
)
"""The chat figures a summary carries (files of earlier versions lack the later ones: ``null``)."""


def _chat_record(row: Mapping[Hashable, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {"name": str(row["name"])}
    record.update(
        {key: _num(row.get(key), 6 if key.endswith(("rate", "share")) else 3) for key in _CHAT_FIELDS}
    )
    metrics: dict[str, dict[str, float | None]] = {}
    for column, value in row.items():
        parts = str(column).split(" ")
        if parts[0] == "metric" and len(parts) >= 3:
            metrics.setdefault(" ".join(parts[1:-1]), {})[parts[-1]] = _num(value, 4)
    record["metrics"] = metrics
    return record


def _chat(run: Run) -> dict[str, Any] | None:
    """wslocust's chatbot statistics (time to first chunk, gaps, goodput, metrics), when recorded."""
    chat = run.chat_stats
    if chat is None:
        return None
    aggregated = chat["name"] == AGGREGATED
    rows = chat[~aggregated].to_dict("records")
    total = chat[aggregated].to_dict("records")
    return {
        "total": _chat_record(total[-1]) if total else None,
        "per_name": [_chat_record(row) for row in rows],
        "failed_replies_recorded": None if run.failed_replies is None else len(run.failed_replies),
    }


def _replies(run: Run) -> dict[str, Any] | None:
    """The WS round trips alone, from wslocust's ``_chat_stats.csv`` (``None`` without it)."""
    chat = run.chat_stats
    rows = chat[chat["name"] == AGGREGATED] if chat is not None else None
    if rows is None or rows.empty:
        return None
    row = rows.iloc[-1]
    replies = float(row["replies"])
    failures = float(row["failures"])
    per_second = _num(row["replies_per_s"])
    return {
        "source": "wslocust's _chat_stats.csv: WS round trips (prompt -> reply), handshakes apart",
        "requests": int(replies),
        "failures": int(failures),
        "success_rate": _num((replies - failures) / replies, 6) if replies else None,
        "error_rate": _num(failures / replies, 6) if replies else None,
        "requests_per_s": per_second,
        "failures_per_s": _num(per_second * failures / replies)
        if per_second is not None and replies
        else None,
        "latency_scope": "successful replies, exact (0.1 ms)",
        "latency_ms": {
            key: _num(row.get(f"latency_{key[:-3]}_ms")) if replies > failures else None
            for key in ("avg_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms")
        },
    }


def _handshakes(run: Run) -> dict[str, Any] | None:
    """wslocust's WebSocket handshakes (Locust's ``CONNECT`` rows), ``None`` when there is none."""
    rows = run.stats[run.stats["type"] == CONNECT_TYPE]
    if rows.empty:
        return None
    requests = float(rows["requests"].sum())
    failures = float(rows["failures"].sum())
    timed = rows[rows["requests"] > 0]
    return {
        "source": "Locust's _stats.csv, rows of type CONNECT",
        "requests": int(requests),
        "failures": int(failures),
        "error_rate": _num(failures / requests, 6) if requests else None,
        "requests_per_s": _num(rows["rps"].sum()),
        "avg_ms": _num((timed["avg_ms"] * timed["requests"]).sum() / requests) if requests else None,
        "max_ms": _num(timed["max_ms"].max()) if len(timed) else None,
    }


def summarize(run: Run, *, min_level_seconds: float = 0.0) -> dict[str, Any]:
    """Compute the summary of a run.

    Args:
        run: the run (:func:`analysis.load.load_run`).
        min_level_seconds: leave out users levels held for less than this many seconds.

    Returns:
        A JSON-serialisable dict: ``run``, ``totals`` and ``latency_ms`` (Locust's, all requests),
        ``replies`` (the WS round trips from wslocust's ``_chat_stats.csv``, ``None`` without it),
        ``handshakes`` (Locust's ``CONNECT`` rows, ``None`` without any), ``errors_by_kind``,
        ``per_name``, ``failures``, ``exceptions``, ``levels``, ``level_notes`` and ``chat``
        (wslocust's chatbot statistics: time to first chunk, gaps between chunks, goodput, quality
        metrics; ``None`` without its ``_chat_stats.csv``). Missing numbers are ``None``; rates are
        fractions; times are milliseconds.
    """
    total = run.total
    requests = float(total.get("requests", 0.0))
    failures = float(total.get("failures", 0.0))
    history = run.history
    start = float(history["timestamp"].iloc[0]) if len(history) else None
    end = float(history["timestamp"].iloc[-1]) if len(history) else None
    files = sorted(
        p.name
        for p in run.prefix.parent.glob(run.prefix.name + "_*")
        if p.suffix in {".csv", ".jsonl"} and not p.name.endswith("_summary.json")
    )
    by_kind = run.failures.groupby("kind")["occurrences"].sum()
    recorded = float(by_kind.sum())
    frame = intervals(run)
    levels = users_levels(run, min_level_seconds, frame)
    notes = []
    scopes = set(levels["percentile_scope"]) if len(levels) else set()
    replies = bool(len(levels)) and bool((levels["source"] == "wslocust").all())
    if replies:
        notes.append(
            "WS replies only (handshakes apart): replies, failures and rates from wslocust's "
            "_chat_stats_history.csv, at the user count of the second each reply ended"
        )
        avg_scopes = set(levels["avg_scope"]) - {""}
        if not avg_scopes:
            notes.append(
                "no average per level: the chat history has none (written by an older wslocust) and, "
                "without --csv-full-history, the replies' times cannot be told apart from the handshakes'"
            )
        elif avg_scopes == {"successful replies"}:
            notes.append("the average is of the successful replies, exact (wslocust's per-second averages)")
        else:
            notes.append(
                "average and max from Locust's WS rows (--csv-full-history; the chat history has no "
                "average): of all WS round trips, failed ones included"
            )
        if EXACT in scopes:
            notes.append(
                "p50 and p95 are exact: of each level's successful replies, from wslocust's "
                "per-second histograms (_chat_histograms.jsonl)"
            )
        if PER_SECOND in scopes:
            notes.append(
                "p50 and p95 are wslocust's per-second percentiles averaged with the seconds' successful "
                "replies as weights: an approximation (a few slow seconds pull them up)"
            )
        if not run.full_history and bool(levels["max_is_upper_bound"].any()):
            notes.append("without --csv-full-history, max is that of all requests: an upper bound")
    if "step" in scopes:
        what = "p50, p95 and max" if not (replies and run.full_history) else "p50, p95 (and max unless exact)"
        notes.append(
            f"{what} come from wslocust's _steps.csv where a step has the same users "
            "(wslocust's exact statistics of the step's WS replies)"
        )
    if "run so far" in scopes:
        notes.append("percentiles are over the run so far at the end of each level (no --csv-full-history)")
    if len(levels) and not bool(levels["kinds_exact"].all()):
        notes.append("error kinds per level are estimated from the failures' First/Last Seen times")
    if len(levels) and bool(levels["max_is_upper_bound"].any()) and (run.full_history or not replies):
        notes.append("some max latencies are upper bounds (the running maximum did not rise in the level)")

    return {
        "run": {
            "label": run.label,
            "prefix": str(run.prefix),
            "files": files,
            "start": fmt.iso(start),
            "end": fmt.iso(end),
            "duration_s": _num(end - start) if start is not None and end is not None else None,
            "peak_users": int(history["users"].max()) if len(history) else 0,
            "full_history": run.full_history,
            "history_samples": len(history),
        },
        "totals": {
            "requests": int(requests),
            "failures": int(failures),
            "success_rate": _num((requests - failures) / requests, 6) if requests else None,
            "error_rate": _num(failures / requests, 6) if requests else None,
            "requests_per_s": _num(total.get("rps")),
            "failures_per_s": _num(total.get("fps")),
            "exceptions": int(run.exceptions["count"].fillna(0).sum()),
        },
        "latency_ms": _latency(total, run.percentiles),
        "replies": _replies(run),
        "handshakes": _handshakes(run),
        "errors_by_kind": {
            kind: {
                "failures": int(by_kind.get(kind, 0)),
                "rate": _num(float(by_kind.get(kind, 0)) / requests, 6) if requests else None,
                "share": _num(float(by_kind.get(kind, 0)) / recorded, 6) if recorded else None,
            }
            for kind in KINDS
        },
        "per_name": _per_name(run),
        "failures": _failures(run),
        "exceptions": _exceptions(run),
        "levels": [_level_record(row) for row in levels.to_dict("records")],
        "level_notes": notes,
        "chat": _chat(run),
    }


def _level_record(row: Mapping[Hashable, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for name, value in row.items():
        key = str(name)
        if key in {"start", "end"}:
            record[key] = fmt.iso(value)
        elif key in {"users", "requests", "failures"}:
            record[key] = int(value)
        elif isinstance(value, bool | np.bool_ | str):
            record[key] = value if isinstance(value, str) else bool(value)
        else:
            record[key] = _num(value, 6 if key.endswith("rate") else 3)
    return record


def format_summary(summary: dict[str, Any]) -> str:
    """Render a summary (from :func:`summarize`) as plain text for a terminal.

    Args:
        summary: the summary.

    Returns:
        The text, ending with a newline.
    """
    run, totals, latency = summary["run"], summary["totals"], summary["latency_ms"]
    lines = [f"Run {run['label']}  ({run['prefix']}_*.csv)"]
    if run["start"]:
        lines.append(
            f"  {run['start']} -> {run['end']}, {fmt.count(run['duration_s'])} s, "
            f"peak users {run['peak_users']}, {run['history_samples']} history samples"
            + (", full history" if run["full_history"] else "")
        )
    lines.append("")
    replies, handshakes = summary.get("replies"), summary.get("handshakes")
    if replies:
        lines += _headline(
            replies, "Replies (WS)", "replies", replies["latency_ms"], ("avg", "p50", "p95", "p99", "max")
        )
        lines[-1] += "   (successful replies; wslocust's, exact)"
        if handshakes:
            lines.append(
                f"Handshakes   {fmt.count(handshakes['requests'])} CONNECT   "
                f"failures {fmt.count(handshakes['failures'])} ({fmt.percent(handshakes['error_rate'])})   "
                f"avg {fmt.ms(handshakes['avg_ms'])} ms   max {fmt.ms(handshakes['max_ms'])} ms"
            )
        lines.append(
            f"All requests {fmt.count(totals['requests'])} (WS + CONNECT, Locust's Aggregated)   "
            f"failures {fmt.count(totals['failures'])} ({fmt.percent(totals['error_rate'])})   "
            f"{fmt.rate(totals['requests_per_s'])} requests/s   avg {fmt.ms(latency.get('avg_ms'))} ms   "
            f"p95 {fmt.ms(latency.get('p95_ms'))} ms"
        )
    else:
        keys = ["avg", "min", *(key for key in _HEADLINE_PERCENTILES if f"{key}_ms" in latency), "max"]
        lines += _headline(totals, "Requests", "requests", latency, tuple(keys))
    kinds = summary["errors_by_kind"]
    lines.append(
        "Errors       "
        + "  ".join(
            f"{kind} {fmt.count(kinds[kind]['failures'])} ({fmt.percent(kinds[kind]['rate'])})"
            for kind in KINDS
        )
        + (f"   + {totals['exceptions']} exceptions in tasks" if totals["exceptions"] else "")
        + ("   (all requests, by kind)" if replies else "")
    )

    if summary["per_name"]:
        lines += ["", "Per name"]
        headers = [
            "Type",
            "Name",
            "Requests",
            "Fail",
            "Fail %",
            "Req/s",
            "Avg ms",
            "p50",
            "p95",
            "p99",
            "Max",
        ]
        rows = [
            [
                r["type"],
                r["name"],
                fmt.count(r["requests"]),
                fmt.count(r["failures"]),
                fmt.percent(r["error_rate"]),
                fmt.rate(r["requests_per_s"]),
                fmt.ms(r["avg_ms"]),
                fmt.ms(r.get("p50_ms")),
                fmt.ms(r.get("p95_ms")),
                fmt.ms(r.get("p99_ms")),
                fmt.ms(r["max_ms"]),
            ]
            for r in summary["per_name"]
        ]
        lines.append(fmt.table(headers, rows, align="ll"))

    if summary["failures"]:
        lines += ["", "Failures by error"]
        rows = [
            [
                fmt.count(f["occurrences"]),
                fmt.percent(f["share"]),
                f["kind"],
                _cut(f["error"], 70),
                ", ".join(f["names"]),
            ]
            for f in summary["failures"]
        ]
        lines.append(fmt.table(["Count", "Share", "Kind", "Error", "Where"], rows, align="rrlll"))

    if summary["exceptions"]:
        lines += ["", "Exceptions in tasks (not counted as requests)"]
        rows = [[fmt.count(e["count"]), _cut(e["message"], 100)] for e in summary["exceptions"]]
        lines.append(fmt.table(["Count", "Message"], rows, align="rl"))

    chat = summary["chat"]
    if chat and chat["total"]:
        lines += ["", "Streaming, from wslocust (successful replies; ms)"]
        headers = ["Name", "Replies", "Fail", "Good/s", "TTFT p50", "p95", "p99", "max", "Gap p50", "p99"]
        headers += ["TPOT p50", "p95", "Tokens/s"]
        rows = [
            [
                r["name"],
                fmt.count(r["replies"]),
                fmt.count(r["failures"]),
                fmt.rate(r["goodput_per_s"]),
                *(fmt.ms(r[f"ttft_{key}_ms"]) for key in ("p50", "p95", "p99", "max")),
                fmt.ms(r["chunk_gap_p50_ms"]),
                fmt.ms(r["chunk_gap_p99_ms"]),
                fmt.ms(r["tpot_p50_ms"]),
                fmt.ms(r["tpot_p95_ms"]),
                fmt.rate(r["tokens_per_s"]),
            ]
            for r in [*chat["per_name"], chat["total"]]
        ]
        lines.append(fmt.table(headers, rows, align="l"))
        metrics = chat["total"]["metrics"]
        if metrics:
            lines.append(
                "  metrics: "
                + "; ".join(
                    f"{name} mean {fmt.rate(m.get('mean'))}, min {fmt.rate(m.get('min'))}, "
                    f"missed {fmt.count(m.get('missed'))}"
                    for name, m in metrics.items()
                )
            )

    if len(summary["levels"]) > 1:
        levels = summary["levels"]
        of_replies = all(r["source"] == "wslocust" for r in levels)
        if of_replies:
            lines += ["", "Per users level (WS replies, from wslocust's chat history)"]
            headers = ["Users", "Seconds", "Replies", "Rep/s", "Fail/s", "Err %", "Client %", "Unexp %"]
        else:
            lines += ["", "Per users level (all requests, from Locust's history)"]
            headers = ["Users", "Seconds", "Requests", "Req/s", "Fail/s", "Err %", "Client %", "Unexp %"]
        headers += ["Avg ms", "Max ms", "p50", "p95"]
        ttft = any(r["ttft_p50_ms"] is not None for r in levels)
        connects = of_replies and any(r["handshake_failures"] for r in levels)
        rows = [
            [
                str(r["users"]),
                fmt.count(r["duration_s"]),
                fmt.count(r["requests"]),
                fmt.rate(r["requests_per_s"]),
                fmt.rate(r["failures_per_s"]),
                fmt.percent(r["error_rate"]),
                fmt.percent(r["client_error_rate"]),
                fmt.percent(r["unexpected_error_rate"]),
                fmt.ms(r["avg_ms"]),
                ("<=" if r["max_is_upper_bound"] else "") + fmt.ms(r["max_ms"]),
                fmt.ms(r.get("p50_ms")),
                fmt.ms(r.get("p95_ms")),
            ]
            + ([fmt.ms(r["ttft_p50_ms"]), fmt.ms(r["ttft_p95_ms"])] if ttft else [])
            + ([f"{fmt.count(r['handshake_failures'])}/{fmt.count(r['handshakes'])}"] if connects else [])
            for r in levels
        ]
        headers += (["TTFT p50", "TTFT p95"] if ttft else []) + (["Conn fail"] if connects else [])
        lines.append(fmt.table(headers, rows))
        lines += [f"  note: {note}" for note in summary["level_notes"]]
    return "\n".join(lines) + "\n"


def _headline(
    totals: Mapping[str, Any], title: str, unit: str, latency: Mapping[str, Any], keys: Sequence[str]
) -> list[str]:
    """The count, throughput and latency lines of the summary's head."""
    return [
        f"{title:<12} {fmt.count(totals['requests'])}   failures {fmt.count(totals['failures'])} "
        f"({fmt.percent(totals['error_rate'])})   success {fmt.percent(totals['success_rate'])}",
        f"Throughput   {fmt.rate(totals['requests_per_s'])} {unit}/s   "
        f"{fmt.rate(totals['failures_per_s'])} failures/s",
        "Latency ms   " + "  ".join(f"{key} {fmt.ms(latency.get(f'{key}_ms'))}" for key in keys),
    ]


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``summarize``."""
    parser = argparse.ArgumentParser(
        prog=f"{PROG} summarize", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", help="the --csv PREFIX of the run (or one of its CSV files, or its directory)")
    parser.add_argument(
        "-o", "--output", type=Path, help="JSON file to write (default: PREFIX_summary.json; '-' for stdout)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="do not print the text summary")
    add_level_options(parser)
    add_common(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``summarize``.

    Args:
        argv: the arguments after the command name (``None``: the process's).

    Returns:
        0, or 2 for bad input.
    """

    def body(args: argparse.Namespace) -> int:
        run = load_run(args.run)
        summary = summarize(run, min_level_seconds=args.min_level_seconds)
        text = json.dumps(summary, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        if str(args.output) == "-":
            sys.stdout.write(text)
            return EXIT_OK
        output = args.output or run.prefix.with_name(run.prefix.name + "_summary.json")
        output.write_text(text, encoding="utf-8")
        logger.info("wrote %s", output)
        if not args.quiet:
            sys.stdout.write(format_summary(summary))
            sys.stdout.write(f"\nJSON: {output}\n")
        return EXIT_OK

    return run_command(build_parser(), argv, body)
