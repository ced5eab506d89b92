"""The recording of a run: Locust's events fed to the :class:`~wslocust.stats.recorder.Recorder`, and
what it holds written out.

Once a second (a greenlet) it notes the user count and writes the seconds no report can still change
to the history file (and the failed pairs), and a headless run logs a progress line every few seconds.
At the end of each test (on the master, once every worker's final report is in, or it is lost) it
writes the statistics CSV and the JSON summary, judges the gates and, when headless, keeps the table
and the verdict for the quit, after Locust's own final tables.
"""

from __future__ import annotations

from locust.argument_parser import default_args_dict, get_parser
from locust.env import Environment
from locust.event import Events
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
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent

from ..client import CONNECT_REQUEST_TYPE, REQUEST_TYPE
from ..errors import ConfigurationError, WsLocustError
from ..gates import Verdict, evaluate, format_verdict, gates_from_options
from ..outputs import (
    FailedPairsWriter,
    HistoryWriter,
    format_capacity,
    format_table,
    format_traffic,
    history_csv_text,
    history_rows,
    public_url,
    stats_rows,
    summary,
    write_stats_csv,
)
from ..outputs.csv_files import (
    VOICE_HISTORY_SUFFIX,
    VOICE_SUFFIX,
    VoiceHistoryWriter,
    voice_rows,
    write_voice_csv,
)
from ..outputs.lifecycle import lifecycle_text
from ..outputs.table import format_voice_table
from ..stats.aggregates import ChatStats, ReplyStats
from ..stats.recorder import REPORT_KEY, Recorder, Role
from ..users import WebSocketUser
from ..wire.reply import Reply
from .option_marks import public_text

__all__ = ["DEFAULT_PROGRESS_INTERVAL_S", "RUN_ID_OPTION", "Recording"]

_log = logging.getLogger("wslocust")
_table_log = logging.getLogger("locust.stats_logger")
_HISTORY_ROWS_KEPT = 200_000

RUN_ID_OPTION = "wslocust_run_id"
"""The attribute of the parsed options that carries a test's run id from the master to its workers."""

DEFAULT_PROGRESS_INTERVAL_S = 5.0
"""How often a headless run logs a progress line, unless ``--progress-interval`` says otherwise."""


def _role(environment: Environment) -> Role:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        return "worker"
    return "master" if isinstance(runner, MasterRunner) else "local"


