"""The web UI's Chatbot tab: live chatbot statistics, and downloads of the chatbot CSVs.

It uses Locust's extension points: ``extended_tabs`` / ``extended_tables`` / ``extended_csv_files``
in the page's template arguments, and an ``extended_stats`` entry added to ``/stats/requests``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

from flask import Response, request

from .outputs import STATS_COLUMNS, metric_columns, stats_rows
from .recorder import Recorder, ui_key

__all__ = ["TABLE_COLUMNS", "TAB_KEY", "add_chatbot_tab"]

TAB_KEY = "chatbot"

TABLE_COLUMNS = [
    "Name", "Replies", "Failures", "Goodput/s", "Latency p95 (ms)", "TTFT p50 (ms)", "TTFT p95 (ms)",
    "TTFT p99 (ms)", "TTFT Max (ms)", "Chunk Gap p50 (ms)", "Chunk Gap p99 (ms)", "Tokens/Reply",
    "Output Tokens/s",
]  # fmt: skip
"""The columns the Chatbot tab shows (then each metric's mean and misses)."""


def add_chatbot_tab(web_ui: Any, recorder: Recorder, metric_names: Sequence[str]) -> None:
    """Add the Chatbot tab, its live data, and the CSV download routes to Locust's web UI."""
    columns = TABLE_COLUMNS + [f"{name} {part}" for name in metric_names for part in ("Mean", "Missed")]
    web_ui.template_args["extended_tabs"] = [{"title": "Chatbot", "key": TAB_KEY}]
    web_ui.template_args["extended_tables"] = [
        {"key": TAB_KEY, "structure": [{"key": ui_key(column), "title": column} for column in columns]}
    ]
    web_ui.template_args["extended_csv_files"] = [
        {"href": "./wslocust/chat_stats.csv", "title": "Download chatbot statistics CSV"},
        {"href": "./wslocust/chat_stats_history.csv", "title": "Download chatbot history CSV"},
    ]
    app = web_ui.app

    @app.after_request
    def add_chatbot_stats(response: Response) -> Response:
        if request.path != "/stats/requests" or not response.is_json:
            return response
        data = response.get_json()
        data["extended_stats"] = [{"key": TAB_KEY, "data": recorder.ui_rows()}]
        response.set_data(json.dumps(data))
        return response

    def csv_response(text: str, name: str) -> Response:
        return Response(
            text, mimetype="text/csv", headers={"Content-Disposition": f"attachment;filename={name}"}
        )

    @app.route("/wslocust/chat_stats.csv")
    @web_ui.auth_required_if_enabled
    def chat_stats_csv() -> Response:
        import csv

        rows = stats_rows(recorder.stats, recorder.duration_s)
        names = [key[: -len(" Mean")] for key in rows[0] if key.endswith(" Mean")] if rows else []
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, STATS_COLUMNS + metric_columns(names))
        writer.writeheader()
        writer.writerows(rows)
        return csv_response(buffer.getvalue(), "chat_stats.csv")

    @app.route("/wslocust/chat_stats_history.csv")
    @web_ui.auth_required_if_enabled
    def chat_stats_history_csv() -> Response:
        return csv_response(recorder.history_csv(), "chat_stats_history.csv")
