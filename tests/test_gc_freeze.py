"""The garbage collector's freeze while the users run (a fidelity measure, see docs/performance.md)."""

from __future__ import annotations

from locust.event import Events

import gc
from collections.abc import Iterator

import pytest

from wslocust.options import _freeze_gc_while_running


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_objects_alive_when_every_user_runs_are_frozen_until_the_test_stops(unfrozen: None) -> None:
    events = Events()
    _freeze_gc_while_running(events)
    assert gc.get_freeze_count() == 0
    events.spawning_complete.fire(user_count=3)
    assert gc.get_freeze_count() > 0
    events.test_stop.fire(environment=None)
    assert gc.get_freeze_count() == 0


def test_objects_frozen_by_someone_else_stay_frozen(unfrozen: None) -> None:
    gc.freeze()  # as Locust does before forking --processes
    frozen = gc.get_freeze_count()
    events = Events()
    _freeze_gc_while_running(events)
    events.spawning_complete.fire(user_count=3)
    events.test_stop.fire(environment=None)
    assert gc.get_freeze_count() >= frozen > 0
