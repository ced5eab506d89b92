"""Locust users: :class:`WebSocketUser` (a connection, abstract) and :class:`ChatbotUser` (asks prompts).

Settings are class attributes, overridden by the command line (or the web UI) when an option is
given: a locustfile fixes what it needs and leaves the rest to whoever runs it.
"""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching comes first)
from locust import User, task
from locust.env import Environment
from locust.exception import StopUser

import argparse
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import gevent

from .arrivals import ArrivalStats, OpenModel, check_rate
from .client import ChatClient, Check, check_url
from .datasets import Dataset, PromptRecord, load_prompts
from .errors import ConfigurationError, WsLocustError
from .metrics import Metric, MetricsCheck, parse_metric
from .protocols import Protocol, get_protocol

__all__ = [
    "ChatbotUser",
    "ConnectionSettings",
    "DatasetSettings",
    "WebSocketUser",
    "load_dataset",
    "think_time",
]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")


def _option(options: argparse.Namespace | None, name: str, default: _T, convert: Callable[[Any], _T]) -> _T:
    """The value of option ``name`` when given, converted; else ``default`` (the class attribute)."""
    value = getattr(options, name, None) if options is not None else None
    if value is None or value == "" or value == []:
        return default
    try:
        return convert(value)
    except (TypeError, ValueError):
        flag = "--" + name.replace("_", "-")
        raise ConfigurationError(f"{flag}: {value!r} is not a valid value") from None


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, list | tuple) else (str(value),)


def think_time(value: Any) -> tuple[float, float]:
    """Parse ``--think-time``: ``N`` or ``MIN-MAX`` seconds.

    Raises:
        ValueError: not a number, negative, or MIN above MAX.
    """
    low, _, high = str(value).partition("-")
    bounds = (float(low), float(high or low))
    if bounds[0] < 0 or bounds[1] < bounds[0]:
        raise ValueError(value)
    return bounds


def _optional_int(value: Any) -> int | None:
    number = int(value)
    return None if number < 0 else number


@dataclass(frozen=True)
class ConnectionSettings:
    """What a :class:`WebSocketUser` connects with, resolved from its class and the options."""

    url: str
    protocol: Protocol
    origin: str | None
    headers: tuple[str, ...]
    query: str | None
    subprotocols: tuple[str, ...]
    connect_timeout_s: float
    reply_timeout_s: float
    verify_tls: bool
    connect_to: str | None
    follow_redirects: bool = False


@dataclass(frozen=True)
class DatasetSettings:
    """Where a :class:`ChatbotUser` reads its prompts."""

    path: str
    prompt_field: str | None
    name_field: str | None
    max_samples: int
    shuffle_seed: int | None


