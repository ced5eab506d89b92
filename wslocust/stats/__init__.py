"""Statistics: exact, mergeable histograms (:mod:`.histogram`), the reply aggregates built on them
(:mod:`.aggregates`), and the recorder that keeps one set a process (:mod:`.recorder`)."""

from __future__ import annotations

from .aggregates import (
    TOKEN_COUNTERS,
    ChatStats,
    ConnectStats,
    MetricStats,
    ReplyStats,
    count_tokens_usage,
    reported_tokens,
)
from .histogram import Histogram

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
