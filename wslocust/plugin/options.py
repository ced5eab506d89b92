"""wslocust's command-line options on Locust's parser: the ``wslocust``, ``wslocust tls``,
``wslocust socket.io``, ``wslocust sessions``, ``wslocust voice protocols``, ``wslocust load shapes``,
``wslocust gates`` and ``wslocust demo`` groups, every option added through :func:`add_option`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..gates import add_gate_arguments
from ..lifecycles import LIFECYCLES
from ..load.arrivals import ARRIVAL_KINDS
from ..metrics import METRIC_BUILDERS, SLO_METRICS, parse_slo
from ..stats.aggregates import TOKEN_COUNTERS
from ..values import (
    argument_type,
    count,
    fraction,
    integer,
    milliseconds,
    number,
    seconds,
    seconds_range,
)
from ..wire.deflate import COMPRESSIONS
from ..wire.multiplex import MOST_IN_FLIGHT
from ..wire.protocols import PROTOCOLS, SocketIOProtocol
from .host_limits import processes_count
from .metrics_options import add_live_metrics_arguments
from .option_marks import add_option
from .shapes import add_shape_arguments
from .tls_options import add_tls_arguments
from .voice_options import add_voice_arguments, add_voice_gates, add_voice_protocol_arguments

__all__ = [
    "CONFIGURATION_ERROR_EXIT_CODE",
    "DEMO_OPTIONS",
    "INTERRUPTED_EXIT_CODE",
    "add_arguments",
    "add_conversation_arguments",
    "add_in_flight_arguments",
    "add_lifecycle_arguments",
    "add_live_metrics_arguments",
    "add_option",
    "add_profile_arguments",
    "add_scale_arguments",
    "add_session_arguments",
    "add_socketio_arguments",
    "add_voice_arguments",
    "add_voice_gates",
    "add_voice_protocol_arguments",
    "check_processes",
]

CONFIGURATION_ERROR_EXIT_CODE = 2
"""The process exit code when wslocust's settings or dataset are wrong."""

INTERRUPTED_EXIT_CODE = 130
"""The process exit code of a run interrupted (Ctrl+C) before its test started, as a shell gives."""


_TEXT_INTEGER = argument_type(integer, keep_text=True)


