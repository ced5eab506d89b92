"""The recording: Locust's events fed to the process's recorder, and its finished seconds handed on."""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching first)
from locust.env import Environment
from locust.event import Events

from wslocust.client import REQUEST_TYPE
from wslocust.plugin.recording import Recording
from wslocust.stats import ReplyStats

from ..conftest import make_reply


def recording_in_one_process() -> Recording:
    environment = Environment(events=Events())
    environment.create_local_runner()
    return Recording(environment)


def test_a_ws_request_event_is_counted_by_the_recorder() -> None:
    recording = recording_in_one_process()
    recording.on_request(REQUEST_TYPE, 100.0, response=make_reply())
    assert recording.recorder.stats.total.replies == 1


def test_each_finished_second_is_given_to_the_second_listeners_once() -> None:
    recording = recording_in_one_process()
    given: list[list[tuple[int, dict[str, ReplyStats]]]] = []
    recording.second_listeners.append(given.append)
    recording.on_request(REQUEST_TYPE, 100.0, response=make_reply(started_at=1_000.0))
    recording.tick()
    recording.tick()
    seconds = [second for taken in given for second, _ in taken]
    assert seconds == [1_000]
    assert recording.history_rows  # and the history has their rows
