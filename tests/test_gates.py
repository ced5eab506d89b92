"""Pass/fail gates: options, measuring the JSON summary, the verdict, its table, JSON and exit code."""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest

from wslocust.errors import ConfigurationError, MetricFailure, ReplyTimeout
from wslocust.gates import (
    GATE_FAILED_EXIT_CODE,
    GATE_OPTIONS,
    TTFT_PERCENTILE_KEYS,
    Gate,
    Measurement,
    Verdict,
    add_gate_arguments,
    evaluate,
    format_verdict,
    gates_from_options,
    verdict_exit_code,
)
from wslocust.outputs import summary
from wslocust.stats import ChatStats
from wslocust.values import fraction

from .conftest import make_reply


def make_summary(**changes: Any) -> dict[str, Any]:
    """A summary shaped as ``outputs.summary`` builds it: 200 replies, 4 failed, 20 s, 20 connects."""
    base: dict[str, Any] = {
        "duration_s": 20.0,
        "total_requests": 200,
        "successful_requests": 196,
        "failed_requests": 4,
        "success_rate": 0.98,
        "requests_per_second": 10.0,
        "latency_ms": {
            "avg": 900.0,
            "median": 850.0,
            "min": 300.0,
            "max": 2600.0,
            "p90": 1400.0,
            "p95": 1800.0,
            "p99": 2400.0,
        },
        "time_to_first_chunk_ms": {
            "avg": 200.0,
            "median": 150.0,
            "min": 40.0,
            "max": 1200.0,
            "p90": 400.0,
            "p95": 500.0,
            "p99": 900.0,
        },
        "errors_by_kind": {"timeout": 4},
        "connections": {"attempts": 20, "successes": 19, "failures": 1, "success_rate": 0.95},
        "by_name": {},
    }
    base.update(changes)
    return base


def gates(**options: object) -> list[Gate]:
    return gates_from_options(argparse.Namespace(**options))


def only_result(options: dict[str, object], run: dict[str, Any]) -> tuple[bool, float | None, str]:
    verdict = evaluate(gates(**options), run)
    assert len(verdict.results) == 1
    result = verdict.results[0]
    return result.passed, result.measured, result.note


# --- each gate --------------------------------------------------------------------------------------------

WITHIN = [
    ({"max_avg_latency_ms": "1000"}, 900.0),
    ({"max_p95_ms": 2000}, 1800.0),
    ({"max_p99_ms": "2500"}, 2400.0),
    ({"min_rps": "5"}, 10.0),
    ({"min_success_rate": "0.95"}, 0.98),
    ({"max_error_rate": "5%"}, 0.02),
    ({"min_connection_success_rate": "95%"}, 0.95),
    ({"max_ttft_ms": "600"}, 500.0),
]

BEYOND = [
    ({"max_avg_latency_ms": "800"}, 900.0, "above the limit"),
    ({"max_p95_ms": 1500}, 1800.0, "above the limit"),
    ({"max_p99_ms": "2000"}, 2400.0, "above the limit"),
    ({"min_rps": "12.5"}, 10.0, "below the limit"),
    ({"min_success_rate": "99%"}, 0.98, "below the limit"),
    ({"max_error_rate": "0.01"}, 0.02, "above the limit"),
    ({"min_connection_success_rate": "0.96"}, 0.95, "below the limit"),
    ({"max_ttft_ms": "450"}, 500.0, "above the limit"),
]


@pytest.mark.parametrize(("options", "measured"), WITHIN)
def test_each_gate_passes_when_the_measured_value_is_within_its_limit(
    options: dict[str, object], measured: float
) -> None:
    assert only_result(options, make_summary()) == (True, pytest.approx(measured), "")


@pytest.mark.parametrize(("options", "measured", "note"), BEYOND)
def test_each_gate_fails_when_the_measured_value_is_beyond_its_limit(
    options: dict[str, object], measured: float, note: str
) -> None:
    assert only_result(options, make_summary()) == (False, pytest.approx(measured), note)


