"""Connection lifecycles and failover, socket-free: what a user does with its connection, and where.

Three lifecycles (``--lifecycle``):

- ``persistent`` (the default): one connection, kept; after a failure closed it, the next prompt
  reconnects, with a backoff once every endpoint has failed in a row (0.1 s doubling to 5 s);
- ``intermittent``: connect, ask ``--prompts-per-connection`` prompts or for ``--connection-time``
  seconds, disconnect, wait ``--reconnect-wait`` (instead of the think time), reconnect;
- ``bursty``: bursts of ``--burst-prompts`` prompts ``--burst-think-time`` apart, then an
  ``--idle-time`` on the same connection (the client answers the server's pings meanwhile).

Failover (``--failover-host``, repeatable): the endpoints are ``--host`` then each failover host. A
user starts on the first; when its connection fails (refused, timed out, the handshake refused) or
drops (the server closed it, or it was lost), its next connection goes to the next endpoint, round
robin. It stays where it got a connection: it goes back to an earlier endpoint only when the one it
is on fails in turn (no flapping between a recovering endpoint and a working one).

An *outage* of a user runs from its first failure (a failed connect, a connection lost) to its next
successful reply; its length is the user's *time to recover*.

Here are only the decisions (:class:`Plan`, :class:`Endpoints`, :class:`OutageClock`): the user
(:mod:`wslocust.connection_life`) does the I/O and the waiting.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["LIFECYCLES", "Endpoints", "LifecycleSettings", "OutageClock", "Plan", "reconnect_backoff_s"]

LIFECYCLES = ("persistent", "intermittent", "bursty")
"""The lifecycles ``--lifecycle`` takes."""

_BACKOFF_FIRST_S = 0.1
_BACKOFF_MAX_S = 5.0


@dataclass(frozen=True)
class LifecycleSettings:
    """How a user's connection lives (resolved from the class attributes and options)."""

    kind: str = "persistent"
    prompts_per_connection: int = 0
    """Intermittent: disconnect after this many prompts (0: only ``connection_time_s`` ends it)."""
    connection_time_s: float | None = None
    """Intermittent: disconnect after the prompt that ends this many seconds connected."""
    reconnect_wait_s: tuple[float, float] = (0.0, 0.0)
    """Intermittent: the wait after a disconnect, drawn uniformly from these bounds."""
    burst_prompts: int = 1
    """Bursty: prompts a burst."""
    burst_think_time_s: tuple[float, float] = (0.0, 0.0)
    """Bursty: the wait between the prompts of a burst."""
    idle_time_s: tuple[float, float] = (0.0, 0.0)
    """Bursty: the wait after a burst, connected."""


class Plan:
    """One user's lifecycle: after each prompt, whether to disconnect and how long to wait.

    Args:
        settings: the lifecycle.
        rng: where the waits are drawn from.
    """

    def __init__(self, settings: LifecycleSettings, rng: random.Random | None = None) -> None:
        self.settings = settings
        self._rng = rng or random.Random()
        self._asked = 0  # prompts on this connection (intermittent) or in this burst (bursty)
        self._connected_at: float | None = None

    def connected(self, now: float) -> None:
        """A connection opened at ``now`` (seconds, any monotonic clock)."""
        self._connected_at = now
        if self.settings.kind == "intermittent":
            self._asked = 0

    def after_prompt(self, now: float) -> tuple[bool, float | None]:
        """A prompt's round trip ended at ``now``.

        Returns:
            ``(disconnect, wait_s)``: whether to close the connection now, and the wait before the
            next prompt (None: the user's own think time).
        """
        settings = self.settings
        self._asked += 1
        if settings.kind == "intermittent":
            by_count = settings.prompts_per_connection and self._asked >= settings.prompts_per_connection
            since = self._connected_at
            by_time = (
                settings.connection_time_s is not None
                and since is not None
                and now - since >= settings.connection_time_s
            )
            if by_count or by_time:
                self._asked = 0
                self._connected_at = None
                return True, self._draw(settings.reconnect_wait_s)
            return False, None
        if settings.kind == "bursty":
            if self._asked >= settings.burst_prompts:
                self._asked = 0
                return False, self._draw(settings.idle_time_s)
            return False, self._draw(settings.burst_think_time_s)
        return False, None

    def _draw(self, bounds: tuple[float, float]) -> float:
        low, high = bounds
        return low if low == high else self._rng.uniform(low, high)


class Endpoints:
    """Which endpoint a user dials: the first, then round robin on each failure, staying where it works.

    Args:
        count: how many endpoints (``--host`` and the failover hosts).
    """

    __slots__ = ("_failed", "count", "current", "failed_in_a_row")

    def __init__(self, count: int) -> None:
        if count < 1:
            raise ValueError("at least one endpoint")
        self.count = count
        self.current = 0
        """The endpoint of the user's connection (or of its next one)."""
        self._failed = False
        self.failed_in_a_row = 0
        """Connects that failed since the last one that succeeded."""

    def lost(self) -> None:
        """The current endpoint's connection dropped, or could not be opened: move on at the next dial."""
        self._failed = True

    def dial(self) -> tuple[int, bool]:
        """The endpoint to dial now, and whether it is a failover (another endpoint than the last)."""
        moved = self._failed and self.count > 1
        if moved:
            self.current = (self.current + 1) % self.count
        self._failed = False
        return self.current, moved

    def connect_ended(self, ok: bool) -> None:
        """The connect to the current endpoint succeeded (``ok``) or failed (then the next dial moves on)."""
        if ok:
            self.failed_in_a_row = 0
        else:
            self.failed_in_a_row += 1
            self.lost()

    def backoff_s(self) -> float:
        """The wait before the next connect: none until every endpoint has failed in a row, then
        0.1 s doubling with each further round, at most 5 s (a refusing service is not hammered)."""
        return reconnect_backoff_s(self.failed_in_a_row // self.count)


def reconnect_backoff_s(rounds: int) -> float:
    """The backoff after ``rounds`` whole rounds of failed connects: 0, then 0.1 s doubling to 5 s."""
    if rounds <= 0:
        return 0.0
    return min(_BACKOFF_FIRST_S * 2.0 ** min(rounds - 1, 16), _BACKOFF_MAX_S)


class OutageClock:
    """One user's outages: from its first failure to its next success."""

    __slots__ = ("since",)

    def __init__(self) -> None:
        self.since: float | None = None
        """When the outage under way began (None: there is none)."""

    def failed(self, now: float) -> None:
        """A failure at ``now``: an outage begins, unless one is under way."""
        if self.since is None:
            self.since = now

    def succeeded(self, now: float) -> float | None:
        """A success at ``now``: the seconds the outage under way lasted (None when there was none)."""
        since, self.since = self.since, None
        return None if since is None else max(now - since, 0.0)
