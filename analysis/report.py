"""Write one self-contained HTML report of a Locust run, to attach to a ticket.

Reads the run's CSV files (see `summarize --help`) and, when there is one, wslocust's JSON summary
(--summary-json; PREFIX.json by default), and writes a single HTML file, with no external resource
(the figures are embedded as base64 PNG), holding: what was run (target host, locustfile, users,
spawn rate, run time, protocol, shape and options, from the summary), the gates' verdict, a stress
test's breaking point, the key figures, errors by kind,
the users-level table of a stepped run, the per-name table, the failures grouped by error, the
exceptions with their tracebacks, wslocust's streaming statistics (time to first chunk, gaps,
goodput, quality metrics) when recorded, every figure of `plot`, and how each number is defined.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from . import fmt
from .capacity import capacity_html, cdf_figure, read_capacity
from .cli import EXIT_OK, PROG, add_common, add_level_options, run_command
from .load import SUMMARY_SUFFIX, Run, load_run, load_summary
from .plot import levels_figure, streaming_figure, timeseries_figure
from .summarize import summarize
from .timeline import KINDS

__all__ = ["build_parser", "figure_data_uri", "main", "render_report"]

logger = logging.getLogger(__name__)

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 2em auto;
       max-width: 1250px; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
.meta { color: #666; } .cards { display: flex; flex-wrap: wrap; gap: .8em; margin: 1em 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: .5em .9em; min-width: 8em; }
.card b { display: block; font-size: 1.35em; } .card span { color: #666; font-size: .9em; }
table { border-collapse: collapse; margin: .6em 0; font-size: 13px; }
th, td { border-bottom: 1px solid #e5e5e5; padding: .25em .7em; text-align: right; vertical-align: top; }
th { background: #f6f6f6; } td.t, th.t { text-align: left; } tr:hover td { background: #fafafa; }
.pass { color: #1e7e34; } .fail { color: #c0392b; } .verdict { font-size: 1.25em; font-weight: bold; }
.client { color: #b36b00; } .server { color: #c0392b; } .unexpected { color: #7d3c98; }
img { max-width: 100%; border: 1px solid #eee; margin: .5em 0; } pre { background: #f6f6f6; padding: .6em;
overflow-x: auto; font-size: 12px; } .note { color: #666; font-size: .9em; } code { background: #f3f3f3; }
"""

_KIND_TEXT = {
    "client": "the test's own fault: an HTTP status below 500 in the error (e.g. handshake rejected with "
    "401/403/404/429), ConfigurationError, DatasetError",
    "server": "the bot failing under load: HTTP 5xx, ReplyTimeout, ConnectionClosed, BotError, "
    "MetricFailure, ConnectError, standard connection and timeout errors",
    "unexpected": "anything else: ProtocolError, exception classes nobody anticipated, bare messages",
}


