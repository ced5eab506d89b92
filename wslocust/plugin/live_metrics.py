"""Live metrics of a run: ``/metrics`` for Prometheus (``--prometheus-port``) and OpenTelemetry's
OTLP export (``--otel``), on the master or the single process.

Both read the run's statistics as the end-of-run files do (on the master: merged from its
workers' reports, so a lost worker takes only its own unreported replies with it), plus two gauges
of the moment: the users running (Locust's count) and the WebSocket connections open, which each
worker adds to its reports (the master sums those of its workers still connected).

The ``/metrics`` server is a gevent WSGI server in the same process: a scrape is one greenlet that
reads the statistics, yielding to the users' greenlets between two histograms, then writes the
answer; nothing it computes is written back.
"""

from __future__ import annotations

from locust.env import Environment
from locust.runners import STATE_MISSING, MasterRunner, WorkerRunner

import contextlib
import errno
import ipaddress
import logging
import re
from typing import Any

import gevent
from gevent.pywsgi import WSGIServer
from prometheus_client import CollectorRegistry, make_wsgi_app

from ..errors import ConfigurationError
from ..outputs.prometheus import ChatCollector, LiveView
from ..stats.aggregates import ChatStats
from ..users import WebSocketUser
from ..values import BadValue, http_url, port, seconds
from .otel import OtelExport, start_otel
from .recording import Recording

__all__ = ["LIVE_REPORT_KEY", "LiveMetrics", "check_live_metrics", "connections_open", "serve_live_metrics"]

_log = logging.getLogger("wslocust")

LIVE_REPORT_KEY = "wslocust_live"
"""The section of a worker's report that holds its gauges of the moment (connections open)."""

DEFAULT_BIND = "127.0.0.1"
"""Where ``/metrics`` listens unless ``--prometheus-bind`` says otherwise: this host only."""


def check_live_metrics(options: Any) -> None:
    """Check ``--prometheus-port``, ``--prometheus-bind``, ``--otel-endpoint`` and ``--otel`` (the SDK
    installed).

    Raises:
        ConfigurationError: a bad port (or the web UI's), an empty address, an endpoint that is no
            http(s) URL, or ``--otel`` without the SDK.
    """
    if options is None:
        return
    wanted = _port(options)
    web_ui = not getattr(options, "headless", False) and not getattr(options, "worker", False)
    if web_ui and wanted and wanted == getattr(options, "web_port", None):
        raise ConfigurationError(
            f"--prometheus-port {wanted} is the web UI's --web-port: give /metrics another port"
        )
    _linger_s(options)
    bind = getattr(options, "prometheus_bind", None)
    if bind is not None and not str(bind).strip():
        raise ConfigurationError("--prometheus-bind is empty: give an address to listen on, e.g. 127.0.0.1")
    if bind is not None and not _is_address(str(bind)):
        raise ConfigurationError(
            "--prometheus-bind must be an IP address (IPv6 without brackets: ::1) or a host name, "
            f"got {bind!r}"
        )
    endpoint = getattr(options, "otel_endpoint", None)
    if endpoint is not None:
        http_url(endpoint, "--otel-endpoint")
    if getattr(options, "otel", False):
        try:
            import opentelemetry.exporter.otlp.proto.http.metric_exporter
            import opentelemetry.sdk.metrics  # noqa: F401
        except ImportError:
            raise ConfigurationError(
                "--otel needs OpenTelemetry's SDK and OTLP exporter: pip install 'wslocust[otel]'"
            ) from None


def _port(options: Any) -> int | None:
    value = getattr(options, "prometheus_port", None)
    if value in (None, ""):
        return None
    try:
        return port(value, "--prometheus-port", allow_zero=True)
    except BadValue as error:
        raise ConfigurationError(str(error)) from None


_HOST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


def _is_address(bind: str) -> bool:
    """Whether ``bind`` is an IP address or a host name (not a URL, no brackets, no spaces)."""
    try:
        ipaddress.ip_address(bind)
    except ValueError:
        return bool(_HOST_NAME.fullmatch(bind))
    return True


def _linger_s(options: Any) -> float:
    value = getattr(options, "prometheus_linger", None)
    return 0.0 if value in (None, "") else seconds(value, "--prometheus-linger", positive=False)


def connections_open(environment: Environment) -> int:
    """The WebSocket connections this process's users hold open now."""
    runner = environment.runner
    if runner is None:
        return 0
    open_now = 0
    for greenlet in list(runner.user_greenlets):
        user = greenlet.args[0] if greenlet.args else None
        if isinstance(user, WebSocketUser) and user.client.connected:
            open_now += 1
    return open_now


def _authority(host: str, port_number: int) -> str:
    """``host:port`` as a URL writes it (an IPv6 address in brackets)."""
    return f"[{host}]:{port_number}" if ":" in host else f"{host}:{port_number}"


