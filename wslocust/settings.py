"""The settings of a user class, resolved from its attributes and the options, and their parsers.

A setting is a class attribute, overridden by the command line (or the web UI) when its option is
given (:data:`OPTION_ATTRIBUTES`); a bad value names whichever it came from.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .client import check_url, check_wire_text, expand_env, parse_connect_to
from .datasets import DatasetSettings
from .errors import ConfigurationError
from .lifecycles import LIFECYCLES
from .load.arrivals import ARRIVAL_KINDS
from .tls_context import TlsFiles
from .values import BadValue, choice, count, integer, number, seconds_range
from .wire.deflate import COMPRESSIONS
from .wire.frames import DEFAULT_MAX_MESSAGE_BYTES
from .wire.multiplex import MOST_IN_FLIGHT
from .wire.protocols import Protocol

__all__ = [
    "OPTION_ATTRIBUTES",
    "ConnectionSettings",
    "DatasetSettings",
    "as_strings",
    "as_text",
    "check_expanded",
    "given",
    "option_flag",
    "parse_arrivals",
    "parse_compression",
    "parse_connect_to_setting",
    "parse_failover_hosts",
    "parse_headers",
    "parse_in_flight",
    "parse_lifecycle",
    "parse_max_samples",
    "parse_message_bytes",
    "parse_origin",
    "parse_query",
    "parse_rate_per_s",
    "parse_seconds_range",
    "parse_seed",
    "parse_subprotocols",
    "required",
    "setting",
]

OPTION_ATTRIBUTES: dict[str, str] = {
    "prompts": "prompts",
    "prompt_field": "prompt_field",
    "name_field": "name_field",
    "request_name": "request_name",
    "max_samples": "max_samples",
    "shuffle_seed": "shuffle_seed",
    "protocol": "protocol",
    "origin": "origin",
    "header": "headers",
    "query": "query",
    "subprotocol": "subprotocols",
    "connect_to": "connect_to",
    "connect_timeout": "connect_timeout_s",
    "reply_timeout": "reply_timeout_s",
    "prompts_per_connection": "prompts_per_connection",
    "arrival_rate": "arrival_rate",
    "arrivals": "arrivals",
    "max_message_bytes": "max_message_bytes",
    "compression": "compression",
    "in_flight": "in_flight",
    "on_connect": "on_connect",
    "await_on_connect": "await_on_connect",
    "capture": "captures",
    "token_command": "token_command",
    "token_ttl": "token_ttl_s",
    "turn_think_time": "turn_think_time",
    "conversations_per_connection": "conversations_per_connection",
    "prompt_mix": "prompt_mix",
    "failover_host": "failover_hosts",
    "lifecycle": "lifecycle",
    "connection_time": "connection_time_s",
    "reconnect_wait": "reconnect_wait_s",
    "burst_prompts": "burst_prompts",
    "burst_think_time": "burst_think_time_s",
    "idle_time": "idle_time_s",
    "audio_frame_ms": "audio_frame_ms",
    "audio_speed": "audio_speed",
    "audio_trailing_silence_ms": "audio_trailing_silence_ms",
    "audio_packets": "audio_packets",
    "audio_packet_bytes": "audio_packet_bytes",
    "audio_packet_ms": "audio_packet_ms",
    "source_address": "source_addresses",
    "ca_file": "ca_file",
    "client_cert": "client_cert",
    "client_key": "client_key",
    "client_key_password": "client_key_password",
}
"""The options that stand for a user-class attribute (the option's dest → the attribute): given, the
option wins; unset, the attribute is used (and the web UI's form shows it)."""

_T = TypeVar("_T")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
"""An HTTP token (RFC 9110), which a WebSocket subprotocol must be (RFC 6455)."""


def given(options: argparse.Namespace | None, option: str) -> Any | None:
    """The value of ``option`` when given (the web UI's form leaves an empty field as ``""``), else None."""
    value = getattr(options, option, None) if options is not None else None
    return None if value is None or value == "" or value == [] else value


def setting(
    cls: type, options: argparse.Namespace | None, option: str, parse: Callable[[Any, str], _T]
) -> _T | None:
    """Option ``option`` when given, else its class attribute (:data:`OPTION_ATTRIBUTES`), parsed; None
    when neither is set.

    A bad value names whichever it came from: ``--reply-timeout`` or ``SupportBotUser.reply_timeout_s``.
    """
    value = given(options, option)
    if value is not None:
        return parse(value, option_flag(option))
    attribute = OPTION_ATTRIBUTES[option]
    default = getattr(cls, attribute)
    return None if default is None else parse(default, f"{cls.__name__}.{attribute}")


def required(value: _T | None) -> _T:
    assert value is not None  # the class attribute has a value
    return value


def option_flag(option: str) -> str:
    return "--" + option.replace("_", "-")


def as_text(value: Any, name: str) -> str:
    return str(value)


def as_strings(value: Any, name: str) -> tuple[str, ...]:
    return tuple(str(item) for item in value) if isinstance(value, list | tuple) else (str(value),)


def parse_headers(value: Any, name: str) -> tuple[str, ...]:
    headers = as_strings(value, name)
    for header in headers:
        field_name, colon, _ = header.partition(":")
        if not colon or not field_name.strip() or any(char.isspace() for char in field_name.strip()):
            raise ConfigurationError(f"{name} must read 'Name: value' (the value is not shown)")
        check_wire_text(header, name)
    return headers


def parse_query(value: Any, name: str) -> str:
    return check_wire_text(str(value), name, in_url=True)


def parse_origin(value: Any, name: str) -> str:
    return check_wire_text(str(value), name)


def parse_subprotocols(value: Any, name: str) -> tuple[str, ...]:
    subprotocols = as_strings(value, name)
    for subprotocol in subprotocols:
        if not _TOKEN.fullmatch(subprotocol):
            raise BadValue(name, subprotocol, "a token: letters, digits and !#$%&'*+-.^_`|~ (RFC 6455)")
    return subprotocols


def parse_seed(value: Any, name: str) -> int | None:
    expected = "a whole number of 0 or more, or -1 for file order"
    seed = integer(value, name, what=expected)
    if seed < -1:
        raise BadValue(name, value, expected)
    return None if seed == -1 else seed


def parse_max_samples(value: Any, name: str) -> int:
    samples = integer(value, name, what="a whole number of 1 or more, or -1 for all")
    if samples == 0 or samples < -1:
        raise BadValue(name, value, "a whole number of 1 or more, or -1 for all")
    return samples


def parse_in_flight(value: Any, name: str) -> int:
    return count(value, name, minimum=1, maximum=MOST_IN_FLIGHT)


def parse_message_bytes(value: Any, name: str) -> int:
    return count(value, name, minimum=1)


def parse_connect_to_setting(value: Any, name: str) -> str:
    target = str(value)
    try:
        parse_connect_to(target, 443)
    except ConfigurationError as error:
        raise ConfigurationError(str(error).replace("--connect-to", name, 1)) from None
    return target


def parse_rate_per_s(value: Any, name: str) -> float:
    return number(value, name, positive=True, what="a number of prompts a second")


def parse_arrivals(value: Any, name: str) -> str:
    return choice(value, name, ARRIVAL_KINDS)


def parse_compression(value: Any, name: str) -> str:
    return choice(value, name, COMPRESSIONS)


def parse_failover_hosts(value: Any, name: str) -> tuple[str, ...]:
    """Failover endpoints: ``ws://`` or ``wss://`` URLs, each checked as ``--host`` is, without user
    info, query or fragment (a secret there would be written with the run's options: give it with
    ``--query`` or ``--header``, which go to every endpoint and are never written)."""
    hosts = as_strings(value, name)
    for host in hosts:
        try:
            check_url(host, name)
        except ConfigurationError as error:
            message = str(error)
            raise ConfigurationError(message if message.startswith(name) else f"{name}: {message}") from None
        parts = urlsplit(host)
        if "@" in parts.netloc or parts.query or parts.fragment or host.endswith(("?", "#")):
            raise ConfigurationError(
                f"{name} {parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}: no user info, query "
                "or fragment in a failover URL (give secrets with --query or --header)"
            )
    return hosts


def parse_lifecycle(value: Any, name: str) -> str:
    return choice(value, name, LIFECYCLES)


def parse_seconds_range(value: Any, name: str) -> tuple[float, float]:
    """``N`` or ``MIN-MAX`` seconds; a locustfile may also give a ``(MIN, MAX)`` pair."""
    if isinstance(value, list | tuple) and len(value) == 2:
        value = f"{value[0]}-{value[1]}"
    return seconds_range(value, name)


def check_expanded(values: Sequence[str], name: str, *, in_url: bool = False) -> None:
    """Check that every ``${VAR}`` of a secret setting is set and expands to text the handshake can
    carry (the values are neither kept nor shown)."""
    for value in values:
        try:
            expand_env(value, f"{name}, after ${{VAR}} expansion,", in_url=in_url)
        except ConfigurationError as error:
            message = str(error)
            raise ConfigurationError(message if message.startswith(name) else f"{name}: {message}") from None


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
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    compression: str = "none"
    failover_hosts: tuple[str, ...] = ()
    source_addresses: tuple[str, ...] = ()
    tls_files: TlsFiles | None = None