def figure_data_uri(fig: Figure) -> str:
    """Render a figure as a ``data:image/png;base64,...`` URI.

    Args:
        fig: the figure.

    Returns:
        The URI, to use as an ``<img src>``.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], text_columns: int = 0, classes: Sequence[str] = ()
) -> str:
    head = "".join(
        f'<th class="t">{_e(h)}</th>' if i < text_columns else f"<th>{_e(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = []
    for index, row in enumerate(rows):
        cells = "".join(
            f'<td class="t">{_e(c)}</td>' if i < text_columns else f"<td>{_e(c)}</td>"
            for i, c in enumerate(row)
        )
        css = f' class="{_e(classes[index])}"' if index < len(classes) and classes[index] else ""
        body.append(f"<tr{css}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _cards(summary: dict[str, Any]) -> str:
    totals, latency, run = summary["totals"], summary["latency_ms"], summary["run"]
    replies, handshakes = summary.get("replies"), summary.get("handshakes")
    cards: list[tuple[str, str]]
    if replies:  # wslocust's WS round trips; Locust's totals mix in the handshakes
        times = replies["latency_ms"]
        cards = [
            (fmt.count(replies["requests"]), "replies (WS)"),
            (
                fmt.percent(replies["error_rate"]),
                f"reply error rate ({fmt.count(replies['failures'])} failures)",
            ),
            (fmt.rate(replies["requests_per_s"]), "replies/s (WS)"),
            *(
                (fmt.ms(times.get(f"{key}_ms")), f"{key} ms (WS)")
                for key in ("avg", "p50", "p95", "p99", "max")
            ),
        ]
        if handshakes:
            failed, average = fmt.count(handshakes["failures"]), fmt.ms(handshakes["avg_ms"])
            cards.append(
                (fmt.count(handshakes["requests"]), f"handshakes ({failed} failed, avg {average} ms)")
            )
        cards.append(
            (fmt.count(totals["requests"]), f"all requests (avg {fmt.ms(latency.get('avg_ms'))} ms)")
        )
    else:
        cards = [
            (fmt.count(totals["requests"]), "requests"),
            (fmt.percent(totals["error_rate"]), f"error rate ({fmt.count(totals['failures'])} failures)"),
            (fmt.rate(totals["requests_per_s"]), "requests/s"),
            (fmt.ms(latency.get("avg_ms")), "average ms"),
            (fmt.ms(latency.get("p50_ms")), "p50 ms"),
            (fmt.ms(latency.get("p95_ms")), "p95 ms"),
            (fmt.ms(latency.get("p99_ms")), "p99 ms"),
            (fmt.ms(latency.get("max_ms")), "max ms"),
        ]
    cards.append((str(run["peak_users"]), "peak users"))
    note = (
        '<p class="note">WS: prompt &rarr; reply round trips, from wslocust\'s _chat_stats.csv (timings of '
        "successful replies, exact); handshakes (CONNECT) and all requests from Locust's _stats.csv.</p>"
        if replies
        else ""
    )
    return (
        '<div class="cards">'
        + "".join(f'<div class="card"><b>{_e(v)}</b><span>{_e(t)}</span></div>' for v, t in cards)
        + "</div>"
        + note
    )


def _section(title: str, body: str) -> str:
    return f"<h2>{_e(title)}</h2>\n{body}\n"


def _setting(value: Any, unit: str = "") -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return f"{value}{unit}"


def _what_was_run(summary: dict[str, Any] | None) -> str:
    """The target, the load and the settings, from the summary's ``run`` section."""
    run = (summary or {}).get("run")
    if not isinstance(run, dict):
        what = "no JSON summary" if summary is None else "a JSON summary without a run section"
        return (
            f'<p class="note">Target and settings unknown: {what} (run with <code>--summary-json '
            f"PREFIX{SUMMARY_SUFFIX}</code>, or give <code>report --summary-json FILE</code>).</p>"
        )
    by_shape = "set by the load shape" if run.get("shape") else "-"
    rows = [
        ["Target host", _setting(run.get("host"))],
        ["Locustfile", _setting(run.get("locustfile"))],
        ["Users", by_shape if run.get("users") is None else _setting(run["users"])],
        [
            "Spawn rate",
            by_shape if run.get("spawn_rate") is None else _setting(run["spawn_rate"], " users/s"),
        ],
        ["Run time", _setting(run.get("run_time_s"), " s") if run.get("run_time_s") else "no limit"],
        ["Protocol", _setting(run.get("protocol"))],
        ["Load shape", _setting(run.get("shape")) if run.get("shape") else "none"],
    ]
    if run.get("workers") is not None:
        rows.append(["Workers", _setting(run["workers"])])
    options = run.get("options") or {}
    body = _table(["Setting", "Value"], rows, 2)
    if options:
        flags = [[f"--{name.replace('_', '-')}", _setting(value)] for name, value in sorted(options.items())]
        body += _table(["Option", "Value"], flags, 2)
    return (
        body + '<p class="note">From the JSON summary; secret options (headers, query) are never in it.</p>'
    )


def _gate_value(value: Any, unit: str) -> str:
    if not isinstance(value, int | float):
        return "-"
    if unit == "fraction":
        return f"{fmt.percent(value)}"
    return f"{value:,.6g} {unit}"


def _gates(summary: dict[str, Any]) -> str:
    """The gates' verdict and one row a gate, from the summary's ``gates`` section ("" without)."""
    gates = summary.get("gates")
    if not isinstance(gates, dict) or not gates.get("gates"):
        return ""
    results = gates["gates"]
    failed = sum(1 for gate in results if not gate.get("passed"))
    total = f"{len(results)} gate" + ("" if len(results) == 1 else "s")
    verdict = "PASS" if gates.get("passed") else f"FAIL ({failed} of {total} failed)"
    rows = [
        [
            str(gate.get("gate", "")),
            ("<= " if gate.get("comparison") == "max" else ">= ")
            + _gate_value(gate.get("limit"), gate.get("unit", "")),
            _gate_value(gate.get("measured"), gate.get("unit", "")),
            "PASS" if gate.get("passed") else "FAIL",
            str(gate.get("note") or ""),
        ]
        for gate in results
    ]
    classes = ["pass" if gate.get("passed") else "fail" for gate in results]
    css = "pass" if gates.get("passed") else "fail"
    return f'<p class="verdict {css}">Verdict: {_e(verdict)}</p>' + _table(
        ["Gate", "Limit", "Measured", "Result", "Note"], rows, 1, classes
    )


