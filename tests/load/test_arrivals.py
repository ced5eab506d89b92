"""Open-model schedules, on a fake clock."""

from __future__ import annotations

import itertools
import statistics

import pytest

from wslocust.errors import ConfigurationError
from wslocust.load.arrivals import LATE_AFTER_MS, ArrivalSchedule, ArrivalStats, OpenModel


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_constant_arrivals_are_evenly_spaced_from_the_first_claim() -> None:
    schedule = ArrivalSchedule(4.0, "constant", clock=FakeClock(10.0))
    assert [schedule.claim() for _ in range(4)] == [10.0, 10.25, 10.5, 10.75]


def test_poisson_arrivals_have_the_mean_rate_and_exponential_gaps() -> None:
    schedule = ArrivalSchedule(50.0, "poisson", seed=3, clock=FakeClock(0.0))
    times = [schedule.claim() for _ in range(20_001)]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert statistics.fmean(gaps) == pytest.approx(1 / 50, rel=0.03)
    # an exponential distribution's standard deviation equals its mean
    assert statistics.pstdev(gaps) == pytest.approx(1 / 50, rel=0.05)


def test_two_processes_sharing_a_constant_rate_interleave_into_the_whole_rate() -> None:
    clock = FakeClock(0.0)
    first = OpenModel(10.0, "constant", index=0, count=2, clock=clock)
    second = OpenModel(10.0, "constant", index=1, count=2, clock=clock)
    merged = sorted([first.claim() for _ in range(5)] + [second.claim() for _ in range(5)])
    assert merged == pytest.approx([0.1 * i for i in range(10)])


def test_a_claim_made_after_its_due_time_counts_as_a_late_send() -> None:
    clock = FakeClock(0.0)
    model = OpenModel(10.0, "constant", clock=clock)
    model.claim()  # due 0.0, claimed at 0.0
    clock.now = 0.105  # the next is due at 0.1: 5 ms late is jitter, not late
    model.claim()
    clock.now = 0.5  # due 0.2: 300 ms late
    model.claim()
    assert model.stats.scheduled == 3
    assert model.stats.late == 1
    assert model.stats.max_delay_ms == pytest.approx(300.0)
    assert LATE_AFTER_MS < 300


def test_arrival_stats_merge_and_take_for_worker_reports() -> None:
    worker = ArrivalStats()
    worker.add(0.0)
    worker.add(50.0)
    master = ArrivalStats()
    master.merge(ArrivalStats.from_wire(worker.take()))
    assert (master.scheduled, master.late, master.max_delay_ms) == (2, 1, 50.0)
    assert worker.to_wire() == [0, 0, 0.0]


@pytest.mark.parametrize(
    ("rate", "kind"), [(0.0, "constant"), (-1.0, "poisson"), (float("inf"), "constant"), (5.0, "bursty")]
)
def test_a_bad_rate_or_arrival_kind_is_a_configuration_error(rate: float, kind: str) -> None:
    with pytest.raises(ConfigurationError):
        ArrivalSchedule(rate, kind)
