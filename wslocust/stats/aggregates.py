"""Chatbot statistics: per request name and in total, mergeable across processes.

Every timing is kept in an exact histogram (:mod:`.histogram`), so the figures of several workers
merge into those of all their samples.

Timing statistics are of successful replies; failures are counted by kind. Per reply, with ``t_i`` the
time from send to chunk ``i`` (``t_1`` the first), ``E2E`` the time from send to the reply's end and
``N`` its output tokens (docs/metrics.md sets them beside vLLM's and AIPerf's):

- ``latency``: E2E; ``ttft``: ``t_1``; ``gap`` (ITL): every ``t_(i+1) - t_i``;
- ``tpot``: ``(E2E - t_1) / (N - 1)``, and ``token_rate``: ``(N - 1) * 1000 / (E2E - t_1)`` (tokens/s,
  ``1000 / tpot``), both of replies of two or more chunks and two or more tokens that took time
  after their first chunk (a reply in one chunk has no decoding time to share out).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from math import trunc  # int() of a float, at a third of int()'s cost (binning runs twice a reply)
from typing import Any

from ..wire.reply import Reply
from ..wire.traffic import Traffic
from . import lifecycle, voice
from .histogram import BINS_PER_MS, Histogram

__all__ = [
    "TOKEN_COUNTERS",
    "ChatStats",
    "ConnectStats",
    "Histogram",
    "MetricStats",
    "ReplyStats",
    "count_tokens_usage",
    "reported_tokens",
    "time_per_output_token_ms",
]


@dataclass(slots=True)
class MetricStats:
    """How one metric scored the replies."""

    scored: int = 0
    total: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf
    missed: int = 0
    errors: int = 0

    @property
    def mean(self) -> float | None:
        return self.total / self.scored if self.scored else None

    def merge(self, other: MetricStats) -> None:
        self.scored += other.scored
        self.total += other.total
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)
        self.missed += other.missed
        self.errors += other.errors

    def to_wire(self) -> list[Any]:
        finite = self.scored > 0
        return [
            self.scored,
            self.total,
            self.minimum if finite else 0,
            self.maximum if finite else 0,
            self.missed,
            self.errors,
        ]

    @classmethod
    def from_wire(cls, wire: list[Any]) -> MetricStats:
        scored, total, minimum, maximum, missed, errors = wire
        if not scored:
            return cls(missed=missed, errors=errors)
        return cls(scored, float(total), float(minimum), float(maximum), missed, errors)


def reported_tokens(reply: Reply) -> int | None:
    """The output tokens the server reported (``usage.output_tokens`` of the final message), or None."""
    usage = reply.meta.get("usage") if reply.meta else None
    if isinstance(usage, Mapping):
        tokens = usage.get("output_tokens")
        if isinstance(tokens, int) and not isinstance(tokens, bool):
            return tokens
    return None


def count_tokens_usage(reply: Reply) -> int:
    """Tokens the server reported, else words: :class:`ChatStats` counts the replies counted in
    words (``without_usage``), and the run says how many."""
    tokens = reported_tokens(reply)
    return len(reply.text.split()) if tokens is None else tokens


def time_per_output_token_ms(reply: Reply, tokens: int) -> float | None:
    """TPOT: ``(E2E - TTFT) / (tokens - 1)`` in ms, as :class:`ReplyStats` records it; None when it
    does not apply (fewer than two chunks or tokens, or no time after the first chunk)."""
    times = reply.chunk_times_ms
    if tokens > 1 and len(times) > 1:
        decoding_ms = reply.total_time_ms - times[0]
        if decoding_ms > 0:
            return decoding_ms / (tokens - 1)
    return None


def _count_words(reply: Reply) -> int:
    """Words: the reply's text split on whitespace (the default; :class:`ChatStats` counts them
    without calling this)."""
    return len(reply.text.split())


TOKEN_COUNTERS: dict[str, Callable[[Reply], int]] = {
    "words": _count_words,
    "chars4": lambda reply: math.ceil(len(reply.text) / 4),
    "chunks": lambda reply: reply.chunks,
    "usage": count_tokens_usage,
}
"""How output tokens are counted (``--tokens``): words (default); characters / 4 (a common rule of
thumb for English with GPT tokenizers); one a chunk (token-streaming bots); the server's usage report."""


