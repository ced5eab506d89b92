"""The lifecycles' decisions, socket-free: when a user disconnects and waits, which endpoint it dials,
how long it backs off, and how long its outages last."""

from __future__ import annotations

import random

import pytest

from wslocust.lifecycles import Endpoints, LifecycleSettings, OutageClock, Plan, reconnect_backoff_s


def test_a_persistent_plan_never_disconnects_and_leaves_the_wait_to_the_think_time() -> None:
    plan = Plan(LifecycleSettings())
    plan.connected(0.0)
    assert [plan.after_prompt(float(second)) for second in range(5)] == [(False, None)] * 5


def test_an_intermittent_plan_disconnects_after_its_prompts_and_waits_the_reconnect_wait() -> None:
    plan = Plan(LifecycleSettings("intermittent", prompts_per_connection=3, reconnect_wait_s=(2.0, 2.0)))
    plan.connected(0.0)
    assert [plan.after_prompt(0.0) for _ in range(3)] == [(False, None), (False, None), (True, 2.0)]
    plan.connected(10.0)  # the count starts afresh on the new connection
    assert plan.after_prompt(10.0) == (False, None)


def test_an_intermittent_plan_disconnects_after_the_prompt_ending_its_connection_time() -> None:
    plan = Plan(LifecycleSettings("intermittent", connection_time_s=5.0, reconnect_wait_s=(1.0, 3.0)))
    plan.connected(100.0)
    assert plan.after_prompt(104.9) == (False, None)
    disconnect, wait_s = plan.after_prompt(105.0)
    assert disconnect
    assert wait_s is not None
    assert 1.0 <= wait_s <= 3.0


def test_a_bursty_plan_waits_the_burst_think_time_within_a_burst_then_idles_connected() -> None:
    settings = LifecycleSettings(
        "bursty", burst_prompts=3, burst_think_time_s=(0.1, 0.1), idle_time_s=(30.0, 60.0)
    )
    plan = Plan(settings, random.Random(7))
    plan.connected(0.0)
    waits = [plan.after_prompt(0.0) for _ in range(6)]
    assert [disconnect for disconnect, _ in waits] == [False] * 6
    assert [wait for _, wait in waits][:2] == [0.1, 0.1]
    assert [wait for _, wait in waits][3:5] == [0.1, 0.1]
    for _, idle in (waits[2], waits[5]):
        assert idle is not None
        assert 30.0 <= idle <= 60.0


def test_endpoints_start_on_the_first_and_move_round_robin_on_each_failure() -> None:
    endpoints = Endpoints(3)
    assert endpoints.dial() == (0, False)
    visited = []
    for _ in range(4):
        endpoints.connect_ended(False)
        visited.append(endpoints.dial())
    assert visited == [(1, True), (2, True), (0, True), (1, True)]


def test_endpoints_stay_on_the_endpoint_that_works() -> None:
    endpoints = Endpoints(2)
    endpoints.dial()
    endpoints.lost()  # the connection to the first dropped
    assert endpoints.dial() == (1, True)
    endpoints.connect_ended(True)
    assert endpoints.dial() == (1, False)  # a reconnect after our own close: still the second


def test_a_single_endpoint_never_counts_a_failover() -> None:
    endpoints = Endpoints(1)
    endpoints.connect_ended(False)
    assert endpoints.dial() == (0, False)


@pytest.mark.parametrize(
    ("failed", "count", "backoff_s"),
    [(0, 1, 0.0), (1, 1, 0.1), (3, 1, 0.4), (1, 2, 0.0), (2, 2, 0.1), (4, 2, 0.2)],
)
def test_the_backoff_waits_only_once_every_endpoint_failed_in_a_row(
    failed: int, count: int, backoff_s: float
) -> None:
    endpoints = Endpoints(count)
    for _ in range(failed):
        endpoints.connect_ended(False)
    assert endpoints.backoff_s() == pytest.approx(backoff_s)


def test_the_backoff_is_at_most_five_seconds_and_a_success_resets_it() -> None:
    assert reconnect_backoff_s(1000) == 5.0
    endpoints = Endpoints(1)
    endpoints.connect_ended(False)
    endpoints.connect_ended(True)
    assert endpoints.backoff_s() == 0.0


def test_an_outage_lasts_from_its_first_failure_to_the_next_success() -> None:
    clock = OutageClock()
    assert clock.succeeded(1.0) is None  # no outage: nothing to report
    clock.failed(10.0)
    clock.failed(11.0)  # the same outage
    assert clock.succeeded(12.5) == pytest.approx(2.5)
    assert clock.succeeded(13.0) is None


def test_endpoints_need_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least one endpoint"):
        Endpoints(0)


def test_the_lifecycle_decisions_import_without_gevent_or_locust() -> None:
    from .test_layout import _loaded_after

    assert (
        _loaded_after("import wslocust.lifecycles, wslocust.stats.lifecycle, wslocust.outputs.lifecycle")
        == []
    )