def add_arguments(parser: Any) -> None:
    """Register the ``wslocust`` option group on Locust's argument parser.

    The values of the options shown in the web UI are checked here but kept as written: the form
    sends a field back through ``type(current_value)(text)``, which a float turns into an error page
    for ``2m`` and into NaN for ``nan``; as text, every value reaches
    :func:`~wslocust.plugin.checks.check_run`, which refuses it naming the option.
    """
    group = parser.add_argument_group("wslocust", "WebSocket chatbot options (see the README for each)")
    add_option(
        group,
        "--prompts",
        help="Prompts: a .jsonl, .txt or .csv file, or a folder of them (default: the locustfile's)",
    )
    add_option(
        group, "--prompt-field", help="Record field holding the prompt (default: guessed, e.g. Question)"
    )
    add_option(group, "--name-field", help="Record field naming each request (default: guessed, e.g. Intent)")
    add_option(group, "--request-name", help="One request name for every prompt, instead of each record's")
    add_option(group, "--max-samples", type=_TEXT_INTEGER, help="Use this many prompts; -1 = all (default)")
    add_option(
        group,
        "--shuffle-seed",
        type=_TEXT_INTEGER,
        help="Shuffle the prompts with this seed; -1 keeps file order (default: the locustfile's)",
    )
    add_option(
        group,
        "--protocol",
        choices=sorted(PROTOCOLS),
        help="How prompts and replies are framed (default: the locustfile's, else plain)",
    )
    add_option(group, "--json-template", help='json/apigw request template, e.g. \'{"prompt": "{prompt}"}\'')
    add_option(group, "--json-chunk-path", help="json/apigw: dotted path of a reply's text (default: text)")
    add_option(group, "--json-end", help="json/apigw: condition ending a reply (default: type=end)")
    add_option(group, "--json-error", help="json/apigw: condition marking an error (default: type=error)")
    add_option(
        group, "--json-error-path", help="json/apigw: dotted path of an error's text (default: message)"
    )
    add_option(group, "--apigw-action", help="apigw: route key sent as 'action' (default: sendMessage)")
    add_option(
        group, "--realtime-api", choices=["ga", "beta"], help="openai-realtime: API version (default: ga)"
    )
    add_option(group, "--realtime-instructions", help="openai-realtime: instructions for each response")
    add_option(
        group,
        "--reply-timeout",
        type=argument_type(seconds, keep_text=True),
        help="Time allowed for a complete reply: 90, 90s, 2m (default 60 s)",
    )
    add_option(
        group,
        "--connect-timeout",
        type=argument_type(seconds, keep_text=True),
        help="Time allowed for TCP, TLS and the handshake (default 10 s)",
    )
    add_option(
        group,
        "--max-message-bytes",
        type=argument_type(count, minimum=1, keep_text=True),
        help="Largest message the bot may send, bytes; a larger one fails its reply (default 4194304: 4 MiB)",
    )
    add_option(
        group,
        "--think-time",
        type=argument_type(seconds_range, keep_text=True),
        help="Seconds between a user's prompts: N or MIN-MAX (default: the locustfile's wait_time)",
    )
    add_option(
        group,
        "--prompts-per-connection",
        type=argument_type(count, keep_text=True),
        help="Reconnect after this many prompts (0 = never, the default)",
    )
    add_option(group, "--origin", help="Origin header of the handshake")
    add_option(
        group,
        "--header",
        action="append",
        is_secret=True,
        help="Handshake header 'Name: value', repeatable; ${VAR} reads an environment variable. Never shown",
    )
    add_option(
        group,
        "--query",
        is_secret=True,
        help="Query string added to the URL (e.g. token=${TOKEN}). Never shown",
    )
    add_option(group, "--subprotocol", action="append", help="WebSocket subprotocol to offer, repeatable")
    add_option(
        group,
        "--connect-to",
        help="Dial HOST[:PORT] instead of the URL's host, keeping its Host header and TLS name",
    )
    add_option(
        group,
        "--compression",
        choices=list(COMPRESSIONS),
        help="deflate: offer permessage-deflate (compressed messages) at the handshake (default: none)",
    )
    add_option(
        group,
        "--follow-redirects",
        action="store_true",
        default=False,
        help="Follow the upgrade's redirects within the URL's origin (at most 3); never to another host",
    )
    add_option(
        group,
        "--metric",
        action="append",
        help="Score replies: KIND[:key=value,...], repeatable, replaces the locustfile's metrics "
        "(e.g. intent, recall:min=0.5, ttft:max_ms=800); kinds: " + ", ".join(METRIC_BUILDERS),
    )
    add_option(
        group,
        "--arrival-rate",
        type=argument_type(number, positive=True, keep_text=True),
        help="Open-model load: prompts/s in all, each timed from when it was due (default: closed model)",
    )
    add_option(
        group,
        "--arrivals",
        choices=list(ARRIVAL_KINDS),
        help="Open-model arrivals: constant (default) or poisson",
    )
    add_option(
        group,
        "--tokens",
        choices=sorted(TOKEN_COUNTERS),
        default="words",
        help="How output tokens are counted (default: words)",
    )
    add_option(
        group, "--summary-json", include_in_web_ui=False, help="Write the JSON summary of each test here"
    )
    add_option(
        group,
        "--failed-replies",
        include_in_web_ui=False,
        help="Write failed prompt/reply pairs (JSON lines) here (with --csv: PREFIX_failed_replies.jsonl)",
    )
    add_option(
        group,
        "--progress-interval",
        type=argument_type(seconds, positive=False),
        include_in_web_ui=False,
        metavar="S",
        help="Headless: log users, replies/s, failures and TTFT p95 every S seconds (default 5; 0 = off)",
    )
    add_tls_arguments(
        parser.add_argument_group("wslocust tls", "wss:// certificates (README: TLS and client certificates)")
    )
    add_socketio_arguments(
        parser.add_argument_group("wslocust socket.io", "--protocol socketio and rasa (see the README)")
    )
    add_in_flight_arguments(
        parser.add_argument_group(
            "wslocust in flight", "Several prompts in flight on one connection (see the README)"
        )
    )
    add_conversation_arguments(
        parser.add_argument_group("wslocust conversations", "Records with turns (see the README)")
    )
    slos = parser.add_argument_group(
        "wslocust service levels", "Goodput: the replies/s that meet every SLO (docs/metrics.md)"
    )
    add_option(
        slos,
        "--slo",
        action="append",
        type=argument_type(parse_slo, keep_text=True),
        metavar="METRIC:MS",
        help="A service-level objective, repeatable (e.g. --slo ttft:800 --slo tpot:50 --slo e2e:5000): "
        "goodput counts the replies meeting every one; METRIC: " + ", ".join(SLO_METRICS),
    )
    add_session_arguments(
        parser.add_argument_group(
            "wslocust sessions", "Messages on connect, captured values and auth tokens (see the README)"
        )
    )
    add_lifecycle_arguments(
        parser.add_argument_group(
            "wslocust lifecycles", "How connections live, and failover (README: Lifecycles and failover)"
        )
    )
    add_profile_arguments(
        parser.add_argument_group("wslocust profiles", "Weighted kinds of users and mixed prompt files")
    )
    add_voice_arguments(parser.add_argument_group("wslocust voice", "Audio turns (README: Voice)"))
    add_voice_protocol_arguments(
        parser.add_argument_group(
            "wslocust voice protocols",
            "--protocol openai-realtime audio, twilio and binary-stt (README: Voice)",
        )
    )
    add_shape_arguments(parser.add_argument_group("wslocust load shapes", "See docs/shapes.md"))
    add_scale_arguments(
        parser.add_argument_group("wslocust scale", "Many connections from one host (docs/distributed.md)")
    )
    check_processes(parser)
    add_gate_arguments(
        parser.add_argument_group(
            "wslocust gates", "Pass/fail limits judged at the end of the run (docs/gates.md)"
        ),
        add_option,
    )
    add_voice_gates(
        parser.add_argument_group("wslocust voice gates", "Pass/fail limits on audio turns (docs/gates.md)")
    )
    add_live_metrics_arguments(
        parser.add_argument_group("wslocust live metrics", "Prometheus and OpenTelemetry (docs/metrics.md)")
    )
    demo = parser.add_argument_group(
        "wslocust demo", "The embedded demo chatbot, started when no --host is given"
    )
    for flag, default, help_text, parse, limits in DEMO_OPTIONS:
        add_option(
            demo,
            flag,
            type=argument_type(parse, **limits),
            default=default,
            include_in_web_ui=False,
            help=f"{help_text} (default {default:g})",
        )


