"""The recorder: the chatbot statistics of one process over its tests, and the books of its workers.

On a worker it counts replies and hands the counts to each report to the master, starting afresh
after each report, and says in each report whether its users have stopped. On the master (or a
single process) it merges those reports and keeps, for the test under way, which workers take part
and which of them reported after stopping, so the test's end can wait for their last samples and
name the workers that were lost.

Each test has a run id, given to the workers with their users and echoed in each of their reports:
the master counts only reports of its current test (a worker of an earlier master on the same port,
or a report of an earlier test, is rejected, counted and logged).

It is plain Python: no Locust, no gevent, no files. The plugin (:mod:`wslocust.plugin.recording`)
feeds it Locust's events and writes what it holds.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any, Literal

from ..wire.reply import Reply
from ..wire.traffic import PROCESS_TRAFFIC
from .aggregates import TOKEN_COUNTERS, ChatStats, ReplyStats

__all__ = ["ARRIVALS_REPORT_KEY", "REPORT_KEY", "Recorder", "Role"]

_log = logging.getLogger("wslocust")

REPORT_KEY = "wslocust"
"""The section of a worker's report to the master that holds its chatbot statistics."""

ARRIVALS_REPORT_KEY = "wslocust_arrivals"
"""The section of a worker's report that holds its open-model send counts (taken out with the rest
when a report is rejected)."""

Role = Literal["local", "worker", "master"]
"""A process's part in a run: a single process, a worker, or the master."""


