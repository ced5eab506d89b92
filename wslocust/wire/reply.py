"""The measured result of one prompt→reply round trip: :class:`Reply` (socket-free), and the request
types it and the handshake are reported under in Locust's statistics."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ..errors import WsLocustError
from .voice import VoiceTimes

__all__ = ["CONNECT_REQUEST_TYPE", "REQUEST_TYPE", "Check", "Reply"]

REQUEST_TYPE = "WS"
"""The request type of prompt→reply round trips in Locust's statistics."""

CONNECT_REQUEST_TYPE = "CONNECT"
"""The request type of WebSocket handshakes in Locust's statistics."""


_NOTHING: Mapping[str, Any] = MappingProxyType({})
"""The empty mapping every reply shares until something is set (never written into)."""


@dataclass(slots=True, eq=False, init=False)
class Reply:
    """One prompt→reply round trip, as measured.

    Attributes:
        prompt: the prompt sent.
        name: the request name it was reported under.
        record: the dataset record the prompt came from (empty when none).
        text: the reply's text, its chunks joined.
        chunks: how many chunk events made the reply.
        bytes: payload bytes of the messages that made the reply.
        time_to_first_chunk_ms: send → first chunk, or None when no chunk came.
        total_time_ms: send → end of the reply (or → the failure).
        chunk_times_ms: send → each chunk's arrival, in order.
        meta: fields of the reply's final message (for example the bot's intent).
        error: why the round trip failed, or None.
        started_at: wall-clock time (``time.time()``) when the prompt was sent (or was due, in
            open-model load).
        send_delay_ms: how late the prompt was sent after it was due (open-model load), else 0.
        scores: each metric's score of this reply (metrics that did not apply are absent).
        missed: the metrics whose failure condition held (objectives included).
        metric_errors: the metrics whose function raised, with the error.
        voice: an audio turn's times (:mod:`wslocust.wire.voice`); None for a text prompt.

    ``record``, ``meta``, ``scores`` and ``metric_errors`` are read-only mappings and ``missed`` a
    sequence: most replies have none, so they share one empty value, and whoever sets one assigns a
    new value (as :class:`~wslocust.metrics.MetricsCheck` does) rather than writing into it.
    """

    prompt: str
    name: str
    record: Mapping[str, Any]
    text: str
    chunks: int
    bytes: int
    time_to_first_chunk_ms: float | None
    total_time_ms: float
    chunk_times_ms: list[float]
    meta: Mapping[str, Any]
    error: WsLocustError | None
    started_at: float
    send_delay_ms: float
    scores: Mapping[str, float]
    missed: Sequence[str]
    metric_errors: Mapping[str, str]
    voice: VoiceTimes | None

    def __init__(  # written out: a dataclass's own calls a factory for each mutable default
        self,
        prompt: str,
        name: str,
        record: Mapping[str, Any] = _NOTHING,
        text: str = "",
        chunks: int = 0,
        bytes: int = 0,
        time_to_first_chunk_ms: float | None = None,
        total_time_ms: float = 0.0,
        chunk_times_ms: list[float] | None = None,
        meta: Mapping[str, Any] = _NOTHING,
        error: WsLocustError | None = None,
        started_at: float = 0.0,
        send_delay_ms: float = 0.0,
        scores: Mapping[str, float] = _NOTHING,
        missed: Sequence[str] = (),
        metric_errors: Mapping[str, str] = _NOTHING,
        voice: VoiceTimes | None = None,
    ) -> None:
        self.prompt = prompt
        self.name = name
        self.record = record
        self.text = text
        self.chunks = chunks
        self.bytes = bytes
        self.time_to_first_chunk_ms = time_to_first_chunk_ms
        self.total_time_ms = total_time_ms
        self.chunk_times_ms = [] if chunk_times_ms is None else chunk_times_ms
        self.meta = meta
        self.error = error
        self.started_at = started_at
        self.send_delay_ms = send_delay_ms
        self.scores = scores
        self.missed = missed
        self.metric_errors = metric_errors
        self.voice = voice

    @property
    def ok(self) -> bool:
        """True when the round trip succeeded."""
        return self.error is None

    @property
    def good(self) -> bool:
        """True when it succeeded and met every metric and objective (it counts in goodput)."""
        return self.error is None and not self.missed


Check = Callable[[Reply], WsLocustError | None]
"""A check run on every reply before its request event fires; an error it returns fails the request."""