def add_socketio_arguments(group: Any) -> None:
    """The ``wslocust socket.io`` group: the options of :class:`~wslocust.wire.protocols.SocketIOProtocol`."""
    add_option(group, "--socketio-path", help="Engine.IO path (default: the URL's path, else /socket.io/)")
    add_option(group, "--socketio-namespace", help="Namespace to connect to (default: /)")
    add_option(
        group,
        "--socketio-auth",
        is_secret=True,
        help='The namespace connect\'s auth, a JSON object, e.g. \'{"token": "${TOKEN}"}\' (${VAR} reads '
        "an environment variable). Never shown",
    )
    add_option(
        group,
        "--socketio-event",
        default=SocketIOProtocol.DEFAULT_EVENT,  # shown in the web UI's form: the value the run uses
        help="Event a prompt is emitted as (default: user_uttered)",
    )
    add_option(
        group,
        "--socketio-template",
        help='The prompt event\'s payload, a JSON template (default: {"message": "{prompt}"}; rasa: '
        '{"message": "{prompt}", "session_id": "{session_id}"})',
    )
    add_option(
        group,
        "--socketio-reply-event",
        default=SocketIOProtocol.DEFAULT_REPLY_EVENT,
        help="Event carrying the reply (default: bot_uttered)",
    )
    add_option(
        group,
        "--socketio-text-path",
        help="Dotted path of a reply event's text in its payload (default: text; a string payload is it)",
    )
    add_option(
        group,
        "--socketio-end-event",
        help="Reply events are chunks until this event (default: the first reply event ends the reply)",
    )
    add_option(
        group,
        "--socketio-quiet-ms",
        type=argument_type(milliseconds, positive=True, keep_text=True),
        help="Reply events are chunks until none came for this many ms (the reply's time: its last chunk's)",
    )
    add_option(
        group,
        "--socketio-ack",
        action="store_true",
        default=False,
        help="Emit each prompt with an ack id; reply events are chunks until the server's ack",
    )
    add_option(
        group,
        "--socketio-error",
        help="Condition marking a reply, end event or ack payload as the bot's error, as --json-error's "
        "(default: error, a payload with an error field; its value is the failure's text)",
    )


