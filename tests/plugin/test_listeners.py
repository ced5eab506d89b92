"""The plugin's init hook: how a run that never started ends."""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching before anything else)
from locust.argument_parser import get_parser
from locust.env import Environment
from locust.event import Events

from typing import Any

import pytest

from wslocust import ChatbotUser
from wslocust.demo import process
from wslocust.plugin.listeners import _on_init
from wslocust.plugin.options import INTERRUPTED_EXIT_CODE

from ..conftest import SAMPLE
from ..demo.test_process import running_with


class HostlessBot(ChatbotUser):
    """No host: the embedded demo bot is started for it."""

    abstract = True
    demo_when_no_host = True
    prompts = str(SAMPLE)


def test_ctrl_c_while_the_demo_bot_starts_exits_130_without_a_traceback_and_stops_the_bot(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    marker = "--ttft-ms=153.2345"
    options = get_parser().parse_args(["--demo-ttft-ms", "153.2345"])

    def interrupted(*_: Any) -> Any:
        assert running_with(marker) != []  # the demo bot was started and is being awaited
        raise KeyboardInterrupt

    monkeypatch.setattr(process.select, "select", interrupted)
    environment = Environment(events=Events(), user_classes=[HostlessBot], parsed_options=options)
    with pytest.raises(SystemExit) as ended:
        _on_init(environment)
    assert ended.value.code == INTERRUPTED_EXIT_CODE
    assert "interrupted before the test started" in caplog.text
    assert running_with(marker) == []
