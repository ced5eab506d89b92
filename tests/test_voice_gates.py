"""The voice gates: --max-v2v-p95-ms and --max-underrun-ms judge the summary's voice section; bad
limits are refused naming the option."""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching before anything else)

import math
from pathlib import Path
from typing import Any

import pytest

from wslocust.errors import ConfigurationError
from wslocust.gates import evaluate, gates_from_options
from wslocust.outputs import summary
from wslocust.plugin.webui_form import form_options
from wslocust.stats import ChatStats

from .conftest import make_reply
from .stats.test_voice import voice_reply
from .test_locust_run import assert_one_clear_error
from .test_startup_run import run_in


def voice_summary() -> dict[str, Any]:
    """20 audio turns: voice-to-voice 300 ms (19 of them) and 900 ms (1); 19 stream steadily, one at
    half speed (a 100 ms underrun)."""
    stats = ChatStats()
    for _ in range(19):
        stats.record(voice_reply(audio_times_ms=(1300.0, 1400.0)))
    stats.record(voice_reply(audio_times_ms=(1900.0, 2100.0)))
    return summary(stats, 10.0)


def test_the_v2v_gate_passes_at_the_p95_and_fails_below_it() -> None:
    passing, failing = (gates_from_options({"max_v2v_p95_ms": limit}) for limit in ("300", "299"))

    assert evaluate(passing, voice_summary()).passed
    result = evaluate(failing, voice_summary()).results[0]
    assert (result.gate.name, result.measured, result.passed) == ("max_v2v_p95_ms", 300.0, False)


def test_the_underrun_gate_limits_each_answers_underruns_at_the_p95() -> None:
    (gate,) = gates_from_options({"max_underrun_ms": "0"})

    result = evaluate([gate], voice_summary()).results[0]
    assert (gate.name, result.measured, result.passed) == ("max_underrun_p95_ms", 0.0, True)


def test_the_underrun_gate_fails_when_more_than_one_answer_in_twenty_stutters() -> None:
    stats = ChatStats()
    for index in range(20):
        late = index < 2
        stats.record(voice_reply(audio_times_ms=(1300.0, 1500.0 if late else 1400.0)))

    result = evaluate(gates_from_options({"max_underrun_ms": "50"}), summary(stats, 10.0)).results[0]
    assert (result.measured, result.passed) == (100.0, False)


def test_a_voice_gate_on_a_run_without_audio_turns_fails_saying_so() -> None:
    stats = ChatStats()
    stats.record(make_reply("ask"))

    result = evaluate(gates_from_options({"max_v2v_p95_ms": "500"}), summary(stats, 10.0)).results[0]
    assert not result.passed
    assert result.note == "nothing measured: no audio turn in this run"


@pytest.mark.parametrize(
    ("dest", "value", "option"),
    [
        ("max_v2v_p95_ms", "-1", "--max-v2v-p95-ms"),
        ("max_v2v_p95_ms", "0", "--max-v2v-p95-ms"),
        ("max_v2v_p95_ms", "nan", "--max-v2v-p95-ms"),
        ("max_underrun_ms", "-5", "--max-underrun-ms"),
        ("max_underrun_ms", math.nan, "--max-underrun-ms"),
        ("max_underrun_ms", "inf", "--max-underrun-ms"),
    ],
)
def test_a_bad_voice_gate_limit_is_refused_naming_the_option(dest: str, value: object, option: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        gates_from_options({dest: value})
    assert str(raised.value).startswith(option)


def test_the_voice_gates_are_in_the_web_ui_forms_gates_group_with_help() -> None:
    from locust import argument_parser

    options = form_options(argument_parser.get_parser())
    for dest in ("max_v2v_p95_ms", "max_underrun_ms"):
        assert options[dest].group == "Gates"
        assert options[dest].action.help


@pytest.mark.slow
def test_a_negative_voice_gate_stops_the_run_at_start_up_with_exit_2(tmp_path: Path) -> None:
    result = run_in(tmp_path, "--max-underrun-ms", "-1")

    assert_one_clear_error(result, "--max-underrun-ms", "'-1'")
    assert list(tmp_path.iterdir()) == []