class Recording:
    """The chatbot statistics of one Locust process (a :class:`Recorder`), fed and written out.

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
        self.recorder = Recorder(tokens, role=_role(environment))
        self.csv_prefix = csv_prefix
        self.summary_path = Path(summary_path) if summary_path else None
        self.print_table = print_table
        interval = DEFAULT_PROGRESS_INTERVAL_S if progress_interval_s is None else progress_interval_s
        self.progress_interval_s = interval if print_table else 0.0
        self._progress = ReplyStats()  # the replies of the finished seconds since the last progress line
        self._progress_from: int | None = None  # the first second the next progress line covers
        self._progress_to: int | None = None  # and the second after its last one
        self._next_progress = 0.0
        self.history_rows: deque[dict[str, Any]] = deque(maxlen=_HISTORY_ROWS_KEPT)
        """The history rows written so far (the web UI's charts and its history download)."""
        self._history: HistoryWriter | None = None
        self._voice_history: VoiceHistoryWriter | None = None
        self._failed: FailedPairsWriter | None = None
        self._ticker: gevent.Greenlet | None = None
        self._own_options: dict[str, Any] | None = None  # not Locust's, not secret: name -> action
        self._closing_text: list[str] = []  # printed at quit (headless): the table, then the verdict
        self.last_summary: dict[str, Any] | None = None
        self.last_verdict: Verdict | None = None
        """The gates' verdict of the last test, when gates are set."""
        self.summary_extras: list[Callable[[], dict[str, Any]]] = []
        """Functions adding sections to the JSON summary (a shape's per-step results)."""
        self.second_listeners: list[Callable[[list[tuple[int, dict[str, ReplyStats]]]], None]] = []
        """Functions given the finished seconds as they are taken, oldest first (a shape's steps)."""
        if self.recorder.is_worker:
            return
        if csv_prefix:
            self._history = HistoryWriter(Path(f"{csv_prefix}_chat_stats_history.csv"))
            self._voice_history = VoiceHistoryWriter(Path(csv_prefix + VOICE_HISTORY_SUFFIX))
        failed = failed_path or (f"{csv_prefix}_failed_replies.jsonl" if csv_prefix else None)
        if failed:
            self._failed = FailedPairsWriter(Path(failed))

    def listen(self, events: Events) -> None:
        """Add the listeners of Locust's events that feed the recorder."""
        events.request.add_listener(self.on_request)
        events.report_to_master.add_listener(self.on_report_to_master)
        events.worker_report.add_listener(self.on_worker_report)
        events.test_start.add_listener(self.on_test_start)
        events.test_stopping.add_listener(self.on_test_stopping)
        events.test_stop.add_listener(self.on_test_stop)
        events.reset_stats.add_listener(self.on_reset_stats)

    # -- what the web UI and the hooks read ---------------------------------------------------------

    @property
    def stats(self) -> ChatStats:
        """The statistics of the current test (with the traffic counted up to now)."""
        self.recorder.take_traffic()
        return self.recorder.stats

    @property
    def is_worker(self) -> bool:
        """Whether this process is a worker."""
        return self.recorder.is_worker

    @property
    def started_at(self) -> float | None:
        """When the current test started (None before the first)."""
        return self.recorder.started_at

    @property
    def stopped_at(self) -> float | None:
        """When the current test's stop began, once closed (None while it runs)."""
        return self.recorder.stopped_at

    @property
    def duration_s(self) -> float:
        """Seconds from the test's start to its stop (or to now while it runs)."""
        return self.recorder.duration_s

    def history_csv(self) -> str:
        """The history rows kept in memory, as the text of a ``_chat_stats_history.csv`` file."""
        return history_csv_text(self.history_rows)

    # -- Locust's events ----------------------------------------------------------------------------

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
            self.recorder.stats.record(response)
        elif request_type == CONNECT_REQUEST_TYPE:
            kind = (
                None
                if exception is None
                else exception.kind
                if isinstance(exception, WsLocustError)
                else "error"
            )
            self.recorder.record_connect(response_time, kind)

    def on_report_to_master(self, data: dict[str, Any], **_: Any) -> None:
        """Worker: hand everything counted since the last report to the master, and start afresh."""
        runner = self.environment.runner
        stopped = runner is not None and runner.state in (STATE_STOPPED, STATE_INIT) and not runner.user_count
        data[REPORT_KEY] = self.recorder.take_report(stopped=stopped)

    def on_worker_report(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        """Master: merge a worker's report (even one Locust discards after the worker stopped)."""
        self.recorder.merge_report(client_id, data)

    def on_test_stopping(self, **_: Any) -> None:
        """The stop begins: the test's duration ends."""
        self.recorder.stop_began()

    def on_test_start(self, **_: Any) -> None:
        """A new test: statistics start from zero (the web UI can run several tests), under a new run id."""
        options = self.environment.parsed_options
        recorder = self.recorder
        if recorder.is_worker:
            recorder.start_test(run_id=getattr(options, RUN_ID_OPTION, None))  # the spawn message's
            return
        runner = self.environment.runner
        workers = (
            [client.id for client in runner.clients.all if client.state != STATE_MISSING]
            if isinstance(runner, MasterRunner)
            else []
        )
        run_id = recorder.start_test(workers=workers)
        if options is not None:
            setattr(options, RUN_ID_OPTION, run_id)  # sent with the users to spawn
        started = recorder.started_at or time.time()
        self._progress = ReplyStats()
        self._progress_from = self._progress_to = int(started)
        self._next_progress = started + self.progress_interval_s
        if self._ticker is None or self._ticker.dead:
            self._ticker = gevent.spawn(self._tick_forever)

    def on_test_stop(self, **_: Any) -> None:
        """End of a test: take every last sample, then write the files and the table (unless the
        master's quit closes the test itself, once its workers reported)."""
        if not self.recorder.ends_at_stop:
            return
        self.await_final_reports()
        self.end_test()

    def on_reset_stats(self, **_: Any) -> None:
        """Locust's statistics were reset (the web UI's button, ``--reset-stats``): reset ours too."""
        self.recorder.reset_stats()

    # -- once a second ------------------------------------------------------------------------------

    def _tick_forever(self) -> None:
        while True:
            self.tick()
            gevent.sleep(1.0)

    def tick(self) -> None:
        """Once a second: note the user count, write the seconds no report can still change."""
        now = time.time()
        runner = self.environment.runner
        if runner is not None:
            self.recorder.note_users(now, runner.user_count)
        # Workers report every few seconds: a second is final once every report covering it is in.
        lag = WORKER_REPORT_INTERVAL + 2.0 if self.recorder.is_master else 1.0
        self._write_progress(before=int(now - lag))
        running = runner is not None and runner.state in (STATE_SPAWNING, STATE_RUNNING)
        if self.progress_interval_s and running and now >= self._next_progress:
            self._next_progress = now + self.progress_interval_s
            self._log_progress(now)

    def _log_progress(self, now: float) -> None:
        """Log one line: elapsed time, users, and the replies of the seconds finished since the last line
        (on a master, the seconds every worker has reported: a few seconds behind)."""
        first, end = self._progress_from, self._progress_to
        started = self.recorder.started_at
        if first is None or end is None or end <= first or started is None:
            return
        stats, self._progress, self._progress_from = self._progress, ReplyStats(), end
        runner = self.environment.runner
        ttft = stats.ttft.percentile(0.95)
        _log.info(
            "%s elapsed, %d users: %.1f replies/s, %d failed, TTFT p95 %s (replies that ended %s-%s)",
            _clock(now - started),
            runner.user_count if runner is not None else 0,
            stats.replies / (end - first),
            stats.failures,
            "-" if ttft is None else f"{ttft:.0f} ms",
            _clock(first - int(started)),  # whole seconds, counted from the start's
            _clock(end - int(started)),
        )

    def _write_progress(self, before: int | None) -> None:
        seconds = self.recorder.take_seconds(before)
        for listener in self.second_listeners:
            listener(seconds)
        if before is not None and self._progress_to is not None:
            self._progress_to = max(self._progress_to, before)
        if self.progress_interval_s:  # no progress lines (web UI, --progress-interval 0): nothing to gather
            for _, names in seconds:
                for stats in names.values():
                    self._progress.merge(stats)
        if seconds:
            users_at = self.recorder.users_at
            if self._history is not None:
                rows = self._history.write(seconds, users_at)
            else:
                rows = history_rows(seconds, users_at)
            self.history_rows.extend(rows)
        voice_seconds = self.recorder.stats.take_voice_seconds(before)  # (none without audio turns)
        if voice_seconds and self._voice_history is not None:
            self._voice_history.write(voice_seconds, self.recorder.users_at)
        failed = self.stats.take_failed()
        if failed and self._failed is not None:
            self._failed.write(failed)

    # -- the end of a test --------------------------------------------------------------------------

    def await_final_reports(self) -> None:
        """Master: wait (once a test, bounded) until every worker of the test reported after it stopped.

        The wait is for the stop timeout (users finishing their replies) and two report intervals; a
        worker that quit, or that Locust marks missing (no heartbeat), is not waited for. The workers
        that sent nothing after stopping are the test's lost workers: logged once, and listed in the
        summary.
        """
        recorder = self.recorder
        if not recorder.is_master or not recorder.running:
            return
        since = recorder.stop_began_at if recorder.stop_began_at is not None else time.time()
        stop_timeout = self.environment.stop_timeout or 0.0
        deadline = time.monotonic() + stop_timeout + 2 * WORKER_REPORT_INTERVAL + 1.0

        def gone(worker: str) -> bool:
            return recorder.departed(worker) or self._missing(worker)

        while any(not gone(worker) for worker in recorder.unreported(since)) and time.monotonic() < deadline:
            gevent.sleep(0.05)
        for worker in recorder.note_lost(since):
            why = (
                "it quit"
                if recorder.departed(worker)
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

    def end_test(self) -> None:
        """Close the test's books (once a test) and write everything."""
        if self.recorder.end_test():
            self.finish()
            self.recorder.forget_rejected()

    def finish(self) -> None:
        """Write everything gathered so far: history, failed pairs, statistics CSV, summary, table."""
        self._write_progress(before=None)
        duration = self.duration_s
        if self.csv_prefix:
            write_stats_csv(Path(f"{self.csv_prefix}_chat_stats.csv"), self.stats, duration)
            if not self.stats.voice.empty:
                write_voice_csv(Path(self.csv_prefix + VOICE_SUFFIX), self.stats.voice)
        self.last_summary = summary(self.stats, duration, self._summary_extra())
        self.last_verdict = self._judge(self.last_summary)
        if self.summary_path is not None:
            self.summary_path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.summary_path.with_suffix(self.summary_path.suffix + ".tmp")
            temporary.write_text(json.dumps(self.last_summary, indent=2) + "\n", encoding="utf-8")
            temporary.replace(self.summary_path)
        texts = []
        if self.print_table and self.stats.total.replies:
            rows = stats_rows(self.stats, duration)
            texts.append(format_table(rows))
            traffic = format_traffic(rows)
            if traffic is not None:
                texts.append(traffic)
        if self.print_table and not self.stats.voice.empty:
            texts.append(format_voice_table(voice_rows(self.stats.voice)))
        lives = lifecycle_text(self.stats.lifecycle)
        if self.print_table and lives is not None:
            texts.append(lives)
        if self.print_table and self.stats.in_flight_at_stop:
            count = self.stats.in_flight_at_stop
            texts.append(
                f"{count} {'prompt' if count == 1 else 'prompts'} in flight at stop: sent, but their users "
                "were stopped before the reply ended (not counted above; a longer --stop-timeout lets them "
                "finish)"
            )
        cut_off = self.stats.connects.cut_off
        if self.print_table and cut_off:
            texts.append(
                f"{cut_off} {'connection' if cut_off == 1 else 'connections'} opening at stop: their users "
                "were stopped before the handshake ended (not counted as attempts; a bot that never "
                "completes one fails each after --connect-timeout)"
            )
        if isinstance(self.last_summary.get("capacity"), dict):
            texts.append(format_capacity(self.last_summary["capacity"]))
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
        if self.recorder.is_master:
            extra["workers"] = self.recorder.workers_section()
        return extra

    def run_section(self) -> dict[str, Any]:
        """What was run, for the JSON summary: target (without user info or query string), locustfile,
        load (``users`` and ``spawn_rate`` are ``None`` under a shape, which sets them), protocol,
        shape, and every option set to other than its default that is not Locust's own and not secret
        (shown as its option allows: a URL without its user info)."""
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
            # the test's workers: Locust's count is of those still connected, none once they quit
            "workers": self.recorder.workers if isinstance(runner, MasterRunner) else None,
        }
        if self._own_options is None:
            locust_own = default_args_dict()
            self._own_options = {
                action.dest: action
                for action in get_parser()._actions
                if action.dest not in locust_own and not getattr(action, "is_secret", False)
            }
        section["options"] = {
            name: _jsonable(public_text(action, options[name]))
            for name, action in sorted(self._own_options.items())
            if name in options and options[name] != action.default
        }
        return section

    def close(self) -> None:
        """At quit (after Locust's final tables): stop the ticker, close the files and print the last
        test's table and verdict of a headless run, the verdict last."""
        if self._ticker is not None:
            self._ticker.kill(block=False)
        for writer in (self._history, self._voice_history, self._failed):
            if writer is not None:
                writer.close()
        texts, self._closing_text = self._closing_text, []
        for text in texts:
            _table_log.info("\n%s\n", text)


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