class Recorder:
    """The chatbot statistics of one process, and the state of its current test.

    Args:
        tokens: how output tokens are counted (a key of :data:`~wslocust.stats.TOKEN_COUNTERS`).
        role: ``"worker"`` reports its counts and keeps no test books; ``"master"`` merges reports
            and waits for its workers; ``"local"`` is a single process.
    """

    def __init__(self, tokens: str = "words", *, role: Role = "local") -> None:
        self.count_tokens: Callable[[Reply], int] = TOKEN_COUNTERS[tokens]
        self.stats = ChatStats(self.count_tokens)
        """The statistics of the current test (on a worker: since its last report)."""
        self.role: Role = role
        self.started_at: float | None = None
        """When the current test started (or its statistics were last reset); None before the first."""
        self.stopped_at: float | None = None
        """When the current test's stop began, once the test is closed; None while it runs."""
        self.users_at: dict[int, int] = {}
        """The user count at each second of the test (for the history)."""
        self.run_id: str | None = None
        """The current test's id (the master's own; on a worker, the one its users were spawned with)."""
        self.lost_workers: list[str] = []
        """Workers of the last test that sent no report after stopping (their last samples are missing)."""
        self.rejected_reports = 0
        """Reports with samples rejected since the last test closed (not of this test, or of this master)."""
        self._workers: set[str] = set()  # workers of the current test (at its start, or reporting since)
        self._rejected_from: set[str] = set()  # workers whose rejection was logged (once each)
        self._departed: set[str] = set()  # workers that quit: nothing more will come from them
        self._stopped_report: dict[str, float] = {}  # when each last sent a report after stopping
        self._stopped_last: set[str] = set()  # workers whose latest report was sent after stopping
        self._stop_began: float | None = None
        self._end_deferred = False  # the test's end is closed by end_test(), not by the stop

    @property
    def is_worker(self) -> bool:
        """Whether this process is a worker (it reports, the master keeps the books)."""
        return self.role == "worker"

    @property
    def is_master(self) -> bool:
        """Whether this process is the master of workers."""
        return self.role == "master"

    # -- samples ------------------------------------------------------------------------------------

    def record(self, reply: Reply) -> None:
        """Count a reply."""
        self.stats.record(reply)

    def record_connect(self, response_time_ms: float, error_kind: str | None) -> None:
        """Count a connection attempt (``error_kind`` None: it succeeded)."""
        self.stats.connects.add(response_time_ms, error_kind)

    def record_close(self, code: int) -> None:
        """Count a connection a server closed with ``code`` (1006: lost without a close frame)."""
        self.stats.lifecycle.add_close(code)

    def record_outage(self, time_to_recover_ms: float) -> None:
        """Count a user's outage that ended (its first failure to its next successful reply)."""
        self.stats.lifecycle.add_outage(time_to_recover_ms)

    def record_failover(self) -> None:
        """Count a user's move to another endpoint after a failure."""
        self.stats.lifecycle.failovers += 1

    def stopped_mid_reply(self, reply: Reply) -> None:
        """Count a prompt whose reply was still in flight when its user was stopped (never a reply)."""
        self.stats.in_flight_at_stop += 1

    def stopped_mid_connect(self) -> None:
        """Count a connect whose handshake was still under way when its user was stopped (no attempt)."""
        self.stats.connects.cut_off += 1

    def take_traffic(self) -> None:
        """Take the traffic this process's connections counted since the last time into the statistics."""
        self.stats.traffic.merge(PROCESS_TRAFFIC.take())

    def reset_stats(self) -> None:
        """Statistics start from zero; a test under way measures its rates from now."""
        self.stats = ChatStats(self.count_tokens)
        PROCESS_TRAFFIC.take()  # what came before is not this test's
        if self.started_at is not None and self.stopped_at is None:
            self.started_at = time.time()

    # -- a worker's reports -------------------------------------------------------------------------

    def take_report(self, *, stopped: bool) -> dict[str, Any]:
        """Worker: everything counted since the last report, in wire form for the master (tagged with
        the run id and whether the users have stopped); counting starts afresh."""
        self.take_traffic()
        wire = self.stats.to_wire()
        wire["stopped"] = stopped
        wire["run"] = self.run_id
        self.stats = ChatStats(self.count_tokens)
        return wire

    def screen_report(self, client_id: str, data: dict[str, Any], *, known: bool) -> bool:
        """Master: whether a worker's report may be heard; the samples of another test are taken out.

        A report from a worker that never connected to this master (one left running by an earlier
        master on the same port) is rejected whole. A report of this master's worker holding samples
        of another test (sent before its users were spawned with this test's run id) loses wslocust's
        sections; Locust's own counts pass, as Locust would take them. Rejections with samples are
        counted, and logged once a worker.

        Args:
            client_id: the reporting worker.
            data: the report (changed in place when its wslocust sections are taken out).
            known: whether the worker connected to this master (said it was ready).

        Returns:
            False when the whole report must be dropped.
        """
        wire = data.get(REPORT_KEY)
        if known and (wire is None or wire.get("run") == self.run_id):
            return True
        if wire is not None:
            data.pop(REPORT_KEY)
            data.pop(ARRIVALS_REPORT_KEY, None)
            held = ChatStats.from_wire(wire)
            if (
                held.total.replies
                or held.connects.attempts
                or held.connects.cut_off
                or held.in_flight_at_stop
            ):
                self.rejected_reports += 1
                if client_id not in self._rejected_from:
                    self._rejected_from.add(client_id)
                    why = "of another test" if known else "from a worker that is not this master's"
                    _log.warning(
                        "rejected a report %s (%s): its %d replies are not counted (further ones: in the "
                        "summary's workers.rejected_reports)",
                        why,
                        client_id,
                        held.total.replies,
                    )
        return known

    def merge_report(self, client_id: str, data: dict[str, Any]) -> None:
        """Master: merge a worker's report (even one Locust discards after the worker stopped)."""
        wire = data.get(REPORT_KEY)
        if wire is None:
            return
        self.stats.merge(ChatStats.from_wire(wire))
        self._workers.add(client_id)
        if wire.get("stopped"):
            self._stopped_report[client_id] = time.time()
            self._stopped_last.add(client_id)
        else:
            self._stopped_last.discard(client_id)

    def worker_quit(self, client_id: str) -> None:
        """Master: a worker said it quits (after its last report, if it sent one): no more to wait for."""
        self._departed.add(client_id)

    def departed(self, worker: str) -> bool:
        """Whether ``worker`` said it quits."""
        return worker in self._departed

    # -- a test's life ------------------------------------------------------------------------------

    def start_test(self, *, run_id: str | None = None, workers: Iterable[str] = ()) -> str | None:
        """A new test: statistics start from zero (the web UI can run several tests).

        Args:
            run_id: a worker's: the run id its users were spawned with. Elsewhere a new one is made.
            workers: the master's: the workers connected at the start.

        Returns:
            The test's run id (for the master to send with the users to spawn).
        """
        self.stats = ChatStats(self.count_tokens)
        PROCESS_TRAFFIC.take()  # what came before is not this test's
        if self.is_worker:
            self.run_id = run_id
            return run_id
        self.run_id = uuid.uuid4().hex
        self.started_at = time.time()
        self.stopped_at = None
        self._stop_began = None
        self._end_deferred = False
        self._workers = set(workers)
        self.lost_workers = []
        self._departed.clear()
        self.users_at.clear()
        return self.run_id

    def note_users(self, now: float, users: int) -> None:
        """Note the user count at second ``now`` (while the test runs)."""
        if self.stopped_at is None:
            self.users_at[int(now)] = users

    def stop_began(self) -> None:
        """The stop begins: the test's duration ends; a worker's 'stopped' report holds its last samples."""
        if not self.is_worker and self._stop_began is None and self.started_at is not None:
            self._stop_began = time.time()

    def defer_end(self) -> None:
        """The test's end is closed by :meth:`end_test` alone (the master's quit does, once its
        workers' final reports are in), not when the stop completes."""
        self._end_deferred = True

    @property
    def running(self) -> bool:
        """Whether a test started here and is not closed yet (never on a worker)."""
        return not self.is_worker and self.started_at is not None and self.stopped_at is None

    @property
    def ends_at_stop(self) -> bool:
        """Whether the stop's completion closes the test (a test runs, and its end is not deferred)."""
        return self.running and not self._end_deferred

    @property
    def stop_began_at(self) -> float | None:
        """When the current test's stop began (None: it has not)."""
        return self._stop_began

    def unreported(self, since: float) -> list[str]:
        """Master: the workers of the test that have not reported after ``since`` (sorted).

        A worker that stopped its users, reported and quit before the test's end sent everything: it
        is not listed.
        """
        return sorted(
            worker
            for worker in self._workers
            if self._stopped_report.get(worker, 0.0) <= since
            and not (worker in self._departed and worker in self._stopped_last)
        )

    def note_lost(self, since: float) -> list[str]:
        """Master: the workers still unreported after ``since`` are the test's lost workers (returned)."""
        self.lost_workers = self.unreported(since)
        return self.lost_workers

    def end_test(self) -> bool:
        """Close the test's books: its end is when its stop began (once a test).

        Returns:
            Whether the test was closed now (False: none runs, or it was closed already).
        """
        if not self.running:
            return False
        self.stopped_at = self._stop_began if self._stop_began is not None else time.time()
        self._end_deferred = False
        return True

    @property
    def duration_s(self) -> float:
        """Seconds from the test's start to its stop (or to now while it runs).

        The stop is when it began (the run time's end, Ctrl+C, the web UI's button): no prompt is
        sent after it, and the waits that follow (users finishing within ``--stop-timeout``, the
        workers' last reports) are not the test's time.
        """
        if self.started_at is None:
            return 0.0
        end = self.stopped_at or self._stop_began or time.time()
        return max(end - self.started_at, 1e-9)

    def forget_rejected(self) -> None:
        """Start counting rejected reports afresh (once the closed test's summary holds them)."""
        self.rejected_reports = 0

    @property
    def workers(self) -> int:
        """A master's: the workers the test ran with (connected at its start, or reporting since), those
        that quit or were lost before its end included."""
        return len(self._workers)

    def workers_section(self) -> dict[str, Any]:
        """The summary's ``workers`` section (a master's): how many took part, lost, rejected reports."""
        return {
            "expected": self.workers,
            "lost": self.lost_workers,
            "rejected_reports": self.rejected_reports,
        }

    def take_seconds(self, before: int | None) -> list[tuple[int, dict[str, ReplyStats]]]:
        """The finished seconds before ``before`` (all with None), taken out of the statistics."""
        return self.stats.take_seconds(before)
