"""The voice figures of each second: audio turns kept by the second they ended, carried from a worker
to the master, and written to PREFIX_voice_history.csv as the seconds end (a run of text prompts
writes no such file)."""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching first)
from locust.env import Environment
from locust.event import Events

import csv
from pathlib import Path

from wslocust.client import REQUEST_TYPE
from wslocust.outputs.csv_files import VOICE_COLUMNS, VOICE_HISTORY_COLUMNS
from wslocust.plugin.recording import Recording
from wslocust.stats import ChatStats

from ..conftest import make_reply
from ..stats.test_voice import voice_reply


def test_audio_turns_are_kept_by_the_second_they_ended_and_taken_oldest_first() -> None:
    stats = ChatStats()
    stats.record(voice_reply("greet", started_at=1_001.2))  # ends at 1,001.3 (a 100 ms reply)
    stats.record(voice_reply("order", started_at=1_000.5))
    stats.record(voice_reply("greet", started_at=1_000.1))
    stats.record(make_reply("ask", started_at=1_002.0))  # a text prompt: in no voice second
    assert sorted(stats.voice_seconds) == [1_000, 1_001]
    taken = stats.take_voice_seconds(before=1_001)
    assert [(second, sorted(book.by_name)) for second, book in taken] == [(1_000, ["greet", "order"])]
    assert list(stats.voice_seconds) == [1_001]
    assert stats.voice.total.turns == 3  # the run's own figures keep every turn


def test_a_workers_voice_seconds_reach_the_master_and_add_up() -> None:
    master, worker = ChatStats(), ChatStats()
    master.record(voice_reply("greet", started_at=1_000.1))
    worker.record(voice_reply("greet", started_at=1_000.2, audio_times_ms=(1500.0, 1600.0)))
    worker.record(voice_reply("greet", started_at=1_004.0))
    master.merge(ChatStats.from_wire(worker.to_wire()))
    assert {second: book.total.turns for second, book in master.voice_seconds.items()} == {1_000: 2, 1_004: 1}
    assert master.voice_seconds[1_000].by_name["greet"].first_audio.count == 2


def recording(tmp_path: Path) -> Recording:
    environment = Environment(events=Events())
    environment.create_local_runner()
    return Recording(environment, csv_prefix=str(tmp_path / "run"), print_table=False)


def test_the_voice_history_has_each_seconds_audio_turns_a_row_a_name_then_aggregated(tmp_path: Path) -> None:
    run = recording(tmp_path)
    run.on_request(REQUEST_TYPE, 100.0, response=make_reply("ask", started_at=1_000.0))
    run.on_request(REQUEST_TYPE, 100.0, response=voice_reply("greet", started_at=1_000.0))
    run.on_request(REQUEST_TYPE, 100.0, response=voice_reply("order", started_at=1_000.2))
    run.on_request(REQUEST_TYPE, 100.0, response=voice_reply("greet", started_at=1_002.5, failed=True))
    run.finish()
    run.close()
    with (tmp_path / "run_voice_history.csv").open(newline="") as stream:
        reader = csv.DictReader(stream)
        assert reader.fieldnames == VOICE_HISTORY_COLUMNS == ["Timestamp", "User Count", *VOICE_COLUMNS]
        rows = [(row["Timestamp"], row["Name"], row["Voice Turns"], row["Voice Failures"]) for row in reader]
    assert rows == [
        ("1000", "greet", "1", "0"),
        ("1000", "order", "1", "0"),
        ("1000", "Aggregated", "2", "0"),
        ("1002", "greet", "1", "1"),
        ("1002", "Aggregated", "1", "1"),
    ]


def test_a_run_of_text_prompts_writes_no_voice_history(tmp_path: Path) -> None:
    run = recording(tmp_path)
    run.on_request(REQUEST_TYPE, 100.0, response=make_reply("ask"))
    run.finish()
    run.close()
    assert (tmp_path / "run_chat_stats_history.csv").exists()
    assert not (tmp_path / "run_voice_history.csv").exists()
