"""The /metrics collector: every series named in SERIES, histograms from the exact ones, counts the run's."""

from __future__ import annotations

import math

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from wslocust.outputs import summary
from wslocust.outputs.prometheus import BUCKETS_S, SERIES, ChatCollector, LiveView, histogram_buckets
from wslocust.stats import ChatStats

from .conftest import DURATION_S, run_stats


def scrape(stats: ChatStats) -> dict[str, list[tuple[dict[str, str], float]]]:
    """The samples of one scrape, by sample name."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ChatCollector(lambda: LiveView(stats, users=7, connections_open=5)))
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def test_every_series_of_the_table_is_exported() -> None:
    samples = scrape(run_stats())
    for series in SERIES:
        assert series in samples or f"{series}_count" in samples, series


def test_the_counts_are_the_runs() -> None:
    stats = run_stats()
    samples = scrape(stats)
    assert sum(value for _, value in samples["wslocust_replies_total"]) == stats.total.replies
    assert sum(value for _, value in samples["wslocust_failures_total"]) == stats.total.failures
    assert samples["wslocust_users"] == [({}, 7.0)]
    assert samples["wslocust_connections_open"] == [({}, 5.0)]
    for labels, value in samples["wslocust_e2e_seconds_count"]:
        assert value == stats.by_name[labels["name"]].latency.count


def test_each_bucket_counts_the_exact_histograms_values_at_or_under_its_bound() -> None:
    histogram = run_stats().total.gap
    buckets = histogram_buckets(histogram)
    for (bound, count), bound_s in zip(buckets, BUCKETS_S, strict=False):
        expected = sum(number for key, number in histogram.counts.items() if key / 10.0 <= bound_s * 1000.0)
        assert (float(bound), count) == (bound_s, expected)
    assert buckets[-1] == ("+Inf", histogram.count)
    assert [count for _, count in buckets] == sorted(count for _, count in buckets)


def test_a_scrape_changes_none_of_the_runs_figures() -> None:
    stats = run_stats()
    before = summary(stats, DURATION_S)
    scrape(stats)
    assert summary(stats, DURATION_S) == before
    assert not math.isnan(before["latency_ms"]["p95"])


def test_a_scrape_hands_the_process_back_after_each_histogram_of_each_name() -> None:
    stats = run_stats()
    pauses: list[None] = []
    collector = ChatCollector(lambda: LiveView(stats, 0, 0), pause=lambda: pauses.append(None))
    list(collector.collect())
    assert len(pauses) == 3 * len(stats.by_name)  # TTFT, E2E and gaps of each name
