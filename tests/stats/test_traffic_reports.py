"""The traffic counters in the recorder: taken into each worker's report, merged exactly on the master."""

from __future__ import annotations

from wslocust.stats.recorder import REPORT_KEY, Recorder
from wslocust.wire.traffic import PROCESS_TRAFFIC


def test_a_workers_reports_carry_its_traffic_and_the_master_adds_them_exactly() -> None:
    worker, master = Recorder(role="worker"), Recorder(role="master")
    run_id = master.start_test(workers=["w1"])
    worker.start_test(run_id=run_id)
    reports = []
    for messages in (3, 4):
        PROCESS_TRAFFIC.messages_sent += messages
        PROCESS_TRAFFIC.bytes_received += 100 * messages
        reports.append({REPORT_KEY: worker.take_report(stopped=False)})
    assert (PROCESS_TRAFFIC.messages_sent, PROCESS_TRAFFIC.bytes_received) == (0, 0)  # taken, once
    for report in reports:
        master.merge_report("w1", report)
    assert (master.stats.traffic.messages_sent, master.stats.traffic.bytes_received) == (7, 700)


def test_a_new_test_starts_without_the_traffic_that_came_before() -> None:
    recorder = Recorder()
    PROCESS_TRAFFIC.pushes += 5
    recorder.start_test()
    recorder.take_traffic()
    assert recorder.stats.traffic.pushes == 0
