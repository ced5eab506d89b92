"""The recorder: one a Locust process; it keeps the chatbot statistics of the run and writes them.

On a worker it counts replies and hands the counts to each report to the master, starting afresh
after each report, and says in each report whether its users have stopped. On the master (or a
single process) it merges those reports, writes the history file second by second, and at the end of
each test writes the statistics CSV, the JSON summary, the failed pairs and, when headless, the
table. At the end of a test the master waits (once, bounded) for a report from every worker of the
test sent after that worker stopped, so the final figures hold every sample; a worker that went
missing is not waited for, and is reported as lost.

Each test has a run id, given to the workers with their users (in the spawn message's options) and
echoed in each of their reports: the master counts only reports of its current test (a worker of an
earlier master on the same port, or a report of an earlier test, is rejected, counted and logged).
"""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching comes first)
from locust.argument_parser import default_args_dict, get_parser
from locust.env import Environment
from locust.runners import (
    STATE_INIT,
    STATE_MISSING,
    STATE_RUNNING,
    STATE_SPAWNING,
    STATE_STOPPED,
    WORKER_REPORT_INTERVAL,
    MasterRunner,
    WorkerRunner,
)

import json
import logging
import re
import time
import uuid
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent

from ..client import CONNECT_REQUEST_TYPE, REQUEST_TYPE, Reply
from ..errors import ConfigurationError, WsLocustError
from ..gates import Verdict, evaluate, format_verdict, gates_from_options
from ..outputs.writers import (
    FailedPairsWriter,
    HistoryWriter,
    format_table,
    history_csv_text,
    history_rows,
    public_url,
    stats_rows,
    summary,
    write_stats_csv,
)
from ..users import WebSocketUser
from .aggregates import TOKEN_COUNTERS, ChatStats, ReplyStats

__all__ = ["DEFAULT_PROGRESS_INTERVAL_S", "Recorder", "ui_key"]

_log = logging.getLogger("wslocust")
_table_log = logging.getLogger("locust.stats_logger")
_HISTORY_ROWS_KEPT = 200_000
RUN_ID_OPTION = "wslocust_run_id"
"""The attribute of the parsed options that carries a test's run id from the master to its workers."""

DEFAULT_PROGRESS_INTERVAL_S = 5.0
"""How often a headless run logs a progress line, unless ``--progress-interval`` says otherwise."""


