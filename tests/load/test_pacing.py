"""The open model's pacing in a process: a user's wait for a due time when the rate changes."""

from __future__ import annotations

from locust.env import Environment

import gevent

from wslocust.load.pacing import wait_for_due
from wslocust.plugin_state import state_of

from ..conftest import UNIT


def test_a_send_whose_rate_changed_while_it_waited_counts_once_when_it_goes_out() -> None:
    """A capacity level's window counts the sends made in it: a claim of the old rate, dropped in
    the window, must not take one off the window's count (its late share would pass 100%)."""
    environment = Environment()
    state = state_of(environment)
    state.arrival_rate_per_s = 10.0
    wait_for_due(environment, 10.0, "constant")  # due now
    waiter = gevent.spawn(wait_for_due, environment, 10.0, "constant")
    gevent.sleep(0)  # it claims the next due time, 0.1 s ahead, and waits
    state.arrival_rate_per_s = 20.0  # the next level: its window begins
    window_start = state.arrival_stats.scheduled
    waiter.join(timeout=10 * UNIT)
    assert waiter.successful()
    assert state.arrival_stats.scheduled - window_start == 1