def _breaking_point(summary: dict[str, Any]) -> str:
    """A stress test's outcome and breaking point, or a step test's peak ("" without a shape)."""
    steps = summary.get("steps")
    if not isinstance(steps, dict):
        return ""
    point = steps.get("breaking_point")
    parts = []
    if steps.get("message"):
        parts.append(f'<p class="verdict">{_e(steps["message"])}</p>')
    if isinstance(point, dict):
        broken = point.get("broken_step_result") or {}
        rows = [
            ["Breaking point (users of the last good step)", _setting(point.get("users"))],
            ["Requests/s of the last good step", fmt.rate(point.get("requests_per_s"))],
            ["p95 of the last good step", _setting(point.get("p95_ms"), " ms")],
            [
                "Step that broke",
                f"{_setting(point.get('broken_step'))} ({_setting(point.get('broken_users'))} users)",
            ],
            ["Why it broke", _setting(point.get("reason"))],
            [
                "Its requests/s, error rate",
                f"{fmt.rate(broken.get('requests_per_s'))}, {fmt.percent(broken.get('error_rate'))}",
            ],
        ]
        parts.append(_table(["", ""], rows, 2))
    peak = steps.get("peak")
    if isinstance(peak, dict):
        rate, p95 = fmt.rate(peak.get("requests_per_s")), fmt.ms(peak.get("p95_ms"))
        parts.append(
            f"<p>Peak throughput: step {_e(peak.get('step'))} at {_e(peak.get('users'))} users, "
            f"{_e(rate)} requests/s, p95 {_e(p95)} ms.</p>"
        )
    if not parts:
        return ""
    title = "Stress test" if steps.get("shape") == "stress" else f"Load shape: {steps.get('shape')}"
    return _section(title, "".join(parts) + '<p class="note">From the JSON summary\'s steps section.</p>')


