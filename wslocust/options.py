"""The plugin: wslocust's command-line options and every Locust event hook, in one place.

Importing :mod:`wslocust` registers these listeners on Locust's global events:

- ``init_command_line_parser``: the ``wslocust`` option groups (listed by ``wslocust --help``, which
  loads the plugin before Locust prints its help, and, but for the ``--demo-*`` start-up options,
  shown in the web UI);
- ``init``: checks the settings and the dataset before any user starts (one error line and exit
  code 2 on a mistake), starts the embedded demo bot when no ``--host`` is given at all (an empty
  one is a mistake), and adds to the web UI (:mod:`wslocust.webui_form`: the form shows the values a
  run would use, secrets masked, and is checked at START; :mod:`wslocust.webui`: the Chatbot tab);
- ``request``, ``report_to_master``, ``worker_report``, ``test_start``, ``test_stop``: the chatbot
  statistics (:class:`~wslocust.recorder.Recorder`);
- ``spawning_complete``, ``test_stop``: the garbage collector's freeze while the users run;
- ``quitting``: stops a test still running (Ctrl+C, SIGTERM) so it is judged and written, writes
  Locust's ``--html`` report where Locust would not (SIGTERM), and sets the exit code;
- ``quit``: (after every other hook) closes the recorder's files and stops the embedded demo bot.
"""

from __future__ import annotations

import locust
from locust import log as locust_log
from locust.env import Environment
from locust.html import get_html_report, process_html_filename
from locust.rpc import Message
from locust.runners import MasterRunner, WorkerRunner

import atexit
import gc
import logging
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent

from .arrivals import ARRIVAL_KINDS, ArrivalStats
from .demo_server import DemoProcess
from .errors import ConfigurationError, WsLocustError
from .gates import add_gate_arguments, gates_from_options, verdict_exit_code
from .metrics import METRIC_BUILDERS
from .protocols import PROTOCOLS
from .recorder import Recorder
from .shapes import RecordingShape, add_shape_arguments, install_shape
from .stats import TOKEN_COUNTERS
from .users import ChatbotUser, WebSocketUser, arrival_stats_of, load_dataset
from .values import argument_type, choice, count, fraction, integer, number, seconds, seconds_range
from .webui import add_chatbot_tab
from .webui_form import SECRET_MASK, add_form

__all__ = ["CONFIGURATION_ERROR_EXIT_CODE", "SECRET_MASK", "add_arguments"]

CONFIGURATION_ERROR_EXIT_CODE = 2
"""The process exit code when wslocust's settings or dataset are wrong."""

_log = logging.getLogger("wslocust")


def _add(
    group: Any, *flags: str, include_in_web_ui: bool = True, is_secret: bool = False, **kwargs: Any
) -> None:
    """Add an option to a group, with the web-UI marks Locust's parser reads from its actions."""
    action = group.add_argument(*flags, **kwargs)
    action.include_in_web_ui = include_in_web_ui
    action.is_secret = is_secret
    action.is_required = False
    action.is_multiple = False


_TEXT_INTEGER = argument_type(integer, keep_text=True)