class WebSocketUser(User):
    """A Locust user holding one WebSocket connection to a bot, as ``self.client`` (a ChatClient).

    The connection opens when the user starts (a ``CONNECT`` event) and again on the next prompt
    after a failure closed it. Subclass it and call ``self.client.ask(prompt)`` in your tasks.
    """

    abstract = True

    protocol: ClassVar[str | type[Protocol]] = "plain"
    """A protocol name (``--protocol``) or a Protocol subclass; each user builds its own instance
    with the class's ``from_options`` (a protocol keeps per-reply state)."""

    origin: ClassVar[str | None] = None
    """The ``Origin`` header of the handshake (``--origin``)."""

    headers: ClassVar[Sequence[str]] = ()
    """Extra handshake headers, ``"Name: value"`` (``--header``, repeatable; ``${VAR}`` is read from
    the environment, so a token needs not be written on a command line)."""

    query: ClassVar[str | None] = None
    """Extra query string for the handshake URL, never reported (``--query``, ``${VAR}`` expanded)."""

    subprotocols: ClassVar[Sequence[str]] = ()
    """WebSocket subprotocols to offer (``--subprotocol``, repeatable)."""

    connect_timeout_s: ClassVar[float] = 10.0
    """Seconds allowed for TCP, TLS and the upgrade (``--connect-timeout``)."""

    reply_timeout_s: ClassVar[float] = 60.0
    """Seconds allowed for a complete reply; a later reply is a failure (``--reply-timeout``)."""

    verify_tls: ClassVar[bool] = True
    """Check the server's certificate and name; ``--insecure`` turns this off."""

    follow_redirects: ClassVar[bool] = False
    """Follow a redirect of the upgrade within the URL's origin (same scheme, host and port), at most
    three; a redirect to another origin is never followed (``--follow-redirects``)."""

    connect_to: ClassVar[str | None] = None
    """Dial this ``host[:port]`` instead of the URL's host, keeping the URL's Host header and TLS
    server name (``--connect-to``: a DNS override)."""

    checks: ClassVar[Sequence[Check]] = ()
    """Functions run on every reply before its request event; one returning an error fails it."""

    metrics: ClassVar[Sequence[Metric]] = ()
    """Metrics scoring every successful reply (see :mod:`wslocust.metrics`); ``--metric``, repeatable,
    replaces them."""

    demo_when_no_host: ClassVar[bool] = False
    """Start the embedded demo chatbot and aim at it when no host is given (the shipped locustfile)."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        bounds = self.think_time_s(environment)
        if bounds is not None:
            low, high = bounds
            self.wait_time = lambda: random.uniform(low, high)  # type: ignore[method-assign]
        settings = self.connection_settings(environment)
        self.client = ChatClient(
            environment,
            settings.url,
            settings.protocol,
            origin=settings.origin,
            headers=settings.headers,
            query=settings.query,
            subprotocols=settings.subprotocols,
            connect_timeout_s=settings.connect_timeout_s,
            reply_timeout_s=settings.reply_timeout_s,
            verify_tls=settings.verify_tls,
            connect_to=settings.connect_to,
            follow_redirects=settings.follow_redirects,
            checks=[*self.checks, *self.metrics_check(environment)],
        )

    @classmethod
    def metrics_check(cls, environment: Environment) -> list[MetricsCheck]:
        """The check scoring this class's metrics (``--metric`` overrides), or none without metrics.

        Raises:
            ConfigurationError: a ``--metric`` spec is wrong, or two metrics share a name.
        """
        specs = _option(environment.parsed_options, "metric", None, _strings)
        metrics = [parse_metric(spec) for spec in specs] if specs is not None else list(cls.metrics)
        return [MetricsCheck(metrics)] if metrics else []

    @classmethod
    def think_time_s(cls, environment: Environment) -> tuple[float, float] | None:
        """The ``--think-time`` bounds in seconds, or None to keep the class's ``wait_time``.

        Raises:
            ConfigurationError: the option is not ``N`` or ``MIN-MAX``.
        """
        return _option(environment.parsed_options, "think_time", None, think_time)

    @classmethod
    def connection_settings(cls, environment: Environment) -> ConnectionSettings:
        """Resolve the connection settings from the class attributes and the parsed options.

        Raises:
            ConfigurationError: a setting is invalid (names the option).
        """
        options = environment.parsed_options
        url = environment.host or cls.host
        if not url:
            raise ConfigurationError("no host: give --host ws://... or wss://...")
        check_url(url)
        protocol_setting = _option(options, "protocol", cls.protocol, str)
        protocol_class = (
            get_protocol(protocol_setting) if isinstance(protocol_setting, str) else protocol_setting
        )
        protocol = protocol_class.from_options(options or argparse.Namespace())
        return ConnectionSettings(
            url=url,
            protocol=protocol,
            origin=_option(options, "origin", cls.origin, str),
            headers=_option(options, "header", tuple(cls.headers), _strings),
            query=_option(options, "query", cls.query, str),
            subprotocols=_option(options, "subprotocol", tuple(cls.subprotocols), _strings),
            connect_timeout_s=_option(options, "connect_timeout", cls.connect_timeout_s, float),
            reply_timeout_s=_option(options, "reply_timeout", cls.reply_timeout_s, float),
            verify_tls=cls.verify_tls and not (options is not None and getattr(options, "insecure", False)),
            connect_to=_option(options, "connect_to", cls.connect_to, str),
            follow_redirects=cls.follow_redirects or bool(getattr(options, "follow_redirects", False)),
        )

    def on_start(self) -> None:
        self.client.connect()

    def on_stop(self) -> None:
        self.client.close()


_datasets: dict[DatasetSettings, Dataset | WsLocustError] = {}


def load_dataset(settings: DatasetSettings) -> Dataset:
    """Load a dataset once per process and settings (every user of a run shares it).

    Raises:
        DatasetError: the prompts cannot be read (the same error on every call).
    """
    if settings not in _datasets:
        try:
            _datasets[settings] = Dataset(
                load_prompts(
                    settings.path,
                    prompt_field=settings.prompt_field,
                    name_field=settings.name_field,
                    max_samples=settings.max_samples,
                    shuffle_seed=settings.shuffle_seed,
                )
            )
        except WsLocustError as error:
            _datasets[settings] = error
    found = _datasets[settings]
    if isinstance(found, WsLocustError):
        raise found
    return found


def arrival_stats_of(environment: Environment) -> ArrivalStats:
    """The open-model send counts of this process (the plugin reports and resets them)."""
    stats: ArrivalStats | None = getattr(environment, "wslocust_arrival_stats", None)
    if stats is None:
        stats = ArrivalStats()
        environment.wslocust_arrival_stats = stats  # type: ignore[attr-defined]
    return stats


def open_model_of(environment: Environment, rate: float, kind: str) -> OpenModel:
    """This process's open-model schedule for the current test, made at its first prompt.

    Its share of the rate is the ``(index, count)`` the master sent (``wslocust_share``), or all of
    it in a single process; the plugin forgets the schedule when a test starts.
    """
    model: OpenModel | None = getattr(environment, "wslocust_open_model", None)
    if model is None or model.total_rate_per_s != rate or model.kind != kind:
        index, count = getattr(environment, "wslocust_share", (0, 1))
        model = OpenModel(rate, kind, index=index, count=count, stats=arrival_stats_of(environment))
        environment.wslocust_open_model = model  # type: ignore[attr-defined]
    return model


class ChatbotUser(WebSocketUser):
    """Asks the prompts of a dataset in turn, one round trip per task, and reports each.

    Each prompt is reported under its record's name (e.g. its intent) unless ``request_name`` is set.
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

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        options = environment.parsed_options
        self.request_name = _option(options, "request_name", self.request_name, str)
        self.prompts_per_connection = _option(
            options, "prompts_per_connection", self.prompts_per_connection, int
        )
        self._asked_on_connection = 0
        self.dataset: Dataset | None = None
        self.open_model = self.open_model_settings(environment)
        if self.open_model is not None:
            self.wait_time = lambda: 0.0  # type: ignore[method-assign]  # the schedule paces the prompts

    @classmethod
    def open_model_settings(cls, environment: Environment) -> tuple[float, str] | None:
        """The open-model ``(total rate, arrivals)``, or None for Locust's closed model.

        Raises:
            ConfigurationError: the rate is not a positive number or the arrivals are unknown.
        """
        options = environment.parsed_options
        rate = _option(options, "arrival_rate", cls.arrival_rate, float)
        if rate is None:
            return None
        kind = _option(options, "arrivals", cls.arrivals, str)
        check_rate(rate, kind)
        return rate, kind

    @classmethod
    def dataset_settings(cls, environment: Environment) -> DatasetSettings:
        """Resolve where the prompts come from (class attributes, then options)."""
        options = environment.parsed_options
        return DatasetSettings(
            path=_option(options, "prompts", cls.prompts, str),
            prompt_field=_option(options, "prompt_field", cls.prompt_field, str),
            name_field=_option(options, "name_field", cls.name_field, str),
            max_samples=_option(options, "max_samples", cls.max_samples, int),
            shuffle_seed=_option(options, "shuffle_seed", cls.shuffle_seed, _optional_int),
        )

    def on_start(self) -> None:
        try:
            self.dataset = load_dataset(self.dataset_settings(self.environment))
        except WsLocustError as error:
            _log.error("%s", error)
            raise StopUser() from None
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
            due = open_model_of(self.environment, *self.open_model).claim()
            wait_s = due - time.perf_counter()
            if wait_s > 0:
                gevent.sleep(wait_s)
        record = self.next_record()
        if self.prompts_per_connection and self._asked_on_connection >= self.prompts_per_connection:
            self.client.close()
            self._asked_on_connection = 0
        self._asked_on_connection += 1
        self.client.ask(
            record.prompt, record=record.fields, name=self.request_name or record.name, scheduled_at=due
        )
