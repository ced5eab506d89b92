"""What the load-shape tests share: a fake clock for the shapes, a tick loop, and seconds of replies."""

from __future__ import annotations

import locust.shape
from locust.argument_parser import LocustArgumentParser

import argparse
from collections.abc import Callable

import pytest

from wslocust.load.shapes import ConfigurableShape, RecordingShape
from wslocust.plugin.shapes import add_shape_arguments
from wslocust.stats.aggregates import ReplyStats

__all__ = ["FakeClock", "Seconds", "Tick", "fake_clock", "parse_cli", "replies", "run_ticks"]

Tick = tuple[int, float] | None


class FakeClock:
    """Stands in for the ``time`` module inside ``locust.shape``: ``perf_counter()`` returns ``now``."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """A fake clock for LoadTestShape.get_run_time (``time.perf_counter() - self.start_time``)."""
    fake = FakeClock()
    monkeypatch.setattr(locust.shape, "time", fake)
    return fake


def run_ticks(
    shape: ConfigurableShape,
    clock: FakeClock,
    until: int,
    traffic: Callable[[int], None] | None = None,
    start: int = 0,
) -> dict[int, Tick]:
    """Ticks once a second like Locust's shape worker, from ``start`` to ``until`` or the first None.

    After each tick that returns users, ``traffic(users)`` may log that second's requests.
    """
    seen: dict[int, Tick] = {}
    for second in range(start, until + 1):
        clock.now = float(second)
        result = shape.tick()
        seen[second] = result
        if result is None:
            break
        if traffic is not None:
            traffic(result[0])
    return seen


def replies(count: int, ms: float, failures: int = 0) -> ReplyStats:
    """The statistics of ``count`` replies, ``failures`` of them failed, the others of ``ms`` each."""
    stats = ReplyStats()
    stats.replies, stats.failures = count, failures
    if failures:
        stats.errors = {"bot_error": failures}
    for _ in range(count - failures):
        stats.latency.record(ms)
    return stats


class Seconds:
    """Feeds a recording shape's steps as the plugin does with the recorder's finished seconds; the
    seconds are counted on the fake clock (so run time and the replies' clock are one)."""

    def __init__(self, shape: RecordingShape, clock: FakeClock) -> None:
        self.recorder = shape.recorder
        self.recorder.clock = clock.perf_counter
        self.clock = clock
        self.total = ReplyStats()

    def log(self, count: int, ms: float, failures: int = 0) -> None:
        """Replies that ended in the current second."""
        stats = replies(count, ms, failures)
        self.total.merge(stats)
        self.recorder.add_second(int(self.clock.now), [stats])


def parse_cli(*args: str) -> argparse.Namespace:
    parser = LocustArgumentParser()
    add_shape_arguments(parser.add_argument_group("Load shapes"))
    return parser.parse_args(list(args))