def add_arguments(parser: Any) -> None:
    """Register the ``wslocust`` option group on Locust's argument parser.

    The values of the options shown in the web UI are checked here but kept as written: the form
    sends a field back through ``type(current_value)(text)``, which a float turns into an error page
    for ``2m`` and into NaN for ``nan``; as text, every value reaches :func:`_check`, which refuses it
    naming the option.
    """
    group = parser.add_argument_group("wslocust", "WebSocket chatbot options (see the README for each)")
    _add(
        group,
        "--prompts",
        help="Prompts: a .jsonl, .txt or .csv file, or a folder of them (default: the locustfile's)",
    )
    _add(group, "--prompt-field", help="Record field holding the prompt (default: guessed, e.g. Question)")
    _add(group, "--name-field", help="Record field naming each request (default: guessed, e.g. Intent)")
    _add(group, "--request-name", help="One request name for every prompt, instead of each record's")
    _add(group, "--max-samples", type=_TEXT_INTEGER, help="Use this many prompts; -1 = all (default)")
    _add(
        group,
        "--shuffle-seed",
        type=_TEXT_INTEGER,
        help="Shuffle the prompts with this seed; -1 keeps file order (default: the locustfile's)",
    )
    _add(
        group,
        "--protocol",
        choices=sorted(PROTOCOLS),
        help="How prompts and replies are framed (default: the locustfile's, else plain)",
    )
    _add(group, "--json-template", help='json/apigw request template, e.g. \'{"prompt": "{prompt}"}\'')
    _add(group, "--json-chunk-path", help="json/apigw: dotted path of a reply's text (default: text)")
    _add(group, "--json-end", help="json/apigw: condition ending a reply (default: type=end)")
    _add(group, "--json-error", help="json/apigw: condition marking an error (default: type=error)")
    _add(group, "--json-error-path", help="json/apigw: dotted path of an error's text (default: message)")
    _add(group, "--apigw-action", help="apigw: route key sent as 'action' (default: sendMessage)")
    _add(group, "--realtime-api", choices=["ga", "beta"], help="openai-realtime: API version (default: ga)")
    _add(group, "--realtime-instructions", help="openai-realtime: instructions for each response")
    _add(
        group,
        "--reply-timeout",
        type=argument_type(seconds, keep_text=True),
        help="Time allowed for a complete reply: 90, 90s, 2m (default 60 s)",
    )
    _add(
        group,
        "--connect-timeout",
        type=argument_type(seconds, keep_text=True),
        help="Time allowed for TCP, TLS and the handshake (default 10 s)",
    )
    _add(
        group,
        "--think-time",
        type=argument_type(seconds_range, keep_text=True),
        help="Seconds between a user's prompts: N or MIN-MAX (default: the locustfile's wait_time)",
    )
    _add(
        group,
        "--prompts-per-connection",
        type=argument_type(count, keep_text=True),
        help="Reconnect after this many prompts (0 = never, the default)",
    )
    _add(group, "--origin", help="Origin header of the handshake")
    _add(
        group,
        "--header",
        action="append",
        is_secret=True,
        help="Handshake header 'Name: value', repeatable; ${VAR} reads an environment variable. Never shown",
    )
    _add(
        group,
        "--query",
        is_secret=True,
        help="Query string added to the URL (e.g. token=${TOKEN}). Never shown",
    )
    _add(group, "--subprotocol", action="append", help="WebSocket subprotocol to offer, repeatable")
    _add(
        group,
        "--connect-to",
        help="Dial HOST[:PORT] instead of the URL's host, keeping its Host header and TLS name",
    )
    _add(group, "--insecure", action="store_true", default=False, help="Do not verify TLS certificates")
    _add(
        group,
        "--follow-redirects",
        action="store_true",
        default=False,
        help="Follow the upgrade's redirects within the URL's origin (at most 3); never to another host",
    )
    _add(
        group,
        "--metric",
        action="append",
        help="Score replies: KIND[:key=value,...], repeatable, replaces the locustfile's metrics "
        "(e.g. intent, recall:min=0.5, ttft:max_ms=800); kinds: " + ", ".join(METRIC_BUILDERS),
    )
    _add(
        group,
        "--arrival-rate",
        type=argument_type(number, positive=True, keep_text=True),
        help="Open-model load: prompts/s in all, each timed from when it was due (default: closed model)",
    )
    _add(
        group,
        "--arrivals",
        choices=list(ARRIVAL_KINDS),
        help="Open-model arrivals: constant (default) or poisson",
    )
    _add(
        group,
        "--tokens",
        choices=sorted(TOKEN_COUNTERS),
        default="words",
        help="How output tokens are counted (default: words)",
    )
    _add(group, "--summary-json", include_in_web_ui=False, help="Write the JSON summary of each test here")
    _add(
        group,
        "--failed-replies",
        include_in_web_ui=False,
        help="Write failed prompt/reply pairs (JSON lines) here (with --csv: PREFIX_failed_replies.jsonl)",
    )
    _add(
        group,
        "--progress-interval",
        type=argument_type(seconds, positive=False),
        include_in_web_ui=False,
        metavar="S",
        help="Headless: log users, replies/s, failures and TTFT p95 every S seconds (default 5; 0 = off)",
    )
    add_shape_arguments(parser.add_argument_group("wslocust load shapes", "See docs/shapes.md"))
    add_gate_arguments(
        parser.add_argument_group(
            "wslocust gates", "Pass/fail limits judged at the end of the run (docs/gates.md)"
        ),
        _add,
    )
    demo = parser.add_argument_group(
        "wslocust demo", "The embedded demo chatbot, started when no --host is given"
    )
    for flag, default, help_text, parse, limits in _DEMO_OPTIONS:
        _add(
            demo,
            flag,
            type=argument_type(parse, **limits),
            default=default,
            include_in_web_ui=False,
            help=f"{help_text} (default {default:g})",
        )


