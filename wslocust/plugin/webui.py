"""The web UI's Chatbot tab: live chatbot statistics and charts, and downloads of the chatbot CSVs.

It uses Locust's extension points: ``extended_tabs`` / ``extended_tables`` / ``extended_csv_files``
in the page's template arguments, and an ``extended_stats`` entry added to ``/stats/requests``. The
page also loads ``/wslocust/webui.js`` and ``webui.css`` (package data, no other network access):
they draw the charts ``/wslocust/charts.json`` describes (:data:`CHARTS`, and the recorder's
per-second history of the current test, and the tables of the voice turns, the conversations and the
connections' lives when the run has them) and arrange the form (see :mod:`wslocust.plugin.webui_form`).
Every key is a figure's (:data:`wslocust.outputs.figures.FIGURES`): the script knows none.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, request, send_from_directory

from ..conversations import conversation_entries
from ..load.shapes.capacity import CapacityShape
from ..outputs import metric_columns, stats_csv_text, ui_key, ui_rows
from ..outputs.csv_files import conversation_rows, voice_csv_text, voice_rows
from ..outputs.figures import CHAT_HISTORY, CHAT_STATS, CONVERSATION_FIGURES, FIGURES_BY_TITLE, VOICE_FIGURES
from ..outputs.lifecycle import LIFECYCLE_COLUMNS, lifecycle_row
from .recording import Recording

__all__ = [
    "CHARTS",
    "CHART_COLUMNS",
    "TABLE_COLUMNS",
    "TAB_KEY",
    "VOICE_TABLE_COLUMNS",
    "add_chatbot_tab",
    "chart_data",
    "conversations_table",
    "lifecycle_table",
    "voice_table",
]

TAB_KEY = "chatbot"

TABLE_COLUMNS = [
    "Name", "Replies", "Failures", "Goodput/s", "Latency p95 (ms)", "TTFT p50 (ms)", "TTFT p95 (ms)",
    "TTFT p99 (ms)", "TTFT Max (ms)", "Chunk Gap p50 (ms)", "Chunk Gap p99 (ms)", "TPOT p50 (ms)",
    "TPOT p95 (ms)", "Tokens/Reply", "Output Tokens/s", "Goodput Share",
    "WS Messages Sent/s", "WS Messages Received/s", "WS Pushes Received", "WS Unmatched Replies",
    "WS Control Frames Received",
    "WS Bytes Sent/s", "WS Bytes Received/s",
]  # fmt: skip
"""The columns the Chatbot tab shows (then each metric's mean and misses); the ``WS`` traffic's are
filled on the ``Aggregated`` row (traffic has no request name)."""

CHARTS: list[tuple[str, list[tuple[str, str, str]]]] = [
    ("Time to first chunk (ms)", [("TTFT p50 (ms)", "p50", "#15803d"), ("TTFT p95 (ms)", "p95", "#d97706")]),
    ("Latency (ms)", [("Latency p50 (ms)", "p50", "#2563eb"), ("Latency p95 (ms)", "p95", "#9333ea")]),
    (
        "Time per output token (ms)",
        [("TPOT p50 (ms)", "p50", "#15803d"), ("TPOT p95 (ms)", "p95", "#d97706")],
    ),
    ("Replies per second", [("Goodput/s", "goodput", "#15803d"), ("Failures/s", "failures", "#dc2626")]),
]
"""The Chatbot tab's charts: each a title and its lines (a history column, its legend, its colour)."""

CHART_COLUMNS = [column for _, lines in CHARTS for column, _, _ in lines]
"""The history columns the Chatbot tab's charts draw (keyed by :func:`~wslocust.outputs.ui_key`)."""


VOICE_TABLE_COLUMNS = [
    "Voice Turns", "Voice Failures", "V2V p50 (ms)", "V2V p95 (ms)", "V2V p99 (ms)", "TTFA p50 (ms)",
    "TTFA p95 (ms)", "First Transcript p95 (ms)", "Final Transcript p95 (ms)", "Audio Out (s)",
    "Real-Time Factor Min", "Underruns", "Underrun p95 (ms)", "Frame Lateness p99 (ms)",
    "Frame Lateness Max (ms)",
]  # fmt: skip
"""The voice figures the Chatbot tab shows under its charts, in a run with audio turns (titles of
:data:`~wslocust.outputs.figures.VOICE_FIGURES`)."""

_VOICE_KEYS = {figure.title: figure.key for figure in VOICE_FIGURES}


def _check_columns() -> None:
    """Fail at import on a column the table of figures does not write where the tab reads it."""
    for columns, file in ((TABLE_COLUMNS, CHAT_STATS), (CHART_COLUMNS, CHAT_HISTORY)):
        for column in columns:
            if file not in FIGURES_BY_TITLE[column].files:
                raise ValueError(f"webui: {column!r} is not a column of {file}")
    for column in VOICE_TABLE_COLUMNS:
        if column not in _VOICE_KEYS:
            raise ValueError(f"webui: {column!r} is not a voice figure")


_check_columns()

_STATIC = Path(__file__).with_name("static")
_PAGE_ADDITIONS = (
    '<link rel="stylesheet" href="./wslocust/webui.css"><script defer src="./wslocust/webui.js"></script>'
)


def chart_data(recorder: Recording) -> dict[str, Any]:
    """The current test's per-second history of the aggregated replies, for the charts.

    Returns:
        ``{"charts": [...], "timestamps": [unix second, ...], "series": {ui_key: [value or None, ...]}}``:
        the charts to draw (:data:`CHARTS`: ``{"title", "lines": [{"key", "legend", "color"}]}``), a
        capacity search's ``capacity`` section (None without one), then
        each column of :data:`CHART_COLUMNS`, one value a second (None where a second had no value);
        and the test's tables, each None when the run has none of what it shows: ``voice``
        (:func:`voice_table`), ``conversations`` (:func:`conversations_table`) and ``lifecycle``
        (:func:`lifecycle_table`).
    """
    since = int(recorder.started_at) if recorder.started_at is not None else None
    rows = [
        row
        for row in recorder.history_rows
        if row["Name"] == "Aggregated" and since is not None and row["Timestamp"] >= since
    ]
    return {
        "charts": [
            {
                "title": title,
                "lines": [
                    {"key": ui_key(column), "legend": legend, "color": color}
                    for column, legend, color in lines
                ],
            }
            for title, lines in CHARTS
        ],
        "capacity": _capacity_status(recorder),
        "voice": voice_table(recorder),
        "conversations": conversations_table(recorder),
        "lifecycle": lifecycle_table(recorder),
        "timestamps": [row["Timestamp"] for row in rows],
        "series": {
            ui_key(column): [None if row[column] == "" else row[column] for row in rows]
            for column in CHART_COLUMNS
        },
    }


def _table(title: str, keys: Mapping[str, str], rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A table of the Chatbot tab: ``{"title", "columns": [{"key", "title"}], "rows": [{key: value}]}``
    from ``rows`` keyed by column title (``keys``: each column's title and key, in order)."""
    return {
        "title": title,
        "columns": [{"key": key, "title": column} for column, key in keys.items()],
        "rows": [{key: row[column] for column, key in keys.items()} for row in rows],
    }


def voice_table(recorder: Recording) -> dict[str, Any] | None:
    """The Chatbot tab's voice table (see :func:`_table`): a row a request name with audio turns and
    the ``Aggregated`` row; None without audio turns."""
    book = recorder.stats.voice
    if book.empty:
        return None
    keys = {"Name": "name", **{title: _VOICE_KEYS[title] for title in VOICE_TABLE_COLUMNS}}
    return _table("Voice turns", keys, voice_rows(book))


def conversations_table(recorder: Recording) -> dict[str, Any] | None:
    """The Chatbot tab's conversations table (see :func:`_table`): the figures of
    ``PREFIX_conversations.csv``, a row a conversation name and the ``Aggregated`` row; None while no
    conversation ended."""
    found = conversation_entries(recorder.environment)
    if found is None:
        return None
    keys = {"Name": "name", **{figure.title: figure.summary for figure in CONVERSATION_FIGURES}}
    return _table("Conversations", keys, conversation_rows(*found))


def lifecycle_table(recorder: Recording) -> dict[str, Any] | None:
    """The Chatbot tab's table of the connections' lives (see :func:`_table`): one row of the
    summary's ``lifecycle`` figures (outages, time to recover, failovers, server closes by code);
    None while nothing happened to any connection."""
    stats = recorder.stats.lifecycle
    if stats.empty:
        return None
    keys = {title: path for path, title in LIFECYCLE_COLUMNS.items()}
    return _table("Connections", keys, [lifecycle_row(stats)])


def _capacity_status(recorder: Recording) -> dict[str, Any] | None:
    """The running capacity search's ``capacity`` section (its verdict so far), or None."""
    shape = recorder.environment.shape_class
    return shape.capacity_section() if isinstance(shape, CapacityShape) else None


def add_chatbot_tab(web_ui: Any, recorder: Recording, metric_names: Sequence[str]) -> None:
    """Add the Chatbot tab, its live data, and the CSV download routes to Locust's web UI."""
    columns = TABLE_COLUMNS + [
        column for column in metric_columns(metric_names) if column.endswith((" Mean", " Missed"))
    ]
    web_ui.template_args["extended_tabs"] = [{"title": "Chatbot", "key": TAB_KEY}]
    web_ui.template_args["extended_tables"] = [
        {"key": TAB_KEY, "structure": [{"key": ui_key(column), "title": column} for column in columns]}
    ]
    web_ui.template_args["extended_csv_files"] = [
        {"href": "./wslocust/chat_stats.csv", "title": "Download chatbot statistics CSV"},
        {"href": "./wslocust/chat_stats_history.csv", "title": "Download chatbot history CSV"},
        {"href": "./wslocust/voice.csv", "title": "Download chatbot voice CSV"},
    ]
    app = web_ui.app
    # Under Locust's --web-base-path too: its pages are its blueprint's, under that prefix.
    base_path = app.blueprints["locust"].url_prefix or ""
    routes = Blueprint("wslocust", __name__, url_prefix=base_path.rstrip("/") + "/wslocust")

    @app.after_request
    def add_chatbot_stats(response: Response) -> Response:
        if request.endpoint == "locust.index" and response.mimetype == "text/html":
            page = response.get_data(as_text=True)
            response.set_data(page.replace("</head>", _PAGE_ADDITIONS + "</head>", 1))
            return response
        if request.endpoint != "locust.request_stats" or not response.is_json:
            return response
        data = response.get_json()
        data["extended_stats"] = [{"key": TAB_KEY, "data": ui_rows(recorder.stats, recorder.duration_s)}]
        response.set_data(json.dumps(data))
        return response

    def csv_response(text: str, name: str) -> Response:
        return Response(
            text, mimetype="text/csv", headers={"Content-Disposition": f"attachment;filename={name}"}
        )

    @routes.route("/<any('webui.js', 'webui.css'):name>")
    @web_ui.auth_required_if_enabled
    def static_file(name: str) -> Response:
        return send_from_directory(_STATIC, name, max_age=0)

    @routes.route("/charts.json")
    @web_ui.auth_required_if_enabled
    def charts() -> Response:
        return Response(json.dumps(chart_data(recorder)), mimetype="application/json")

    @routes.route("/chat_stats.csv")
    @web_ui.auth_required_if_enabled
    def chat_stats_csv() -> Response:
        return csv_response(stats_csv_text(recorder.stats, recorder.duration_s), "chat_stats.csv")

    @routes.route("/chat_stats_history.csv")
    @web_ui.auth_required_if_enabled
    def chat_stats_history_csv() -> Response:
        return csv_response(recorder.history_csv(), "chat_stats_history.csv")

    @routes.route("/voice.csv")
    @web_ui.auth_required_if_enabled
    def voice_csv() -> Response:
        return csv_response(voice_csv_text(recorder.stats.voice), "voice.csv")

    app.register_blueprint(routes)
