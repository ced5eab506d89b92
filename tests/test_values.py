"""The value parsers every option and class attribute goes through (wslocust.values)."""

from __future__ import annotations

import argparse
import math

import pytest

from wslocust.demo import server as demo_server
from wslocust.errors import ConfigurationError
from wslocust.values import (
    BadValue,
    argument_type,
    choice,
    count,
    flag,
    fraction,
    http_url,
    integer,
    milliseconds,
    number,
    port,
    seconds,
    seconds_range,
)

NOT_FINITE = ["nan", "NaN", "inf", "-inf", "Infinity", math.nan, math.inf, -math.inf]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90", 90),
        ("90s", 90),
        ("2m", 120),
        ("1h", 3600),
        ("1h30m", 5400),
        ("2.5m", 150),
        (45, 45),
        (" 7 ", 7),
    ],
)
def test_seconds_reads_a_number_or_s_m_h_suffixes(text: str | int, expected: float) -> None:
    assert seconds(text, "--reply-timeout") == expected


@pytest.mark.parametrize("value", ["", "2x", "-5", -5, "m", "500ms", "1h30", True, None, *NOT_FINITE])
def test_seconds_refuses_what_is_not_a_duration_naming_the_option_and_quoting_the_value(
    value: object,
) -> None:
    with pytest.raises(BadValue) as raised:
        seconds(value, "--reply-timeout")
    assert str(raised.value).startswith("--reply-timeout must be a duration above 0")
    assert str(raised.value).endswith(f"got {value!r}")


def test_a_timeout_of_zero_is_refused_but_a_duration_of_zero_may_be_allowed() -> None:
    with pytest.raises(BadValue, match="--reply-timeout must be a duration above 0"):
        seconds("0", "--reply-timeout")
    assert seconds("0", "--step-hold", positive=False) == 0.0


@pytest.mark.parametrize(
    ("text", "bounds"), [("0", (0.0, 0.0)), ("0.5", (0.5, 0.5)), ("1-3", (1.0, 3.0)), (2, (2.0, 2.0))]
)
def test_seconds_range_reads_n_or_min_max(text: object, bounds: tuple[float, float]) -> None:
    assert seconds_range(text, "--think-time") == bounds


@pytest.mark.parametrize("value", ["3-1", "-1", "a", "1-", "nan", "1-inf", "nan-1", math.nan, -1.0])
def test_seconds_range_refuses_nan_infinity_negatives_and_reversed_bounds(value: object) -> None:
    with pytest.raises(BadValue, match="--think-time must be"):
        seconds_range(value, "--think-time")


@pytest.mark.parametrize("value", [*NOT_FINITE, "-1", -0.5, "x", True, None, [1]])
def test_number_refuses_non_finite_negative_and_non_numbers(value: object) -> None:
    with pytest.raises(BadValue, match="--arrival-rate must be a number"):
        number(value, "--arrival-rate")


def test_milliseconds_take_0_or_more_and_above_0_when_positive_naming_the_option() -> None:
    assert milliseconds("150", "--demo-ttft-ms") == 150.0
    assert milliseconds(0, "--demo-ttft-ms") == 0.0
    with pytest.raises(BadValue, match="--max-ttft-ms must be a number of ms above 0, got '0'"):
        milliseconds("0", "--max-ttft-ms", positive=True)
    with pytest.raises(BadValue, match="--demo-itl-ms must be a number of ms from 0, got 'nan'"):
        milliseconds("nan", "--demo-itl-ms")


def test_a_port_is_a_whole_number_up_to_65535_and_0_only_where_it_picks_a_free_one() -> None:
    assert (port("8765", "--port"), port(0, "--port", allow_zero=True)) == (8765, 0)
    with pytest.raises(BadValue, match="--port must be a port number from 1 to 65535, got '0'"):
        port("0", "--port")
    with pytest.raises(BadValue, match="--port must be a port number from 0 to 65535, got 65536"):
        port(65536, "--port", allow_zero=True)


@pytest.mark.parametrize(
    "text",
    ["not-a-url", "127.0.0.1:4318", "ftp://127.0.0.1/v1/metrics", "http://127.0.0.1:99999/v1/metrics",
     "http://127.0.0.1:0/v1/metrics", "http://[::1", " ", "", "http:///v1/metrics", "http://127.0.0.1 /v1"],
)  # fmt: skip
def test_an_http_url_needs_an_http_scheme_a_host_and_a_port_that_can_be_dialled(text: str) -> None:
    with pytest.raises(BadValue, match="--otel-endpoint must be an http:// or https:// URL"):
        http_url(text, "--otel-endpoint")


