"""Which worker reports the master's recorder takes in: only its own workers', of the current test.

The whole path (a master killed under its worker, a new master on the same port) is run for real in
``test_distributed_run.py``; these check each rule on the report itself.
"""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching first)
from locust.env import Environment
from locust.event import Events

from typing import Any

import msgpack

from wslocust.stats import ChatStats
from wslocust.stats.recorder import Recorder

from ..conftest import make_reply


def report(run: str | None, replies: int = 1, in_flight: int = 0) -> dict[str, Any]:
    """A worker's report as the master receives it (through msgpack), tagged with ``run``."""
    stats = ChatStats()
    for _ in range(replies):
        stats.record(make_reply())
    stats.in_flight_at_stop = in_flight
    wire = stats.to_wire()
    wire["run"] = run
    decoded: dict[str, Any] = msgpack.unpackb(msgpack.packb({"wslocust": wire, "stats": []}))
    return decoded


def recorder(run: str) -> Recorder:
    environment = Environment(events=Events())
    environment.create_local_runner()
    taking = Recorder(environment)
    taking.run_id = run
    return taking


def test_a_report_of_this_test_from_a_known_worker_is_taken_in_whole() -> None:
    screening, data = recorder("run-2"), report("run-2")
    assert screening.screen_report("w1", data, known=True)
    assert "wslocust" in data
    assert screening.rejected_reports == 0


def test_a_report_of_another_test_loses_its_wslocust_sections_and_is_counted() -> None:
    screening, data = recorder("run-2"), report("run-1", replies=3)
    assert screening.screen_report("w1", data, known=True)  # Locust's own counts still pass
    assert "wslocust" not in data
    assert screening.rejected_reports == 1


def test_a_report_from_a_worker_that_never_connected_is_dropped_whole_and_counted() -> None:
    screening, data = recorder("run-2"), report("run-2")
    assert not screening.screen_report("orphan", data, known=False)
    assert screening.rejected_reports == 1


def test_an_idle_workers_report_of_another_test_is_not_counted_as_rejected() -> None:
    screening, data = recorder("run-2"), report("run-1", replies=0)
    assert screening.screen_report("w1", data, known=True)
    assert screening.rejected_reports == 0


def test_prompts_in_flight_at_stop_travel_in_reports_and_add_up() -> None:
    merged = ChatStats()
    for count in (2, 3):
        merged.merge(ChatStats.from_wire(report("run", in_flight=count)["wslocust"]))
    assert merged.in_flight_at_stop == 5
    assert merged.total.replies == 2
