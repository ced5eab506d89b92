"""The plugin's state: one typed object on Locust's Environment, attached once."""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching first)
from locust.env import Environment
from locust.event import Events

import pytest

from wslocust.plugin_state import PluginState, attach_state, state_of
from wslocust.stats.recorder import Recorder


def test_an_environment_the_plugin_did_not_set_up_gets_one_fresh_state() -> None:
    environment = Environment(events=Events())
    state = state_of(environment)
    assert (state.recorder, state.share, state.open_model) == (None, (0, 1), None)
    assert state_of(environment) is state


def test_the_attached_state_is_the_one_read() -> None:
    environment = Environment(events=Events())
    state = attach_state(environment, PluginState(recorder=Recorder()))
    assert state_of(environment) is state


def test_a_second_state_is_refused() -> None:
    environment = Environment(events=Events())
    attach_state(environment, PluginState())
    with pytest.raises(RuntimeError, match="already set"):
        attach_state(environment, PluginState())
