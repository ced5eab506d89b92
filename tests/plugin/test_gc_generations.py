"""Full garbage collections made rare while the users run (a fidelity measure, see docs/performance.md)."""

from __future__ import annotations

from locust.event import Events

import gc
from collections.abc import Iterator

import pytest

from wslocust.plugin.gc_generations import FULL_COLLECTION_AFTER, rare_full_collections_while_running


@pytest.fixture
def thresholds() -> Iterator[tuple[int, int, int]]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield gc.get_threshold()
    gc.set_threshold(*saved)


def test_full_collections_wait_longer_once_every_user_runs(thresholds: tuple[int, int, int]) -> None:
    events = Events()
    rare_full_collections_while_running(events)
    assert gc.get_threshold() == thresholds  # nothing changes before the users run
    events.spawning_complete.fire(user_count=3)
    assert gc.get_threshold() == (700, 10, FULL_COLLECTION_AFTER)


def test_the_thresholds_come_back_when_the_test_stops(thresholds: tuple[int, int, int]) -> None:
    """Also after several spawns (a ramp completes spawning each time it adds users)."""
    events = Events()
    rare_full_collections_while_running(events)
    events.spawning_complete.fire(user_count=3)
    events.spawning_complete.fire(user_count=6)
    events.test_stop.fire(environment=None)
    assert gc.get_threshold() == thresholds
    events.test_stop.fire(environment=None)  # a second stop (the master's quit) changes nothing
    assert gc.get_threshold() == thresholds
