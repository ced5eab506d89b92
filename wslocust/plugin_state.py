"""What the plugin keeps for one Locust process, in one typed object on Locust's ``Environment``.

The plugin (:mod:`wslocust.plugin`) makes it and attaches it once, when Locust starts
(:func:`attach_state`); the users read it through :func:`state_of`. It lives below the plugin so that
the layers under it read it without importing the plugin. An environment the plugin did not set up
(one built in code, as tests and scripts do) gets a fresh state at its first read: no recorder, the
whole open-model rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .load.arrivals import ArrivalStats, OpenModel
from .stats.recorder import Recorder

if TYPE_CHECKING:
    from locust.env import Environment

__all__ = ["PluginState", "attach_state", "state_of"]

_ATTRIBUTE = "wslocust_state"
"""The one attribute of Locust's ``Environment`` that holds the state."""


@dataclass
class PluginState:
    """wslocust's state of one Locust process."""

    recorder: Recorder | None = None
    """The process's chatbot statistics (None when the plugin did not set up the environment)."""

    arrival_stats: ArrivalStats = field(default_factory=ArrivalStats)
    """The open model's send counts of this process (reported to the master, and reset, by the plugin)."""

    share: tuple[int, int] = (0, 1)
    """This worker's part of the open model's rate: ``(index, count)`` as the master sent it
    (the whole rate in a single process)."""

    arrival_rate_per_s: float | None = None
    """A load shape's arrival rate for this test (``--shape capacity``'s level), replacing
    ``--arrival-rate``; None keeps the option's."""

    open_model: OpenModel | None = None
    """The open model's schedule of the current test (made at its first prompt, forgotten at each
    test's start)."""


def attach_state(environment: Environment, state: PluginState) -> PluginState:
    """Attach the state to ``environment`` (the plugin does, once, when Locust starts).

    Raises:
        RuntimeError: a state was already attached (or read) there.
    """
    if getattr(environment, _ATTRIBUTE, None) is not None:
        raise RuntimeError("the wslocust state of this environment is already set")
    setattr(environment, _ATTRIBUTE, state)
    return state


def state_of(environment: Environment) -> PluginState:
    """The state attached to ``environment`` (a fresh one is attached when there is none yet)."""
    state = getattr(environment, _ATTRIBUTE, None)
    if isinstance(state, PluginState):
        return state
    return attach_state(environment, PluginState())