@pytest.mark.parametrize(
    "options",
    [{"max_p95_ms": "1800"}, {"min_rps": "10"}, {"min_success_rate": "98%"}, {"max_error_rate": "0.02"}],
)
def test_a_measured_value_equal_to_the_limit_passes(options: dict[str, object]) -> None:
    assert only_result(options, make_summary())[0] is True


def test_error_rate_is_failed_requests_over_total_requests() -> None:
    run = make_summary(total_requests=300, successful_requests=297, failed_requests=3, success_rate=0.99)

    assert only_result({"max_error_rate": "1%"}, run) == (True, pytest.approx(0.01), "")


def test_connection_success_rate_is_computed_from_attempts_and_successes() -> None:
    run = make_summary(connections={"attempts": 3, "successes": 2, "failures": 1, "success_rate": 0.6667})

    _, measured, _ = only_result({"min_connection_success_rate": "0.5"}, run)

    assert measured == pytest.approx(2 / 3)


# --- options ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.95", 0.95),
        (0.95, 0.95),
        ("95%", 0.95),
        (" 95 % ", 0.95),
        ("99.9%", 0.999),
        ("100%", 1.0),
        ("0%", 0.0),
        (1, 1.0),
        ("0", 0.0),
    ],
)
def test_rate_options_accept_a_fraction_or_a_percentage(value: object, expected: float) -> None:
    assert fraction(value, "--min-success-rate") == expected


@pytest.mark.parametrize("dest", ["min_success_rate", "max_error_rate", "min_connection_success_rate"])
def test_every_rate_option_reads_a_percentage_as_a_fraction(dest: str) -> None:
    (gate,) = gates(**{dest: "97.5%"})

    assert gate.limit == 0.975
    assert gate.unit == "fraction"


@pytest.mark.parametrize(
    ("dest", "value"),
    [
        ("min_success_rate", "95"),
        ("min_success_rate", "1.5"),
        ("min_success_rate", "-0.1"),
        ("max_error_rate", "101%"),
        ("max_error_rate", "five"),
        ("min_connection_success_rate", "%"),
        ("max_p95_ms", "fast"),
        ("max_p95_ms", "0"),
        ("max_p99_ms", "-5"),
        ("max_avg_latency_ms", "nan"),
        ("min_rps", "inf"),
        ("min_rps", True),
        ("max_ttft_ms", "1s"),
        ("ttft_percentile", "97"),
        ("ttft_percentile", "p95.5"),
    ],
)
def test_a_bad_value_raises_a_configuration_error_naming_the_option_and_the_value(
    dest: str, value: object
) -> None:
    options: dict[str, object] = {dest: value}
    if dest == "ttft_percentile":
        options["max_ttft_ms"] = "800"

    with pytest.raises(ConfigurationError) as raised:
        gates(**options)

    message = str(raised.value)
    assert "--" + dest.replace("_", "-") in message
    assert repr(value) in message


def test_a_rate_above_one_without_a_percent_sign_is_refused_with_both_forms_shown() -> None:
    with pytest.raises(ConfigurationError, match=r"0\.99.*99%"):
        fraction("99", "--min-success-rate")


def test_gates_from_options_with_no_options_is_an_empty_list() -> None:
    assert gates_from_options(argparse.Namespace()) == []


def test_gates_from_options_with_every_option_none_is_an_empty_list() -> None:
    dests = [option[2:].replace("-", "_") for option in GATE_OPTIONS]

    assert gates(**dict.fromkeys(dests)) == []


def test_empty_strings_from_the_web_ui_form_set_no_gate() -> None:
    dests = [option[2:].replace("-", "_") for option in GATE_OPTIONS]

    assert gates(**dict.fromkeys(dests, " ")) == []


def test_gates_come_in_the_order_of_the_options() -> None:
    built = gates(
        max_ttft_ms="800",
        min_connection_success_rate="95%",
        max_error_rate="5%",
        min_success_rate="95%",
        min_rps="1",
        max_p99_ms="3000",
        max_p95_ms="2000",
        max_avg_latency_ms="1000",
        min_capacity="5",
    )

    assert [gate.option for gate in built] == [
        option for option in GATE_OPTIONS if option != "--ttft-percentile"
    ]


