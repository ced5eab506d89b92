"""``--otel``: the run's live figures exported through OpenTelemetry's SDK over OTLP/HTTP.

An optional extra (``pip install 'wslocust[otel]'``); asked for without it, the run stops at
start-up (exit 2). Every ``--otel-interval`` seconds, and once more at the end, the master (or the
single process) exports what :mod:`wslocust.outputs.prometheus` serves, under the OpenTelemetry
GenAI semantic conventions' names where they exist:

- ``gen_ai.client.operation.duration`` (E2E), ``gen_ai.client.operation.time_to_first_chunk``
  (TTFT), ``gen_ai.client.operation.time_per_output_chunk`` (chunk gaps): histograms in seconds,
  with ``gen_ai.operation.name`` ``chat`` and ``wslocust.request.name``; each new reply's values are
  taken from the exact histograms (one value a 0.1 ms bin) when an export begins;
- ``wslocust.replies``, ``wslocust.failures`` (``error.type``: the error's kind), ``wslocust.goodput``,
  ``gen_ai.client.token.usage.total`` (``gen_ai.token.type`` ``output``): cumulative counters;
- ``wslocust.users``, ``wslocust.replies.in_flight``, ``wslocust.connections.open``: gauges;
- ``wslocust.ws.messages.sent``, ``.received``, ``.pushes``, ``wslocust.ws.control_frames.sent``,
  ``.received``, ``wslocust.ws.bytes.sent``, ``.received``: cumulative counters.

The endpoint is ``--otel-endpoint`` (else OpenTelemetry's ``OTEL_EXPORTER_OTLP_*`` variables, else
``http://localhost:4318/v1/metrics``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from typing import Any

import gevent

from ..outputs import public_url
from ..outputs.prometheus import BUCKETS_S, LiveView, replies_in_flight
from ..stats.aggregates import ChatStats, Histogram
from ..values import seconds

__all__ = ["DEFAULT_OTEL_INTERVAL_S", "HISTOGRAMS", "OtelExport", "start_otel"]

_log = logging.getLogger("wslocust")

Readings = Iterable[tuple[float, dict[str, str]]]
"""An instrument's observations: each value with its attributes."""

_NAME = "wslocust.request.name"

DEFAULT_OTEL_INTERVAL_S = 10.0
"""How often the figures are exported unless ``--otel-interval`` says otherwise."""

HISTOGRAMS: tuple[tuple[str, str, str], ...] = (
    ("gen_ai.client.operation.duration", "latency", "Send to the end of each successful reply"),
    ("gen_ai.client.operation.time_to_first_chunk", "ttft", "Send to the first chunk of a successful reply"),
    ("gen_ai.client.operation.time_per_output_chunk", "gap", "Every gap between two chunks of a reply"),
)
"""The histograms: their GenAI semantic-convention name, the statistics' histogram, the description."""


