"""``make demo``'s closing message names the files the run wrote, read from the disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scripts.demo_outputs import main

RUN_NS = 1_800_000_000 * 10**9
"""When the run in these tests started (the marker's modification time)."""


def _file(path: Path, modified_ns: int) -> None:
    path.write_text("x", encoding="utf-8")
    os.utime(path, ns=(modified_ns, modified_ns))


def _closing_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    _file(tmp_path / ".demo-started", RUN_NS)
    assert main([str(tmp_path / "demo"), "--since", str(tmp_path / ".demo-started")]) == 0
    return capsys.readouterr().out.splitlines()


def test_a_voice_runs_csvs_are_named_beside_the_others_locusts_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in (
        "demo_stats.csv", "demo_stats_history.csv", "demo_failures.csv", "demo_exceptions.csv", "demo.html",
        "demo.json", "demo_chat_stats.csv", "demo_chat_stats_history.csv", "demo_chat_histograms.jsonl",
        "demo_failed_replies.jsonl", "demo_voice.csv", "demo_voice_history.csv",
    ):  # fmt: skip
        _file(tmp_path / name, RUN_NS + 10**9)
    assert _closing_message(tmp_path, capsys) == [
        f"Results in {tmp_path}/ (written by this run):",
        "  Locust:   demo.html demo_exceptions.csv demo_failures.csv demo_stats.csv demo_stats_history.csv",
        "  wslocust: demo.json demo_chat_histograms.jsonl demo_chat_stats.csv demo_chat_stats_history.csv "
        "demo_failed_replies.jsonl demo_voice.csv demo_voice_history.csv",
    ]


def test_an_earlier_runs_files_are_named_apart_and_other_prefixes_not_at_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _file(tmp_path / "demo_chat_stats.csv", RUN_NS)  # this run's, written as it started
    _file(tmp_path / "demo_voice.csv", RUN_NS - 1)  # an earlier voice run's
    _file(tmp_path / "demonstration_voice.csv", RUN_NS + 1)  # another prefix
    _file(tmp_path / "other_stats.csv", RUN_NS + 1)
    assert _closing_message(tmp_path, capsys) == [
        f"Results in {tmp_path}/ (written by this run):",
        "  wslocust: demo_chat_stats.csv",
        "  Left by an earlier run: demo_voice.csv",
    ]


def test_a_run_that_wrote_nothing_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _closing_message(tmp_path, capsys) == [f"No results written in {tmp_path}/."]
