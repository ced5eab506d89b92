"""The live figures of a run in Prometheus's text format (``--prometheus-port``): one collector that
reads the run's statistics at each scrape.

Every series is computed from the same statistics the end-of-run files are written from (the
master's, merged from its workers' reports, or a single process's), so at the end of a run the
counts of ``/metrics`` equal the JSON summary's. The latency histograms are built from the exact
histograms, with :data:`BUCKETS_S` as their bounds: each bucket counts the replies at or under its
bound (to the exact histogram's 0.1 ms bin), ``_count`` and ``_sum`` are the exact count and sum.

:data:`SERIES` names every series exported (the Grafana dashboard in ``docs/grafana/`` reads them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from ..stats.aggregates import ChatStats, Histogram

__all__ = ["BUCKETS_S", "SERIES", "ChatCollector", "LiveView", "histogram_buckets", "replies_in_flight"]

BUCKETS_S: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75,
    1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 30.0, 60.0,
)  # fmt: skip
"""The histograms' bucket bounds, in seconds: chatbot latencies, from a token gap of a few ms to a
long reply of a minute (``+Inf`` above)."""

_PREFIX = "wslocust_"
_HISTOGRAMS = (("ttft_seconds", "ttft"), ("e2e_seconds", "latency"), ("chunk_gap_seconds", "gap"))

SERIES: dict[str, str] = {
    "wslocust_users": "gauge: users running",
    "wslocust_replies_total": "counter {name}: round trips that ended, failed ones included",
    "wslocust_failures_total": "counter {name, kind}: failed round trips by error kind",
    "wslocust_goodput_total": "counter {name}: replies that met every metric and SLO",
    "wslocust_output_tokens_total": "counter {name}: output tokens of the successful replies",
    "wslocust_replies_in_flight": "gauge: prompts sent whose reply has not ended",
    "wslocust_connections_open": "gauge: WebSocket connections open",
    "wslocust_connects_total": "counter: handshakes attempted",
    "wslocust_connect_failures_total": "counter {kind}: handshakes failed, by error kind",
    "wslocust_ttft_seconds": "histogram {name}: time to first chunk of the successful replies",
    "wslocust_e2e_seconds": "histogram {name}: send to the end of the successful replies",
    "wslocust_chunk_gap_seconds": "histogram {name}: every gap between two chunks of a successful reply",
    "wslocust_ws_messages_sent_total": "counter: WebSocket data messages sent",
    "wslocust_ws_messages_received_total": "counter: WebSocket data messages received, pushes included",
    "wslocust_ws_pushes_received_total": "counter: messages received between replies",
    "wslocust_ws_unmatched_replies_total": "counter: reply messages that answered no prompt in flight",
    "wslocust_ws_control_frames_received_total": "counter: ping, pong and close frames received",
    "wslocust_ws_control_frames_sent_total": "counter: pong and close frames sent",
    "wslocust_ws_bytes_sent_total": "counter: bytes of the frames sent",
    "wslocust_ws_bytes_received_total": "counter: bytes read from the connections",
}
"""Every series exported, with its type, labels and meaning (docs/metrics.md)."""


@dataclass(frozen=True)
class LiveView:
    """What a scrape reads: the run's statistics and the gauges of the moment."""

    stats: ChatStats
    users: int
    connections_open: int


def replies_in_flight(stats: ChatStats) -> int:
    """Prompts sent whose reply has not ended (nor was cut short by its user's stop)."""
    return max(stats.traffic.prompts - stats.total.replies - stats.in_flight_at_stop, 0)


def histogram_buckets(
    histogram: Histogram, bounds_s: tuple[float, ...] = BUCKETS_S
) -> list[tuple[str, float]]:
    """Cumulative bucket counts of an exact histogram of milliseconds, at ``bounds_s`` and ``+Inf``."""
    bins = sorted(histogram.counts.items())
    buckets: list[tuple[str, float]] = []
    seen = 0
    position = 0
    for bound in bounds_s:
        limit_key = bound * 10_000.0  # the bin keys are tenths of a millisecond
        while position < len(bins) and bins[position][0] <= limit_key:
            seen += bins[position][1]
            position += 1
        buckets.append((_bound_text(bound), seen))
    buckets.append(("+Inf", histogram.count))
    return buckets