class OtelExport:
    """The OTLP export of one process: a meter provider whose reader exports when :meth:`export` says.

    Args:
        view: what the figures are read from (as ``/metrics``).
        endpoint: the OTLP/HTTP metrics endpoint (None: OpenTelemetry's environment variables).
        interval_s: seconds between exports.
    """

    def __init__(self, view: Callable[[], LiveView], endpoint: str | None, interval_s: float) -> None:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.metrics import CallbackOptions, Observation
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
        from opentelemetry.sdk.resources import Resource

        self._view = view
        # No timer thread of its own (an infinite interval): export() collects and sends.
        self._reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=endpoint), math.inf)
        buckets = ExplicitBucketHistogramAggregation(list(BUCKETS_S))
        self.provider = MeterProvider(
            resource=Resource.create({"service.name": "wslocust"}),
            metric_readers=[self._reader],
            views=[View(instrument_name=name, aggregation=buckets) for name, _, _ in HISTOGRAMS],
        )
        meter = self.provider.get_meter("wslocust")
        self._histograms = [
            (meter.create_histogram(name, unit="s", description=text), which)
            for name, which, text in HISTOGRAMS
        ]
        self._exported: dict[tuple[str, str], dict[int, int]] = {}  # the bins sent, by histogram and name
        self._stats: ChatStats | None = None  # the statistics they were sent from (a new test: anew)
        self._snapshot: LiveView | None = None

        def observe(read: Callable[[LiveView], Readings]) -> Any:
            def callback(_options: CallbackOptions) -> Iterable[Observation]:
                if self._snapshot is None:
                    return []
                return [Observation(value, labels) for value, labels in read(self._snapshot)]

            return [callback]

        def by_name(count: Callable[[Any], int]) -> Callable[[LiveView], Readings]:
            return lambda v: [(count(s), {_NAME: n}) for n, s in sorted(v.stats.by_name.items())]

        def failures(v: LiveView) -> Readings:
            return [
                (number, {_NAME: name, "error.type": kind})
                for name, stats in sorted(v.stats.by_name.items())
                for kind, number in sorted(stats.errors.items())
            ]

        def one(value: Callable[[LiveView], int]) -> Callable[[LiveView], Readings]:
            return lambda v: [(value(v), {})]

        meter.create_observable_gauge("wslocust.users", observe(one(lambda v: v.users)))
        meter.create_observable_gauge(
            "wslocust.replies.in_flight",
            observe(one(lambda v: replies_in_flight(v.stats))),
        )
        meter.create_observable_gauge("wslocust.connections.open", observe(one(lambda v: v.connections_open)))
        meter.create_observable_counter("wslocust.replies", observe(by_name(lambda s: s.replies)))
        meter.create_observable_counter("wslocust.failures", observe(failures))
        meter.create_observable_counter("wslocust.goodput", observe(by_name(lambda s: s.good)))
        meter.create_observable_counter(
            "gen_ai.client.token.usage.total",
            observe(
                lambda v: [
                    (s.tokens, {_NAME: n, "gen_ai.token.type": "output"})
                    for n, s in sorted(v.stats.by_name.items())
                ]
            ),
        )
        for name, count in (
            ("wslocust.ws.messages.sent", lambda v: v.stats.traffic.messages_sent),
            ("wslocust.ws.messages.received", lambda v: v.stats.traffic.messages_received),
            ("wslocust.ws.messages.pushes", lambda v: v.stats.traffic.pushes),
            ("wslocust.ws.control_frames.sent", lambda v: v.stats.traffic.control_sent),
            ("wslocust.ws.control_frames.received", lambda v: v.stats.traffic.control_received),
            ("wslocust.ws.bytes.sent", lambda v: v.stats.traffic.bytes_sent),
            ("wslocust.ws.bytes.received", lambda v: v.stats.traffic.bytes_received),
        ):
            meter.create_observable_counter(name, observe(one(count)))
        self._greenlet = gevent.spawn(self._export_forever, interval_s)

    def _export_forever(self, interval_s: float) -> None:
        while True:
            gevent.sleep(interval_s)
            self.export()

    def export(self) -> None:
        """Take the figures of now and send them (the new replies' histogram values, the counts)."""
        view = self._snapshot = self._view()
        if view.stats is not self._stats:  # a new test: its statistics start from zero
            self._stats, self._exported = view.stats, {}
        for instrument, which in self._histograms:
            for name, stats in view.stats.by_name.items():
                histogram: Histogram = getattr(stats, which)
                sent = self._exported.setdefault((which, name), {})
                attributes = {"gen_ai.operation.name": "chat", _NAME: name}
                for key, number in histogram.counts.items():
                    new = number - sent.get(key, 0)
                    if new > 0:
                        value_s = key / 10_000.0  # the bin's value: keys are tenths of a millisecond
                        for _ in range(new):
                            instrument.record(value_s, attributes)
                        sent[key] = number
        try:
            self.provider.force_flush()
        except Exception as error:  # the collector down: the next export tries again
            _log.warning("OpenTelemetry export failed: %s", error)

    def shutdown(self) -> None:
        """Export once more, then stop."""
        self._greenlet.kill(block=False)
        self.export()
        self.provider.shutdown()


def start_otel(options: Any, view: Callable[[], LiveView]) -> OtelExport:
    """Start the OTLP export the options ask for (``--otel-endpoint``, ``--otel-interval``)."""
    interval = getattr(options, "otel_interval", None)
    interval_s = DEFAULT_OTEL_INTERVAL_S if interval in (None, "") else seconds(interval, "--otel-interval")
    endpoint = getattr(options, "otel_endpoint", None) or None
    export = OtelExport(view, endpoint, interval_s)
    where = public_url(endpoint) if endpoint else "the OTEL_EXPORTER_OTLP_* endpoint"  # no password
    _log.info("OpenTelemetry export every %g s to %s", interval_s, where)
    return export
