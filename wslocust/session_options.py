"""A user class's session settings, resolved from its attributes and the options: messages on connect
(``--on-connect``, ``--await-on-connect``), captured values (``--capture``) and the auth token
(``--token-command``, ``--token-ttl``, or a locustfile's ``token_function``).

:func:`with_session` puts a :class:`~wslocust.wire.sessions.SessionProtocol` around the user's
protocol when any is set, and leaves it as it is (its lean path) when none is.
"""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching comes first)
from locust.env import Environment

import argparse
import time
from collections.abc import Callable, Mapping
from typing import Any

from .errors import ConfigurationError, TokenRefreshFailed
from .settings import as_strings, given, setting
from .tokens import TokenSource, command_fetcher, process_token_source
from .values import seconds
from .wire.protocols import Condition, Protocol
from .wire.sessions import RESERVED_NAMES, parse_capture, session_protocol

__all__ = [
    "TOKEN_REQUEST_TYPE",
    "check_capture_names",
    "parse_captures",
    "parse_condition",
    "parse_on_connect",
    "token_source",
    "with_session",
]

TOKEN_REQUEST_TYPE = "TOKEN"
"""The request type of a failed token refresh (name ``refresh``, kind ``token_refresh``)."""


def parse_captures(value: Any, name: str) -> dict[str, str]:
    """``--capture NAME=PATH`` (repeatable), or a class's ``captures`` mapping of name → path.

    Raises:
        ConfigurationError: a bad name or path, or a name given twice (names the option).
    """
    pairs = (
        [parse_capture(f"{key}={path}", name) for key, path in value.items()]
        if isinstance(value, Mapping)
        else [parse_capture(spec, name) for spec in as_strings(value, name)]
    )
    captures: dict[str, str] = {}
    for key, path in pairs:
        if key in captures:
            raise ConfigurationError(f"{name}: {key} is captured twice; give each name once")
        captures[key] = path
    return captures


def parse_on_connect(value: Any, name: str) -> tuple[str, ...]:
    """``--on-connect MESSAGE`` (repeatable), or a class's ``on_connect`` sequence of messages."""
    messages = as_strings(value, name)
    if any(not message.strip() for message in messages):
        raise ConfigurationError(f"{name}: a message is empty")
    return messages


def parse_condition(value: Any, name: str) -> str:
    """``--await-on-connect CONDITION``, as ``--json-end``'s (``type=welcome``)."""
    text = str(value).strip()
    try:
        Condition(text)
    except ConfigurationError as error:
        raise ConfigurationError(f"{name}: {error}") from None
    if not text:
        raise ConfigurationError(f"{name} is empty: give a condition such as type=welcome")
    return text


def _positive_seconds(value: Any, name: str) -> float:
    return seconds(value, name, positive=True)


def token_source(cls: type, environment: Environment, *, start: bool) -> TokenSource | None:
    """This process's token source for a user class (its ``token_function``, else ``--token-command``
    or its ``token_command``), or None when it has none.

    Args:
        cls: the user class.
        environment: where a failed refresh is fired (a ``TOKEN refresh`` request).
        start: fetch the first token now (at start-up).

    Raises:
        ConfigurationError: the command or ttl is wrong, or, ``start``, the first token cannot be
            fetched (names the exit status, never the output).
    """
    options = environment.parsed_options
    ttl_s = setting(cls, options, "token_ttl", _positive_seconds)
    command_given = given(options, "token_command")
    function: Callable[[], str] | None = getattr(cls, "token_function", None)
    command = setting(cls, options, "token_command", lambda value, _name: str(value))
    if function is not None and command_given is None:
        key: Any = (function, ttl_s)
        what = f"{cls.__name__}.token_function"
        fetch = function
    elif command is not None:
        key = (command, ttl_s)
        what = "--token-command"
        fetch = command_fetcher(command)
    else:
        return None

    def refresh_failed(error: TokenRefreshFailed) -> None:
        environment.events.request.fire(
            request_type=TOKEN_REQUEST_TYPE,
            name="refresh",
            response_time=0.0,
            response_length=0,
            exception=error,
            context={},
            start_time=time.time(),
            url=None,
        )

    return process_token_source(
        key,
        lambda: TokenSource(fetch, what=what, ttl_s=ttl_s, on_refresh_failed=refresh_failed),
        start=start,
    )


def with_session(cls: type, environment: Environment, protocol: Protocol, *, start: bool = False) -> Protocol:
    """``protocol`` with the class's session settings around it (itself when it has none).

    Raises:
        ConfigurationError: a setting is wrong (names the option or the class attribute).
    """
    options = environment.parsed_options or argparse.Namespace()
    source = token_source(cls, environment, start=start)
    return session_protocol(
        protocol,
        on_connect=setting(cls, options, "on_connect", parse_on_connect) or (),
        await_on_connect=setting(cls, options, "await_on_connect", parse_condition),
        captures=setting(cls, options, "capture", parse_captures),
        values=source.values if source is not None else None,
    )


def check_capture_names(captures: Mapping[str, str], record_fields: set[str], dataset: str) -> None:
    """Refuse a captured value's name that a record field also has: a template could not tell them
    apart.

    Raises:
        ConfigurationError: a name clashes (names it and the dataset).
    """
    for name in captures:
        if name in record_fields or name in RESERVED_NAMES:
            raise ConfigurationError(
                f"--capture {name}: {dataset} has a field {name!r} too; name the captured value otherwise"
            )
