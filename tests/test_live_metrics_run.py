"""Live metrics of a real run: a real Prometheus server scrapes /metrics of a master and its workers,
and an OTLP/HTTP receiver takes the OpenTelemetry export; both end with the JSON summary's counts."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from .conftest import ROOT, UNIT, free_port, locust_command, processes, wait_until

SCRAPE_INTERVAL = "200ms"


class _Receiver(BaseHTTPRequestHandler):
    """An OTLP/HTTP receiver: keeps the last metrics export it was sent (protobuf), answers 200."""

    last: ExportMetricsServiceRequest | None = None

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/v1/metrics":
            request = ExportMetricsServiceRequest()
            request.ParseFromString(body)
            type(self).last = request
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@dataclass
class LiveRun:
    """What the run left: its summary, its Prometheus's address, the last OTLP export received."""

    summary: dict[str, Any]
    prometheus: str
    final_at: float
    """A time Prometheus had scraped the final figures (after the summary was written)."""
    otlp: ExportMetricsServiceRequest | None
    log: str


def _query(prometheus: str, expression: str, at: float | None = None) -> float | None:
    """The value of an instant query (at ``at``, Unix time; now when None), None when it has none."""
    parameters = {"query": expression} | ({} if at is None else {"time": f"{at:.3f}"})
    url = f"{prometheus}/api/v1/query?" + urllib.parse.urlencode(parameters)
    with urllib.request.urlopen(url, timeout=5 * UNIT) as response:
        result = json.load(response)["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def _ready(prometheus: str) -> bool:
    try:
        with urllib.request.urlopen(f"{prometheus}/-/ready", timeout=UNIT) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def live_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRun]:
    """Two workers and their master (web UI mode: it stays up a few seconds after its test ends),
    scraped by a real Prometheus every 200 ms, exporting over OTLP every second."""
    prometheus_binary = shutil.which("prometheus")
    assert prometheus_binary, "Debian's prometheus package is needed (make test and .ci/run install it)"
    folder = tmp_path_factory.mktemp("live")
    metrics_port, prometheus_port = free_port(), free_port()
    (folder / "prometheus.yml").write_text(
        f"global:\n  scrape_interval: {SCRAPE_INTERVAL}\n  scrape_timeout: 150ms\n"
        f"scrape_configs:\n  - job_name: wslocust\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{metrics_port}']\n"
    )
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    prometheus = subprocess.Popen(
        [prometheus_binary, f"--config.file={folder / 'prometheus.yml'}",
         f"--storage.tsdb.path={folder / 'data'}", f"--web.listen-address=127.0.0.1:{prometheus_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    address = f"http://127.0.0.1:{prometheus_port}"
    # Prometheus scrapes from before the run starts: the whole test is in its series.
    if not wait_until(lambda: _ready(address), 20 * UNIT, 0.1):
        prometheus.kill()
        prometheus.wait()
        receiver.shutdown()
        pytest.fail("Prometheus did not start")
    summary_path = folder / "summary.json"
    run = subprocess.Popen(
        locust_command(
            "--autostart", "--autoquit", "2", "-u", "4", "-r", "4", "-t", "5s", "--think-time", "0.1", *processes(2),
            "--web-host", "127.0.0.1", "--web-port", str(free_port()),
            "--prometheus-port", str(metrics_port), "--summary-json", str(summary_path),
            "--otel", "--otel-endpoint", f"http://127.0.0.1:{receiver.server_address[1]}/v1/metrics",
            "--otel-interval", "1",
        ),
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        # Locust's own OpenTelemetry set-up (traces, logs, its HTTP metrics) left out: wslocust's alone
        env={**os.environ, "OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none",
             "OTEL_LOGS_EXPORTER": "none"},
    )  # fmt: skip
    try:
        assert wait_until(summary_path.is_file, 40 * UNIT), "no summary"
        written = summary_path.stat().st_mtime
        # A scrape after the summary was written holds the final figures (read at its time: once the
        # run has quit, its series go stale).
        assert wait_until(
            lambda: (_query(address, "timestamp(wslocust_users)") or 0) > written + 0.3, 10 * UNIT
        )
        final_at = time.time()
        _, log = run.communicate(timeout=30 * UNIT)
        yield LiveRun(json.loads(summary_path.read_text()), address, final_at, _Receiver.last, log)
    finally:
        for process in (run, prometheus):
            process.kill()
            process.wait()
        receiver.shutdown()


def test_prometheus_scrapes_the_runs_final_counts(live_run: LiveRun) -> None:
    summary, query = (
        live_run.summary,
        lambda expression: _query(live_run.prometheus, expression, live_run.final_at),
    )
    assert summary["total_requests"] > 0
    assert query("sum(wslocust_replies_total)") == summary["total_requests"]
    assert query("sum(wslocust_failures_total) or vector(0)") == summary["failed_requests"]
    assert query("sum(wslocust_goodput_total)") == summary["goodput"]
    assert query("sum(wslocust_e2e_seconds_count)") == summary["successful_requests"]
    assert query('sum(wslocust_ttft_seconds_bucket{le="+Inf"})') == summary["successful_requests"]
    assert query("wslocust_connects_total") == summary["connections"]["attempts"]


def test_prometheus_scrapes_the_traffic_counts_of_the_summary(live_run: LiveRun) -> None:
    messages, query = (
        live_run.summary["messages"],
        lambda name: _query(live_run.prometheus, name, live_run.final_at),
    )
    assert messages["sent"] > 0
    assert query("wslocust_ws_messages_sent_total") == messages["sent"]
    assert query("wslocust_ws_messages_received_total") == messages["received"]
    assert query("wslocust_ws_bytes_sent_total") == messages["bytes_sent"]
    assert query("wslocust_ws_bytes_received_total") == messages["bytes_received"]
    assert query("wslocust_ws_pushes_received_total") == messages["pushes"]


def test_the_series_were_there_while_the_test_ran(live_run: LiveRun) -> None:
    """Users were counted (4 at some scrape) and replies rose across scrapes before the end."""
    at = live_run.final_at
    assert _query(live_run.prometheus, "max_over_time(wslocust_users[1m])", at) == 4
    assert (_query(live_run.prometheus, "count_over_time(wslocust_users[1m])", at) or 0) > 5


def _points(request: ExportMetricsServiceRequest, name: str) -> list[Any]:
    found = [
        metric
        for resource in request.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
    ]
    assert found, f"{name} not exported"
    metric = found[0]
    return list(metric.histogram.data_points if metric.HasField("histogram") else metric.sum.data_points)


def test_the_last_otlp_export_holds_the_final_counts_under_the_genai_names(live_run: LiveRun) -> None:
    request, summary = live_run.otlp, live_run.summary
    assert request is not None, live_run.log[-2000:]
    assert sum(point.as_int for point in _points(request, "wslocust.replies")) == summary["total_requests"]
    assert (
        sum(point.as_int for point in _points(request, "wslocust.ws.messages.sent"))
        == summary["messages"]["sent"]
    )
    durations = _points(request, "gen_ai.client.operation.duration")
    assert sum(point.count for point in durations) == summary["successful_requests"]
    assert {attribute.key for attribute in durations[0].attributes} >= {"gen_ai.operation.name"}
    first_chunks = _points(request, "gen_ai.client.operation.time_to_first_chunk")
    assert sum(point.count for point in first_chunks) == summary["successful_requests"]


def _metrics(port: int) -> dict[str, float]:
    """The samples ``/metrics`` serves now, each series' labelled values summed."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5 * UNIT) as response:
        text = response.read().decode()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            series = name.partition("{")[0]
            samples[series] = samples.get(series, 0.0) + float(value)
    return samples


@contextmanager
def _lingering_run(tmp_path: Path, linger: str) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """A short headless run with ``--prometheus-linger`` (on a demo bot that makes no mistakes: exit code
    0), once its summary is written: the process, its /metrics port, its log file (stderr)."""
    port, summary_path, log = free_port(), tmp_path / "summary.json", tmp_path / "stderr.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            locust_command("--headless", "-u", "2", "-r", "2", "-t", "2s", "--think-time", "0.05",
                           "--prometheus-port", str(port), "--prometheus-linger", linger,
                           "--summary-json", str(summary_path), "--demo-error-rate", "0", "--demo-wrong-rate", "0"),
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True,
        )  # fmt: skip
    try:
        assert wait_until(summary_path.is_file, 40 * UNIT), "no summary"
        yield process, port, log
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.mark.slow
def test_metrics_serves_the_final_counts_for_the_linger_after_the_run_then_the_run_ends(
    tmp_path: Path,
) -> None:
    linger_s = 10 * UNIT
    with _lingering_run(tmp_path, str(linger_s)) as (process, port, log):
        assert wait_until(lambda: "serving the final figures" in log.read_text(), 20 * UNIT), log.read_text()
        figures = _metrics(port)
        returncode = process.wait(timeout=linger_s + 30 * UNIT)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["total_requests"] > 0
    assert figures["wslocust_replies_total"] == summary["total_requests"]
    assert figures["wslocust_e2e_seconds_count"] == summary["successful_requests"]
    assert figures["wslocust_ws_messages_sent_total"] == summary["messages"]["sent"]
    assert returncode == 0, log.read_text()[-2000:]
    assert f"serving the final figures at /metrics for {linger_s:g} s more" in log.read_text()


@pytest.mark.slow
def test_ctrl_c_ends_the_linger_at_once(tmp_path: Path) -> None:
    with _lingering_run(tmp_path, "10m") as (process, _, log):
        assert wait_until(lambda: "serving the final figures" in log.read_text(), 20 * UNIT), log.read_text()
        os.killpg(process.pid, signal.SIGINT)
        returncode = process.wait(timeout=10 * UNIT)
    assert returncode == 0, log.read_text()[-2000:]
    assert "Traceback" not in log.read_text()
    assert log.read_text().count("Shutting down") == 1
