"""``--slo METRIC:MS``: objectives on TTFT, TPOT and E2E that keep a reply out of goodput
(docs/metrics.md), refused clearly when malformed."""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching comes first)
from locust.env import Environment
from locust.event import Events

import argparse

import pytest

from wslocust.errors import ConfigurationError
from wslocust.metrics import MetricsCheck, parse_slo, slo_objectives
from wslocust.outputs import summary
from wslocust.stats.aggregates import TOKEN_COUNTERS, ChatStats
from wslocust.users import ChatbotUser

from .conftest import make_reply

WORDS = TOKEN_COUNTERS["words"]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("ttft:800", ("ttft", 800.0)), ("tpot:50", ("tpot", 50.0)), ("e2e:5000", ("e2e", 5000.0)),
     (" TPOT : 12.5 ", ("tpot", 12.5))],
)  # fmt: skip
def test_an_slo_is_a_metric_and_a_limit_in_ms(spec: str, expected: tuple[str, float]) -> None:
    assert parse_slo(spec) == expected


@pytest.mark.parametrize(
    "spec",
    ["itl:800", "latency:800", "ttft:-5", "ttft:nan", "tpot:inf", "e2e:0", "ttft", "ttft:", ":800", ""],
)
def test_an_unknown_metric_or_a_limit_not_above_0_is_refused_naming_the_option_and_value(spec: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse_slo(spec)
    message = str(raised.value)
    assert message.startswith("--slo must be METRIC:MS with METRIC one of ttft, tpot, e2e")
    assert repr(spec) in message


def test_an_slo_given_twice_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="--slo ttft is given twice"):
        slo_objectives(["ttft:800", "tpot:50", "ttft:900"], WORDS)


def test_each_slo_becomes_an_objective_named_for_its_metric() -> None:
    objectives = slo_objectives(["e2e:5000", "ttft:800", "tpot:50"], WORDS)

    assert [(objective.name, objective.fails_request) for objective in objectives] == [
        ("e2e", False),
        ("ttft", False),
        ("tpot", False),
    ]


def _scored(*, chunk_times_ms: tuple[float, ...], total_time_ms: float, text: str) -> list[str]:
    """The SLOs a reply missed (and that missing them failed no request)."""
    reply = make_reply(chunk_times_ms=chunk_times_ms, total_time_ms=total_time_ms, text=text)
    check = MetricsCheck(slo_objectives(["ttft:800", "tpot:50", "e2e:5000"], WORDS))
    assert check(reply) is None  # an SLO missed costs goodput, never the request
    return reply.missed


def test_a_reply_within_every_slo_misses_none() -> None:
    # TTFT 500, E2E 1,400, TPOT (1400 - 500) / (21 - 1) = 45 ms
    assert _scored(chunk_times_ms=(500.0, 900.0, 1_400.0), total_time_ms=1_400.0, text="w " * 21) == []


def test_a_reply_is_measured_against_each_slo_alone() -> None:
    # TTFT 900 > 800; TPOT (1000 - 900) / (3 - 1) = 50, not above 50; E2E 1,000
    assert _scored(chunk_times_ms=(900.0, 1_000.0), total_time_ms=1_000.0, text="a b c") == ["ttft"]
    # TPOT (1400 - 500) / (11 - 1) = 90 > 50
    assert _scored(chunk_times_ms=(500.0, 1_400.0), total_time_ms=1_400.0, text="w " * 11) == ["tpot"]
    # E2E 6,000 > 5,000, and TPOT (6000 - 100) / (101 - 1) = 59 > 50
    assert _scored(chunk_times_ms=(100.0, 6_000.0), total_time_ms=6_000.0, text="w " * 101) == ["tpot", "e2e"]


def test_the_tpot_slo_counts_tokens_as_the_run_does() -> None:
    reply = make_reply(chunk_times_ms=(100.0, 200.0, 300.0), total_time_ms=300.0, text="w " * 41)
    by_words = MetricsCheck(slo_objectives(["tpot:50"], WORDS))
    by_chunks = MetricsCheck(slo_objectives(["tpot:50"], TOKEN_COUNTERS["chunks"]))
    by_words(reply)
    assert reply.scores == {"tpot": pytest.approx(200.0 / 40)}
    reply.scores.clear()
    by_chunks(reply)
    assert reply.scores == {"tpot": pytest.approx(200.0 / 2)}
    assert reply.missed == ["tpot"]


def test_goodput_is_the_replies_meeting_every_slo_and_its_share_of_all_replies() -> None:
    check = MetricsCheck(slo_objectives(["ttft:800", "e2e:5000"], WORDS))
    stats = ChatStats()
    for ttft, end in ((100.0, 300.0), (900.0, 1_000.0), (200.0, 6_000.0), (300.0, 400.0)):
        reply = make_reply(chunk_times_ms=(ttft, end), total_time_ms=end)
        check(reply)
        stats.record(reply)

    result = summary(stats, 2.0)

    assert result["goodput"] == 2
    assert result["goodput_per_second"] == 1.0
    assert result["goodput_share"] == 0.5
    assert result["metrics"]["ttft"]["missed"] == 1
    assert result["metrics"]["e2e"]["missed"] == 1


def _environment(**options: object) -> Environment:
    return Environment(events=Events(), parsed_options=argparse.Namespace(**options))


def test_the_slos_add_to_the_metrics_a_run_scores() -> None:
    (check,) = ChatbotUser.metrics_check(_environment(metric=["intent"], slo=["ttft:800", "tpot:50"]))

    assert [metric.name for metric in check.metrics] == ["intent", "ttft", "tpot"]


def test_an_slo_on_a_figure_a_metric_already_limits_is_refused_naming_the_option() -> None:
    with pytest.raises(ConfigurationError, match="--slo ttft: a metric has that name already"):
        ChatbotUser.metrics_check(_environment(metric=["ttft:max_ms=900"], slo=["ttft:800"]))


def test_an_slo_from_the_web_ui_form_is_checked_as_on_the_command_line() -> None:
    with pytest.raises(ConfigurationError, match="--slo must be"):
        ChatbotUser.metrics_check(_environment(slo=["ttft:-1"]))


def test_the_web_ui_form_shows_slo_beside_the_metrics_and_refuses_a_bad_one_naming_it() -> None:
    from locust import argument_parser

    from wslocust.plugin.webui_form import form_options

    slo = form_options(argument_parser.get_parser())["slo"]

    assert slo.group == "Metrics"
    assert slo.convert("ttft:800; tpot:50") == ["ttft:800", "tpot:50"]
    with pytest.raises(ValueError, match="--slo: must be METRIC:MS") as raised:
        slo.convert("ttft:800; tpot:-1")
    assert "'tpot:-1'" in str(raised.value)