def render_report(
    run: Run,
    *,
    min_level_seconds: float = 0.0,
    generated: datetime | None = None,
    summary_json: dict[str, Any] | None = None,
) -> str:
    """Build the HTML report of a run.

    Args:
        run: the run.
        min_level_seconds: leave out users levels held for less than this many seconds.
        generated: the time to print as generation time (default: now).
        summary_json: wslocust's JSON summary of the run (``--summary-json``), if any: what was run,
            the gates' verdict, the breaking point.

    Returns:
        The HTML document.
    """
    summary = summarize(run, min_level_seconds=min_level_seconds)
    info = summary["run"]
    when = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Load test report: {_e(run.label)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Load test report: {_e(run.label)}</h1>",
        f'<p class="meta">{_e(info["start"] or "no history")} &rarr; {_e(info["end"] or "")}'
        f" &middot; {_e(fmt.count(info['duration_s']))} s &middot; files: {_e(', '.join(info['files']))}"
        f" &middot; generated {_e(when)}</p>",
    ]
    capacity = read_capacity(run.prefix)
    if capacity is not None:  # the question the run answers comes first
        parts.append(_section("Capacity", capacity_html(capacity, figure_data_uri)))
    parts.append(_section("What was run", _what_was_run(summary_json)))
    if summary_json is not None:
        gates = _gates(summary_json)
        if gates:
            parts.append(_section("Gates", gates))
        parts.append(_breaking_point(summary_json))
    parts.append(_cards(summary))

    kinds = summary["errors_by_kind"]
    rows = [
        [kind, _KIND_TEXT[kind], fmt.count(kinds[kind]["failures"]), fmt.percent(kinds[kind]["rate"])]
        for kind in KINDS
    ]
    exceptions = summary["totals"]["exceptions"]
    extra = (
        f'<p class="note">Plus {exceptions} exception(s) raised in tasks outside any request (see below).</p>'
        if exceptions
        else ""
    )
    parts.append(
        _section(
            "Errors by kind", _table(["Kind", "Rule", "Failures", "% of requests"], rows, 2, KINDS) + extra
        )
    )

    levels = summary["levels"]
    if len(levels) > 1:
        of_replies = all(r["source"] == "wslocust" for r in levels)
        headers = [
            "Users",
            "Seconds",
            "Replies (WS)" if of_replies else "Requests",
            "Replies/s" if of_replies else "Req/s",
            "Fail/s",
            "Error %",
            "Client %",
            "Server %",
            "Unexp. %",
        ]
        headers += ["Avg ms", "Max ms", "p50 ms", "p95 ms", "TTFT p50", "TTFT p95"]
        rows = [
            [
                str(r["users"]),
                fmt.count(r["duration_s"]),
                fmt.count(r["requests"]),
                fmt.rate(r["requests_per_s"]),
                fmt.rate(r["failures_per_s"]),
                fmt.percent(r["error_rate"]),
                fmt.percent(r["client_error_rate"]),
                fmt.percent(r["server_error_rate"]),
                fmt.percent(r["unexpected_error_rate"]),
                fmt.ms(r["avg_ms"]),
                ("≤ " if r["max_is_upper_bound"] else "") + fmt.ms(r["max_ms"]),
                fmt.ms(r.get("p50_ms")),
                fmt.ms(r.get("p95_ms")),
                fmt.ms(r["ttft_p50_ms"]),
                fmt.ms(r["ttft_p95_ms"]),
            ]
            for r in levels
        ]
        notes = "".join(f'<p class="note">Note: {_e(n)}.</p>' for n in summary["level_notes"])
        title = "Per users level (WS replies)" if of_replies else "Per users level"
        parts.append(_section(title, _table(headers, rows) + notes))

    if summary["per_name"]:
        headers = ["Type", "Name", "Requests", "Failures", "Error %", "Client", "Server", "Unexp.", "Req/s"]
        headers += ["Avg ms", "Min ms", "p50 ms", "p90 ms", "p95 ms", "p99 ms", "Max ms"]
        rows = [
            [
                r["type"],
                r["name"],
                fmt.count(r["requests"]),
                fmt.count(r["failures"]),
                fmt.percent(r["error_rate"]),
                *(fmt.count(r[f"{kind}_failures"]) for kind in KINDS),
                fmt.rate(r["requests_per_s"]),
                *(
                    fmt.ms(r.get(key))
                    for key in ("avg_ms", "min_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms")
                ),
            ]
            for r in summary["per_name"]
        ]
        parts.append(_section("Per request name", _table(headers, rows, 2)))

    if summary["failures"]:
        rows = [
            [
                f["kind"],
                f["error"],
                ", ".join(f["names"]),
                fmt.count(f["occurrences"]),
                fmt.percent(f["share"]),
                (f["first_seen"] or "-").replace("T", " "),
                (f["last_seen"] or "-").replace("T", " "),
            ]
            for f in summary["failures"]
        ]
        classes = [f["kind"] for f in summary["failures"]]
        headers = ["Kind", "Error", "Where", "Count", "Share", "First seen", "Last seen"]
        parts.append(_section("Failures by error", _table(headers, rows, 3, classes)))

    if summary["exceptions"]:
        blocks = [
            f"<details><summary>{_e(fmt.count(e['count']))} &times; {_e(e['message'])}</summary>"
            f"<pre>{_e(e['traceback'])}</pre></details>"
            for e in summary["exceptions"]
        ]
        parts.append(_section("Exceptions in tasks", "".join(blocks)))

    chat = summary["chat"]
    if chat and chat["total"]:
        headers = ["Name", "Replies", "Failures", "Goodput/s", "TTFT avg", "TTFT p50", "TTFT p95", "TTFT p99"]
        headers += ["TTFT max", "Gap p50", "Gap p99", "Chunks/reply", "Tokens/s"]
        rows = [
            [
                r["name"],
                fmt.count(r["replies"]),
                fmt.count(r["failures"]),
                fmt.rate(r["goodput_per_s"]),
                *(fmt.ms(r[f"ttft_{key}_ms"]) for key in ("avg", "p50", "p95", "p99", "max")),
                fmt.ms(r["chunk_gap_p50_ms"]),
                fmt.ms(r["chunk_gap_p99_ms"]),
                fmt.rate(r["chunks_per_reply"]),
                fmt.rate(r["tokens_per_s"]),
            ]
            for r in [*chat["per_name"], chat["total"]]
        ]
        body = _table(headers, rows, 1)
        metrics = chat["total"]["metrics"]
        if metrics:
            metric_rows = [
                [
                    name,
                    *(fmt.rate(m.get(k)) for k in ("mean", "min")),
                    *(fmt.count(m.get(k)) for k in ("missed", "errors")),
                ]
                for name, m in metrics.items()
            ]
            body += _table(["Metric", "Mean", "Min", "Missed", "Errors"], metric_rows, 1)
        note = '<p class="note">From wslocust\'s _chat_stats.csv: timings of successful replies, in ms.</p>'
        parts.append(_section("Streaming replies", body + note))

    figures: list[tuple[str, Callable[[], Figure | None]]] = [
        ("Per number of users", lambda: levels_figure([run], min_level_seconds)),
        ("Over time", lambda: timeseries_figure([run])),
        ("Streaming replies", lambda: streaming_figure(run, min_level_seconds)),
        ("CDF of TTFT and E2E", lambda: cdf_figure(run.chat_histograms or {}, run.label)),
    ]
    images = []
    for title, draw in figures:
        fig = draw()
        if fig is not None:
            images.append(f'<h3>{_e(title)}</h3><img alt="{_e(title)}" src="{figure_data_uri(fig)}">')
    parts.append(_section("Figures", "".join(images)))
    parts.append(_section("Definitions", _DEFINITIONS))
    parts.append("</body></html>\n")
    return "\n".join(parts)


