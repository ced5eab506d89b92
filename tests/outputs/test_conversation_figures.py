"""The conversations' figures: from Locust's statistics of the CONVERSATION events, into the summary;
never counted as chat replies."""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching first)
from locust.env import Environment
from locust.event import Events

from wslocust.conversations import CONVERSATION_REQUEST_TYPE, ConversationFailed, conversations_section
from wslocust.errors import WsLocustError
from wslocust.outputs.figures import CONVERSATION_FIGURES, summary_paths
from wslocust.plugin.recording import Recording


def fire(
    environment: Environment, name: str, duration_ms: float, failure: WsLocustError | None = None
) -> None:
    environment.events.request.fire(
        request_type=CONVERSATION_REQUEST_TYPE, name=name, response_time=duration_ms, response_length=0,
        exception=failure, context={}, start_time=1_000.0, url=None,
    )  # fmt: skip


def environment_with_conversations() -> Environment:
    environment = Environment(events=Events())
    environment.create_local_runner()
    for duration_ms in (100.0, 200.0, 300.0):
        fire(environment, "billing", duration_ms)
    fire(environment, "refund", 400.0, ConversationFailed("turn 2 failed: metric failed: intent=0"))
    return environment


def test_the_summary_counts_completed_and_failed_conversations_and_their_durations() -> None:
    section = conversations_section(environment_with_conversations())["conversations"]

    assert (section["completed"], section["failed"]) == (3, 1)
    assert section["duration_ms"] == {  # Locust's percentiles, as its own tables show them
        "avg": 250.0,
        "p50": 300,
        "p90": 400,
        "p95": 400,
        "p99": 400,
        "max": 400.0,
    }
    assert section["by_name"]["billing"]["completed"] == 3
    assert (section["by_name"]["refund"]["completed"], section["by_name"]["refund"]["failed"]) == (0, 1)


def test_a_run_without_conversations_has_no_conversations_section() -> None:
    environment = Environment(events=Events())
    environment.create_local_runner()

    assert conversations_section(environment) == {}


def test_every_conversation_figure_has_its_place_in_the_summary_section() -> None:
    section = conversations_section(environment_with_conversations())["conversations"]

    for figure in CONVERSATION_FIGURES:
        place = section
        for part in figure.summary.split("."):
            place = place[part]
        assert place is not None, figure.title
    assert "conversations" in {path.split(".")[0] for path in summary_paths()}


def test_a_conversation_event_is_not_counted_as_a_chat_reply() -> None:
    environment = environment_with_conversations()
    recording = Recording(environment)
    recording.listen(environment.events)

    fire(environment, "billing", 100.0)

    assert recording.stats.total.replies == 0
    assert environment.stats.entries[("billing", CONVERSATION_REQUEST_TYPE)].num_requests == 4


def test_a_percentile_locust_rounded_stays_within_the_exact_minimum_and_maximum() -> None:
    environment = Environment(events=Events())
    environment.create_local_runner()
    for duration_ms in (1523.5, 1531.0, 2689.4):  # Locust keeps 1500, 1500 and 2700
        fire(environment, "billing", duration_ms)

    durations = conversations_section(environment)["conversations"]["duration_ms"]

    assert (durations["p50"], durations["p99"], durations["max"]) == (1523.5, 2689.4, 2689.4)