_MS = {"what": "a number of ms"}
_DEMO_OPTIONS: tuple[tuple[str, float, str, Callable[..., Any], dict[str, Any]], ...] = (
    ("--demo-ttft-ms", 150.0, "Time to first chunk, ms", number, _MS),
    ("--demo-itl-ms", 20.0, "Gap between chunks, ms", number, _MS),
    ("--demo-chunks", 12, "Chunks a reply", count, {"minimum": 1}),
    (
        "--demo-error-rate",
        0.01,
        "Share of bot errors: a fraction (0.01) or a percentage (1%%)",
        fraction,
        {},
    ),
    (
        "--demo-wrong-rate",
        0.02,
        "Share of wrong answers: a fraction (0.02) or a percentage (2%%)",
        fraction,
        {},
    ),
)
"""The demo bot's options: flag, default, help, and the value parser with its limits."""


def _user_classes(environment: Environment) -> list[type[WebSocketUser]]:
    return [cls for cls in environment.user_classes if issubclass(cls, WebSocketUser)]


def _start_demo(environment: Environment, users: list[type[WebSocketUser]]) -> None:
    options = environment.parsed_options
    assert options is not None
    args = [
        f"--ttft-ms={options.demo_ttft_ms}",
        f"--itl-ms={options.demo_itl_ms}",
        f"--chunks={options.demo_chunks}",
        f"--error-rate={options.demo_error_rate}",
        f"--wrong-rate={options.demo_wrong_rate}",
    ]
    chatbots = [cls for cls in users if issubclass(cls, ChatbotUser)]
    if chatbots:
        prompts = Path(chatbots[0].dataset_settings(environment).path)
        if prompts.suffix == ".jsonl":
            args.append(f"--dataset={prompts}")
    demo = DemoProcess(args)
    try:
        environment.host = demo.start()
    except RuntimeError as error:
        raise WsLocustError(str(error)) from None
    atexit.register(demo.stop)  # also on an exit that skips Locust's quit event
    _log.info("no --host given; embedded demo chatbot at %s", environment.host)

    def stop_demo(**_: Any) -> None:
        demo.stop()

    environment.events.quit.add_listener(stop_demo)  # last: after the test's final stop and outputs


def _check(environment: Environment, users: list[type[WebSocketUser]]) -> None:
    """Check every setting and resolve every user class's dataset now, so mistakes stop the run before
    it starts (also run again by the web UI before a test it starts: its form sends strings).

    Starts the embedded demo bot when no ``--host`` was given at all and a class wants it.

    Raises:
        ConfigurationError: a setting is wrong; the message names the option or class attribute.
    """
    options = environment.parsed_options
    _check_options(options)
    gates_from_options(options or {})
    for cls in users:
        if issubclass(cls, ChatbotUser):
            load_dataset(cls.dataset_settings(environment))
    for cls in users:
        cls.check_settings(environment)
    host_given = getattr(options, "host", None) is not None or bool(environment.host)
    if not host_given and any(cls.demo_when_no_host and not cls.host for cls in users):
        _start_demo(environment, users)
    for cls in users:
        if not environment.host and not cls.host:
            raise WsLocustError(f"{cls.__name__}: no host: give --host ws://... or wss://...")