def _bound_text(bound: float) -> str:
    return repr(float(bound))


class ChatCollector(Collector):
    """A Prometheus collector of a run's figures: :data:`SERIES`, read from ``view()`` at each scrape.

    What a scrape computes is never written back: it changes none of the run's figures. Between two
    histograms it calls ``pause`` (in a Locust process: a yield to the other greenlets), so a scrape
    of many names holds no user up for longer than one histogram's buckets take to count.

    Args:
        view: what a scrape reads.
        pause: called between two histograms (None: nothing).
    """

    def __init__(self, view: Callable[[], LiveView], pause: Callable[[], None] | None = None) -> None:
        self._view = view
        self._pause = pause

    def describe(self) -> list[Metric]:
        return []  # described at collect time (the names are fixed: SERIES)

    def collect(self) -> Iterator[Metric]:
        view = self._view()
        stats = view.stats
        by_name = stats.by_name
        traffic = stats.traffic
        yield GaugeMetricFamily(_PREFIX + "users", SERIES["wslocust_users"], value=view.users)
        replies = CounterMetricFamily(_PREFIX + "replies", SERIES["wslocust_replies_total"], labels=["name"])
        failures = CounterMetricFamily(
            _PREFIX + "failures", SERIES["wslocust_failures_total"], labels=["name", "kind"]
        )
        goodput = CounterMetricFamily(_PREFIX + "goodput", SERIES["wslocust_goodput_total"], labels=["name"])
        tokens = CounterMetricFamily(
            _PREFIX + "output_tokens", SERIES["wslocust_output_tokens_total"], labels=["name"]
        )
        for name in sorted(by_name):
            named = by_name[name]
            replies.add_metric([name], named.replies)
            goodput.add_metric([name], named.good)
            tokens.add_metric([name], named.tokens)
            for kind, number in sorted(named.errors.items()):
                failures.add_metric([name, kind], number)
        yield from (replies, failures, goodput, tokens)
        in_flight = replies_in_flight(stats)
        yield GaugeMetricFamily(
            _PREFIX + "replies_in_flight", SERIES["wslocust_replies_in_flight"], value=in_flight
        )
        yield GaugeMetricFamily(
            _PREFIX + "connections_open", SERIES["wslocust_connections_open"], value=view.connections_open
        )
        yield CounterMetricFamily(
            _PREFIX + "connects", SERIES["wslocust_connects_total"], value=stats.connects.attempts
        )
        connect_failures = CounterMetricFamily(
            _PREFIX + "connect_failures", SERIES["wslocust_connect_failures_total"], labels=["kind"]
        )
        for kind, number in sorted(stats.connects.errors.items()):
            connect_failures.add_metric([kind], number)
        yield connect_failures
        for series, which in _HISTOGRAMS:
            family = HistogramMetricFamily(_PREFIX + series, SERIES[_PREFIX + series], labels=["name"])
            for name in sorted(by_name):
                histogram: Histogram = getattr(by_name[name], which)
                family.add_metric([name], histogram_buckets(histogram), sum_value=histogram.total / 1000.0)
                if self._pause is not None:
                    self._pause()
            yield family
        counts: Mapping[str, int] = {
            "ws_messages_sent": traffic.messages_sent,
            "ws_messages_received": traffic.messages_received,
            "ws_pushes_received": traffic.pushes,
            "ws_unmatched_replies": traffic.unmatched,
            "ws_control_frames_received": traffic.control_received,
            "ws_control_frames_sent": traffic.control_sent,
            "ws_bytes_sent": traffic.bytes_sent,
            "ws_bytes_received": traffic.bytes_received,
        }
        for series, value in counts.items():
            yield CounterMetricFamily(_PREFIX + series, SERIES[f"{_PREFIX}{series}_total"], value=value)