def add_in_flight_arguments(group: Any) -> None:
    """The ``wslocust in flight`` group: several prompts outstanding on one connection."""
    add_option(
        group,
        "--in-flight",
        type=argument_type(count, minimum=1, maximum=MOST_IN_FLIGHT, keep_text=True),
        metavar="N",
        help="Prompts a user keeps outstanding on its connection, each timed on its own (default 1); "
        "above 1 the protocol must tell replies apart: json with --json-id-path, or openai-realtime",
    )
    add_option(
        group,
        "--json-id-path",
        help="json/apigw: dotted path where a reply carries the {request_id} its prompt's template sent "
        "(e.g. request_id), so replies are told apart",
    )


DEMO_OPTIONS: tuple[tuple[str, float, str, Callable[..., Any], dict[str, Any]], ...] = (
    ("--demo-ttft-ms", 150.0, "Time to first chunk, ms", milliseconds, {}),
    ("--demo-itl-ms", 20.0, "Gap between chunks, ms", milliseconds, {}),
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
    (
        "--demo-voice-delay-ms",
        300.0,
        "Voice: end of speech to the answer's first audio, ms",
        milliseconds,
        {},
    ),
    (
        "--demo-voice-pace",
        2.0,
        "Voice: audio seconds sent a second (1 = real time; below 1 underruns)",
        number,
        {"positive": True},
    ),
)
"""The demo bot's options: flag, default, help, and the value parser with its limits."""


def add_session_arguments(group: Any) -> None:
    """Add the session options: messages on connect, captured values, the auth token."""
    add_option(
        group,
        "--on-connect",
        action="append",
        is_secret=True,  # a bot that authenticates by its first message gets its key here
        metavar="MESSAGE",
        help="Message sent when a connection opens, repeatable; a template like --json-template "
        '({token}, captured {NAME}s), e.g. \'{"type": "hello"}\'. Never shown',
    )
    add_option(
        group,
        "--await-on-connect",
        metavar="CONDITION",
        help="Before the first prompt, await a server message meeting this condition (as --json-end's, "
        "e.g. type=welcome) within the connect timeout; its wait is part of CONNECT",
    )
    add_option(
        group,
        "--capture",
        action="append",
        metavar="NAME=PATH",
        help="Keep the value at a dotted JSON path of any server message of the connection as {NAME} "
        "for every template, repeatable (e.g. session=session_id)",
    )
    add_option(
        group,
        "--token-command",
        is_secret=True,
        metavar="CMD",
        help="Command printing an auth token (run without a shell, 30 s at most), shared by the "
        "process's users and refreshed before it expires: ${TOKEN} in --header/--query, {token} in "
        "templates. Never shown",
    )
    add_option(
        group,
        "--token-ttl",
        type=argument_type(seconds, keep_text=True),
        metavar="SECONDS",
        help="How long a token lasts: 300, 5m (default: a JWT's exp claim, else for ever)",
    )


def add_conversation_arguments(group: Any) -> None:
    """The ``wslocust conversations`` group: how records with ``turns`` are asked."""
    add_option(
        group,
        "--turn-think-time",
        type=argument_type(seconds_range, keep_text=True),
        metavar="N|MIN-MAX",
        help="Seconds between a conversation's turns, e.g. 1-3 (default 0; --think-time is between "
        "conversations)",
    )
    add_option(
        group,
        "--continue-after-failed-turn",
        action="store_true",
        default=False,
        help="Ask a conversation's remaining turns after one failed (by default a failed turn ends it)",
    )
    add_option(
        group,
        "--conversations-per-connection",
        type=argument_type(count, minimum=1, keep_text=True),
        metavar="N",
        help="Conversations asked on one connection (default 1: each starts on a new connection)",
    )


