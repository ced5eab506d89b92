"""Distributed runs: the open model's shares of the rate, a master's quit that waits for its workers'
final reports, a master that hears only its own workers, and ``--processes`` workers that end with
their master's process."""

from __future__ import annotations

from locust.env import Environment
from locust.rpc import Message
from locust.runners import STATE_RUNNING, STATE_SPAWNING, MasterRunner, WorkerRunner

import logging
import os
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import gevent

from ..load.arrivals import ArrivalStats
from ..plugin_state import PluginState
from ..stats.recorder import ARRIVALS_REPORT_KEY, Recorder
from ..users import ChatbotUser, WebSocketUser
from .recording import Recording

__all__ = [
    "SHARES_OPTION",
    "MissedTestStart",
    "end_with_the_master_process",
    "hear_only_this_masters_workers",
    "leave_mid_test",
    "quit_after_final_reports",
    "watch_the_parent_of_forked_workers",
    "wire_open_model",
]

_log = logging.getLogger("wslocust")

SHARES_OPTION = "wslocust_shares"
"""The master's option carrying each worker's share of the open model's rate ``{worker id: (index,
count)}`` to the workers, in the spawn message: a message of its own could arrive before a worker's
plugin listened for it (a worker hears the master while it connects, before Locust fires ``init``)."""


class MissedTestStart:
    """A worker hears its master while it connects, before Locust fires ``init``: a master that starts
    the test at once (``--processes``, ``--expect-workers``) can have its spawn message taken in, and
    ``test_start`` fired, before the plugin listened. Made before the plugin adds its listeners,
    :meth:`replay` gives the ``test_start`` they missed to those added since (on a worker whose test
    already started; else nothing): without it, the worker's reports carried no run id and the
    master refused them all as another test's."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.heard = len(environment.events.test_start._handlers)  # Locust's list of listeners

    def replay(self) -> None:
        runner = self.environment.runner
        if isinstance(runner, WorkerRunner) and runner.worker_state in (STATE_SPAWNING, STATE_RUNNING):
            _log.debug("the test started before the plugin listened: its test_start given to it now")
            for listener in self.environment.events.test_start._handlers[self.heard :]:
                listener(environment=self.environment)


def wire_open_model(
    environment: Environment, users: list[type[WebSocketUser]], recording: Recording, state: PluginState
) -> None:
    """Open-model load: shares of the rate for workers, punctuality counts merged and reported."""
    runner = environment.runner
    events = environment.events
    stats = state.arrival_stats

    def forget_schedule(**_: Any) -> None:
        state.open_model = None
        stats.take()

    events.test_start.add_listener(forget_schedule)
    if isinstance(runner, WorkerRunner):

        def take_share(**_: Any) -> None:  # after Locust took the spawn message's options in
            shares = getattr(environment.parsed_options, SHARES_OPTION, None) or {}
            index, count = shares.get(runner.client_id, (0, 1))
            state.share = (index, count)

        events.test_start.add_listener(take_share)

        def report(data: dict[str, Any], **_: Any) -> None:
            data[ARRIVALS_REPORT_KEY] = stats.take()

        events.report_to_master.add_listener(report)
        return
    if isinstance(runner, MasterRunner):

        def give_shares(**_: Any) -> None:  # before Locust sends the spawn messages, which carry them
            workers = sorted(client.id for client in runner.clients.all)
            if environment.parsed_options is not None:
                shares = {worker: (index, len(workers)) for index, worker in enumerate(workers)}
                setattr(environment.parsed_options, SHARES_OPTION, shares)

        def merge(data: dict[str, Any], **_: Any) -> None:
            if ARRIVALS_REPORT_KEY in data:
                stats.merge(ArrivalStats.from_wire(data[ARRIVALS_REPORT_KEY]))

        events.test_start.add_listener(give_shares)
        events.worker_report.add_listener(merge)

    def open_model_section() -> dict[str, Any]:
        settings = next(
            (
                found
                for cls in users
                if issubclass(cls, ChatbotUser) and (found := cls.open_model_settings(environment))
            ),
            None,
        )
        if settings is None:
            return {}
        section = stats.summary(*settings)
        if not section["kept_up"]:
            _log.warning(
                "open model: the users could not keep up: %d of %d prompts were sent late (up to %.0f ms); "
                "their latency counts the wait, but add users (-u) to hold the rate",
                stats.late,
                stats.scheduled,
                stats.max_delay_ms,
            )
        return {"open_model": section}

    recording.summary_extras.append(open_model_section)


def quit_after_final_reports(runner: MasterRunner, recording: Recording) -> None:
    """Make the master's quit wait for every worker's final report before it stops listening.

    At ``--run-time``'s end a headless master quits: it ends the test, tells the workers to quit,
    and stops listening half a second later. A worker finishing its users' replies within
    ``--stop-timeout`` reports after that, and its last replies are lost (from Locust's statistics
    too). This quit does the same, but listens until each worker's report after stopping is in
    (bounded by the stop timeout and two report intervals), and only then writes the results.
    """

    quitting: list[bool] = []

    def quit_after_final_reports() -> None:
        if quitting:  # quit is called again (the last worker quitting, Locust's shutdown): once is enough
            return
        quitting.append(True)
        recording.recorder.defer_end()  # the stop's test_stop must not close the test: this does below
        recording.on_test_stopping()
        runner.stop(send_stop_to_client=False)
        for client in runner.clients.all:
            runner.server.send_to_client(Message("quit", None, client.id))
        recording.await_final_reports()
        recording.end_test()
        runner.greenlet.kill(block=True)

    runner.quit = quit_after_final_reports  # type: ignore[method-assign]


def hear_only_this_masters_workers(runner: MasterRunner) -> Callable[[Recorder], None]:
    """Let only this master's workers, and their reports of the current test, into the results.

    A worker whose master was killed (``kill -9``) keeps running its users and reporting, and when a
    new master binds the same port, its reports reach it: Locust would add them to its statistics
    (it only ignores their user counts and heartbeats). Messages from a worker that never said it was
    ready to this master are dropped here, before any listener, and such a worker is told to quit
    (as Locust tells an unknown worker that reports spawning). Reports of this master's workers are
    screened by :meth:`~wslocust.stats.recorder.Recorder.screen_report` (their run id).

    The master hears its workers from its creation, before Locust's ``init`` hook: this is installed
    first in the hook, before anything in it yields (the embedded demo bot's start does), and counts
    as this master's the workers Locust already took as ready. A worker's "ready" heard before the
    screen was missed: all that worker's reports were rejected.

    Returns:
        The function that hands the screen the run's recorder once there is one. Until then no test
        has started: an unknown worker's reports are dropped uncounted, the others' pass to Locust.
    """
    recorders: list[Recorder] = []
    known: set[str] = {client.id for client in runner.clients.all}
    told_to_quit: set[str] = set()
    handle = runner.handle_message

    def reject(node_id: str) -> None:
        if node_id not in told_to_quit:
            told_to_quit.add(node_id)
            runner.server.send_to_client(Message("quit", None, node_id))

    def handle_message(client_id: str, msg: Message) -> None:
        if msg.type == "client_ready":
            known.add(msg.node_id)
        elif msg.type == "quit" and msg.node_id in known:
            if recorders:
                recorders[0].worker_quit(msg.node_id)
        elif msg.type == "stats":
            heard = msg.node_id in known
            if recorders:
                heard = recorders[0].screen_report(msg.node_id, msg.data, known=heard)
            if not heard:
                reject(msg.node_id)
                return
        elif msg.node_id not in known and msg.type != "locustfile":
            return  # an unknown worker's heartbeat, exception, log lines, stop or quit
        handle(client_id, msg)

    runner.handle_message = handle_message  # type: ignore[method-assign]
    return recorders.append


def watch_the_parent_of_forked_workers() -> None:
    """Make each worker that ``--processes`` forks watch its parent's process from its first moment
    (see :func:`end_with_the_master_process`), while it still connects to its master too: Locust's
    ``init``, where the plugin gets its runner, fires only once it has. Called from the parser's
    hook, which Locust runs before it forks; once a process is enough."""
    if not _FORK_HOOK:
        os.register_at_fork(after_in_child=_forked)
        _FORK_HOOK.append(True)


def end_with_the_master_process(runner: WorkerRunner, options: Any) -> None:
    """A worker that ``--processes`` forked quits once its parent has ended.

    A master that stops at start-up (a bad option: exit 2) ends before its workers connect, or while
    they do, so it never tells them to quit, and Locust's own clean-up of its forked workers takes
    them for ended: they lingered up to five minutes, trying to connect or until their master's
    heartbeats were missed, holding the run's output open (``locust ... --processes 2 | tee run.log``
    waited for them). One still connecting quits at once: it has no users.

    The parent of ``--worker --processes N`` (a worker host: ``docker stop`` sends it SIGTERM) passes
    no signal on: its workers, orphaned mid-test, end as a worker told to terminate does, their users
    stopped and their last report sent to the master, which would else lose their last seconds.
    """
    if getattr(options, "processes", None):
        _FORKED_RUNNER.append(runner)


_PARENT_CHECK_S = 0.25
"""How often a forked worker checks that its master's process is still there."""

