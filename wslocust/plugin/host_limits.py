"""What one host allows: the open-file limit of a process, and the local addresses it dials from.

Each connection is an open file, so a process running N users needs about N + :data:`OPEN_FILES_MARGIN`
(Locust's own files, logs, CSVs). At start every process that runs users raises its soft limit to the
hard one when the soft one is below that, and says so in one line; a hard limit below it is said too
(spread the users over more processes, or raise it: ``ulimit -Hn``, ``LimitNOFILE=``). A master runs
no users and keeps its limit.

Locust's own ``--processes`` is checked on the command line (:func:`processes_count`): ``-1`` (one a
core) or 1 to :data:`MOST_PROCESSES_PER_CORE` a core; Locust ran one process for 0, exited 1 without
saying which option for -2, and forked 100,000 children that never started a test.

``--source-address`` (:mod:`wslocust.source_addresses`) is checked where the run starts (every
address bound once, at the web UI's START too); a worker given its own ``--source-address`` dials
from those, whatever its master sends (each host has its own addresses).
"""

from __future__ import annotations

from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

import logging
import math
import os
import resource
from collections.abc import Sequence
from typing import Any

from ..settings import OPTION_ATTRIBUTES, ConnectionSettings, given, setting
from ..source_addresses import check_bindable, check_families, keep_this_hosts, parse_source_addresses
from ..values import BadValue, integer
from ..wire.handshake import dial_address
from .spawn_messages import read_spawn_messages_quickly

__all__ = [
    "MOST_PROCESSES_PER_CORE",
    "OPEN_FILES_MARGIN",
    "check_source_addresses",
    "prepare_this_host",
    "processes_count",
    "raise_open_file_limit",
    "users_per_process",
]

OPEN_FILES_MARGIN = 100
"""Files a process holds besides its users' connections (Locust's, the logs, CSVs, a spare)."""

MOST_PROCESSES_PER_CORE = 16
"""The most ``--processes`` a core: a process past one a core only makes every one later to read its
replies (docs/distributed.md), so 16 a core is room for idle connections, and more is a typing mistake."""

_log = logging.getLogger("wslocust")


def processes_count(value: object, name: str = "") -> int:
    """Parse Locust's ``--processes``: -1 (one a core) or 1 to :data:`MOST_PROCESSES_PER_CORE` a core.

    Raises:
        BadValue: any other value; the message gives this host's bound and why it is one.
    """
    cores = os.cpu_count() or 1
    most = MOST_PROCESSES_PER_CORE * cores
    expected = (
        f"-1 (one a core) or a whole number from 1 to {most} ({MOST_PROCESSES_PER_CORE} a core of this "
        f"host's {cores}: more only share the cores)"
    )
    result = integer(value, name, what=expected)
    if result != -1 and not 1 <= result <= most:
        raise BadValue(name, value, expected)
    return result


def check_source_addresses(environment: Environment, users: Sequence[type[Any]]) -> None:
    """Parse each user class's source addresses (``--source-address`` first) and bind each once; each
    must be of the family of every host the class dials that is an IP address.

    Raises:
        ConfigurationError: an address is malformed, not this host's, or of another family than an IP
            target; names the option or attribute.
    """
    options = environment.parsed_options
    for cls in users:
        addresses = setting(cls, options, "source_address", parse_source_addresses)
        if given(options, "source_address") is not None:
            name = "--source-address"
        else:
            name = f"{cls.__name__}.{OPTION_ATTRIBUTES['source_address']}"
        check_bindable(addresses or (), name)
        if addresses and (environment.host or cls.host):  # else the demo bot's, started after the checks
            check_families(addresses, _targets(cls.connection_settings(environment)), name)


def _targets(settings: ConnectionSettings) -> list[str]:
    """The hosts a class's users dial: its URL's (or ``connect_to``'s) and its failover hosts'."""
    first = dial_address(settings.url, settings.connect_to)
    return [first[0], *(dial_address(url)[0] for url in settings.failover_hosts)]


def users_per_process(options: Any) -> int | None:
    """The users this process will run, as far as its options tell (None: not known here)."""
    users = getattr(options, "num_users", None)
    processes = getattr(options, "processes", None)
    if not isinstance(users, int) or (getattr(options, "worker", False) and not processes):
        return None  # the web UI picks the number, or a worker's master does
    return math.ceil(users / (processes or 1))


def raise_open_file_limit(users: int | None) -> None:
    """Raise the soft open-file limit to the hard one when it is below what ``users`` need (any
    soft limit below the hard one when ``users`` is not known), saying so in one log line; a hard
    limit too low is said in one line too. Never raises."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = hard if users is None else users + OPEN_FILES_MARGIN
    unlimited = hard == resource.RLIM_INFINITY
    if soft != resource.RLIM_INFINITY and soft < needed and (unlimited or soft < hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as error:
            _log.warning("open files: could not raise the soft limit of %d to %d: %s", soft, hard, error)
            return
        need = "" if users is None else f": {users:,} users a process need about {needed:,}"
        _log.info(
            "open files: soft limit raised from %d to %s%s", soft, "unlimited" if unlimited else hard, need
        )
    if users is not None and not unlimited and hard < needed:
        _log.warning(
            "open files: the hard limit of %d is below the %s that %s users a process need: connections past "
            "it will fail; spread the users over more processes (--processes) or hosts, or raise the hard "
            "limit (ulimit -Hn)",
            hard,
            f"{needed:,}",
            f"{users:,}",
        )


def prepare_this_host(environment: Environment) -> None:
    """In a process that runs users: raise the open-file limit; on a worker given its own
    ``--source-address``, check those addresses here and keep them. In every process: Locust's
    default options computed once (:mod:`.spawn_messages`).

    Raises:
        ConfigurationError: the worker's own ``--source-address`` is malformed or not this host's.
    """
    options, runner = environment.parsed_options, environment.runner
    read_spawn_messages_quickly()
    if isinstance(runner, MasterRunner):
        return
    own = given(options, "source_address")
    if isinstance(runner, WorkerRunner) and own is not None:
        addresses = parse_source_addresses(own, "--source-address")
        check_bindable(addresses, "--source-address")
        keep_this_hosts(addresses)
    raise_open_file_limit(users_per_process(options))