def test_gates_from_options_accepts_a_mapping_of_destinations() -> None:
    (gate,) = gates_from_options({"max_p95_ms": "2000", "unrelated": "x"})

    assert (gate.name, gate.limit, gate.comparison, gate.unit) == ("max_p95_ms", 2000.0, "max", "ms")


def test_ttft_percentile_without_max_ttft_sets_no_gate() -> None:
    assert gates(ttft_percentile="99") == []


def test_add_gate_arguments_adds_every_option_for_the_web_ui_with_no_default() -> None:
    parser = argparse.ArgumentParser()
    group = parser.add_argument_group("gates")
    calls: list[tuple[tuple[str, ...], bool, bool]] = []

    def add(
        group: Any, *flags: str, include_in_web_ui: bool = True, is_secret: bool = False, **kwargs: Any
    ) -> None:
        group.add_argument(*flags, **kwargs)
        calls.append((flags, include_in_web_ui, is_secret))

    add_gate_arguments(group, add)
    parsed = parser.parse_args(["--min-success-rate", "99%", "--max-p95-ms", "2000"])

    assert [flags for flags, _, _ in calls] == [(option,) for option in GATE_OPTIONS]
    assert all(shown and not secret for _, shown, secret in calls)
    assert (parsed.min_success_rate, parsed.max_p95_ms, parsed.max_error_rate) == ("99%", "2000", None)
    assert parser.format_help()  # help strings survive argparse's % formatting


# --- nothing measured -------------------------------------------------------------------------------------


def test_a_latency_gate_fails_with_a_note_when_no_reply_succeeded() -> None:
    no_latency = dict.fromkeys(("avg", "median", "min", "max", "p90", "p95", "p99"))
    run = make_summary(
        successful_requests=0,
        failed_requests=200,
        success_rate=0.0,
        latency_ms=no_latency,
        time_to_first_chunk_ms=no_latency,
    )

    for options in ({"max_p95_ms": "2000"}, {"max_avg_latency_ms": "1000"}, {"max_ttft_ms": "800"}):
        assert only_result(options, run) == (False, None, "nothing measured: no successful reply")


def test_a_ttft_gate_fails_with_a_note_when_no_successful_reply_had_a_chunk() -> None:
    run = make_summary(time_to_first_chunk_ms=dict.fromkeys(("avg", "median", "max", "p95")))

    assert only_result({"max_ttft_ms": "800"}, run) == (
        False,
        None,
        "nothing measured: no successful reply with a chunk",
    )


def test_a_zero_request_run_fails_the_rate_and_latency_gates_clearly() -> None:
    run = summary(ChatStats(), 30.0)
    built = gates(min_rps="1", min_success_rate="95%", max_error_rate="5%", max_p95_ms="2000")

    verdict = evaluate(built, run)

    assert [(r.gate.name, r.measured, r.passed, r.note) for r in verdict.results] == [
        ("max_p95_ms", None, False, "nothing measured: no requests"),
        ("min_rps", 0.0, False, "below the limit: no requests"),
        ("min_success_rate", None, False, "nothing measured: no requests"),
        ("max_error_rate", None, False, "nothing measured: no requests"),
    ]
    assert not verdict.passed


def test_a_run_with_no_connection_attempts_fails_the_connection_gate() -> None:
    run = make_summary(connections={"attempts": 0, "successes": 0, "failures": 0, "success_rate": None})

    assert only_result({"min_connection_success_rate": "95%"}, run) == (
        False,
        None,
        "nothing measured: no connection attempts",
    )


def test_a_summary_missing_a_section_fails_the_gate_instead_of_raising() -> None:
    run = {"total_requests": 5}

    verdict = evaluate(gates(max_p95_ms="1", min_connection_success_rate="0.9", min_rps="1"), run)

    assert [result.passed for result in verdict.results] == [False, False, False]
    assert all(result.note.startswith("nothing measured") for result in verdict.results)