class ReplyStats:
    """Statistics of a set of replies (one request name, one second, or all)."""

    __slots__ = (
        "chunks",
        "errors",
        "failures",
        "gap",
        "good",
        "latency",
        "metrics",
        "replies",
        "token_rate",
        "tokens",
        "tpot",
        "ttft",
    )

    def __init__(self) -> None:
        self.replies = 0
        self.failures = 0
        self.good = 0
        self.chunks = 0
        self.tokens = 0
        self.errors: dict[str, int] = {}
        self.latency = Histogram()
        self.ttft = Histogram()
        self.gap = Histogram()
        self.token_rate = Histogram()
        self.tpot = Histogram()
        self.metrics: dict[str, MetricStats] = {}

    def add(self, reply: Reply, tokens: int) -> None:
        """Count one reply with its output ``tokens``."""
        self.replies += 1
        missed = reply.missed
        if missed or reply.scores or reply.metric_errors:
            self._add_metrics(reply)
        error = reply.error
        if error is not None:
            self.failures += 1
            kind = error.kind
            self.errors[kind] = self.errors.get(kind, 0) + 1
            return
        if not missed:
            self.good += 1
        self.chunks += reply.chunks
        self.tokens += tokens
        # The latency's and the TTFT's Histogram.record, written out (this runs once a reply).
        total_ms = reply.total_time_ms
        histogram = self.latency
        key = trunc(total_ms * BINS_PER_MS + 0.5)
        counts = histogram.counts
        counts[key] = counts.get(key, 0) + 1
        histogram.count += 1
        histogram.total += total_ms
        if total_ms < histogram.minimum:
            histogram.minimum = total_ms
        if total_ms > histogram.maximum:
            histogram.maximum = total_ms
        times = reply.chunk_times_ms
        if times:
            first_ms = times[0]
            histogram = self.ttft
            if first_ms != total_ms:  # (else the same bin: one message was the whole reply)
                key = trunc(first_ms * BINS_PER_MS + 0.5)
            counts = histogram.counts
            counts[key] = counts.get(key, 0) + 1
            histogram.count += 1
            histogram.total += first_ms
            if first_ms < histogram.minimum:
                histogram.minimum = first_ms
            if first_ms > histogram.maximum:
                histogram.maximum = first_ms
            if len(times) > 1:
                self.gap.record_gaps(times)
                decoding_ms = total_ms - first_ms  # as time_per_output_token_ms
                if tokens > 1 and decoding_ms > 0:
                    self.tpot.record(decoding_ms / (tokens - 1))
                    self.token_rate.record((tokens - 1) * 1000.0 / decoding_ms)

    def _add_metrics(self, reply: Reply) -> None:
        metrics = self.metrics
        for name, score in reply.scores.items():
            metric = metrics.get(name)
            if metric is None:
                metric = metrics[name] = MetricStats()
            metric.scored += 1
            metric.total += score
            if score < metric.minimum:
                metric.minimum = score
            if score > metric.maximum:
                metric.maximum = score
        for name in reply.missed:
            metrics[name].missed += 1
        if reply.metric_errors:
            for name in reply.metric_errors:
                metrics.setdefault(name, MetricStats()).errors += 1

    def merge(self, other: ReplyStats) -> None:
        """Add another set's statistics to this one."""
        self.replies += other.replies
        self.failures += other.failures
        self.good += other.good
        self.chunks += other.chunks
        self.tokens += other.tokens
        for kind, number in other.errors.items():
            self.errors[kind] = self.errors.get(kind, 0) + number
        for mine, theirs in (
            (self.latency, other.latency),
            (self.ttft, other.ttft),
            (self.gap, other.gap),
            (self.token_rate, other.token_rate),
            (self.tpot, other.tpot),
        ):
            mine.merge(theirs)
        for name, metric in other.metrics.items():
            self.metrics.setdefault(name, MetricStats()).merge(metric)

    def to_wire(self) -> list[Any]:
        return [
            self.replies, self.failures, self.good, self.chunks, self.tokens, self.errors,
            self.latency.to_wire(), self.ttft.to_wire(), self.gap.to_wire(), self.token_rate.to_wire(),
            {name: metric.to_wire() for name, metric in self.metrics.items()}, self.tpot.to_wire(),
        ]  # fmt: skip

    @classmethod
    def from_wire(cls, wire: list[Any]) -> ReplyStats:
        stats = cls()
        (stats.replies, stats.failures, stats.good, stats.chunks, stats.tokens, errors,
         latency, ttft, gap, token_rate, metrics, tpot) = wire  # fmt: skip
        stats.errors = dict(errors)
        stats.latency, stats.ttft = Histogram.from_wire(latency), Histogram.from_wire(ttft)
        stats.gap, stats.token_rate = Histogram.from_wire(gap), Histogram.from_wire(token_rate)
        stats.tpot = Histogram.from_wire(tpot)
        stats.metrics = {name: MetricStats.from_wire(metric) for name, metric in metrics.items()}
        return stats


