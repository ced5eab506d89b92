"""WebSocket traffic counters: messages and bytes sent and received, pushes and control frames apart.

Every :class:`~wslocust.wire.connection.Connection` of a process counts into one :class:`Traffic`
(:data:`PROCESS_TRAFFIC`, unless it is given its own) with a few integer additions a prompt and a
received block, never a message: the messages of a block are its frames, less the control frames,
which are rare and counted one by one. The recorder takes what was counted (:meth:`Traffic.take`)
into the run's statistics once a second and into each worker's report, so counts merge exactly.

- ``messages_sent``, ``bytes_sent``: the data messages and the frames' bytes (WebSocket framing
  included, TLS not) of the prompts and of the protocols' answers; pongs and closes are not
  messages, but their bytes count.
- ``messages_received``, ``bytes_received``: every text or binary message received (pushes
  included), and every byte read (control frames included).
- ``pushes``: the messages received between replies (dropped, no reply awaited them).
- ``unmatched``: with several prompts in flight (:mod:`wslocust.wire.multiplex`), the reply messages
  that answered no prompt in flight (late after their timeout, after their end, or naming an id never
  sent or none): ignored, each also counted a push.
- ``control_received``, ``control_sent``: ping, pong and close frames received; pongs and closes sent
  by the connection's policy.
- ``prompts``: round trips started (for the replies in flight: prompts less replies that ended).
"""

from __future__ import annotations

from typing import Any

__all__ = ["PROCESS_TRAFFIC", "Traffic", "count_control", "count_sent_close"]

_MASKED_HEADER_BYTES = 6
"""A client's control frame's header: 2 bytes, and the 4 of its mask (a payload under 126 bytes)."""


class Traffic:
    """Counts of a process's WebSocket traffic (see the module's docstring)."""

    __slots__ = (
        "bytes_received", "bytes_sent", "control_received", "control_sent", "frames_received",
        "messages_sent", "prompts", "pushes", "unmatched",
    )  # fmt: skip

    FIELDS = (
        "prompts", "messages_sent", "bytes_sent", "frames_received", "bytes_received",
        "pushes", "control_received", "control_sent", "unmatched",
    )  # fmt: skip
    """The counters, in their wire order."""

    def __init__(self) -> None:
        self.prompts = 0
        self.messages_sent = 0
        self.bytes_sent = 0
        self.frames_received = 0
        """Data messages and control frames received (the frames a reader returned)."""
        self.bytes_received = 0
        self.pushes = 0
        self.control_received = 0
        self.control_sent = 0
        self.unmatched = 0
        """Reply messages that answered no prompt in flight (also counted in ``pushes``)."""

    @property
    def messages_received(self) -> int:
        """Text and binary messages received (pushes included): the frames less the control frames."""
        return self.frames_received - self.control_received

    def take(self) -> Traffic:
        """Return the counts so far and start again from zero (the recorder's harvest)."""
        taken = Traffic()
        for name in self.FIELDS:
            setattr(taken, name, getattr(self, name))
            setattr(self, name, 0)
        return taken

    def merge(self, other: Traffic) -> None:
        """Add another's counts (a worker's report, a harvest)."""
        for name in self.FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def to_wire(self) -> list[int]:
        """A msgpack-friendly form, for a worker's report."""
        return [getattr(self, name) for name in self.FIELDS]

    @classmethod
    def from_wire(cls, wire: list[Any]) -> Traffic:
        """Rebuild counts sent with :meth:`to_wire`."""
        traffic = cls()
        for name, value in zip(cls.FIELDS, wire, strict=True):
            setattr(traffic, name, int(value))
        return traffic


PROCESS_TRAFFIC = Traffic()
"""The traffic of this process's connections (the recorder takes it in)."""


def count_control(traffic: Traffic, payload_size: int) -> None:
    """Count a ping received and the pong answering it (``payload_size``: the ping's payload)."""
    traffic.control_received += 1
    traffic.control_sent += 1
    traffic.bytes_sent += _MASKED_HEADER_BYTES + payload_size


def count_sent_close(traffic: Traffic) -> None:
    """Count a close frame sent by the connection's policy (a code: 2 bytes of payload)."""
    traffic.control_sent += 1
    traffic.bytes_sent += _MASKED_HEADER_BYTES + 2
