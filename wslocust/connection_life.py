"""A user's connections over its endpoints: failover, reconnect backoff, outages and close codes.

The decisions are :mod:`wslocust.lifecycles`'s (socket-free); here they meet the clients (one a
endpoint, each with its own protocol instance) and the recorder.
"""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching comes first)

import time
from collections.abc import Sequence

import gevent

from .client import ChatClient
from .lifecycles import Endpoints, OutageClock, Plan
from .stats.recorder import Recorder
from .wire.reply import Reply

__all__ = ["ConnectionLife"]


class ConnectionLife:
    """The connections of one user: to the current endpoint, moving on when it fails.

    Args:
        clients: one client a endpoint, the primary (``--host``) first.
        recorder: where outages, failovers and close codes are counted (None: not counted).
    """

    def __init__(self, clients: Sequence[ChatClient], recorder: Recorder | None) -> None:
        self.clients = list(clients)
        self.endpoints = Endpoints(len(self.clients))
        self.outage = OutageClock()
        self._recorder = recorder
        self.plan: Plan | None = None
        """The lifecycle (a :class:`ChatbotUser`'s): when to disconnect, how long to wait."""
        for client in self.clients:
            client.on_server_close = self._server_closed

    @property
    def client(self) -> ChatClient:
        """The client of the current endpoint."""
        return self.clients[self.endpoints.current]

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
        _, moved = self.endpoints.dial()
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
        if reply.error is None:
            recovered_s = self.outage.succeeded(now)
            if recovered_s is not None and self._recorder is not None:
                self._recorder.record_outage(recovered_s * 1000.0)
        elif not self.client.connected:  # a timeout, a protocol error, the connection lost
            self._lose()
        if self.plan is None:
            return None
        disconnect, wait_s = self.plan.after_prompt(now)
        if disconnect:
            self.close()
        return wait_s

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
