"""The recorder's books: which worker reports the master takes in (only its own workers', of the
current test), a worker's reports, and the end of a test.

The whole path (a master killed under its worker, a new master on the same port) is run for real in
``test_distributed_run.py``; these check each rule on the recorder alone (it needs no Locust).
"""

from __future__ import annotations

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


def master_in_a_test() -> tuple[Recorder, str]:
    """A master's recorder with a test under way, and the test's run id."""
    taking = Recorder(role="master")
    run = taking.start_test(workers=["w1"])
    assert run is not None
    return taking, run


def test_a_report_of_this_test_from_a_known_worker_is_taken_in_whole() -> None:
    screening, run = master_in_a_test()
    data = report(run)
    assert screening.screen_report("w1", data, known=True)
    assert "wslocust" in data
    assert screening.rejected_reports == 0


def test_a_report_of_another_test_loses_its_wslocust_sections_and_is_counted() -> None:
    screening, _ = master_in_a_test()
    data = report("an earlier run", replies=3)
    assert screening.screen_report("w1", data, known=True)  # Locust's own counts still pass
    assert "wslocust" not in data
    assert screening.rejected_reports == 1


def test_a_report_from_a_worker_that_never_connected_is_dropped_whole_and_counted() -> None:
    screening, run = master_in_a_test()
    data = report(run)
    assert not screening.screen_report("orphan", data, known=False)
    assert screening.rejected_reports == 1


def test_an_idle_workers_report_of_another_test_is_not_counted_as_rejected() -> None:
    screening, _ = master_in_a_test()
    data = report("an earlier run", replies=0)
    assert screening.screen_report("w1", data, known=True)
    assert screening.rejected_reports == 0


def test_prompts_in_flight_at_stop_travel_in_reports_and_add_up() -> None:
    merged = ChatStats()
    for count in (2, 3):
        merged.merge(ChatStats.from_wire(report("run", in_flight=count)["wslocust"]))
    assert merged.in_flight_at_stop == 5
    assert merged.total.replies == 2


def test_connects_cut_off_at_stop_travel_in_reports_add_up_and_are_screened() -> None:
    merged = ChatStats()
    for count in (2, 3):
        stats = ChatStats()
        stats.connects.cut_off = count
        merged.merge(ChatStats.from_wire(msgpack.unpackb(msgpack.packb(stats.to_wire()))))
    assert (merged.connects.cut_off, merged.connects.attempts) == (5, 0)
    screening, _ = master_in_a_test()
    stale = ChatStats()
    stale.connects.cut_off = 1
    wire = stale.to_wire()
    wire["run"] = "an earlier run"
    assert screening.screen_report("w1", {"wslocust": wire, "stats": []}, known=True)
    assert screening.rejected_reports == 1  # what it counted is not this test's: said so


def test_a_workers_report_hands_over_what_it_counted_and_counting_starts_afresh() -> None:
    worker = Recorder(role="worker")
    worker.start_test(run_id="run")
    worker.record(make_reply())
    wire = worker.take_report(stopped=False)
    assert (ChatStats.from_wire(wire).total.replies, wire["run"], wire["stopped"]) == (1, "run", False)
    assert worker.take_report(stopped=True)["stopped"]
    assert ChatStats.from_wire(worker.take_report(stopped=True)).total.replies == 0


def test_a_merged_report_counts_on_the_master() -> None:
    master, run = master_in_a_test()
    master.merge_report("w1", report(run, replies=2))
    assert master.stats.total.replies == 2


def test_a_worker_that_reported_after_the_stop_is_not_lost_and_one_that_did_not_is() -> None:
    master, run = master_in_a_test()
    master.merge_report("w2", report(run))  # a worker that joined during the test
    master.stop_began()
    since = master.stop_began_at
    assert since is not None
    stopped = report(run)
    stopped["wslocust"]["stopped"] = True
    master.merge_report("w1", stopped)
    assert master.note_lost(since) == ["w2"]
    assert master.workers_section() == {"expected": 2, "lost": ["w2"], "rejected_reports": 0}


def test_a_deferred_end_is_closed_by_end_test_alone_and_once() -> None:
    master, _ = master_in_a_test()
    master.defer_end()
    master.stop_began()
    assert not master.ends_at_stop
    assert master.end_test()
    assert master.stopped_at == master.stop_began_at
    assert not master.end_test()
    assert not master.running


def test_a_worker_keeps_no_test_books() -> None:
    worker = Recorder(role="worker")
    worker.start_test(run_id="run")
    worker.stop_began()
    assert (worker.running, worker.ends_at_stop, worker.end_test(), worker.started_at) == (
        False,
        False,
        False,
        None,
    )


def test_a_prompt_stopped_mid_reply_is_counted_in_flight_not_as_a_reply() -> None:
    recorder = Recorder()
    recorder.stopped_mid_reply(make_reply())
    assert (recorder.stats.in_flight_at_stop, recorder.stats.total.replies) == (1, 0)