def add_profile_arguments(group: Any) -> None:
    """The ``wslocust profiles`` group: ``--user-profile`` (:mod:`wslocust.profiles`) and ``--prompt-mix``
    (:mod:`wslocust.prompt_mix`)."""
    add_option(
        group,
        "--user-profile",
        action="append",
        metavar="NAME:WEIGHT[:think=MIN-MAX][,prompts=FILE]",
        help="A kind of user, repeatable (e.g. --user-profile active:0.2:think=1-3 --user-profile "
        "passive:0.8:think=20-40,prompts=vip.jsonl): users are spawned by weight, each profile with its own "
        "think time and, given, its own prompts (prompts= last); requests are named PROFILE/NAME",
    )
    add_option(
        group,
        "--prompt-mix",
        action="append",
        metavar="WEIGHT:FILE",
        help="Prompts drawn from several files by weight, repeatable, instead of --prompts (e.g. "
        "--prompt-mix 3:datasets/support_bot.jsonl --prompt-mix 1:datasets/prompts.txt); --shuffle-seed "
        "seeds the draws",
    )


def add_lifecycle_arguments(group: Any) -> None:
    """The ``wslocust lifecycles`` group: how each connection lives; the endpoints to fail over to."""
    add_option(
        group,
        "--lifecycle",
        choices=list(LIFECYCLES),
        help="persistent: keep the connection, reconnect after a failure (default); intermittent: "
        "disconnect after --prompts-per-connection or --connection-time, wait --reconnect-wait; bursty: "
        "--burst-prompts prompts --burst-think-time apart, then --idle-time connected",
    )
    add_option(
        group,
        "--failover-host",
        action="append",
        metavar="URL",
        help="Another endpoint of the same bot, repeatable: a user whose connection fails or drops moves "
        "to the next one, round robin (--header and --query go to each)",
    )
    add_option(
        group,
        "--connection-time",
        type=argument_type(seconds, keep_text=True),
        metavar="S",
        help="intermittent: disconnect after the prompt that ends S seconds connected",
    )
    add_option(
        group,
        "--reconnect-wait",
        type=argument_type(seconds_range, keep_text=True),
        metavar="MIN-MAX",
        help="intermittent: seconds disconnected before reconnecting, N or MIN-MAX (default 5-10)",
    )
    add_option(
        group,
        "--burst-prompts",
        type=argument_type(count, minimum=1, keep_text=True),
        metavar="N",
        help="bursty: prompts a burst (default 5)",
    )
    add_option(
        group,
        "--burst-think-time",
        type=argument_type(seconds_range, keep_text=True),
        metavar="MIN-MAX",
        help="bursty: seconds between the prompts of a burst, N or MIN-MAX (default 0.5-1)",
    )
    add_option(
        group,
        "--idle-time",
        type=argument_type(seconds_range, keep_text=True),
        metavar="MIN-MAX",
        help="bursty: seconds idle, connected, after each burst, N or MIN-MAX (default 30-60)",
    )


def check_processes(parser: Any) -> None:
    """Give Locust's own ``--processes`` a checking ``type`` (:func:`.host_limits.processes_count`):
    Locust forks before ``init``, so a bad count can only be stopped by the parser (exit 2)."""
    for action in parser._actions:
        if action.dest == "processes":
            action.type = argument_type(processes_count)


def add_scale_arguments(group: Any) -> None:
    """The ``wslocust scale`` group: the local addresses to dial from (:mod:`wslocust.source_addresses`)."""
    add_option(
        group,
        "--source-address",
        metavar="ADDRESSES",
        help="Local addresses to dial from, one a connection in turn, beyond one address's ~28,000 ports "
        "to a target: addresses and ranges, comma-separated (e.g. 127.0.0.2-127.0.0.40,127.0.0.50); "
        "each must be this host's",
    )