_DEFINITIONS = """<ul class="note">
<li>WS replies (prompt &rarr; reply round trips): totals, per-name rows and timings from wslocust's
<code>_chat_stats.csv</code> (exact; timings of the successful replies). Handshakes (CONNECT) and the
all-request totals from Locust's <code>_stats.csv</code>, as Locust computed them (its percentiles are
bucketed approximations).</li>
<li>Per users level, with wslocust's <code>_chat_stats_history.csv</code>: WS replies only (handshakes
apart). Replies, failures and rates are wslocust's counts per second of reply end, at that second's user
count; p50/p95 are its per-second percentiles averaged with the seconds' successful replies as weights
(an approximation); the average (each second's exact average, weighted the same way) and the max are
exact, of the successful replies.</li>
<li>Per users level, without it: requests, failures and the average are exact differences of the running
totals of <code>_stats_history.csv</code> between samples, counted at the users of the sample that ends each
interval. The max is exact when the running maximum rose during the level (≤ marks an upper bound).
p50/p95 are Locust's columns at the level's last sample: over the last 10 s with
<code>--csv-full-history</code>, over the run so far without.</li>
<li>With wslocust's <code>_steps.csv</code>, each step's p50, p95 and max (Locust's, over the step's WS
requests) replace those of its level.</li>
<li>Error kinds: see the rules above and docs/analysis.md. Per level, failed replies are placed by the
times in wslocust's <code>_failed_replies.jsonl</code>; what it does not hold (handshakes, or everything
without the file) is estimated by spreading each error's occurrences between its First Seen and Last
Seen.</li>
</ul>"""


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``report``."""
    parser = argparse.ArgumentParser(
        prog=f"{PROG} report", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", help="the --csv PREFIX of the run (or one of its CSV files, or its directory)")
    parser.add_argument("-o", "--output", type=Path, help="HTML file to write (default: PREFIX_report.html)")
    parser.add_argument(
        "--summary-json",
        type=Path,
        metavar="FILE",
        help=f"wslocust's JSON summary of the run (default: PREFIX{SUMMARY_SUFFIX} when it exists)",
    )
    add_level_options(parser)
    add_common(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``report``: write the HTML file and print its path.

    Args:
        argv: the arguments after the command name (``None``: the process's).

    Returns:
        0, or 2 for bad input.
    """

    def body(args: argparse.Namespace) -> int:
        run = load_run(args.run)
        output = args.output or run.prefix.with_name(run.prefix.name + "_report.html")
        output.parent.mkdir(parents=True, exist_ok=True)
        default = run.path(SUMMARY_SUFFIX)
        path = args.summary_json or (default if default.is_file() else None)
        summary_json = load_summary(path) if path is not None else None
        html_text = render_report(run, min_level_seconds=args.min_level_seconds, summary_json=summary_json)
        output.write_text(html_text, encoding="utf-8")
        logger.info("wrote %s", output)
        sys.stdout.write(f"{output}\n")
        return EXIT_OK

    return run_command(build_parser(), argv, body)
