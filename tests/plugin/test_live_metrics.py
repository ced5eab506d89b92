"""The live exports' start-up: options refused with one line naming them, /metrics served in-process."""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching first)
from locust.argument_parser import get_parser
from locust.env import Environment
from locust.event import Events

import argparse
import logging
import re
import socket
import sys
import urllib.request

import pytest

from wslocust.client import REQUEST_TYPE
from wslocust.errors import ConfigurationError
from wslocust.outputs.prometheus import LiveView
from wslocust.plugin.live_metrics import LiveMetrics, check_live_metrics
from wslocust.plugin.otel import start_otel
from wslocust.plugin.recording import Recording
from wslocust.plugin.webui_form import form_options, shown_values
from wslocust.stats.aggregates import ChatStats
from wslocust.users import ChatbotUser

from ..conftest import UNIT, make_reply


def options(**values: object) -> argparse.Namespace:
    return argparse.Namespace(**{"prometheus_port": None, "prometheus_bind": None, "otel": False, **values})


def live(**values: object) -> LiveMetrics:
    environment = Environment(events=Events(), parsed_options=options(**values))
    environment.create_local_runner()
    return LiveMetrics(environment, Recording(environment))


@pytest.mark.parametrize("port", ["http", "-1", "70000", "1.5"])
def test_a_bad_port_is_refused_naming_the_option(port: str) -> None:
    with pytest.raises(ConfigurationError, match="--prometheus-port"):
        check_live_metrics(options(prometheus_port=port))


def test_the_web_uis_port_is_refused_as_the_prometheus_port_unless_headless() -> None:
    with pytest.raises(ConfigurationError, match="--prometheus-port 8089 is the web UI's --web-port"):
        check_live_metrics(options(prometheus_port="8089", web_port=8089, headless=False))
    check_live_metrics(options(prometheus_port="8089", web_port=8089, headless=True))
    check_live_metrics(options(prometheus_port="0", web_port=0, headless=False))


def test_an_empty_bind_address_is_refused_naming_the_option() -> None:
    with pytest.raises(ConfigurationError, match="--prometheus-bind"):
        check_live_metrics(options(prometheus_bind=" "))


def test_a_malformed_otel_endpoint_is_refused_naming_the_option_also_in_the_web_ui_form() -> None:
    with pytest.raises(ConfigurationError, match="--otel-endpoint must be an http:// or https:// URL"):
        check_live_metrics(options(otel=True, otel_endpoint="127.0.0.1:4318"))
    field = form_options(get_parser())["otel_endpoint"]
    with pytest.raises(ValueError, match="--otel-endpoint: must be an http:// or https:// URL"):
        field.convert("not-a-url")
    assert field.convert("http://127.0.0.1:4318/v1/metrics") == "http://127.0.0.1:4318/v1/metrics"


@pytest.mark.parametrize("bind", ["127.0.0.1 ", "[::1]", "http://127.0.0.1", "a b"])
def test_a_bind_address_that_is_neither_an_ip_address_nor_a_host_name_is_refused_naming_the_option(
    bind: str,
) -> None:
    with pytest.raises(ConfigurationError, match=rf"--prometheus-bind .*got {re.escape(repr(bind))}"):
        check_live_metrics(options(prometheus_bind=bind))


def test_an_ipv6_bind_address_is_logged_in_brackets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "wslocust")
    metrics = live(prometheus_port="0", prometheus_bind="::1")
    metrics.apply()
    try:
        assert metrics.server is not None
        assert f"Prometheus metrics at http://[::1]:{metrics.server.address[1]}/metrics" in caplog.text
    finally:
        metrics.close()


def test_otel_without_the_sdk_is_refused_saying_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.metrics", None)  # as when not installed
    with pytest.raises(ConfigurationError, match=r"--otel needs .*wslocust\[otel\]"):
        check_live_metrics(options(otel=True))


def test_a_port_already_taken_is_refused_naming_the_address() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigurationError, match=f"--prometheus-port: cannot listen on 127.0.0.1:{port}"):
            live(prometheus_port=str(port)).apply()


def test_a_move_to_a_port_already_taken_is_refused_and_the_running_server_kept() -> None:
    metrics = live(prometheus_port="0")
    metrics.apply()
    try:
        assert metrics.server is not None
        running = metrics.server.address[1]
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            busy = taken.getsockname()[1]
            with pytest.raises(
                ConfigurationError, match=f"--prometheus-port: cannot listen on 127.0.0.1:{busy}"
            ):
                metrics.apply(options(prometheus_port=str(busy)))
        with urllib.request.urlopen(f"http://127.0.0.1:{running}/metrics", timeout=5 * UNIT) as response:
            assert response.status == 200
    finally:
        metrics.close()


def test_metrics_listens_on_loopback_by_default_and_serves_the_replies_counted() -> None:
    metrics = live(prometheus_port="0")
    metrics.apply()
    try:
        assert metrics.server is not None
        host, port = metrics.server.address[:2]
        assert host == "127.0.0.1"
        metrics.recording.on_request(REQUEST_TYPE, 100.0, response=make_reply(name="billing"))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5 * UNIT) as response:
            text = response.read().decode()
        assert 'wslocust_replies_total{name="billing"} 1.0' in text
    finally:
        metrics.close()


ENDPOINT_WITH_PASSWORD = "http://u:PASSWORD456@127.0.0.1:9/v1/metrics"


def test_the_otel_endpoints_user_info_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "wslocust")
    export = start_otel(
        options(otel_endpoint=ENDPOINT_WITH_PASSWORD, otel_interval="60"),
        lambda: LiveView(ChatStats(), 0, 0),
    )
    export.provider.shutdown()  # no export: the endpoint is not dialled
    export._greenlet.kill()
    assert "OpenTelemetry export every 60 s to http://127.0.0.1:9/v1/metrics" in caplog.text
    assert "PASSWORD456" not in caplog.text


def test_the_otel_endpoints_user_info_is_in_neither_the_summary_nor_the_web_ui_form() -> None:
    parsed = get_parser().parse_args(["--otel-endpoint", ENDPOINT_WITH_PASSWORD])
    environment = Environment(user_classes=[ChatbotUser], events=Events(), parsed_options=parsed)
    run_options = Recording(environment).run_section()["options"]
    assert run_options["otel_endpoint"] == "http://127.0.0.1:9/v1/metrics"
    shown = shown_values(environment, form_options(get_parser()))
    assert shown["otel_endpoint"] == "http://127.0.0.1:9/v1/metrics"
    assert "PASSWORD456" not in repr(run_options) + repr(shown)
    assert parsed.otel_endpoint == ENDPOINT_WITH_PASSWORD  # what the export dials
