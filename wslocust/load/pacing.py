"""The open model's pacing in a process: its schedule for the current test, and a user's wait for a due time.

The users of one process share one :class:`~wslocust.load.arrivals.OpenModel`, kept in the plugin
state. Its rate is ``--arrival-rate``, or a load shape's level (``--shape capacity``), which the
plugin puts in the state; when the rate changes, the schedule is made anew, and a user already
waiting for a due time of the old schedule claims one of the new schedule instead (else the pool's
claims of the old rate would go out for up to a pool's worth of time after the change).
"""

from __future__ import annotations

from locust.env import Environment

import gevent

from ..plugin_state import state_of
from .arrivals import OpenModel

__all__ = ["open_model_of", "wait_for_due"]


def open_model_of(environment: Environment, rate: float, kind: str) -> OpenModel:
    """This process's open-model schedule for the current test, made at its first prompt.

    Its share of the rate is the ``(index, count)`` the master sent (the plugin state's ``share``),
    or all of it in a single process; the plugin forgets the schedule when a test starts. A load
    shape's rate (the state's ``arrival_rate_per_s``) replaces ``rate``.
    """
    state = state_of(environment)
    rate = state.arrival_rate_per_s or rate
    model = state.open_model
    if model is None or model.total_rate_per_s != rate or model.kind != kind:
        index, count = state.share
        model = OpenModel(rate, kind, index=index, count=count, stats=state.arrival_stats)
        state.open_model = model
    return model


def wait_for_due(environment: Environment, rate: float, kind: str) -> float:
    """Claim the next due time of the process's schedule, sleep until it, and return it.

    A claim of a schedule replaced while it waited (the rate changed) is dropped, and one of the
    new schedule taken instead. A send is counted (and how late it was when claimed) once it is
    kept: a capacity level's window counts the sends made in it.
    """
    while True:
        model = open_model_of(environment, rate, kind)
        due = model.schedule.claim()
        now = model.clock()
        late_ms = max(0.0, (now - due) * 1000.0)
        if due > now:
            gevent.sleep(due - now)
        if open_model_of(environment, rate, kind) is model:
            model.stats.add(late_ms)
            return due