def _check_options(options: Any) -> None:
    """Check the options that belong to no user class: the host given, the token counter, the demo bot's."""
    if options is None:
        return
    host = getattr(options, "host", None)
    if isinstance(host, str) and not host.strip():
        raise ConfigurationError(
            "--host is empty (an unset variable?): give ws://... or wss://..., or leave --host out "
            "for the embedded demo bot"
        )
    choice(getattr(options, "tokens", "words"), "--tokens", sorted(TOKEN_COUNTERS))
    for flag, _, _, parse, limits in _DEMO_OPTIONS:
        value = getattr(options, flag[2:].replace("-", "_"), None)
        if value is not None:
            parse(value, flag, **limits)


def _remove_empty_outputs(options: Any) -> None:
    """Remove the CSV files Locust opened before a configuration error, while they are still empty."""
    prefix = getattr(options, "csv_prefix", None)
    if not prefix:
        return
    for suffix in ("_stats.csv", "_stats_history.csv", "_failures.csv", "_exceptions.csv"):
        path = Path(prefix + suffix)
        if path.is_file() and path.stat().st_size == 0:
            path.unlink()


@locust.events.init_command_line_parser.add_listener
def _on_parser(parser: Any, **_: Any) -> None:
    add_arguments(parser)


@locust.events.init.add_listener
def _on_init(environment: Environment, web_ui: Any = None, **_: Any) -> None:
    options = environment.parsed_options
    users = _user_classes(environment)
    if options is None or not users:
        return
    try:
        install_shape(environment)
        if not isinstance(environment.runner, WorkerRunner):
            _check(environment, users)
    except ValueError as error:  # a shape option
        _log.error("%s", error)
        _remove_empty_outputs(options)
        raise SystemExit(CONFIGURATION_ERROR_EXIT_CODE) from None
    except WsLocustError as error:
        _log.error("%s", error)
        _remove_empty_outputs(options)
        raise SystemExit(CONFIGURATION_ERROR_EXIT_CODE) from None
    recorder = Recorder(
        environment,
        csv_prefix=getattr(options, "csv_prefix", None),
        summary_path=getattr(options, "summary_json", None),
        failed_path=getattr(options, "failed_replies", None),
        tokens=getattr(options, "tokens", "words"),
        print_table=bool(getattr(options, "headless", False)),
        progress_interval_s=getattr(options, "progress_interval", None),
    )

    def steps_section() -> dict[str, Any]:
        running = environment.shape_class  # the --shape one, or the one picked in the web UI
        return {"steps": running.summary()} if isinstance(running, RecordingShape) else {}

    recorder.summary_extras.append(steps_section)
    recorder.summary_extras.append(lambda: _tokens_section(recorder))
    _wire_open_model(environment, users, recorder)
    events = environment.events
    events.request.add_listener(recorder.on_request)
    events.report_to_master.add_listener(recorder.on_report_to_master)
    events.worker_report.add_listener(recorder.on_worker_report)
    events.test_start.add_listener(recorder.on_test_start)
    events.test_stopping.add_listener(recorder.on_test_stopping)
    events.test_stop.add_listener(recorder.on_test_stop)
    events.reset_stats.add_listener(recorder.on_reset_stats)
    _freeze_gc_while_running(events)

    wait_for_a_shutdown_under_way = _one_shutdown(environment)

    def set_exit_code(**_: Any) -> None:
        wait_for_a_shutdown_under_way()
        runner = environment.runner
        if isinstance(runner, WorkerRunner) and runner.user_count:
            # A worker quitting mid-test (SIGTERM, Ctrl+C): its users finish within the stop timeout
            # and its last samples go to the master before Locust says it quits, so none are lost.
            runner.stop()
            runner._send_stats()
        interrupted = (
            not recorder.is_worker
            and recorder.started_at is not None
            and recorder.stopped_at is None
            and runner is not None
        )
        if interrupted and runner is not None:
            runner.stop()  # Ctrl+C or SIGTERM: judge the test before Locust picks the exit code
        # Locust writes --html before quitting, but not when SIGTERM quits (its handler runs in a
        # greenlet of its own, not the main one); after Ctrl+C it wrote it before the last stop.
        if not recorder.is_worker and (interrupted or gevent.getcurrent().parent is not None):
            _write_html_report(environment)
        code = verdict_exit_code(
            recorder.last_verdict,
            environment.process_exit_code,
            crashed=locust_log.unhandled_greenlet_exception,
        )
        if code is not None:
            environment.process_exit_code = code

    events.quitting.add_listener(set_exit_code)
    _deliver_ctrl_c_to_the_main_greenlet()
    if getattr(options, "reset_stats", False):  # Locust resets its statistics once all users are spawned
        events.spawning_complete.add_listener(lambda **_: recorder.on_reset_stats())
    events.quit.add_listener(lambda **_: recorder.close())  # after quitting's final stop has written
    environment.wslocust_recorder = recorder  # type: ignore[attr-defined]
    environment.wslocust_stopped_mid_reply = recorder.on_stopped_mid_reply  # type: ignore[attr-defined]
    if isinstance(environment.runner, MasterRunner):
        _quit_after_final_reports(environment.runner, recorder)
        _hear_only_this_masters_workers(environment.runner, recorder)
    if web_ui is not None:
        add_form(web_ui, environment, _check)
        add_chatbot_tab(web_ui, recorder, _metric_names(environment, users))


