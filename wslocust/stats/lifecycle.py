"""The statistics of connections' lives: outages and their time to recover, failovers, close codes.

Plain Python, merged across workers like the replies' statistics (a worker's report carries them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import aggregates  # a module: aggregates' ChatStats holds a LifecycleStats

__all__ = ["ABNORMAL_CLOSE", "LifecycleStats"]

ABNORMAL_CLOSE = 1006
"""The close code of a connection lost without a close frame (RFC 6455 §7.1.5): never sent, only reported."""


@dataclass
class LifecycleStats:
    """What happened to the users' connections."""

    outages: int = 0
    """Outages that ended (a user's first failure to its next successful reply)."""
    time_to_recover: aggregates.Histogram = field(default_factory=lambda: aggregates.Histogram())
    """Each ended outage's length, in ms."""
    failovers: int = 0
    """Connects that went to another endpoint than the user's last (after a failure)."""
    close_codes: dict[str, int] = field(default_factory=dict)
    """Connections the servers closed, by close code (a string: ``"1001"``; 1006 for a connection lost
    without a close frame)."""

    def add_outage(self, time_ms: float) -> None:
        self.outages += 1
        self.time_to_recover.record(time_ms)

    def add_close(self, code: int) -> None:
        key = str(code)
        self.close_codes[key] = self.close_codes.get(key, 0) + 1

    @property
    def empty(self) -> bool:
        """Nothing happened to any connection (no section is written)."""
        return not (self.outages or self.failovers or self.close_codes)

    def merge(self, other: LifecycleStats) -> None:
        self.outages += other.outages
        self.time_to_recover.merge(other.time_to_recover)
        self.failovers += other.failovers
        for code, number in other.close_codes.items():
            self.close_codes[code] = self.close_codes.get(code, 0) + number

    def to_wire(self) -> list[Any]:
        return [self.outages, self.time_to_recover.to_wire(), self.failovers, self.close_codes]

    @classmethod
    def from_wire(cls, wire: list[Any]) -> LifecycleStats:
        outages, recover, failovers, close_codes = wire
        codes = {str(code): int(number) for code, number in close_codes.items()}
        return cls(int(outages), aggregates.Histogram.from_wire(recover), int(failovers), codes)