_FORK_HOOK: list[bool] = []
"""Whether :func:`watch_the_parent_of_forked_workers` registered its hook in this process."""

_FORKED_RUNNER: list[WorkerRunner] = []
"""A forked worker's runner, once its ``init`` has it (empty while it connects)."""


def _forked() -> None:
    """In a child just forked: when Locust's ``main`` forked it (a ``--processes`` worker), watch its
    parent (other forks of the process, a subprocess's say, are left alone)."""
    main = getattr(sys.modules.get("locust.main"), "main", None)
    frame: FrameType | None = sys._getframe()
    while frame is not None and frame.f_code is not getattr(main, "__code__", None):
        frame = frame.f_back
    if frame is not None:
        _FORKED_RUNNER.clear()
        gevent.spawn(_watch_the_parent, os.getppid())


def _watch_the_parent(parent: int) -> None:
    while os.getppid() == parent:
        gevent.sleep(_PARENT_CHECK_S)
    if not _FORKED_RUNNER:
        _log.error("this worker's parent process ended while it connected to its master: it quits")
        os._exit(1)
    runner = _FORKED_RUNNER[0]
    leave_mid_test(runner)
    runner.quit()


def leave_mid_test(runner: WorkerRunner) -> None:
    """A worker quitting mid-test (SIGTERM, Ctrl+C, its ``--processes`` parent gone): its users finish
    within the stop timeout and its last samples go to the master before it says it quits, so none
    are lost. Nothing to do between tests."""
    if runner.user_count:
        _stop_taking_users(runner)
        runner.stop()
        runner._send_stats()


def _stop_taking_users(runner: WorkerRunner) -> None:
    """A worker on its way out takes no more users: its master, seeing a sibling stop (the workers of
    a host ended together), gives that one's users to the workers it still counts, this one included,
    which started them again after its last report, so that report was not its last and the master
    named the worker lost."""
    handle = runner.handle_message

    def handle_message(msg: Message) -> None:
        if msg.type != "spawn":
            handle(msg)

    runner.handle_message = handle_message  # type: ignore[method-assign]
