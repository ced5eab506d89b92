"""The compact stages syntax of --stages."""

from __future__ import annotations

import re

import pytest

from wslocust.load.shapes import Stage, parse_stages

__all__: list[str] = []


def test_parse_stages_reads_stages_and_start_prefix() -> None:
    start, stages = parse_stages("1@2m:10, 5m:50,5m:100,10m:100,3m:10")
    assert start == 1
    assert stages == [Stage(120, 10), Stage(300, 50), Stage(300, 100), Stage(600, 100), Stage(180, 10)]


def test_parse_stages_without_prefix_gives_no_start() -> None:
    assert parse_stages("30s:5") == (None, [Stage(30.0, 5)])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no stages given"),
        ("2m:10,5x:50", "stage 2 '5x:50': bad duration '5x'"),
        ("2m:10,5m", "stage 2 '5m': expected DURATION:USERS"),
        ("2m:ten", "stage 1 '2m:ten': bad user count 'ten'"),
        ("2m:-3", "stage 1 '2m:-3': bad user count '-3'"),
        ("2m:10,", "stage 2 is empty"),
        ("a@2m:10", "bad start 'a'"),
        ("1@2@2m:10", "more than one '@'"),
        ("0s:10", "last 0 s in total"),
    ],
)
def test_parse_stages_error_names_the_bad_token(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_stages(text)
