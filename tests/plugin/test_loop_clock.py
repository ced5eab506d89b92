"""The event loop's clock brought up to date when start-up ends (``--run-time`` runs its length)."""

from __future__ import annotations

import locust

import time

import gevent
from gevent.monkey import get_original

from wslocust.plugin.listeners import _on_init
from wslocust.plugin.loop_clock import catch_up_with_the_clock

from ..conftest import UNIT

blocking_sleep = get_original("time", "sleep")
"""The unpatched ``time.sleep``: blocks the process without running the event loop, as start-up does."""


def test_after_a_start_up_that_blocked_the_loop_its_clock_is_brought_up_to_date() -> None:
    loop = gevent.get_hub().loop
    blocking_sleep(0.2 * UNIT)
    assert time.time() - loop.now() >= 0.2 * UNIT  # a timer armed now would count from the past
    now = time.time()
    catch_up_with_the_clock()
    assert loop.now() >= now


def test_the_clock_is_brought_up_to_date_after_the_plugins_start_up_work() -> None:
    handlers = locust.events.init._handlers
    assert catch_up_with_the_clock in handlers[handlers.index(_on_init) + 1 :]
