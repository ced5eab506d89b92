"""Spawn messages a worker reads in microseconds, not seconds.

For each spawn message (one a second to each worker while users ramp up), a Locust worker keeps the
options that are not Locust's own by testing each against ``argument_parser.default_args_dict()``,
which builds and runs Locust's whole parser again: once an option. With wslocust's options that is
some 200 parses, about 0.35 s of CPU a message on a quiet core and several seconds on a busy one, so
a worker ramping up for minutes fell behind its messages, spawned nothing and missed its heartbeats
(the master then stops the test). Locust's defaults do not change within a process: computed once.
"""

from __future__ import annotations

from locust import argument_parser

import functools

__all__ = ["read_spawn_messages_quickly"]


def read_spawn_messages_quickly() -> None:
    """Compute Locust's default options once a process (idempotent)."""
    defaults = argument_parser.default_args_dict
    if not hasattr(defaults, "cache_info"):
        argument_parser.default_args_dict = functools.cache(defaults)