def test_an_http_url_is_kept_as_given_and_quoted_without_its_user_info_query_or_fragment() -> None:
    assert http_url("https://u:p@[::1]:4318/v1/metrics?k=1", "x") == "https://u:p@[::1]:4318/v1/metrics?k=1"
    with pytest.raises(BadValue, match=r"got 'http://\[::1/v1'$") as raised:
        http_url("http://u:PASSWORD456@[::1/v1?token=t0k3n#f", "--otel-endpoint")
    assert "PASSWORD456" not in str(raised.value)
    assert "t0k3n" not in str(raised.value)


def test_number_bounds_positive_minimum_and_maximum() -> None:
    assert number("0", "x") == 0.0
    assert number("-3", "x", minimum=None) == -3.0
    with pytest.raises(BadValue, match="x must be a number above 0, got '0'"):
        number("0", "x", positive=True)
    with pytest.raises(BadValue, match=r"x must be a number from 0 to 1, got 1\.5"):
        number(1.5, "x", maximum=1.0)


@pytest.mark.parametrize(
    ("value", "expected"), [("0.95", 0.95), ("95%", 0.95), (" 99.9 % ", 0.999), (1, 1.0), ("0%", 0.0)]
)
def test_fraction_reads_a_fraction_or_a_percentage(value: object, expected: float) -> None:
    assert fraction(value, "--demo-error-rate") == expected


@pytest.mark.parametrize("value", ["95", "1.5", "-0.1", "101%", "%", "nan%", "nan", "inf", True])
def test_fraction_refuses_numbers_out_of_range_and_shows_both_forms(value: object) -> None:
    with pytest.raises(
        BadValue, match=r"--demo-error-rate must be a fraction from 0 to 1 \(0\.99\) or a percentage"
    ):
        fraction(value, "--demo-error-rate")


def test_integer_and_count_read_whole_numbers_only() -> None:
    assert integer("-1", "--shuffle-seed") == -1
    assert integer(4.0, "x") == 4
    assert count("0", "--prompts-per-connection") == 0
    for value in ("1.5", "two", "", True, math.nan):
        with pytest.raises(BadValue, match="must be a whole number"):
            integer(value, "x")
    with pytest.raises(
        BadValue, match="--prompts-per-connection must be a whole number of 0 or more, got '-1'"
    ):
        count("-1", "--prompts-per-connection")
    with pytest.raises(BadValue, match="--demo-chunks must be a whole number of 1 or more, got 0"):
        count(0, "--demo-chunks", minimum=1)


def test_flag_reads_booleans_and_their_words() -> None:
    assert flag(True, "x") is True
    assert [flag(word, "x") for word in ("true", "YES", "on", "1")] == [True] * 4
    assert [flag(word, "x") for word in ("false", "No", "off", "0")] == [False] * 4
    with pytest.raises(BadValue, match="x must be true or false, got 'maybe'"):
        flag("maybe", "x")


def test_choice_names_the_choices() -> None:
    assert choice("poisson", "--arrivals", ("constant", "poisson")) == "poisson"
    with pytest.raises(BadValue, match="--arrivals must be one of constant, poisson, got 'burst'"):
        choice("burst", "--arrivals", ("constant", "poisson"))


def test_a_bad_value_is_a_configuration_error_and_a_value_error() -> None:
    with pytest.raises(BadValue) as raised:
        number("nan", "x")
    assert isinstance(raised.value, ConfigurationError)
    assert isinstance(raised.value, ValueError)


def test_argument_type_makes_argparse_name_the_option_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="locust")
    parser.add_argument("--reply-timeout", type=argument_type(seconds))
    parser.add_argument("--step-duration", type=argument_type(seconds, positive=False, keep_text=True))
    parsed = parser.parse_args(["--reply-timeout", "2m", "--step-duration", "1m30s"])
    assert (parsed.reply_timeout, parsed.step_duration) == (120.0, "1m30s")  # the text kept for the web UI
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(["--reply-timeout", "nan"])
    assert exited.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("locust: error: argument --reply-timeout: must be a duration above 0")
    assert error.endswith("got 'nan'")


@pytest.mark.parametrize(
    "args",
    [
        ["--chunks", "0"],
        ["--ttft-ms", "nan"],
        ["--itl-ms", "-1"],
        ["--error-rate", "1.5"],
        ["--stall-every-s", "0"],
        ["--port", "70000"],
        ["--port", "-1"],
    ],
)
def test_the_demo_bot_refuses_a_bad_value_naming_the_option(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        demo_server.main(args)
    assert exited.value.code == 2
    assert f"error: argument {args[0]}: must be" in capsys.readouterr().err