def _tokens_section(recorder: Recorder) -> dict[str, Any]:
    """The summary's ``tokens`` section: how tokens were counted, and with ``--tokens usage`` how many
    successful replies carried no usage report (counted in words), said once at the test's end."""
    options = recorder.environment.parsed_options
    counter = getattr(options, "tokens", None) or "words"
    section: dict[str, Any] = {"counter": counter}
    if counter == "usage":
        missing = recorder.stats.without_usage
        section["replies_without_usage"] = missing
        if missing:
            successes = recorder.stats.total.replies - recorder.stats.total.failures
            _log.warning(
                "--tokens usage: %d of %d successful replies carried no usage report "
                "(usage.output_tokens); their tokens were counted as words",
                missing,
                successes,
            )
    return {"tokens": section}


def _wire_open_model(environment: Environment, users: list[type[WebSocketUser]], recorder: Recorder) -> None:
    """Open-model load: shares of the rate for workers, punctuality counts merged and reported."""
    runner = environment.runner
    events = environment.events
    stats = arrival_stats_of(environment)

    def forget_schedule(**_: Any) -> None:
        environment.wslocust_open_model = None  # type: ignore[attr-defined]
        stats.take()

    events.test_start.add_listener(forget_schedule)
    if isinstance(runner, WorkerRunner):

        def take_share(environment: Environment, msg: Any, **_: Any) -> None:
            environment.wslocust_share = (msg.data["index"], msg.data["count"])  # type: ignore[attr-defined]

        runner.register_message("wslocust_share", take_share)

        def report(data: dict[str, Any], **_: Any) -> None:
            data["wslocust_arrivals"] = stats.take()

        events.report_to_master.add_listener(report)
        return
    if isinstance(runner, MasterRunner):

        def give_shares(**_: Any) -> None:
            workers = sorted(client.id for client in runner.clients.all)
            for index, worker in enumerate(workers):
                runner.send_message("wslocust_share", {"index": index, "count": len(workers)}, worker)

        def merge(data: dict[str, Any], **_: Any) -> None:
            if "wslocust_arrivals" in data:
                stats.merge(ArrivalStats.from_wire(data["wslocust_arrivals"]))

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

    recorder.summary_extras.append(open_model_section)


def _quit_after_final_reports(runner: MasterRunner, recorder: Recorder) -> None:
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
        recorder.deferred = True
        recorder.on_test_stopping()
        runner.stop(send_stop_to_client=False)
        for client in runner.clients.all:
            runner.server.send_to_client(Message("quit", None, client.id))
        recorder.await_final_reports()
        recorder.deferred = False
        recorder.end_test()
        runner.greenlet.kill(block=True)

    runner.quit = quit_after_final_reports  # type: ignore[method-assign]


