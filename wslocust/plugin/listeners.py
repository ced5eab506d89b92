"""Every Locust event hook of the plugin, registered when :mod:`wslocust.plugin` is imported:

- ``init_command_line_parser``: the ``wslocust`` option groups (listed by ``wslocust --help``, which
  loads the plugin before Locust prints its help, and, but for the ``--demo-*`` start-up options,
  shown in the web UI);
- ``init``: on a master, first (before anything yields), screens its workers' messages; checks the
  settings and the dataset before any user starts, and starts ``/metrics``, before any output file
  is opened (one error line and exit code 2 on a mistake, leaving no file),
  starts the embedded demo bot when no ``--host`` is given at all (an empty one is a mistake), and
  adds to the web UI (:mod:`.webui_form`: the form shows the values a run would use, secrets masked,
  and is checked at START; :mod:`.webui`: the Chatbot tab);
- ``request``, ``report_to_master``, ``worker_report``, ``test_start``, ``test_stop``: the chatbot
  statistics (:class:`~wslocust.plugin.recording.Recording`);
- ``spawning_complete``, ``test_stop``: the garbage collector's freeze while the users run;
- ``quitting``: stops a test still running (Ctrl+C, SIGTERM) so it is judged and written, writes
  Locust's ``--html`` report where Locust would not (SIGTERM), and sets the exit code;
- ``quit``: (after every other hook) closes the recorder's files and stops the embedded demo bot,
  then the live exports (``/metrics`` after ``--prometheus-linger``); Locust then closes its ``--csv``
  files, written once more first (:mod:`.shutdown`);
- ``init`` again, after the rest of the plugin's start-up: the event loop's clock brought up to date, so
  that ``--run-time`` runs its length however long start-up took (:mod:`.loop_clock`).
"""

from __future__ import annotations

import locust
from locust import log as locust_log
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

import logging
from typing import Any

import gevent

from ..conversations import conversations_section
from ..errors import WsLocustError
from ..gates import verdict_exit_code
from ..metrics import parse_slo
from ..plugin_state import PluginState, attach_state
from ..users import WebSocketUser
from .capacity import connect_capacity
from .checks import check_run, remove_empty_outputs, user_classes
from .distributed import (
    MissedTestStart,
    end_with_the_master_process,
    hear_only_this_masters_workers,
    leave_mid_test,
    quit_after_final_reports,
    watch_the_parent_of_forked_workers,
    wire_open_model,
)
from .gc_freeze import freeze_gc_while_running
from .gc_generations import rare_full_collections_while_running
from .host_limits import prepare_this_host
from .live_metrics import serve_live_metrics
from .loop_clock import catch_up_with_the_clock
from .options import CONFIGURATION_ERROR_EXIT_CODE, INTERRUPTED_EXIT_CODE, add_arguments
from .profiles import apply_profiles, by_profile_section, follow_profiles_on_workers
from .recording import Recording
from .shapes import connect_steps, install_shape
from .shutdown import (
    deliver_ctrl_c_to_the_main_greenlet,
    one_shutdown,
    write_html_report,
    write_locusts_csvs_at_close,
)
from .webui import add_chatbot_tab
from .webui_form import add_form

__all__: list[str] = []

_log = logging.getLogger("wslocust")


@locust.events.init_command_line_parser.add_listener
def _on_parser(parser: Any, **_: Any) -> None:
    add_arguments(parser)
    watch_the_parent_of_forked_workers()  # before Locust forks --processes workers


