"""Statistics: exact, mergeable histograms and the reply aggregates built on them (:mod:`.aggregates`),
and the recorder that keeps one set a process (:mod:`.recorder`)."""

from __future__ import annotations

from .aggregates import (
    TOKEN_COUNTERS,
    ChatStats,
    ConnectStats,
    Histogram,
    MetricStats,
    ReplyStats,
    count_tokens_usage,
    reported_tokens,
)

__all__ = [
    "TOKEN_COUNTERS",
    "ChatStats",
    "ConnectStats",
    "Histogram",
    "MetricStats",
    "ReplyStats",
    "count_tokens_usage",
    "reported_tokens",
]