def test_a_gate_with_a_custom_measure_is_judged_like_the_built_in_ones() -> None:
    gate = Gate("max_gap_p99_ms", "chunk gap p99", "--max-gap-p99-ms", 50.0, "max", "ms",
                lambda run: Measurement(run["chunk_gap_ms"]["p99"]))  # fmt: skip

    verdict = evaluate([gate], {"chunk_gap_ms": {"p99": 60.0}})

    assert (verdict.passed, verdict.results[0].note) == (False, "above the limit")


# --- the time to first chunk percentile -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("percentile", "key", "name"),
    [
        ("50", "median", "max_ttft_p50_ms"),
        ("90", "p90", "max_ttft_p90_ms"),
        ("95", "p95", "max_ttft_p95_ms"),
        ("99", "p99", "max_ttft_p99_ms"),
        ("100", "max", "max_ttft_p100_ms"),
    ],
)
def test_ttft_percentile_reads_the_matching_summary_key(percentile: str, key: str, name: str) -> None:
    run = make_summary()
    (gate,) = gates(max_ttft_ms="5000", ttft_percentile=percentile)

    result = evaluate([gate], run).results[0]

    assert TTFT_PERCENTILE_KEYS[int(percentile)] == key
    assert (gate.name, result.measured) == (name, run["time_to_first_chunk_ms"][key])


def test_ttft_percentile_defaults_to_95() -> None:
    (gate,) = gates(max_ttft_ms="800")

    assert gate.name == "max_ttft_p95_ms"
    assert gate.measure(make_summary()).value == 500.0


@pytest.mark.parametrize("value", ["p99", "P99", 99, 99.0, " 99 "])
def test_ttft_percentile_accepts_a_number_or_a_p_prefix(value: object) -> None:
    (gate,) = gates(max_ttft_ms="800", ttft_percentile=value)

    assert gate.name == "max_ttft_p99_ms"


# --- the real summary -------------------------------------------------------------------------------------


def test_gates_read_the_summary_outputs_builds_and_count_metric_failures_as_errors() -> None:
    stats = ChatStats()
    for index in range(100):
        stats.record(make_reply(total_time_ms=100.0 + index, chunk_times_ms=(10.0 + index, 50.0 + index)))
    stats.record(make_reply(total_time_ms=90.0, chunk_times_ms=(5.0,), error=MetricFailure("recall=0")))
    stats.record(make_reply(total_time_ms=60_000.0, chunk_times_ms=(), error=ReplyTimeout("slow")))
    stats.connects.add(12.0, None)
    stats.connects.add(3.0, "connection_refused")
    run = summary(stats, 10.0)
    built = gates(
        max_avg_latency_ms="150",
        max_p95_ms="194",
        max_p99_ms="199",
        min_rps="10.2",
        min_success_rate="0.98",
        max_error_rate="2%",
        min_connection_success_rate="50%",
        max_ttft_ms="109",
        ttft_percentile="100",
    )

    verdict = evaluate(built, run)

    assert {r.gate.name: r.measured for r in verdict.results} == {
        "max_avg_latency_ms": pytest.approx(149.5),
        "max_p95_ms": pytest.approx(194.0),
        "max_p99_ms": pytest.approx(198.0),
        "min_rps": pytest.approx(10.2),
        "min_success_rate": pytest.approx(100 / 102),
        "max_error_rate": pytest.approx(2 / 102),
        "min_connection_success_rate": pytest.approx(0.5),
        "max_ttft_p100_ms": pytest.approx(109.0),
    }
    assert verdict.passed


# --- the verdict ------------------------------------------------------------------------------------------


def test_verdict_json_lists_every_gate_and_survives_json_dumps() -> None:
    verdict = evaluate(gates(max_p95_ms="2000", min_success_rate="99%", max_ttft_ms="800"), make_summary())

    assert json.loads(json.dumps(verdict.as_json())) == {
        "passed": False,
        "gates": [
            {
                "gate": "max_p95_ms",
                "limit": 2000.0,
                "measured": 1800.0,
                "passed": True,
                "unit": "ms",
                "comparison": "max",
                "note": "",
            },
            {
                "gate": "min_success_rate",
                "limit": 0.99,
                "measured": 0.98,
                "passed": False,
                "unit": "fraction",
                "comparison": "min",
                "note": "below the limit",
            },
            {
                "gate": "max_ttft_p95_ms",
                "limit": 800.0,
                "measured": 500.0,
                "passed": True,
                "unit": "ms",
                "comparison": "max",
                "note": "",
            },
        ],
    }


