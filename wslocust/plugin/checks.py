"""Start-up checks: every setting and dataset checked before a user starts (also at the web UI's START)."""

from __future__ import annotations

from locust.env import Environment

from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, WsLocustError
from ..gates import gates_from_options
from ..stats.aggregates import TOKEN_COUNTERS
from ..users import ChatbotUser, WebSocketUser
from ..values import choice
from .demo import start_demo
from .host_limits import check_source_addresses
from .live_metrics import check_live_metrics
from .options import DEMO_OPTIONS
from .profiles import profiled_classes

__all__ = ["check_options", "check_run", "remove_empty_outputs", "user_classes"]


def user_classes(environment: Environment) -> list[type[WebSocketUser]]:
    return [cls for cls in environment.user_classes if issubclass(cls, WebSocketUser)]


def check_run(environment: Environment, users: list[type[WebSocketUser]], *, profiles: bool = True) -> None:
    """Check every setting and resolve every user class's dataset now, so mistakes stop the run before
    it starts (also run again by the web UI before a test it starts: its form sends strings).

    Starts the embedded demo bot when no ``--host`` was given at all and a class wants it. With
    ``profiles``, the classes checked are those of ``--user-profile`` (the web UI's class picker checks
    them at START, once a class is picked).

    Raises:
        ConfigurationError: a setting is wrong; the message names the option or class attribute.
    """
    options = environment.parsed_options
    check_options(options)
    gates_from_options(options or {})
    if profiles:
        users = profiled_classes(environment, users)
    for cls in users:
        if issubclass(cls, ChatbotUser):
            cls.prompt_source(environment)
    for cls in users:
        cls.check_settings(environment)
    check_source_addresses(environment, users)
    host_given = getattr(options, "host", None) is not None or bool(environment.host)
    if not host_given and any(cls.demo_when_no_host and not cls.host for cls in users):
        start_demo(environment, users)
    for cls in users:
        if not environment.host and not cls.host:
            raise WsLocustError(f"{cls.__name__}: no host: give --host ws://... or wss://...")


def check_options(options: Any) -> None:
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
    check_live_metrics(options)
    for flag, _, _, parse, limits in DEMO_OPTIONS:
        value = getattr(options, flag[2:].replace("-", "_"), None)
        if value is not None:
            parse(value, flag, **limits)


def remove_empty_outputs(options: Any) -> None:
    """Remove the CSV files Locust opened before a configuration error, while they are still empty."""
    prefix = getattr(options, "csv_prefix", None)
    if not prefix:
        return
    for suffix in ("_stats.csv", "_stats_history.csv", "_failures.csv", "_exceptions.csv"):
        path = Path(prefix + suffix)
        if path.is_file() and path.stat().st_size == 0:
            path.unlink()
