"""Locust users: :class:`WebSocketUser` (a connection, abstract) and :class:`ChatbotUser` (asks prompts).

Settings are class attributes, overridden by the command line (or the web UI) when an option is
given: a locustfile fixes what it needs and leaves the rest to whoever runs it.
"""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching comes first)
from locust import User, task
from locust.env import Environment

import argparse
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar
from urllib.parse import urlsplit

from .client import CONNECT_REQUEST_TYPE, ChatClient, Check, check_url
from .connection_life import ConnectionLife, lifecycle_settings
from .conversations import ConversationAsker, ConversationSettings, Conversing
from .datasets import Dataset, PromptRecord, load_dataset
from .errors import ConfigurationError, WsLocustError
from .inflight import InFlight, in_flight_limit
from .lifecycles import LifecycleSettings, Plan
from .load.pacing import wait_for_due
from .metrics import Metric, MetricsCheck, parse_metric, slo_objectives
from .plugin_state import state_of
from .prompt_mix import Mix, load_mix, parse_prompt_mix
from .session_options import check_capture_names, parse_captures, token_source, with_session
from .settings import (
    OPTION_ATTRIBUTES,
    ConnectionSettings,
    DatasetSettings,
    as_strings,
    as_text,
    check_expanded,
    given,
    option_flag,
    parse_arrivals,
    parse_compression,
    parse_connect_to_setting,
    parse_failover_hosts,
    parse_headers,
    parse_max_samples,
    parse_message_bytes,
    parse_origin,
    parse_query,
    parse_rate_per_s,
    parse_seed,
    parse_subprotocols,
    required,
    setting,
)
from .source_addresses import parse_source_addresses, rotation, this_hosts
from .speaking import Speaking, VoiceAsker, check_voice
from .stats.aggregates import TOKEN_COUNTERS
from .tls_settings import TlsAttributes, check_tls, tls_files, verify_tls
from .values import count, flag, seconds, seconds_range
from .wire.frames import DEFAULT_MAX_MESSAGE_BYTES
from .wire.protocols import Protocol, get_protocol
from .wire.reply import REQUEST_TYPE, Reply

__all__ = [
    "OPTION_ATTRIBUTES",
    "ChatbotUser",
    "ConnectionSettings",
    "DatasetSettings",
    "WebSocketUser",
    "load_dataset",
]

_log = logging.getLogger(__name__)
_said: set[str] = set()
_HOST_TO_COME = "ws://127.0.0.1"
"""Stands for the host when none is set yet: the embedded demo bot's, started after the checks."""


