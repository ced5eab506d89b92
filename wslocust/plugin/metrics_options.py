"""The ``wslocust live metrics`` group: ``/metrics`` for Prometheus and the OTLP export."""

from __future__ import annotations

from typing import Any

from ..outputs import public_url
from ..values import argument_type, http_url, port, seconds
from .option_marks import add_option

__all__ = ["add_live_metrics_arguments"]


def add_live_metrics_arguments(group: Any) -> None:
    """The ``wslocust live metrics`` group: ``/metrics`` for Prometheus, the OTLP export (enabled by
    Locust's own ``--otel``, to which wslocust adds its figures)."""
    add_option(
        group,
        "--prometheus-port",
        type=argument_type(port, allow_zero=True, keep_text=True),
        metavar="PORT",
        help="Serve the run's live figures at http://BIND:PORT/metrics for Prometheus, on the master or "
        "the single process (0: a free port, logged; docs/metrics.md lists the series)",
    )
    add_option(
        group,
        "--prometheus-bind",
        metavar="ADDRESS",
        help="The address /metrics listens on, an IP address (IPv6 without brackets: ::1) or a host name "
        "(default 127.0.0.1: this host only; 0.0.0.0: every interface, for a Prometheus on another host)",
    )
    add_option(
        group,
        "--prometheus-linger",
        type=argument_type(seconds, positive=False, keep_text=True),
        metavar="S",
        help="Keep serving /metrics this many seconds after the run ends, before the process exits, so "
        "that Prometheus's last scrape holds the final figures: give at least its scrape interval "
        "(default 0; Ctrl+C ends it at once)",
    )
    add_option(
        group,
        "--otel-endpoint",
        type=argument_type(http_url, keep_text=True),
        metavar="URL",
        public=public_url,  # user info (a password) is used, never shown
        help="With --otel (Locust's): where wslocust's chatbot figures go, an OTLP/HTTP metrics endpoint, "
        "e.g. http://127.0.0.1:4318/v1/metrics (default: the OTEL_EXPORTER_OTLP_* variables, else "
        "localhost:4318)",
    )
    add_option(
        group,
        "--otel-interval",
        type=argument_type(seconds, keep_text=True),
        metavar="S",
        help="With --otel: seconds between exports of wslocust's figures (default 10; one more at the end)",
    )
