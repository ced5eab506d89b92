"""The users of the scale benchmark (benchmarks/scale.py): each holds one connection and does nothing.

Between replies only the client's idle I/O watcher is left, which answers the target's pings.
:class:`BareUser` is Locust's own floor: a user that holds nothing (no client, no connection), run
by ``scale.py --floor`` so that the memory of an idle connection splits into Locust's part and
wslocust's.

Locust's master counts a worker lost after 3 seconds without its heartbeat; a worker opening
hundreds of connections a second on a machine whose cores other processes also use can miss that
(its heartbeat greenlet waits behind the handshakes), and the master then stops the test. Here the
master waits 120 seconds.
"""

from __future__ import annotations

import locust.runners
from locust import User, constant, task

from wslocust import WebSocketUser

__all__ = ["BareUser", "IdleUser"]

locust.runners.HEARTBEAT_LIVENESS = 120


class IdleUser(WebSocketUser):
    """Connects when it starts, then waits a day between tasks that do nothing."""

    protocol = "plain"
    connect_timeout_s = 60.0  # a handshake waits behind thousands of others on a busy machine
    wait_time = constant(24 * 3600)

    @task
    def idle(self) -> None:
        pass


class BareUser(User):
    """Locust's user alone: waits a day between tasks that do nothing, holding no connection."""

    wait_time = constant(24 * 3600)

    @task
    def idle(self) -> None:
        pass
