"""The users of the scale benchmark (benchmarks/scale.py): each holds one connection and does nothing.

Between replies only the client's idle I/O watcher is left, which answers the target's pings.
"""

from __future__ import annotations

from locust import constant, task

from wslocust import WebSocketUser

__all__ = ["IdleUser"]


class IdleUser(WebSocketUser):
    """Connects when it starts, then waits a day between tasks that do nothing."""

    protocol = "plain"
    wait_time = constant(24 * 3600)

    @task
    def idle(self) -> None:
        pass