class Recorder:
    """The chatbot statistics of one Locust process, and their files.

    Args:
        environment: the Locust environment (its runner tells worker, master or single process).
        csv_prefix: Locust's ``--csv`` prefix; the chat CSVs and failed pairs are written beside.
        summary_path: where the JSON summary goes (``--summary-json``), if anywhere.
        failed_path: where the failed pairs go (default ``PREFIX_failed_replies.jsonl`` with a prefix).
        tokens: how output tokens are counted (a key of :data:`~wslocust.stats.TOKEN_COUNTERS`).
        print_table: a headless run: print the statistics table and the gates' verdict at quit, after
            Locust's own final tables, so the verdict is the last thing the run prints.
        progress_interval_s: a headless run: log a progress line this often (``None``: every
            :data:`DEFAULT_PROGRESS_INTERVAL_S`; 0: never). Never in the web UI mode.
    """

    def __init__(
        self,
        environment: Environment,
        *,
        csv_prefix: str | None = None,
        summary_path: str | None = None,
        failed_path: str | None = None,
        tokens: str = "words",
        print_table: bool = False,
        progress_interval_s: float | None = None,
    ) -> None:
        self.environment = environment
        self.count_tokens: Callable[[Reply], int] = TOKEN_COUNTERS[tokens]
        self.stats = ChatStats(self.count_tokens)
        self.is_worker = isinstance(environment.runner, WorkerRunner)
        self.is_master = isinstance(environment.runner, MasterRunner)
        self.csv_prefix = csv_prefix
        self.summary_path = Path(summary_path) if summary_path else None
        self.print_table = print_table
        interval = DEFAULT_PROGRESS_INTERVAL_S if progress_interval_s is None else progress_interval_s
        self.progress_interval_s = interval if print_table else 0.0
        self._progress = ReplyStats()  # the replies of the finished seconds since the last progress line
        self._progress_from: int | None = None  # the first second the next progress line covers
        self._progress_to: int | None = None  # and the second after its last one
        self._next_progress = 0.0
        self.started_at: float | None = None
        self.stopped_at: float | None = None
        self.users_at: dict[int, int] = {}
        self.history_rows: deque[dict[str, Any]] = deque(maxlen=_HISTORY_ROWS_KEPT)
        self.run_id: str | None = None
        """The current test's id (the master's own; on a worker, the one its users were spawned with)."""
        self._workers: set[str] = set()  # workers of the current test (at its start, or reporting since)
        self.lost_workers: list[str] = []
        """Workers of the last test that sent no report after stopping (their last samples are missing)."""
        self.rejected_reports = 0
        """Reports with samples rejected since the last summary (not of this test, or of this master)."""
        self._rejected_from: set[str] = set()  # workers whose rejection was logged (once each)
        self._departed: set[str] = set()  # workers that quit: nothing more will come from them
        self._stopped_report: dict[str, float] = {}  # when each last sent a report after stopping
        self._stopped_last: set[str] = set()  # workers whose latest report was sent after stopping
        self._stop_began: float | None = None
        self.deferred = False  # the master's quit finishes the test itself, once workers reported
        self._history: HistoryWriter | None = None
        self._failed: FailedPairsWriter | None = None
        self._ticker: gevent.Greenlet | None = None
        self._own_options: dict[str, Any] | None = None  # not Locust's, not secret: name -> default
        self._closing_text: list[str] = []  # printed at quit (headless): the table, then the verdict
        self.last_summary: dict[str, Any] | None = None
        self.last_verdict: Verdict | None = None
        """The gates' verdict of the last test, when gates are set."""
        self.summary_extras: list[Callable[[], dict[str, Any]]] = []
        """Functions adding sections to the JSON summary (a shape's per-step results)."""
        self.second_listeners: list[Callable[[list[tuple[int, dict[str, ReplyStats]]]], None]] = []
        """Functions given the finished seconds as they are taken, oldest first (a shape's steps)."""
        if self.is_worker:
            return
        if csv_prefix:
            self._history = HistoryWriter(Path(f"{csv_prefix}_chat_stats_history.csv"))
        failed = failed_path or (f"{csv_prefix}_failed_replies.jsonl" if csv_prefix else None)
        if failed:
            self._failed = FailedPairsWriter(Path(failed))

    # -- samples ------------------------------------------------------------------------------------

    def on_request(
        self,
        request_type: str,
        response_time: float,
        exception: Any = None,
        response: Any = None,
        *,
        name: Any = None,
        response_length: Any = None,
        context: Any = None,
        start_time: Any = None,
        url: Any = None,
        **_: Any,
    ) -> None:
        """Count a ``WS`` reply or a ``CONNECT`` (a Locust request event listener)."""
        # Every argument Locust's request event carries is named: binding them is about twice as
        # fast as collecting them into **_ (this runs once a reply).
        if request_type == REQUEST_TYPE and isinstance(response, Reply):
            self.stats.record(response)
        elif request_type == CONNECT_REQUEST_TYPE:
            kind = (
                None
                if exception is None
                else exception.kind
                if isinstance(exception, WsLocustError)
                else "error"
            )
            self.stats.connects.add(response_time, kind)

    def on_stopped_mid_reply(self, reply: Reply) -> None:
        """Count a prompt whose reply was still in flight when its user was stopped (never a reply)."""
        self.stats.in_flight_at_stop += 1

    def on_report_to_master(self, data: dict[str, Any], **_: Any) -> None:
        """Worker: hand everything counted since the last report to the master, and start afresh."""
        runner = self.environment.runner
        wire = self.stats.to_wire()
        stopped = runner is not None and runner.state in (STATE_STOPPED, STATE_INIT) and not runner.user_count
        wire["stopped"] = stopped
        wire["run"] = self.run_id
        data["wslocust"] = wire
        self.stats = ChatStats(self.count_tokens)

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
        wire = data.get("wslocust")
        if known and (wire is None or wire.get("run") == self.run_id):
            return True
        if wire is not None:
            data.pop("wslocust")
            data.pop("wslocust_arrivals", None)
            held = ChatStats.from_wire(wire)
            if held.total.replies or held.connects.attempts or held.in_flight_at_stop:
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

    def on_worker_quit(self, client_id: str) -> None:
        """Master: a worker said it quits (after its last report, if it sent one): no more to wait for."""
        self._departed.add(client_id)

    def on_worker_report(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        """Master: merge a worker's report (even one Locust discards after the worker stopped)."""
        wire = data.get("wslocust")
        if wire is None:
            return
        self.stats.merge(ChatStats.from_wire(wire))
        self._workers.add(client_id)
        if wire.get("stopped"):
            self._stopped_report[client_id] = time.time()
            self._stopped_last.add(client_id)
        else:
            self._stopped_last.discard(client_id)

    def on_test_stopping(self, **_: Any) -> None:
        """The stop begins: the test's duration ends; a worker's 'stopped' report holds its last samples."""
        if not self.is_worker and self._stop_began is None and self.started_at is not None:
            self._stop_began = time.time()

    # -- a test's life ------------------------------------------------------------------------------

    def on_test_start(self, **_: Any) -> None:
        """A new test: statistics start from zero (the web UI can run several tests), under a new run id."""
        self.stats = ChatStats(self.count_tokens)
        options = self.environment.parsed_options
        if self.is_worker:
            self.run_id = getattr(options, RUN_ID_OPTION, None)  # the spawn message's, just taken in
            return
        self.run_id = uuid.uuid4().hex
        if options is not None:
            setattr(options, RUN_ID_OPTION, self.run_id)  # sent with the users to spawn
        self.started_at = time.time()
        self.stopped_at = None
        self._stop_began = None
        self._workers.clear()
        runner = self.environment.runner
        if isinstance(runner, MasterRunner):
            self._workers.update(client.id for client in runner.clients.all if client.state != STATE_MISSING)
        self.lost_workers = []
        self._departed.clear()
        self.users_at.clear()
        self._progress = ReplyStats()
        self._progress_from = self._progress_to = int(self.started_at)
        self._next_progress = self.started_at + self.progress_interval_s
        if self._ticker is None or self._ticker.dead:
            self._ticker = gevent.spawn(self._tick_forever)

    def _tick_forever(self) -> None:
        while True:
            self.tick()
            gevent.sleep(1.0)

    def tick(self) -> None:
        """Once a second: note the user count, write the seconds no report can still change."""
        now = time.time()
        runner = self.environment.runner
        if self.stopped_at is None and runner is not None:
            self.users_at[int(now)] = runner.user_count
        # Workers report every few seconds: a second is final once every report covering it is in.
        lag = WORKER_REPORT_INTERVAL + 2.0 if self.is_master else 1.0
        self._write_progress(before=int(now - lag))
        running = runner is not None and runner.state in (STATE_SPAWNING, STATE_RUNNING)
        if self.progress_interval_s and running and now >= self._next_progress:
            self._next_progress = now + self.progress_interval_s
            self._log_progress(now)

    def _log_progress(self, now: float) -> None:
        """Log one line: elapsed time, users, and the replies of the seconds finished since the last line
        (on a master, the seconds every worker has reported: a few seconds behind)."""
        first, end = self._progress_from, self._progress_to
        if first is None or end is None or end <= first or self.started_at is None:
            return
        stats, self._progress, self._progress_from = self._progress, ReplyStats(), end
        runner = self.environment.runner
        ttft = stats.ttft.percentile(0.95)
        _log.info(
            "%s elapsed, %d users: %.1f replies/s, %d failed, TTFT p95 %s (replies that ended %s-%s)",
            _clock(now - self.started_at),
            runner.user_count if runner is not None else 0,
            stats.replies / (end - first),
            stats.failures,
            "-" if ttft is None else f"{ttft:.0f} ms",
            _clock(first - int(self.started_at)),  # whole seconds, counted from the start's
            _clock(end - int(self.started_at)),
        )

    def _write_progress(self, before: int | None) -> None:
        seconds = self.stats.take_seconds(before)
        for listener in self.second_listeners:
            listener(seconds)
        if before is not None and self._progress_to is not None:
            self._progress_to = max(self._progress_to, before)
        if self.progress_interval_s:  # no progress lines (web UI, --progress-interval 0): nothing to gather
            for _, names in seconds:
                for stats in names.values():
                    self._progress.merge(stats)
        if seconds:
            if self._history is not None:
                rows = self._history.write(seconds, self.users_at)
            else:
                rows = history_rows(seconds, self.users_at)
            self.history_rows.extend(rows)
        failed = self.stats.take_failed()
        if failed and self._failed is not None:
            self._failed.write(failed)

    def on_reset_stats(self, **_: Any) -> None:
        """Locust's statistics were reset (the web UI's button, ``--reset-stats``): reset ours too."""
        self.stats = ChatStats(self.count_tokens)
        if self.started_at is not None and self.stopped_at is None:
            self.started_at = time.time()  # rates are over the time since the reset

    def await_final_reports(self) -> None:
        """Master: wait (once a test, bounded) until every worker of the test reported after it stopped.

        The wait is for the stop timeout (users finishing their replies) and two report intervals; a
        worker that quit, or that Locust marks missing (no heartbeat), is not waited for. The workers
        that sent nothing after stopping are the test's lost workers: logged once, and listed in the
        summary.
        """
        if not self.is_master or self.started_at is None or self.stopped_at is not None:
            return
        since = self._stop_began if self._stop_began is not None else time.time()
        stop_timeout = self.environment.stop_timeout or 0.0
        deadline = time.monotonic() + stop_timeout + 2 * WORKER_REPORT_INTERVAL + 1.0

        def unreported() -> list[str]:
            return sorted(
                worker
                for worker in self._workers
                if self._stopped_report.get(worker, 0.0) <= since
                # one that stopped its users, reported, and quit before the test's end sent everything
                and not (worker in self._departed and worker in self._stopped_last)
            )

        def gone(worker: str) -> bool:
            return worker in self._departed or self._missing(worker)

        while any(not gone(worker) for worker in unreported()) and time.monotonic() < deadline:
            gevent.sleep(0.05)
        self.lost_workers = unreported()
        for worker in self.lost_workers:
            why = (
                "it quit"
                if worker in self._departed
                else "no heartbeat"
                if self._missing(worker)
                else "no report after stopping"
            )
            _log.warning(
                "worker %s was lost (%s): its replies since its last report are missing from the results",
                worker,
                why,
            )

    def _missing(self, worker: str) -> bool:
        """Whether Locust marked a worker missing (its heartbeats stopped)."""
        runner = self.environment.runner
        client = runner.clients.get(worker) if isinstance(runner, MasterRunner) else None
        return client is not None and client.state == STATE_MISSING

    def on_test_stop(self, **_: Any) -> None:
        """End of a test: take every last sample, then write the files and the table."""
        if self.is_worker or self.started_at is None or self.stopped_at is not None or self.deferred:
            return
        self.await_final_reports()
        self.end_test()

    def end_test(self) -> None:
        """Close the test's books: note its end (when its stop began) and write everything (once a test)."""
        if self.started_at is None or self.stopped_at is not None:
            return
        self.stopped_at = self._stop_began if self._stop_began is not None else time.time()
        self.finish()
        self.rejected_reports = 0

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

    def finish(self) -> None:
        """Write everything gathered so far: history, failed pairs, statistics CSV, summary, table."""
        self._write_progress(before=None)
        duration = self.duration_s
        if self.csv_prefix:
            write_stats_csv(Path(f"{self.csv_prefix}_chat_stats.csv"), self.stats, duration)
        self.last_summary = summary(self.stats, duration, self._summary_extra())
        self.last_verdict = self._judge(self.last_summary)
        if self.summary_path is not None:
            self.summary_path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.summary_path.with_suffix(self.summary_path.suffix + ".tmp")
            temporary.write_text(json.dumps(self.last_summary, indent=2) + "\n", encoding="utf-8")
            temporary.replace(self.summary_path)
        texts = []
        if self.print_table and self.stats.total.replies:
            texts.append(format_table(stats_rows(self.stats, duration)))
        if self.print_table and self.stats.in_flight_at_stop:
            count = self.stats.in_flight_at_stop
            texts.append(
                f"{count} {'prompt' if count == 1 else 'prompts'} in flight at stop: sent, but their users "
                "were stopped before the reply ended (not counted above; a longer --stop-timeout lets them "
                "finish)"
            )
        if self.last_verdict is not None:
            texts.append(format_verdict(self.last_verdict))
        if self.print_table:
            self._closing_text = texts  # the last test's, printed by close()
        else:  # the web UI runs test after test: each verdict when its test ends
            for text in texts:
                _table_log.info("\n%s\n", text)

    def _judge(self, result: dict[str, Any]) -> Verdict | None:
        """Evaluate the gates (re-read at each test's end: the web UI may change them) into the summary."""
        options = self.environment.parsed_options
        try:
            gates = gates_from_options(options) if options is not None else []
        except ConfigurationError as error:  # a bad value typed into the web UI form
            _log.error("gates not judged: %s", error)
            return None
        if not gates:
            return None
        verdict = evaluate(gates, result)
        result["gates"] = verdict.as_json()
        return verdict

    def _summary_extra(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"run": self.run_section()}
        for section in self.summary_extras:
            extra.update(section())
        if self._failed is not None:
            extra["failed_replies_file"] = str(self._failed.path)
        extra["in_flight_at_stop"] = self.stats.in_flight_at_stop
        if self.is_master:
            extra["workers"] = {
                "expected": len(self._workers),
                "lost": self.lost_workers,
                "rejected_reports": self.rejected_reports,
            }
        return extra

    def run_section(self) -> dict[str, Any]:
        """What was run, for the JSON summary: target (without user info or query string), locustfile,
        load (``users`` and ``spawn_rate`` are ``None`` under a shape, which sets them), protocol,
        shape, and every option set to other than its default that is not Locust's own and not secret."""
        environment = self.environment
        options = vars(environment.parsed_options) if environment.parsed_options is not None else {}
        users = [cls for cls in environment.user_classes if issubclass(cls, WebSocketUser)]
        host = environment.host or next((cls.host for cls in users if cls.host), None)
        protocol = options.get("protocol") or (users[0].protocol if users else None)
        shape = environment.shape_class
        runner = environment.runner
        section: dict[str, Any] = {
            "host": public_url(host) if host else None,
            "locustfile": options.get("locustfile"),
            "users": None if shape is not None else options.get("num_users"),
            "spawn_rate": None if shape is not None else options.get("spawn_rate"),
            "run_time_s": options.get("run_time"),
            "protocol": protocol if protocol is None or isinstance(protocol, str) else protocol.name,
            "shape": None if shape is None else getattr(shape, "shape_name", type(shape).__name__),
            "workers": runner.worker_count if isinstance(runner, MasterRunner) else None,
        }
        if self._own_options is None:
            locust_own = default_args_dict()
            self._own_options = {
                action.dest: action.default
                for action in get_parser()._actions
                if action.dest not in locust_own and not getattr(action, "is_secret", False)
            }
        section["options"] = {
            name: _jsonable(options[name])
            for name, default in sorted(self._own_options.items())
            if name in options and options[name] != default
        }
        return section

    def close(self) -> None:
        """At quit (after Locust's final tables): stop the ticker, close the files and print the last
        test's table and verdict of a headless run, the verdict last."""
        if self._ticker is not None:
            self._ticker.kill(block=False)
        for writer in (self._history, self._failed):
            if writer is not None:
                writer.close()
        texts, self._closing_text = self._closing_text, []
        for text in texts:
            _table_log.info("\n%s\n", text)

    # -- the web UI ---------------------------------------------------------------------------------

    def ui_rows(self) -> list[dict[str, Any]]:
        """Rows of the web UI's Chatbot tab (snake_case keys, as the UI's tables expect)."""
        return [
            {ui_key(key): value for key, value in row.items()}
            for row in stats_rows(self.stats, self.duration_s)
        ]

    def history_csv(self) -> str:
        """The history rows kept in memory, as the text of a ``_chat_stats_history.csv`` file."""
        return history_csv_text(self.history_rows)


def _clock(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``) of a number of seconds."""
    minutes, secs = divmod(max(0, round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _jsonable(value: Any) -> Any:
    """An option's value as JSON can hold it (a tuple as a list, anything unusual as its text)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return str(value)


def ui_key(column: str) -> str:
    """The web UI key of a statistics column: ``TTFT p50 (ms)`` → ``ttft_p50_ms``."""
    return re.sub(r"[^a-z0-9]+", "_", column.lower()).strip("_")
