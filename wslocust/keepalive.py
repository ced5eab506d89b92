"""Keep-alive messages on an idle connection: a protocol's message (``binary-stt``'s
``--stt-keepalive-message``) sent every ``keepalive_ms`` while no turn is under way.

Speech-to-text services close a stream that neither audio nor a message came on for a while
(Deepgram after 10 s), so a caller's pause between utterances longer than that would lose the
connection. The client arms one libev timer a connection when it goes idle (where it starts
watching for pings between replies) and disarms it when a turn takes the socket: no greenlet waits
a user. The timer fires in the hub, which must not block: each keep-alive is sent by a short-lived
greenlet, as the idle reader reads.
"""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching comes first)

import ssl
from collections.abc import Callable
from typing import Any

import gevent
from gevent.hub import get_hub

from .wire.protocols import Message, Protocol

__all__ = ["KeepAlive"]


class KeepAlive:
    """Sends ``message`` every ``interval_s`` while armed.

    Args:
        message: the keep-alive message.
        interval_s: the time between two keep-alives (and from arming to the first).
        send: sends a message on the connection (frames it, counts it); may block briefly.
    """

    def __init__(self, message: Message, interval_s: float, send: Callable[[Message], None]) -> None:
        self.message = message
        self.interval_s = interval_s
        self._send = send
        self._timer: Any = None
        self._sender: gevent.Greenlet | None = None
        self.sent = 0
        """Keep-alive messages sent."""

    @classmethod
    def of(cls, protocol: Protocol, send: Callable[[Message], None]) -> KeepAlive | None:
        """The keep-alive of ``protocol`` (its ``keepalive_ms`` and ``keepalive_message``); None when
        it sends none."""
        interval_ms = protocol.keepalive_ms
        if not interval_ms:
            return None
        return cls(protocol.keepalive_message, interval_ms / 1000.0, send)

    def arm(self) -> None:
        """The connection is idle: send the message every interval from now (kept when armed)."""
        timer = self._timer
        if timer is None:
            timer = self._timer = get_hub().loop.timer(self.interval_s, self.interval_s)
        if not timer.active:
            timer.start(self._due)

    def disarm(self, *, closing: bool = False) -> None:
        """A turn takes the connection (a keep-alive being sent finishes first), or it closes
        (``closing``: the timer is freed and a keep-alive not sent yet is dropped)."""
        timer = self._timer
        if timer is not None:
            timer.stop()
            if closing:
                timer.close()
                self._timer = None
        sender, self._sender = self._sender, None
        if sender is not None and not sender.dead and sender is not gevent.getcurrent():
            if closing:
                sender.kill(block=False)
            else:
                sender.join()

    def _due(self) -> None:
        # In the hub: the send may wait on the socket, so it goes to a greenlet.
        if self._sender is None or self._sender.dead:
            self._sender = gevent.spawn(self._send_one)

    def _send_one(self) -> None:
        try:
            self._send(self.message)
        except (OSError, ssl.SSLError):  # the idle reader finds the connection lost and drops it
            return
        self.sent += 1