class LiveMetrics:
    """The live exports of one master or single process: ``/metrics`` and OTLP, as the options say.

    Args:
        environment: Locust's environment (its runner and options).
        recording: the run's statistics (None until the run has them: the figures are then zero, as
            before a test; ``/metrics`` listens before any output file is opened, so that a port
            taken stops the run leaving none).
    """

    def __init__(self, environment: Environment, recording: Recording | None = None) -> None:
        self.environment = environment
        self.recording = recording
        self.server: WSGIServer | None = None
        """The ``/metrics`` server, while one runs."""
        self.otel: OtelExport | None = None
        self._listening: tuple[str, int] | None = None  # the address asked for the running server
        self._workers_open: dict[str, int] = {}  # each worker's connections open, at its last report

    def view(self) -> LiveView:
        """What the exports read: the statistics, users running and connections open now."""
        runner = self.environment.runner
        if isinstance(runner, MasterRunner):
            alive = {client.id for client in runner.clients.all if client.state != STATE_MISSING}
            open_now = sum(number for worker, number in self._workers_open.items() if worker in alive)
        else:
            open_now = connections_open(self.environment)
        users = runner.user_count if runner is not None else 0
        stats = self.recording.stats if self.recording is not None else ChatStats()
        return LiveView(stats, users, open_now)

    def on_worker_report(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        """Master: note a worker's gauges."""
        live = data.get(LIVE_REPORT_KEY)
        if isinstance(live, dict):
            self._workers_open[client_id] = int(live.get("connections_open", 0))

    def apply(self, options: Any = None) -> None:
        """Start (or move) the ``/metrics`` server and the OTLP export as the options say (by default
        the run's: the web UI's START moves them to what its form says before it starts a test).

        A server that runs keeps running until the new one listens: a move that cannot listen leaves
        ``/metrics`` where it was.

        Raises:
            ConfigurationError: ``/metrics`` cannot listen where asked.
        """
        if options is None:
            options = self.environment.parsed_options
        wanted = _port(options)
        bind = str(getattr(options, "prometheus_bind", None) or DEFAULT_BIND)
        running = self.server
        if running is not None and (bind, wanted) == self._listening:
            running = None  # already there
        elif running is not None and wanted is None:
            running.stop(timeout=1)
            self.server = self._listening = None
        elif wanted is not None:
            if running is not None and wanted == running.address[1]:  # the same port, another address
                running.stop(timeout=1)
                try:
                    server = self._listen(bind, wanted)
                except ConfigurationError:
                    self.server = self._listen(*running.address[:2])  # back where it was
                    raise
            else:
                server = self._listen(bind, wanted)
                if running is not None:
                    running.stop(timeout=1)
            self.server, self._listening = server, (bind, wanted)
            _log.info("Prometheus metrics at http://%s/metrics", _authority(*server.address[:2]))
        if getattr(options, "otel", False) and self.otel is None:
            self.otel = start_otel(options, self.view)

    def _listen(self, bind: str, port_number: int) -> WSGIServer:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(ChatCollector(self.view, pause=lambda: gevent.sleep(0)))
        server = WSGIServer((bind, port_number), make_wsgi_app(registry), log=None, error_log=None)
        try:
            server.start()
        except OSError as error:
            # A port taken (or privileged) is the port's fault; a name that does not resolve, or an
            # address this host does not have, the address's.
            culprit = (
                "--prometheus-port"
                if error.errno in (errno.EADDRINUSE, errno.EACCES)
                else "--prometheus-bind"
            )
            raise ConfigurationError(
                f"{culprit}: cannot listen on {_authority(bind, port_number)}: {error.strerror or error}"
            ) from None
        return server

    def close(self) -> None:
        """Stop the exports: the OTLP export after a last one; ``/metrics`` after serving the final
        figures ``--prometheus-linger`` seconds more (Ctrl+C ends that at once), for Prometheus's last
        scrape to hold them."""
        otel, self.otel = self.otel, None
        if otel is not None:
            otel.shutdown()
        server, self.server = self.server, None  # a second close (a second shutdown) does not linger
        if server is None:
            return
        linger_s = _linger_s(self.environment.parsed_options)
        if linger_s > 0:
            _log.info("serving the final figures at /metrics for %g s more (Ctrl+C ends it)", linger_s)
            with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C: the process goes on to its end
                gevent.sleep(linger_s)
        server.stop(timeout=1)


def serve_live_metrics(environment: Environment, recording: Recording | None = None) -> LiveMetrics | None:
    """Wire the live exports: a worker adds its gauges to its reports; a master or a single process
    serves them, from now and at each test's start (None on a worker), until :meth:`LiveMetrics.close`
    (the caller's, at quit).

    Raises:
        ConfigurationError: ``/metrics`` cannot listen where asked.
    """
    events = environment.events
    if isinstance(environment.runner, WorkerRunner):

        def report(data: dict[str, Any], **_: Any) -> None:
            data[LIVE_REPORT_KEY] = {"connections_open": connections_open(environment)}

        events.report_to_master.add_listener(report)
        return None
    live = LiveMetrics(environment, recording)
    live.apply()
    events.worker_report.add_listener(live.on_worker_report)

    def apply_at_start(**_: Any) -> None:
        try:
            live.apply()
        except ConfigurationError as error:  # options changed by other means than the form's START
            _log.error("%s", error)

    events.test_start.add_listener(apply_at_start)
    return live
