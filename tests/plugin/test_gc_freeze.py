"""The garbage collector's freeze while the users run (a fidelity measure, see docs/performance.md)."""

from __future__ import annotations

from locust.event import Events

import gc
from collections.abc import Iterator

import gevent
import pytest

from wslocust.plugin.gc_freeze import freeze_gc_while_running

from ..conftest import UNIT, wait_until


def _collectable() -> set[int]:
    """The ids of the objects in the collector's generations (frozen ones are not)."""
    return {id(tracked) for tracked in gc.get_objects()}


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_objects_alive_when_every_user_runs_are_frozen_until_the_test_stops(unfrozen: None) -> None:
    events = Events()
    freeze_gc_while_running(events)
    assert gc.get_freeze_count() == 0
    events.spawning_complete.fire(user_count=3)
    assert gc.get_freeze_count() > 0
    events.test_stop.fire(environment=None)
    assert gc.get_freeze_count() == 0


def test_what_the_users_create_as_they_start_is_frozen_too(unfrozen: None) -> None:
    """Users connect just after spawning completes: a second freeze takes their objects in."""
    events = Events()
    freeze_gc_while_running(events, again_after_s=0.05)
    events.spawning_complete.fire(user_count=3)
    connections = [[index] for index in range(1000)]  # lists: objects the collector tracks
    created = {id(connection) for connection in connections}
    assert created <= _collectable()  # not frozen yet
    # Frozen objects leave the collected generations. (Counting frozen objects instead can fail:
    # earlier frozen ones that are freed meanwhile lower the count.)
    assert wait_until(lambda: not created & _collectable(), 5 * UNIT)
    events.test_stop.fire(environment=None)
    assert gc.get_freeze_count() == 0


def test_a_test_stopped_before_the_second_freeze_is_not_frozen_after_it(unfrozen: None) -> None:
    events = Events()
    freeze_gc_while_running(events, again_after_s=0.05)
    events.spawning_complete.fire(user_count=3)
    events.test_stop.fire(environment=None)
    gevent.sleep(0.2)  # past the cancelled freeze's time
    assert gc.get_freeze_count() == 0


def test_objects_frozen_by_someone_else_stay_frozen(unfrozen: None) -> None:
    gc.freeze()  # as Locust does before forking --processes
    frozen = gc.get_freeze_count()
    events = Events()
    freeze_gc_while_running(events)
    events.spawning_complete.fire(user_count=3)
    events.test_stop.fire(environment=None)
    assert gc.get_freeze_count() >= frozen > 0