def _hear_only_this_masters_workers(runner: MasterRunner, recorder: Recorder) -> None:
    """Let only this master's workers, and their reports of the current test, into the results.

    A worker whose master was killed (``kill -9``) keeps running its users and reporting, and when a
    new master binds the same port, its reports reach it: Locust would add them to its statistics
    (it only ignores their user counts and heartbeats). Messages from a worker that never said it was
    ready to this master are dropped here, before any listener, and such a worker is told to quit
    (as Locust tells an unknown worker that reports spawning). Reports of this master's workers are
    screened by :meth:`Recorder.screen_report` (their run id).
    """
    known: set[str] = set()
    told_to_quit: set[str] = set()
    handle = runner.handle_message

    def handle_message(client_id: str, msg: Message) -> None:
        if msg.type == "client_ready":
            known.add(msg.node_id)
        elif msg.type == "quit" and msg.node_id in known:
            recorder.on_worker_quit(msg.node_id)
        elif msg.type == "stats":
            if not recorder.screen_report(msg.node_id, msg.data, known=msg.node_id in known):
                if msg.node_id not in told_to_quit:
                    told_to_quit.add(msg.node_id)
                    runner.server.send_to_client(Message("quit", None, msg.node_id))
                return
        elif msg.node_id not in known and msg.type != "locustfile":
            return  # an unknown worker's heartbeat, exception, log lines, stop or quit
        handle(client_id, msg)

    runner.handle_message = handle_message  # type: ignore[method-assign]


def _deliver_ctrl_c_to_the_main_greenlet() -> None:
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


def _one_shutdown(environment: Environment) -> Callable[[], None]:
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


def _write_html_report(environment: Environment) -> None:
    """Write Locust's ``--html`` report as Locust does at the end of a run, when asked for one."""
    options = environment.parsed_options
    if options is None or not getattr(options, "html_file", None):
        return
    process_html_filename(options)
    path = Path(options.html_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(get_html_report(environment, show_download_link=False), encoding="utf-8")


def _metric_names(environment: Environment, users: list[type[WebSocketUser]]) -> list[str]:
    names: list[str] = []
    for cls in users:
        for check in cls.metrics_check(environment):
            names += [metric.name for metric in check.metrics if metric.name not in names]
    return names


def _freeze_gc_while_running(events: Any, again_after_s: float = 5.0) -> None:
    """Once every user runs, keep the objects that exist then out of Python's full collections.

    With a thousand users a Locust process holds some 100,000 objects, and a full (generation 2)
    collection walks them all, stalling every user for tens of milliseconds every few seconds: the
    replies in flight then measure the stall (a p99 milliseconds too high). ``gc.freeze()`` moves
    them to the permanent generation (no copy, no pause); objects freed by reference counting are
    still freed at once. Users open their connections as they start, just after spawning completes,
    so the objects are frozen again ``again_after_s`` later (a thousand connections left out made
    full collections of 12 ms). The freeze is lifted when the test stops, so stopped users are
    collected, unless something froze objects before us (Locust does before forking
    ``--processes``, to share memory): unfreezing cannot tell theirs from ours.
    """
    frozen_before: list[int] = []
    pending: list[gevent.Greenlet] = []

    def freeze() -> None:
        if not frozen_before:
            frozen_before.append(gc.get_freeze_count())
        gc.freeze()

    def cancel() -> None:
        for greenlet in pending:
            greenlet.kill(block=False)
        pending.clear()

    def on_spawning_complete(**_: Any) -> None:
        freeze()
        cancel()
        pending.append(gevent.spawn_later(again_after_s, freeze))

    def unfreeze(**_: Any) -> None:
        cancel()
        if frozen_before == [0]:
            gc.unfreeze()
        frozen_before.clear()

    events.spawning_complete.add_listener(on_spawning_complete)
    events.test_stop.add_listener(unfreeze)
