"""The recording writes the voice figures of a run with audio turns (PREFIX_voice.csv, the summary's
voice section, the end-of-run voice table), and nothing of them for a run of text prompts."""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching first)
from locust.env import Environment
from locust.event import Events

import json
from pathlib import Path

from wslocust.client import REQUEST_TYPE
from wslocust.plugin.recording import Recording

from ..conftest import make_reply
from ..stats.test_voice import voice_reply


def recording(tmp_path: Path) -> Recording:
    environment = Environment(events=Events())
    environment.create_local_runner()
    return Recording(
        environment,
        csv_prefix=str(tmp_path / "run"),
        summary_path=str(tmp_path / "run.json"),
        print_table=True,
    )


def test_a_run_with_audio_turns_writes_its_voice_csv_summary_section_and_table(tmp_path: Path) -> None:
    run = recording(tmp_path)
    run.on_request(REQUEST_TYPE, 100.0, response=make_reply("ask"))
    run.on_request(REQUEST_TYPE, 1500.0, response=voice_reply("greet"))
    run.finish()

    assert (tmp_path / "run_voice.csv").read_text().splitlines()[1].startswith("greet,1,0,")
    assert json.loads((tmp_path / "run.json").read_text())["voice"]["turns"] == 1
    assert any(text.startswith("Voice statistics") for text in run._closing_text)
    run.close()


def test_a_run_of_text_prompts_writes_no_voice_output(tmp_path: Path) -> None:
    run = recording(tmp_path)
    run.on_request(REQUEST_TYPE, 100.0, response=make_reply("ask"))
    run.finish()

    assert not (tmp_path / "run_voice.csv").exists()
    assert "voice" not in json.loads((tmp_path / "run.json").read_text())
    assert not any(text.startswith("Voice statistics") for text in run._closing_text)
    run.close()