@dataclass
class ConnectStats:
    """WebSocket handshakes: attempts, failures by kind, and handshake times of the successful ones;
    apart, the handshakes cut off (still under way when their users were stopped: no attempt)."""

    attempts: int = 0
    failures: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    time: Histogram = field(default_factory=Histogram)
    cut_off: int = 0

    def add(self, time_ms: float, error_kind: str | None) -> None:
        self.attempts += 1
        if error_kind is None:
            self.time.record(time_ms)
        else:
            self.failures += 1
            self.errors[error_kind] = self.errors.get(error_kind, 0) + 1

    def merge(self, other: ConnectStats) -> None:
        self.attempts += other.attempts
        self.failures += other.failures
        for kind, number in other.errors.items():
            self.errors[kind] = self.errors.get(kind, 0) + number
        self.time.merge(other.time)
        self.cut_off += other.cut_off

    def to_wire(self) -> list[Any]:
        return [self.attempts, self.failures, self.errors, self.time.to_wire(), self.cut_off]

    @classmethod
    def from_wire(cls, wire: list[Any]) -> ConnectStats:
        attempts, failures, errors, time, cut_off = wire
        return cls(attempts, failures, dict(errors), Histogram.from_wire(time), cut_off)


class ChatStats:
    """Every reply of a run: by request name, in total, and by second (for the history file).

    A reply is recorded once, in the statistics of its second and name; a name's finished seconds
    are added to its statistics and the total when its next second begins, and ``by_name``,
    ``total`` and ``seconds`` take in the rest when read (merging exact histograms adds counts, so
    the figures are those of recording each reply three times, at a third of the cost in the load
    generator's hot path).

    Args:
        count_tokens: how a reply's output tokens are counted.
        keep_failed: how many failed replies to keep for the failed-pairs file until taken.
    """

    def __init__(
        self, count_tokens: Callable[[Reply], int] = TOKEN_COUNTERS["words"], keep_failed: int = 10_000
    ) -> None:
        self.count_tokens = count_tokens
        self.keep_failed = keep_failed
        self._by_name: dict[str, ReplyStats] = {}
        self._total = ReplyStats()
        self._seconds: dict[int, dict[str, ReplyStats]] = {}
        self._recent: dict[int, dict[str, ReplyStats]] = {}  # recorded, not yet taken in
        # The second last recorded into (its key, its names in _recent) and the end times it holds:
        # a reply that ended in [_second_from, _second_to) is of that second, without binning its end.
        self._second_key = 0
        self._second: dict[str, ReplyStats] = {}
        self._second_from, self._second_to = math.inf, -math.inf
        self.connects = ConnectStats()
        self.failed: list[dict[str, Any]] = []
        self.failed_dropped = 0
        self.without_usage = 0
        """Successful replies without a usage report, with ``--tokens usage`` (counted in words)."""
        self._watch_usage = count_tokens is count_tokens_usage
        self.in_flight_at_stop = 0
        """Prompts sent whose reply had not ended when their user was stopped (not replies)."""
        self.lifecycle = lifecycle.LifecycleStats()
        """Outages, failovers and close codes of the users' connections."""
        self.voice = voice.VoiceBook()
        """The audio turns (replies with ``voice`` times), by request name."""
        self.voice_seconds: dict[int, voice.VoiceBook] = {}
        """The audio turns of each second (the second a turn ended), by request name, until taken
        (the voice history); empty without audio turns."""
        self.traffic = Traffic()
        """WebSocket messages and bytes sent and received (taken in by the recorder)."""

    @property
    def by_name(self) -> dict[str, ReplyStats]:
        """Statistics of each request name."""
        self._take_in()
        return self._by_name

    @property
    def total(self) -> ReplyStats:
        """Statistics of every reply."""
        self._take_in()
        return self._total

    @property
    def seconds(self) -> dict[int, dict[str, ReplyStats]]:
        """Statistics of each second (the second a reply ended) and name, until taken."""
        self._take_in()
        return self._seconds

    def _take_in(self, before: int | None = None) -> None:
        """Add what was recorded in seconds before ``before`` (all when None) to the statistics."""
        recent = self._recent
        if not recent:
            return
        self._second_from, self._second_to = math.inf, -math.inf  # its second may go
        for second in [second for second in recent if before is None or second < before]:
            for name, stats in recent.pop(second).items():
                self._take_in_one(second, name, stats)

    def _take_in_one(self, second: int, name: str, stats: ReplyStats) -> None:
        named = self._by_name.get(name)
        if named is None:
            named = self._by_name[name] = ReplyStats()
        named.merge(stats)
        self._total.merge(stats)
        in_second = self._seconds.get(second)
        if in_second is None:
            in_second = self._seconds[second] = {}
        if name in in_second:
            in_second[name].merge(stats)
        else:
            in_second[name] = stats  # no longer recorded into: it becomes the second's own

    def record(self, reply: Reply) -> None:
        """Count one reply (the ``WS`` request event's ``response``)."""
        ended = reply.started_at + reply.total_time_ms / 1000.0
        if self._second_from <= ended < self._second_to:  # the second of the last reply
            second_key, second = self._second_key, self._second
        else:
            second_key = trunc(ended)
            second = self._second_of(second_key)
        name = reply.name
        stats = second.get(name)
        if stats is None:
            stats = self._first_of_second(second_key, second, name)
        if reply.error is None:
            count_tokens = self.count_tokens
            stats.add(reply, len(reply.text.split()) if count_tokens is _count_words else count_tokens(reply))
            if self._watch_usage and reported_tokens(reply) is None:
                self.without_usage += 1
        else:
            stats.add(reply, 0)
            if len(self.failed) < self.keep_failed:
                self.failed.append(failed_pair(reply))
            else:
                self.failed_dropped += 1
        if reply.voice is not None:
            self._record_voice(reply, second_key)

    def _second_of(self, second_key: int) -> dict[str, ReplyStats]:
        """The names recorded into in a second, which the next replies of that second go to."""
        second = self._recent.get(second_key)
        if second is None:
            second = self._recent[second_key] = {}
        self._second_key, self._second = second_key, second
        if second_key >= 0:  # trunc() bins [s, s + 1) to s (and (s - 1, s] to s below zero: not kept)
            self._second_from, self._second_to = float(second_key), float(second_key + 1)
        else:
            self._second_from, self._second_to = math.inf, -math.inf
        return second

    def _first_of_second(self, second_key: int, second: dict[str, ReplyStats], name: str) -> ReplyStats:
        """The statistics of a name's first reply of a second, its earlier seconds taken in (a method of
        its own: in :meth:`record`, the comprehension below would make ``second_key`` a cell, built
        on every call).

        They are taken in now, one name at a time (a fraction of a millisecond each), rather than
        every name at once when read (a pause of milliseconds every second, which replies in flight
        would measure).
        """
        stats = second[name] = ReplyStats()
        recent = self._recent
        for earlier in [earlier for earlier in recent if earlier < second_key]:
            names = recent[earlier]
            done = names.pop(name, None)
            if done is not None:
                self._take_in_one(earlier, name, done)
            if not names:
                del recent[earlier]
        return stats

    def _record_voice(self, reply: Reply, second: int) -> None:
        """Count an audio turn in the run's voice statistics and in its second's."""
        self.voice.add(reply)
        book = self.voice_seconds.get(second)
        if book is None:
            book = self.voice_seconds[second] = voice.VoiceBook()
        book.add(reply)

    def merge(self, other: ChatStats) -> None:
        """Add another process's statistics (already rebuilt with :meth:`from_wire`)."""
        for name, stats in other.by_name.items():
            self.by_name.setdefault(name, ReplyStats()).merge(stats)
        self.total.merge(other.total)
        for second, names in other.seconds.items():
            mine = self.seconds.setdefault(second, {})
            for name, stats in names.items():
                mine.setdefault(name, ReplyStats()).merge(stats)
        self.connects.merge(other.connects)
        self.in_flight_at_stop += other.in_flight_at_stop
        self.lifecycle.merge(other.lifecycle)
        self.voice.merge(other.voice)
        for second, book in other.voice_seconds.items():
            self.voice_seconds.setdefault(second, voice.VoiceBook()).merge(book)
        self.traffic.merge(other.traffic)
        room = max(0, self.keep_failed - len(self.failed))
        self.failed.extend(other.failed[:room])
        self.failed_dropped += other.failed_dropped + max(0, len(other.failed) - room)
        self.without_usage += other.without_usage

    def to_wire(self) -> dict[str, Any]:
        """A msgpack-friendly form of everything, for a worker's report to the master."""
        return {
            "names": {name: stats.to_wire() for name, stats in self.by_name.items()},
            "total": self.total.to_wire(),
            "seconds": [
                [second, {name: s.to_wire() for name, s in names.items()}]
                for second, names in self.seconds.items()
            ],
            "connects": self.connects.to_wire(),
            "failed": self.failed,
            "failed_dropped": self.failed_dropped,
            "without_usage": self.without_usage,
            "in_flight_at_stop": self.in_flight_at_stop,
            "lifecycle": self.lifecycle.to_wire(),
            **({} if self.voice.empty else {"voice": self.voice.to_wire()}),
            **(
                {"voice_seconds": [[s, b.to_wire()] for s, b in self.voice_seconds.items()]}
                if self.voice_seconds
                else {}
            ),
            "traffic": self.traffic.to_wire(),
        }

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> ChatStats:
        """Rebuild statistics sent with :meth:`to_wire`."""
        stats = cls()
        stats._by_name = {name: ReplyStats.from_wire(value) for name, value in wire["names"].items()}
        stats._total = ReplyStats.from_wire(wire["total"])
        stats._seconds = {
            int(second): {n: ReplyStats.from_wire(v) for n, v in names.items()}
            for second, names in wire["seconds"]
        }
        stats.connects = ConnectStats.from_wire(wire["connects"])
        stats.failed = list(wire["failed"])
        stats.failed_dropped = int(wire["failed_dropped"])
        stats.without_usage = int(wire.get("without_usage", 0))
        stats.in_flight_at_stop = int(wire.get("in_flight_at_stop", 0))
        if "lifecycle" in wire:
            stats.lifecycle = lifecycle.LifecycleStats.from_wire(wire["lifecycle"])
        if "voice" in wire:
            stats.voice = voice.VoiceBook.from_wire(wire["voice"])
        for second, book in wire.get("voice_seconds", ()):
            stats.voice_seconds[int(second)] = voice.VoiceBook.from_wire(book)
        if "traffic" in wire:
            stats.traffic = Traffic.from_wire(wire["traffic"])
        return stats

    def take_seconds(self, before: int | None = None) -> list[tuple[int, dict[str, ReplyStats]]]:
        """Remove and return the per-second statistics of seconds before ``before`` (all when None)."""
        self._take_in(before)  # the seconds still being recorded are left alone
        done = sorted(second for second in self._seconds if before is None or second < before)
        return [(second, self._seconds.pop(second)) for second in done]

    def take_voice_seconds(self, before: int | None = None) -> list[tuple[int, voice.VoiceBook]]:
        """Remove and return the audio turns of seconds before ``before`` (all when None), by second."""
        done = sorted(second for second in self.voice_seconds if before is None or second < before)
        return [(second, self.voice_seconds.pop(second)) for second in done]

    def take_failed(self) -> list[dict[str, Any]]:
        """Remove and return the failed replies kept so far."""
        failed, self.failed = self.failed, []
        return failed


def failed_pair(reply: Reply) -> dict[str, Any]:
    """One line of the failed-pairs file: what was asked, what came back, and why it failed."""
    assert reply.error is not None
    return {
        "time": round(reply.started_at, 3),
        "name": reply.name,
        "prompt": reply.prompt,
        "reply": reply.text,
        "error": str(reply.error),
        "kind": reply.error.kind,
        "scores": dict(reply.scores),
        "missed": list(reply.missed),
        "latency_ms": round(reply.total_time_ms, 3),
        "record": {key: value for key, value in reply.record.items() if _plain(value)},
    }


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool | list | dict)