@locust.events.init.add_listener
def _on_init(environment: Environment, web_ui: Any = None, **_: Any) -> None:
    options = environment.parsed_options
    users = user_classes(environment)
    if options is None or not users:
        return
    runner = environment.runner
    missed = MissedTestStart(environment)
    # Before anything here yields: the master already hears its workers say they are ready.
    screen_reports = hear_only_this_masters_workers(runner) if isinstance(runner, MasterRunner) else None
    if isinstance(runner, WorkerRunner):
        end_with_the_master_process(runner, options)
    try:
        install_shape(environment)
        picking = bool(getattr(options, "class_picker", False)) and not getattr(options, "headless", False)
        if not picking:  # else the classes are picked in the web UI, and START applies the profiles
            apply_profiles(environment)
        users = user_classes(environment)
        if not isinstance(environment.runner, WorkerRunner):
            check_run(environment, users, profiles=not picking)
        prepare_this_host(environment)  # the open-file limit; a worker's own --source-address
        live = serve_live_metrics(environment)  # --prometheus-port, --otel: before any file is opened
    except ValueError as error:  # a shape option
        _log.error("%s", error)
        remove_empty_outputs(options)
        raise SystemExit(CONFIGURATION_ERROR_EXIT_CODE) from None
    except WsLocustError as error:
        _log.error("%s", error)
        remove_empty_outputs(options)
        raise SystemExit(CONFIGURATION_ERROR_EXIT_CODE) from None
    except KeyboardInterrupt:  # Ctrl+C while the checks ran or the demo bot started: no user ran yet
        _log.error("interrupted before the test started")
        remove_empty_outputs(options)
        raise SystemExit(INTERRUPTED_EXIT_CODE) from None
    recording = Recording(
        environment,
        csv_prefix=getattr(options, "csv_prefix", None),
        summary_path=getattr(options, "summary_json", None),
        failed_path=getattr(options, "failed_replies", None),
        tokens=getattr(options, "tokens", "words"),
        print_table=bool(getattr(options, "headless", False)),
        progress_interval_s=getattr(options, "progress_interval", None),
    )
    connect_steps(environment, recording)
    recording.summary_extras.append(lambda: _tokens_section(recording))
    recording.summary_extras.append(lambda: _slos_section(recording))
    csv_prefix = getattr(options, "csv_prefix", None)  # and PREFIX_conversations.csv beside the summary
    recording.summary_extras.append(lambda: conversations_section(environment, csv_prefix))
    recording.summary_extras.append(
        lambda: by_profile_section(environment, recording.stats, recording.duration_s)
    )
    follow_profiles_on_workers(environment)
    state = attach_state(environment, PluginState(recorder=recording.recorder))
    wire_open_model(environment, users, recording, state)
    connect_capacity(environment, recording, state)
    events = environment.events
    recording.listen(events)
    if live is not None:
        live.recording = recording
    freeze_gc_while_running(events)
    rare_full_collections_while_running(events)

    wait_for_a_shutdown_under_way = one_shutdown(environment)

    def set_exit_code(**_: Any) -> None:
        wait_for_a_shutdown_under_way()
        runner = environment.runner
        if isinstance(runner, WorkerRunner):
            leave_mid_test(runner)  # before Locust says it quits: its last samples go first
        interrupted = recording.recorder.running and runner is not None
        if interrupted and runner is not None:
            runner.stop()  # Ctrl+C or SIGTERM: judge the test before Locust picks the exit code
        # Locust writes --html before quitting, but not when SIGTERM quits (its handler runs in a
        # greenlet of its own, not the main one); after Ctrl+C it wrote it before the last stop.
        if not recording.is_worker and (interrupted or gevent.getcurrent().parent is not None):
            write_html_report(environment)
        code = verdict_exit_code(
            recording.last_verdict,
            environment.process_exit_code,
            crashed=locust_log.unhandled_greenlet_exception,
        )
        nothing = None if code is not None or recording.is_worker else _nothing_measured(recording)
        if nothing is not None:
            _log.error("%s (not a pass)", nothing)
            code = 1
        if code is not None:
            environment.process_exit_code = code

    events.quitting.add_listener(set_exit_code)
    deliver_ctrl_c_to_the_main_greenlet()
    write_locusts_csvs_at_close()
    if getattr(options, "reset_stats", False):  # Locust resets its statistics once all users are spawned
        events.spawning_complete.add_listener(lambda **_: recording.on_reset_stats())
    events.quit.add_listener(lambda **_: recording.close())  # after quitting's final stop has written
    if live is not None:  # then /metrics (which may linger with the final figures) and OTLP
        events.quit.add_listener(lambda **_: live.close())
    if isinstance(environment.runner, MasterRunner):
        quit_after_final_reports(environment.runner, recording)
    if screen_reports is not None:
        screen_reports(recording.recorder)
    if web_ui is not None:

        def check_start(checked: Environment, classes: list[type[WebSocketUser]]) -> None:
            check_run(checked, classes)
            if live is not None:  # last: /metrics moved where the form says, or START refused
                live.apply(checked.parsed_options)

        add_form(web_ui, environment, check_start)
        add_chatbot_tab(web_ui, recording, _metric_names(environment, users))
    missed.replay()  # a worker whose test started while it connected: before any of its users runs


locust.events.init.add_listener(catch_up_with_the_clock)  # after _on_init, the plugin's start-up work


def _nothing_measured(recording: Recording) -> str | None:
    """Why a test that ran measured nothing, or None: no connection opened because each handshake
    was still under way at the stop (a bot that hangs them), or no connection even tried (the
    workers gone before their users started: a worker's own bad option)."""
    stats = recording.stats
    connects = stats.connects
    if recording.started_at is None or connects.attempts > connects.failures or stats.total.replies:
        return None
    if connects.cut_off:
        handshakes = "handshake was" if connects.cut_off == 1 else "handshakes were"
        return f"no connection opened: {connects.cut_off} {handshakes} still under way when the test stopped"
    if not connects.attempts:
        return "nothing measured: no user tried to connect (workers lost before their users started?)"
    return None  # every connect failed: counted failures, Locust's exit code already says so


def _tokens_section(recording: Recording) -> dict[str, Any]:
    """The summary's ``tokens`` section: how tokens were counted, and with ``--tokens usage`` how many
    successful replies carried no usage report (counted in words), said once at the test's end."""
    options = recording.environment.parsed_options
    counter = getattr(options, "tokens", None) or "words"
    section: dict[str, Any] = {"counter": counter}
    if counter == "usage":
        missing = recording.stats.without_usage
        section["replies_without_usage"] = missing
        if missing:
            successes = recording.stats.total.replies - recording.stats.total.failures
            _log.warning(
                "--tokens usage: %d of %d successful replies carried no usage report "
                "(usage.output_tokens); their tokens were counted as words",
                missing,
                successes,
            )
    return {"tokens": section}


def _slos_section(recording: Recording) -> dict[str, Any]:
    """The summary's ``slos`` section (with ``--slo``): each SLO's limit, and the successful replies
    that missed it and met it (goodput counts the replies that met every one)."""
    given = getattr(recording.environment.parsed_options, "slo", None)
    if not given:
        return {}
    total = recording.stats.total
    successes = total.replies - total.failures
    section: dict[str, Any] = {}
    for spec in given:
        metric, limit_ms = parse_slo(spec)
        scored = total.metrics.get(metric)
        missed = scored.missed if scored is not None else 0
        section[metric] = {"limit_ms": limit_ms, "missed": missed, "met": successes - missed}
    return {"slos": section}


def _metric_names(environment: Environment, users: list[type[WebSocketUser]]) -> list[str]:
    names: list[str] = []
    for cls in users:
        for check in cls.metrics_check(environment):
            names += [metric.name for metric in check.metrics if metric.name not in names]
    return names