class WebSocketUser(User, TlsAttributes):
    """A Locust user holding one WebSocket connection to a bot, as ``self.client`` (a ChatClient).

    The connection opens when the user starts (a ``CONNECT`` event) and again on the next prompt
    after a failure closed it. Subclass it and call ``self.client.ask(prompt)`` in your tasks.
    """

    abstract = True

    protocol: ClassVar[str | type[Protocol]] = "plain"
    """A protocol name (``--protocol``) or a Protocol subclass; each user builds its own instance
    with the class's ``from_options`` (a protocol keeps per-reply state)."""

    origin: ClassVar[str | None] = None
    """The ``Origin`` header of the handshake, without control characters (``--origin``)."""

    headers: ClassVar[Sequence[str]] = ()
    """Extra handshake headers, ``"Name: value"`` (``--header``, repeatable; ``${VAR}`` is read from
    the environment, so a token needs not be written on a command line)."""

    query: ClassVar[str | None] = None
    """Extra query string for the handshake URL, never reported (``--query``, ``${VAR}`` expanded)."""

    subprotocols: ClassVar[Sequence[str]] = ()
    """WebSocket subprotocols to offer, each an HTTP token (``--subprotocol``, repeatable)."""

    connect_timeout_s: ClassVar[float] = 10.0
    """Seconds allowed for TCP, TLS and the upgrade (``--connect-timeout``)."""

    reply_timeout_s: ClassVar[float] = 60.0
    """Seconds allowed for a complete reply; a later reply is a failure (``--reply-timeout``)."""

    follow_redirects: ClassVar[bool] = False
    """Follow a redirect of the upgrade within the URL's origin (same scheme, host and port), at most
    three; a redirect to another origin is never followed (``--follow-redirects``)."""

    max_message_bytes: ClassVar[int] = DEFAULT_MAX_MESSAGE_BYTES
    """The largest message the server may send, in bytes (4 MiB); a larger one fails the reply and
    the connection (close code 1009), refused on its frame's header (``--max-message-bytes``)."""

    connect_to: ClassVar[str | None] = None
    """Dial this ``host[:port]`` instead of the URL's host, keeping the URL's Host header and TLS
    server name (``--connect-to``: a DNS override)."""

    source_addresses: ClassVar[str | Sequence[str]] = ()
    """Local addresses to dial from, round robin per connection (``"127.0.0.2-127.0.0.40,127.0.0.50"`` or a
    list of addresses and ranges; ``--source-address``): more connections than one address's ports allow."""

    compression: ClassVar[str] = "none"
    """``deflate`` offers permessage-deflate (RFC 7692) at each handshake: a server that accepts sends
    compressed messages, inflated within the message limit, and gets compressed prompts; ``none``
    offers nothing (``--compression``)."""

    on_connect: ClassVar[Sequence[str]] = ()
    """Messages (templates as ``--json-template``; ``{token}`` and captured values) sent when a
    connection opens (``--on-connect``, repeatable)."""

    await_on_connect: ClassVar[str | None] = None
    """A condition (``type=welcome``) a server message must meet before the first prompt, within the
    connect timeout, its wait part of ``CONNECT`` (``--await-on-connect``)."""

    captures: ClassVar[Mapping[str, str]] = {}
    """Template field name → dotted path of a value in the server's JSON messages, kept per connection
    (``{"session": "session_id"}``; ``--capture NAME=PATH``, repeatable)."""

    token_command: ClassVar[str | None] = None
    """A command whose output is the auth token, ``${TOKEN}``/``{token}`` (``--token-command``)."""

    token_ttl_s: ClassVar[float | None] = None
    """Seconds a token lasts; None reads a JWT's ``exp`` (``--token-ttl``)."""

    token_function: ClassVar[Callable[[], str] | None] = None
    """A function returning the auth token, instead of ``token_command`` (a ``staticmethod``)."""

    checks: ClassVar[Sequence[Check]] = ()
    """Functions run on every reply before its request event; one returning an error fails it."""

    metrics: ClassVar[Sequence[Metric]] = ()
    """Metrics scoring every successful reply (see :mod:`wslocust.metrics`); ``--metric``, repeatable,
    replaces them."""

    failover_hosts: ClassVar[Sequence[str]] = ()
    """Endpoints to fail over to, after ``host`` (``--failover-host``, repeatable): a user whose
    connection fails or drops connects to the next one, round robin, and stays where it works. The
    headers and query go to each of them (list only endpoints you trust with them)."""

    demo_when_no_host: ClassVar[bool] = False
    """Start the embedded demo chatbot and aim at it when no host is given (the shipped locustfile)."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        bounds = self.think_time_s(environment)
        if bounds is not None:
            low, high = bounds
            self.wait_time = lambda: random.uniform(low, high)  # type: ignore[method-assign]
        settings = self.connection_settings(environment)
        urls = (settings.url, *settings.failover_hosts)
        clients = [self._client(environment, settings, url, index) for index, url in enumerate(urls)]
        self.life = ConnectionLife(clients, state_of(environment).recorder)
        """The user's connections over its endpoints (``self.client`` is the current one's)."""

    @property
    def client(self) -> ChatClient:
        """The client of the endpoint the user is on."""
        return self.life.client

    def _client(
        self, environment: Environment, settings: ConnectionSettings, url: str, index: int
    ) -> ChatClient:
        """The client of one endpoint (the first: ``host``), with a protocol instance of its own."""
        recorder = state_of(environment).recorder
        protocol = settings.protocol if index == 0 else self.connection_settings(environment).protocol
        client = ChatClient(
            environment,
            url,
            protocol,
            origin=settings.origin,
            headers=settings.headers,
            query=settings.query,
            subprotocols=settings.subprotocols,
            connect_timeout_s=settings.connect_timeout_s,
            reply_timeout_s=settings.reply_timeout_s,
            verify_tls=settings.verify_tls,
            tls_files=settings.tls_files,
            connect_to=settings.connect_to if index == 0 else None,  # an override of the host's address
            follow_redirects=settings.follow_redirects,
            max_message_bytes=settings.max_message_bytes,
            compression=settings.compression,
            checks=[*self.checks, *self.metrics_check(environment)],
            on_stopped_mid_reply=recorder.stopped_mid_reply if recorder is not None else None,
            on_stopped_mid_connect=recorder.stopped_mid_connect if recorder is not None else None,
        )
        client.dial_from = rotation(settings.source_addresses)
        if settings.failover_hosts:  # each request named for its endpoint: "greeting @127.0.0.1:8001"
            client.name_suffix = " @" + urlsplit(url).netloc.rpartition("@")[2]
        return client

    @classmethod
    def metrics_check(cls, environment: Environment) -> list[MetricsCheck]:
        """The check scoring this class's metrics (``--metric`` overrides) and the ``--slo`` objectives,
        or none without either.

        Raises:
            ConfigurationError: a ``--metric`` or ``--slo`` value is wrong, or two metrics share a name.
        """
        options = environment.parsed_options
        specs = given(options, "metric")
        specs = as_strings(specs, "--metric") if specs is not None else None
        metrics = [parse_metric(spec) for spec in specs] if specs is not None else list(cls.metrics)
        slos = given(options, "slo")
        if slos is not None:
            tokens = str(getattr(options, "tokens", None) or "words")
            counter = TOKEN_COUNTERS.get(tokens, TOKEN_COUNTERS["words"])
            objectives = slo_objectives(as_strings(slos, "--slo"), counter)
            taken = {metric.name for metric in metrics} & {objective.name for objective in objectives}
            if taken:
                raise ConfigurationError(
                    f"--slo {', '.join(sorted(taken))}: a metric has that name already; give the limit once"
                )
            metrics += objectives
        return [MetricsCheck(metrics)] if metrics else []

    @classmethod
    def think_time_s(cls, environment: Environment) -> tuple[float, float] | None:
        """The ``--think-time`` bounds in seconds, or None to keep the class's ``wait_time``.

        Raises:
            ConfigurationError: the option is not ``N`` or ``MIN-MAX`` seconds.
        """
        value = given(environment.parsed_options, "think_time")
        return None if value is None else seconds_range(value, "--think-time")

    @classmethod
    def check_settings(cls, environment: Environment) -> None:
        """Resolve and check every setting of the class now, as its users would at the test's start.

        The host is checked when one is set (``--host``, else the class's ``host``). The
        ``${VAR}`` references of the headers and query must be set in this process's environment (a
        worker reads its own when its users connect).

        Raises:
            ConfigurationError: a setting is invalid (names the option or the class attribute).
        """
        token_source(cls, environment, start=True)  # its first token now: a failing command stops the run
        settings = cls.connection_settings(environment, url=_HOST_TO_COME)
        options = environment.parsed_options
        for option, values in (
            ("header", settings.headers),
            ("query", (settings.query,) if settings.query else ()),
        ):
            attribute = f"{cls.__name__}.{OPTION_ATTRIBUTES[option]}"
            name = option_flag(option) if given(options, option) is not None else attribute
            check_expanded(values, name, in_url=option == "query")
        settings.protocol.check_environment()
        check_tls(settings)
        quiet_ms, timeout_s = settings.protocol.quiet_ms, settings.reply_timeout_s
        if quiet_ms is not None and quiet_ms >= timeout_s * 1000.0:
            name = "--reply-timeout" if given(options, "reply_timeout") else f"{cls.__name__}.reply_timeout_s"
            raise ConfigurationError(
                f"--socketio-quiet-ms {quiet_ms:g} is not below {name} ({timeout_s:g} s): no reply could end"
            )
        cls.think_time_s(environment)
        cls.metrics_check(environment)

    @classmethod
    def connection_settings(cls, environment: Environment, *, url: str | None = None) -> ConnectionSettings:
        """Resolve the connection settings from the class attributes and the parsed options.

        Args:
            environment: The Locust environment (its ``host`` and ``parsed_options``).
            url: The URL to use when neither ``--host`` nor the class's ``host`` is set (the
                start-up check passes a stand-in before the embedded demo bot is started).

        Raises:
            ConfigurationError: a setting is invalid (names the option or the class attribute).
        """
        options = environment.parsed_options
        host = environment.host or cls.host
        if host:
            check_url(host, "--host" if environment.host else f"{cls.__name__}.host")
            url = host
        if not url:
            raise ConfigurationError("no host: give --host ws://... or wss://...")
        protocol_option = given(options, "protocol")
        protocol_setting = protocol_option or cls.protocol
        try:
            protocol_class = (
                get_protocol(protocol_setting) if isinstance(protocol_setting, str) else protocol_setting
            )
        except ConfigurationError as error:
            name = "--protocol" if protocol_option else f"{cls.__name__}.protocol"
            raise ConfigurationError(f"{name}: {error}") from None
        if getattr(options, "connect_to", None) == "":  # given empty: the web UI's empty field is None
            parse_connect_to_setting("", "--connect-to")
        framing = protocol_class.from_options(options or argparse.Namespace())
        protocol = with_session(cls, environment, framing)
        follow = given(options, "follow_redirects")
        return ConnectionSettings(
            url=url,
            protocol=protocol,
            origin=setting(cls, options, "origin", parse_origin),
            headers=required(setting(cls, options, "header", parse_headers)),
            query=setting(cls, options, "query", parse_query),
            subprotocols=required(setting(cls, options, "subprotocol", parse_subprotocols)),
            connect_timeout_s=required(setting(cls, options, "connect_timeout", seconds)),
            reply_timeout_s=required(setting(cls, options, "reply_timeout", seconds)),
            verify_tls=verify_tls(cls, options),
            tls_files=tls_files(cls, options),
            connect_to=setting(cls, options, "connect_to", parse_connect_to_setting),
            follow_redirects=flag(cls.follow_redirects, f"{cls.__name__}.follow_redirects")
            or (follow is not None and flag(follow, "--follow-redirects")),
            max_message_bytes=required(setting(cls, options, "max_message_bytes", parse_message_bytes)),
            compression=required(setting(cls, options, "compression", parse_compression)),
            failover_hosts=required(setting(cls, options, "failover_host", parse_failover_hosts)),
            source_addresses=this_hosts()
            or required(setting(cls, options, "source_address", parse_source_addresses)),
        )

    def on_start(self) -> None:
        try:
            self.life.ready()
        except ConfigurationError as error:
            # Checked at start-up, so only a worker gets here: its environment lacks a ${VAR} of
            # --header, --query or a protocol's setting (--socketio-auth) that the master's has, or one
            # holding a control character (sent, it would inject a header). Counted as a failed
            # connection, said once, never sent.
            self.environment.events.request.fire(
                request_type=CONNECT_REQUEST_TYPE,
                name="connect" + self.client.name_suffix,  # its endpoint's, as every connect's
                response_time=0.0,
                response_length=0,
                exception=error,
                context={},
                start_time=time.time(),
                url=None,
            )
            self._stop_refused(error)

    def _stop_refused(self, error: WsLocustError) -> None:
        """Stop this user, before its first task, over a setting this process cannot use (said once).

        (``StopUser`` raised from ``on_start`` would make Locust log a traceback for each user.)
        """
        if str(error) not in _said:
            _said.add(str(error))
            _log.error("%s: this process's users stop", error)
        self.stop()

    def on_stop(self) -> None:
        self.client.close()


class ChatbotUser(WebSocketUser, Conversing, Speaking):
    """Asks the prompts of a dataset in turn, one round trip per task, and reports each.

    Each prompt is reported under its record's name (e.g. its intent) unless ``request_name`` is set.
    A record with ``turns`` is a conversation, its turns asked in one task (:mod:`wslocust.conversations`).
    """

    abstract = True

    prompts: ClassVar[str] = "datasets/support_bot.jsonl"
    """The prompts: a ``.jsonl``, ``.txt`` or ``.csv`` file, or a folder of them (``--prompts``)."""

    prompt_field: ClassVar[str | None] = None
    """The record field holding the prompt; guessed when None (``--prompt-field``)."""

    name_field: ClassVar[str | None] = None
    """The record field naming the request (e.g. ``Intent``); guessed when None (``--name-field``)."""

    request_name: str | None = None
    """One request name for every prompt, instead of each record's (``--request-name``)."""

    max_samples: ClassVar[int] = -1
    """Use this many prompts (after shuffling); -1 uses all (``--max-samples``)."""

    shuffle_seed: ClassVar[int | None] = None
    """Shuffle the prompts with this seed; None keeps file order (``--shuffle-seed``, -1 for none)."""

    prompts_per_connection: int = 0
    """Reconnect after this many prompts (connect/disconnect cycles); 0 keeps the connection
    (``--prompts-per-connection``)."""

    arrival_rate: ClassVar[float | None] = None
    """Open-model load: prompts a second over the whole run (every user, every worker), sent on a
    schedule and timed from when they were due; None keeps Locust's closed model (``--arrival-rate``).
    The users are then a pool carrying the prompts (no think time): give enough of them."""

    arrivals: ClassVar[str] = "constant"
    """Open-model arrivals: ``constant`` (evenly spaced) or ``poisson`` (``--arrivals``)."""

    in_flight: ClassVar[int] = 1
    """Prompts a user keeps outstanding at once on its connection, each still one request timed on
    its own (``--in-flight``); above 1 the protocol must tell replies apart (``json`` with
    ``--json-id-path``, ``openai-realtime``). The think time is then the pause between sends."""

    lifecycle: ClassVar[str] = "persistent"
    """How the connection lives (``--lifecycle``, see :mod:`wslocust.lifecycles`): ``persistent`` (kept,
    reconnected after a failure), ``intermittent`` (closed after ``prompts_per_connection`` prompts or
    ``connection_time_s``, reopened after ``reconnect_wait_s``) or ``bursty`` (``burst_prompts``
    prompts ``burst_think_time_s`` apart, then ``idle_time_s`` connected)."""

    connection_time_s: ClassVar[float | str | None] = None
    """Intermittent: disconnect after the prompt that ends this long connected (``--connection-time``)."""

    reconnect_wait_s: ClassVar[float | str | tuple[float, float]] = "5-10"
    """Intermittent: seconds disconnected, ``N`` or ``MIN-MAX`` (``--reconnect-wait``)."""

    burst_prompts: ClassVar[int] = 5
    """Bursty: prompts a burst (``--burst-prompts``)."""

    burst_think_time_s: ClassVar[float | str | tuple[float, float]] = "0.5-1"
    """Bursty: seconds between the prompts of a burst, ``N`` or ``MIN-MAX`` (``--burst-think-time``)."""

    idle_time_s: ClassVar[float | str | tuple[float, float]] = "30-60"
    """Bursty: seconds idle (connected) after a burst, ``N`` or ``MIN-MAX`` (``--idle-time``)."""

    prompt_mix: ClassVar[Mapping[str, float] | Sequence[str] | None] = None
    """Several prompt files drawn by weight, instead of ``prompts``: ``{FILE: WEIGHT}`` or
    ``("WEIGHT:FILE", ...)`` (``--prompt-mix WEIGHT:FILE``, repeatable; see :mod:`wslocust.prompt_mix`)."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        options = environment.parsed_options
        cls = type(self)
        self.request_name = setting(cls, options, "request_name", as_text)
        self.prompts_per_connection = required(setting(cls, options, "prompts_per_connection", count))
        self._asked_on_connection = 0
        self._record_fields = tuple(self.client.protocol.record_fields())
        limit = in_flight_limit(cls, options, self.client.protocol)  # several prompts in flight:
        self.prompts_in_flight = InFlight(self.client, limit) if limit > 1 else None  # wslocust.inflight
        self.dataset: Dataset | None = None
        self.voice: VoiceAsker | None = None  # audio turns (wslocust.speaking), known once the dataset is
        conversing = ConversationSettings.of(cls, environment)
        self.conversations = ConversationAsker(self.client, conversing, self.life)  # over the endpoints
        self.open_model = self.open_model_settings(environment)
        if self.open_model is not None:
            self.wait_time = lambda: 0.0  # type: ignore[method-assign]  # the schedule paces the prompts
        lifecycle = self.lifecycle_settings(environment)
        self.life.plan = Plan(lifecycle) if lifecycle.kind != "persistent" else None  # None: kept as is
        self._lifecycle_wait_s: float | None = None
        if lifecycle.kind != "persistent":  # its waits replace the think time where it sets them
            think = self.wait_time
            self.wait_time = lambda: think() if self._lifecycle_wait_s is None else self._lifecycle_wait_s  # type: ignore[method-assign]

    @classmethod
    def lifecycle_settings(cls, environment: Environment) -> LifecycleSettings:
        """The connection's lifecycle (see :func:`wslocust.connection_life.lifecycle_settings`)."""
        open_model = cls.open_model_settings(environment) is not None
        return lifecycle_settings(cls, environment.parsed_options, open_model=open_model)

    @classmethod
    def open_model_settings(cls, environment: Environment) -> tuple[float, str] | None:
        """The open-model ``(total rate, arrivals)``, or None for Locust's closed model.

        Raises:
            ConfigurationError: the rate is not a positive number or the arrivals are unknown.
        """
        options = environment.parsed_options
        rate = setting(cls, options, "arrival_rate", parse_rate_per_s)
        if rate is None:
            return None
        return rate, required(setting(cls, options, "arrivals", parse_arrivals))

    @classmethod
    def check_settings(cls, environment: Environment) -> None:
        """Resolve and check every setting of the class now (see :meth:`WebSocketUser.check_settings`).

        Raises:
            ConfigurationError: a setting is invalid (names the option or the class attribute).
        """
        super().check_settings(environment)
        options = environment.parsed_options
        setting(cls, options, "prompts_per_connection", count)
        ConversationSettings.of(cls, environment)
        connection = cls.connection_settings(environment, url=_HOST_TO_COME)
        protocol = connection.protocol
        lifecycle = cls.lifecycle_settings(environment)
        limit = in_flight_limit(cls, options, protocol)
        records = cls.prompt_source(environment).records
        check_voice(cls, environment, records, protocol.audio_rate, limit, audio_only=protocol.audio_only)
        paced = lifecycle.kind != "persistent"
        turns = (limit > 1 or paced) and any(rec.turns for rec in records)
        if paced and turns:  # a conversation's connections and pauses are its own: the lifecycle's unused
            raise ConfigurationError(
                f"--lifecycle {lifecycle.kind} paces single prompts: conversations (records with turns) pace "
                "theirs (--turn-think-time, --conversations-per-connection)"
            )
        if limit > 1:  # several prompts on one connection: one endpoint, kept, single prompts
            clash = (
                "--failover-host" if connection.failover_hosts
                else f"--lifecycle {lifecycle.kind}" if paced
                else "conversations (records with turns)" if turns
                else None
            )  # fmt: skip
            if clash:
                raise ConfigurationError(f"--in-flight {limit} is one connection: not with {clash}")
        fields = protocol.record_fields()
        if fields:
            mix = cls.mix_settings(environment)
            where = (
                cls.dataset_settings(environment).path if mix is None else " + ".join(path for path, _ in mix)
            )
            records = cls.prompt_source(environment).records
            for name in fields:
                if not any(name in fields for record in records for fields in record.field_sets()):
                    raise ConfigurationError(
                        f"{protocol.template_option} uses {{{name}}}, which no record of {where} has"
                    )
        cls.open_model_settings(environment)
        captures = setting(cls, options, "capture", parse_captures)
        if captures:
            dataset = cls.dataset_settings(environment)
            names = {name for record in load_dataset(dataset).records for name in record.fields}
            check_capture_names(captures, names, dataset.path)

    @classmethod
    def dataset_settings(cls, environment: Environment) -> DatasetSettings:
        """Resolve where the prompts come from (class attributes, then options)."""
        options = environment.parsed_options
        return DatasetSettings(
            path=required(setting(cls, options, "prompts", as_text)),
            prompt_field=setting(cls, options, "prompt_field", as_text),
            name_field=setting(cls, options, "name_field", as_text),
            max_samples=required(setting(cls, options, "max_samples", parse_max_samples)),
            shuffle_seed=setting(cls, options, "shuffle_seed", parse_seed),
        )

    @classmethod
    def mix_settings(cls, environment: Environment) -> Mix | None:
        """The prompt mix (``--prompt-mix``, else ``prompt_mix`` unless ``--prompts`` is given), or None
        to read ``prompts`` alone.

        Raises:
            ConfigurationError: a weight or file of the mix is wrong, or both options are given.
        """
        options = environment.parsed_options
        if given(options, "prompts") is not None:
            if given(options, "prompt_mix") is not None:
                raise ConfigurationError("--prompt-mix and --prompts: give one (a mix replaces --prompts)")
            return None
        return setting(cls, options, "prompt_mix", parse_prompt_mix)

    @classmethod
    def prompt_source(cls, environment: Environment) -> Dataset:
        """The prompts the class's users share in this process: its dataset, or its mix of datasets.

        Raises:
            ConfigurationError: a setting is wrong or a prompts file cannot be read.
        """
        settings = cls.dataset_settings(environment)
        mix = cls.mix_settings(environment)
        return load_dataset(settings) if mix is None else load_mix(settings, mix, load_dataset)

    def on_start(self) -> None:
        try:
            self.dataset = self.prompt_source(self.environment)
        except WsLocustError as error:  # checked at start-up: a worker's own copy of the prompts
            self._stop_refused(error)
            return
        self.voice = VoiceAsker.of(type(self), self.environment, self.client.protocol, self.dataset.records)
        super().on_start()

    def next_record(self) -> PromptRecord:
        """The record to ask next (override to choose prompts your own way)."""
        assert self.dataset is not None
        return self.dataset.next()

    @task
    def ask_next(self) -> None:
        """Ask the next prompt of the dataset (when it is due, in open-model load)."""
        due = None
        if self.open_model is not None:
            due = wait_for_due(self.environment, *self.open_model)
        record = self.next_record()
        if record.turns:  # a conversation: every turn, in order, on one connection
            self.conversations.ask(record, name=self.request_name, scheduled_at=due, voice=self.voice)
            return
        if self._record_fields:  # the template reads record fields (most read only the prompt)
            lacking = [name for name in self._record_fields if name not in record.fields]
            if lacking:  # a failure, not sent (start-up saw records that have the field)
                self._fail_unsent(record, lacking[0])
                return
        name = self.request_name or record.name
        in_flight = self.prompts_in_flight
        if in_flight is not None:  # one connection, one endpoint, persistent (checked at start-up)
            if self.prompts_per_connection and self._asked_on_connection >= self.prompts_per_connection:
                in_flight.finish()  # waits for the replies in flight
                self._asked_on_connection = 0
            self._asked_on_connection += 1
            in_flight.ask(record.prompt, record=record.fields, name=name, scheduled_at=due)
            return
        life = self.life
        self._lifecycle_wait_s = None
        if self.prompts_per_connection and self._asked_on_connection >= self.prompts_per_connection:
            life.close()  # (intermittent: closed after the last prompt already)
            self._asked_on_connection = 0
        client = life.client
        if not client.connected:
            if not life.ready():  # no connection (its CONNECT event counts the failure): no prompt
                return
            client = life.client  # maybe another endpoint's
        self._asked_on_connection += 1
        reply = self.voice and self.voice.ask(client, record, name, due)  # an audio turn (wslocust.speaking)
        reply = reply or client.ask(record.prompt, record=record.fields, name=name, scheduled_at=due)
        if reply.error is not None or life.plan is not None or life.outage.since is not None:
            self._lifecycle_wait_s = life.replied(reply)  # else nothing to note: the common prompt
        if not client.connected:
            self._asked_on_connection = 0

    def on_stop(self) -> None:
        if self.prompts_in_flight is not None:  # a graceful stop (--stop-timeout) lets its replies end
            self.prompts_in_flight.close(wait_s=self.environment.stop_timeout or 0.0)
        super().on_stop()

    def _fail_unsent(self, record: PromptRecord, field: str) -> None:
        """Count a prompt its record cannot make (its template's field missing) as a failed reply."""
        option = self.client.protocol.template_option or "the template"
        error = ConfigurationError(f"{option} uses {{{field}}}, which the record ({record.source}) lacks")
        name = self.request_name or record.name or self.client.default_name
        reply = Reply(
            prompt=record.prompt, name=name, record=record.fields, error=error, started_at=time.time()
        )
        self.environment.events.request.fire(
            request_type=REQUEST_TYPE, name=reply.name, response_time=0.0, response_length=0,
            exception=reply.error, context={}, response=reply, start_time=reply.started_at, url=None,
        )  # fmt: skip
