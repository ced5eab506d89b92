"""Connections' lives in the statistics: outages, failovers and close codes survive a worker's report."""

from __future__ import annotations

from wslocust.stats.aggregates import ChatStats
from wslocust.stats.recorder import Recorder


def test_close_codes_outages_and_failovers_merge_across_workers_reports() -> None:
    master = Recorder(role="master")
    master.start_test()
    for codes, recover_ms in (((1001, 1006), 200.0), ((1001,), 800.0)):
        worker = Recorder(role="worker")
        worker.start_test(run_id=master.run_id)
        for code in codes:
            worker.record_close(code)
        worker.record_outage(recover_ms)
        worker.record_failover()
        master.merge_report("worker", {"wslocust": worker.take_report(stopped=False)})
    lives = master.stats.lifecycle
    assert lives.close_codes == {"1001": 2, "1006": 1}
    assert lives.outages == 2
    assert lives.failovers == 2
    assert lives.time_to_recover.maximum == 800.0


def test_a_report_from_before_the_lifecycle_figures_reads_as_none_happened() -> None:
    wire = ChatStats().to_wire()
    del wire["lifecycle"]
    assert ChatStats.from_wire(wire).lifecycle.empty
