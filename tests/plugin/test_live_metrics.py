"""The live exports' start-up: options refused with one line naming them, /metrics served in-process."""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching first)
from locust.env import Environment
from locust.event import Events

import argparse
import socket
import sys
import urllib.request

import pytest

from wslocust.client import REQUEST_TYPE
from wslocust.errors import ConfigurationError
from wslocust.plugin.live_metrics import LiveMetrics, check_live_metrics
from wslocust.plugin.recording import Recording

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


def test_an_empty_bind_address_is_refused_naming_the_option() -> None:
    with pytest.raises(ConfigurationError, match="--prometheus-bind"):
        check_live_metrics(options(prometheus_bind=" "))


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