def test_verdict_json_has_null_for_nothing_measured() -> None:
    verdict = evaluate(gates(min_success_rate="95%"), summary(ChatStats(), 1.0))

    assert verdict.as_json()["gates"][0]["measured"] is None


def test_a_verdict_with_no_gates_passes() -> None:
    verdict = evaluate([], make_summary())

    assert verdict.passed
    assert verdict.as_json() == {"passed": True, "gates": []}


def test_format_verdict_is_a_table_of_gate_limit_measured_and_result() -> None:
    verdict = evaluate(
        gates(max_p95_ms="2000", min_rps="12.5", min_success_rate="95%", max_ttft_ms="800"), make_summary()
    )

    assert format_verdict(verdict) == "\n".join(
        [
            "Gates (latency and time to first chunk: successful replies)",
            "Gate              Limit          Measured  Result",
            "-------------------------------------------------",
            "max_p95_ms        <= 2000 ms      1800 ms  PASS",
            "min_rps           >= 12.5 req/s  10 req/s  FAIL  below the limit",
            "min_success_rate  >= 95%              98%  PASS",
            "max_ttft_p95_ms   <= 800 ms        500 ms  PASS",
            "-------------------------------------------------",
            "Verdict: FAIL (1 of 4 gates failed)",
        ]
    )


def test_format_verdict_ends_with_pass_when_every_gate_passes() -> None:
    text = format_verdict(evaluate(gates(max_p95_ms="2000"), make_summary()))

    assert text.splitlines()[-1] == "Verdict: PASS"


def test_format_verdict_says_one_gate_in_the_singular() -> None:
    text = format_verdict(evaluate(gates(max_p95_ms="100"), make_summary()))

    assert text.splitlines()[-1] == "Verdict: FAIL (1 of 1 gate failed)"


def test_format_verdict_shows_a_dash_and_the_note_when_nothing_was_measured() -> None:
    text = format_verdict(evaluate(gates(max_p99_ms="2000"), summary(ChatStats(), 1.0)))

    assert "<= 2000 ms         -  FAIL  nothing measured: no requests" in text


def test_format_verdict_shows_more_digits_when_the_measured_value_would_read_as_the_limit() -> None:
    run = make_summary(total_requests=100_000, successful_requests=98_999, failed_requests=1_001)

    text = format_verdict(evaluate(gates(min_success_rate="99%"), run))

    assert "min_success_rate  >= 99%   98.999%  FAIL  below the limit" in text


# --- the exit code ----------------------------------------------------------------------------------------


def test_a_failed_gate_asks_for_exit_code_3() -> None:
    verdict = evaluate(gates(max_p95_ms="100"), make_summary())

    assert verdict_exit_code(verdict) == GATE_FAILED_EXIT_CODE == 3
    assert verdict_exit_code(verdict, current=0) == 3


def test_passing_gates_ask_for_exit_code_0_even_when_some_requests_failed() -> None:
    verdict = evaluate(gates(max_error_rate="5%"), make_summary())

    assert verdict_exit_code(verdict) == 0


def test_passing_gates_keep_an_exit_code_already_set() -> None:
    verdict = evaluate(gates(max_p95_ms="2000"), make_summary())

    assert verdict_exit_code(verdict, current=1) == 1


def test_passing_gates_leave_a_crashed_run_to_locust() -> None:
    verdict = evaluate(gates(max_p95_ms="2000"), make_summary())

    assert verdict_exit_code(verdict, crashed=True) is None


@pytest.mark.parametrize("verdict", [None, Verdict([])])
def test_no_gates_leave_the_exit_code_to_locust(verdict: Verdict | None) -> None:
    assert verdict_exit_code(verdict) is None
    assert verdict_exit_code(verdict, current=1) == 1
