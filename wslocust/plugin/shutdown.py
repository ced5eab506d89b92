"""Ending a run: Ctrl+C delivered to the main greenlet, one shutdown at a time, Locust's ``--html`` report,
and Locust's ``--csv`` files written last with the final statistics."""

from __future__ import annotations

from locust.env import Environment
from locust.html import get_html_report, process_html_filename
from locust.stats import StatsCSVFileWriter

import signal
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent

__all__ = [
    "deliver_ctrl_c_to_the_main_greenlet",
    "one_shutdown",
    "write_html_report",
    "write_locusts_csvs_at_close",
]


def deliver_ctrl_c_to_the_main_greenlet() -> None:
    """Make Ctrl+C (SIGINT) raise ``KeyboardInterrupt`` in the main greenlet only, where Locust awaits it.

    Python raises it in whichever greenlet runs when the signal is noticed. Locust's CSV writer,
    statistics history and console printer greenlets catch ``KeyboardInterrupt`` and end quietly
    (as does a master's worker listener): a Ctrl+C that lands in one of them is lost, the run goes
    on to its time limit, and that greenlet's files stop being written. A gevent signal handler
    runs from the event loop instead, and throws the interrupt into the main greenlet, as gevent
    does with an interrupt it catches itself.
    """
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return  # ignored (started in the background by a shell) or handled by the embedding program
    hub = gevent.get_hub()

    def interrupt() -> None:
        hub.loop.run_callback(hub.parent.throw, KeyboardInterrupt)

    gevent.signal_handler(signal.SIGINT, interrupt)


def one_shutdown(environment: Environment) -> Callable[[], None]:
    """A wait, for the ``quitting`` listener, until a Locust shutdown under way elsewhere ends the process.

    SIGTERM runs Locust's shutdown in a greenlet of its own; once it has quit the runner, the main
    greenlet wakes from its wait on the runner and runs the shutdown again as soon as the first one
    yields (stopping the embedded demo bot does): the final tables and "Shutting down" were printed
    twice. A second shutdown (that one, or another signal's) waits here until the first ends the
    process (its ``sys.exit`` reaches the main greenlet, here), bounded: if the first died instead,
    or never ends, the second goes on.
    """
    first: list[Any] = []

    def wait_for_the_first() -> None:
        current = gevent.getcurrent()
        if first and first[0] is not current:
            deadline = time.monotonic() + (environment.stop_timeout or 0.0) + _SHUTDOWN_WAIT_S
            while not getattr(first[0], "dead", False) and time.monotonic() < deadline:
                gevent.sleep(0.05)
        first[:] = [current]

    return wait_for_the_first


_SHUTDOWN_WAIT_S = 30.0
"""Seconds (beyond the stop timeout) a second shutdown waits for the first to end the process."""


def write_html_report(environment: Environment) -> None:
    """Write Locust's ``--html`` report as Locust does at the end of a run, when asked for one."""
    options = environment.parsed_options
    if options is None or not getattr(options, "html_file", None):
        return
    process_html_filename(options)
    path = Path(options.html_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(get_html_report(environment, show_download_link=False), encoding="utf-8")


def write_locusts_csvs_at_close() -> None:
    """Make Locust write its ``--csv`` files once more, with the final statistics, as it closes them.

    Locust's CSV writer rewrites ``PREFIX_stats.csv``, ``_failures.csv`` and ``_exceptions.csv`` (and
    adds a ``_stats_history.csv`` row) from a greenlet once a second, and at its shutdown closes them
    without writing again: what arrived since its last round was missing, though its printed table
    counts it. On a master, that is every worker's final report, which the quit awaits just before
    (in a short run, up to half its requests). Its closing now stops that greenlet (which could also wake
    after the close and fail on the closed files), then writes every file once more.
    """
    StatsCSVFileWriter.stats_writer = _stats_writer  # type: ignore[method-assign]
    StatsCSVFileWriter.close_files = _close_files  # type: ignore[method-assign]


_write_every_second = StatsCSVFileWriter.stats_writer
_close = StatsCSVFileWriter.close_files
_writing: weakref.WeakKeyDictionary[StatsCSVFileWriter, Any] = weakref.WeakKeyDictionary()
"""Each of Locust's CSV writers whose writing greenlet runs, and that greenlet."""


def _stats_writer(self: StatsCSVFileWriter) -> None:
    _writing[self] = gevent.getcurrent()
    _write_every_second(self)


def _close_files(self: StatsCSVFileWriter) -> None:
    writing = _writing.pop(self, None)
    if writing is not None and not self.requests_csv_filehandle.closed:
        writing.kill(block=True)
        for stream, write in (
            (self.requests_csv_filehandle, lambda: self.requests_csv(self.requests_csv_writer)),
            (self.failures_csv_filehandle, lambda: self.failures_csv(self.failures_csv_writer)),
            (self.exceptions_csv_filehandle, lambda: self.exceptions_csv(self.exceptions_csv_writer)),
        ):
            stream.seek(0)
            write()
            stream.truncate()
        self._stats_history_data_rows(self.stats_history_csv_writer, time.time())
    _close(self)
