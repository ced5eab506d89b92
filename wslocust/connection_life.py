"""A user's connections over its endpoints: failover, reconnect backoff, outages and close codes.

The decisions are :mod:`wslocust.lifecycles`'s (socket-free); here they meet the clients (one a
endpoint, each with its own protocol instance) and the recorder.
"""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching comes first)

import argparse
import time
from collections.abc import Sequence

import gevent

from .client import ChatClient
from .errors import ConfigurationError
from .lifecycles import Endpoints, LifecycleSettings, OutageClock, Plan
from .settings import given, option_flag, parse_lifecycle, parse_seconds_range, required, setting
from .stats.recorder import Recorder
from .values import count, seconds
from .wire.reply import Reply

__all__ = ["ConnectionLife", "lifecycle_settings"]


class ConnectionLife:
    """The connections of one user: to the current endpoint, moving on when it fails.

    Args:
        clients: one client a endpoint, the primary (``--host``) first.
        recorder: where outages, failovers and close codes are counted (None: not counted).
    """

    __slots__ = ("_recorder", "client", "clients", "endpoints", "outage", "plan")  # one a user, idle ones too

    def __init__(self, clients: Sequence[ChatClient], recorder: Recorder | None) -> None:
        self.clients = tuple(clients)
        self.endpoints = Endpoints(len(self.clients))
        self.client = self.clients[self.endpoints.current]
        """The client of the current endpoint (it changes when :meth:`ready` dials the next)."""
        self.outage = OutageClock()
        self._recorder = recorder
        self.plan: Plan | None = None
        """The lifecycle (a :class:`ChatbotUser`'s): when to disconnect, how long to wait."""
        for client in self.clients:
            client.on_server_close = self._server_closed

    def ready(self) -> bool:
        """Connect unless connected: to the next endpoint after a failure, after the backoff once every
        endpoint failed in a row (the ``CONNECT`` event carries a failure).

        Returns:
            True when the connection is open.
        """
        if self.client.connected:
            return True
        wait_s = self.endpoints.backoff_s()
        if wait_s:
            gevent.sleep(wait_s)
        current, moved = self.endpoints.dial()
        self.client = self.clients[current]  # (only a dial moves to another endpoint)
        if moved and self._recorder is not None:
            self._recorder.record_failover()
        ok = self.client.connect()
        self.endpoints.connect_ended(ok)
        if not ok:
            self.outage.failed(time.monotonic())
        elif self.plan is not None:
            self.plan.connected(time.monotonic())
        return ok

    def replied(self, reply: Reply) -> float | None:
        """A round trip ended: a success ends an outage; a failure that cost the connection begins one.
        Then the lifecycle may disconnect.

        Returns:
            The wait before the next prompt that the lifecycle sets (None: the user's think time).
        """
        now = time.monotonic()
        self.observe(reply, now)
        if self.plan is None:
            return None
        disconnect, wait_s = self.plan.after_prompt(now)
        if disconnect:
            self.close()
        return wait_s

    def observe(self, reply: Reply, now: float | None = None) -> None:
        """A round trip ended: a success ends an outage; a failure that cost the connection begins one
        (a conversation's turn: the lifecycle is not consulted)."""
        if reply.error is None:
            recovered_s = self.outage.succeeded(time.monotonic() if now is None else now)
            if recovered_s is not None and self._recorder is not None:
                self._recorder.record_outage(recovered_s * 1000.0)
        elif not self.client.connected:  # a timeout, a protocol error, the connection lost
            self._lose()

    def close(self) -> None:
        """Close the connection (the user's choice: no failure)."""
        self.client.close()

    def _server_closed(self, code: int) -> None:
        if self._recorder is not None:
            self._recorder.record_close(code)
        self._lose()

    def _lose(self) -> None:
        """The connection failed: an outage begins (unless under way); the next connect fails over."""
        self.outage.failed(time.monotonic())
        self.endpoints.lost()


_LIFECYCLE_OPTIONS = {
    "connection_time": "intermittent",
    "reconnect_wait": "intermittent",
    "burst_prompts": "bursty",
    "burst_think_time": "bursty",
    "idle_time": "bursty",
}
"""The options of one lifecycle (the option's dest → the lifecycle): given with another, refused."""


def _positive_count(value: object, name: str) -> int:
    return count(value, name, minimum=1)


def lifecycle_settings(
    cls: type, options: argparse.Namespace | None, *, open_model: bool
) -> LifecycleSettings:
    """A user class's connection lifecycle (see :mod:`wslocust.lifecycles`), from its attributes and
    the options.

    Args:
        cls: the user class (its attributes: ``lifecycle``, ``connection_time_s``...).
        options: the parsed options.
        open_model: the class's prompts are paced by an open model (``--arrival-rate``).

    Raises:
        ConfigurationError: a value is wrong, an option given is not of the lifecycle chosen, an
            intermittent lifecycle has no end, or a lifecycle that paces prompts meets an open model.
    """
    kind = required(setting(cls, options, "lifecycle", parse_lifecycle))
    settings = LifecycleSettings(
        kind=kind,
        prompts_per_connection=required(setting(cls, options, "prompts_per_connection", count)),
        connection_time_s=setting(cls, options, "connection_time", seconds),
        reconnect_wait_s=required(setting(cls, options, "reconnect_wait", parse_seconds_range)),
        burst_prompts=required(setting(cls, options, "burst_prompts", _positive_count)),
        burst_think_time_s=required(setting(cls, options, "burst_think_time", parse_seconds_range)),
        idle_time_s=required(setting(cls, options, "idle_time", parse_seconds_range)),
    )
    for option, of in _LIFECYCLE_OPTIONS.items():
        if of != kind and given(options, option) is not None:
            raise ConfigurationError(f"{option_flag(option)} is for --lifecycle {of} (this run's is {kind})")
    where = "--lifecycle" if given(options, "lifecycle") else f"{cls.__name__}.lifecycle"
    if kind == "intermittent" and not settings.prompts_per_connection and settings.connection_time_s is None:
        raise ConfigurationError(
            f"{where} intermittent needs --prompts-per-connection N or --connection-time S "
            "(when to disconnect)"
        )
    if kind != "persistent" and open_model:
        raise ConfigurationError(
            f"{where} {kind} paces the prompts itself: it cannot be used with --arrival-rate"
        )
    return settings
