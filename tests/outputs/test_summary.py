"""The JSON summary: its figures, metrics, errors, connections and sections; URLs without secrets."""

from __future__ import annotations

import json

import pytest

from wslocust.errors import BotError, MetricFailure, ReplyTimeout
from wslocust.outputs import public_url, summary
from wslocust.stats import ChatStats

from ..conftest import make_reply
from .conftest import DURATION_S, run_stats


def test_summary_has_the_documented_keys() -> None:
    result = summary(run_stats(), DURATION_S)

    for key in (
        "total_requests",
        "successful_requests",
        "failed_requests",
        "success_rate",
        "requests_per_second",
        "latency_ms",
        "time_to_first_chunk_ms",
        "chunk_gap_ms",
        "metrics",
        "errors_by_kind",
        "connections",
        "by_name",
    ):
        assert key in result, key
    for timing in ("latency_ms", "time_to_first_chunk_ms"):
        assert set(result[timing]) == {"avg", "median", "min", "max", "p90", "p95", "p99"}
    assert set(result["metrics"]["recall"]) == {"mean", "min", "max", "scored", "missed", "errors"}
    assert {"attempts", "successes", "failures", "success_rate"} <= set(result["connections"])


def test_summary_totals_and_rates_match_the_statistics() -> None:
    stats = run_stats()

    result = summary(stats, DURATION_S)

    total = stats.total
    assert result["total_requests"] == total.replies == 300
    assert result["failed_requests"] == total.failures
    assert result["successful_requests"] == total.replies - total.failures
    assert result["success_rate"] == round((total.replies - total.failures) / total.replies, 4)
    assert result["requests_per_second"] == round(300 / DURATION_S, 3)
    latency = result["latency_ms"]
    assert latency["min"] == round(total.latency.minimum, 3)
    assert latency["max"] == round(total.latency.maximum, 3)
    assert latency["avg"] == round(total.latency.mean, 3)
    assert latency["median"] == round(total.latency.percentile(0.5), 3)
    assert latency["p99"] == round(total.latency.percentile(0.99), 3)
    assert result["time_to_first_chunk_ms"]["p95"] == round(total.ttft.percentile(0.95), 3)
    assert result["chunk_gap_ms"]["p50"] == round(total.gap.percentile(0.5), 3)


def test_summary_metrics_report_mean_min_max_scored_missed_and_errors() -> None:
    stats = ChatStats()
    stats.record(make_reply("a", scores={"recall": 0.5}))
    stats.record(make_reply("a", scores={"recall": 1.0}))
    stats.record(make_reply("a", scores={"recall": 0.0}, missed=["recall"], error=MetricFailure("recall=0")))
    stats.record(make_reply("a", metric_errors={"recall": "RuntimeError: x"}))

    recall = summary(stats, DURATION_S)["metrics"]["recall"]

    assert recall == {"mean": 0.5, "min": 0.0, "max": 1.0, "scored": 3, "missed": 1, "errors": 1}


def test_summary_errors_by_kind_join_reply_errors_and_connect_errors() -> None:
    stats = ChatStats()
    stats.record(make_reply("a", error=ReplyTimeout("slow")))
    stats.record(make_reply("a", error=ReplyTimeout("slow")))
    stats.record(make_reply("b", error=BotError("no")))
    stats.connects.add(1.0, "connection_refused")
    stats.connects.add(1.0, "connection_refused")
    stats.connects.add(1.0, "handshake_rejected")
    stats.connects.add(9.0, None)

    result = summary(stats, DURATION_S)

    assert result["errors_by_kind"] == {
        "bot_error": 1,
        "connection_refused": 2,
        "handshake_rejected": 1,
        "timeout": 2,
    }
    assert result["failed_requests"] == 3


def test_summary_connections_count_attempts_successes_failures_and_rate() -> None:
    result = summary(run_stats(), DURATION_S)

    connections = result["connections"]
    assert (connections["attempts"], connections["successes"], connections["failures"]) == (4, 2, 2)
    assert connections["success_rate"] == 0.5
    assert connections["handshake_ms"]["min"] == 12.0
    assert connections["handshake_ms"]["max"] == 18.0
    assert connections["errors_by_kind"] == {"connection_refused": 1, "handshake_rejected": 1}


def test_summary_by_name_has_a_section_a_name() -> None:
    stats = run_stats()

    by_name = summary(stats, DURATION_S)["by_name"]

    assert list(by_name) == ["billing", "greeting", "shipping"]
    for name, section in by_name.items():
        assert section["total_requests"] == stats.by_name[name].replies
        assert section["failed_requests"] == stats.by_name[name].failures
    assert sum(section["total_requests"] for section in by_name.values()) == 300


def test_summary_is_json_without_infinities_or_nan() -> None:
    for stats in (run_stats(), ChatStats()):
        text = json.dumps(summary(stats, DURATION_S), allow_nan=False)

        assert json.loads(text)["total_requests"] == stats.total.replies


def test_summary_of_nothing_has_none_where_nothing_was_measured() -> None:
    stats = ChatStats()
    stats.record(make_reply("a", error=ReplyTimeout("slow")))
    stats.record(make_reply("a", metric_errors={"judge": "x"}, error=BotError("x")))

    result = summary(stats, 0.0)

    assert result["requests_per_second"] is None
    assert result["latency_ms"] == dict.fromkeys(("avg", "median", "min", "max", "p90", "p95", "p99"))
    assert result["metrics"]["judge"]["mean"] is None
    assert result["connections"]["success_rate"] is None
    json.dumps(result, allow_nan=False)


def test_summary_extra_entries_are_added() -> None:
    result = summary(ChatStats(), DURATION_S, {"host": "ws://bot"})

    assert result["host"] == "ws://bot"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("wss://bot.example/prod?token=s3cr3t#frag", "wss://bot.example/prod"),
        ("ws://user:s3cr3t@bot.example:8443/chat", "ws://bot.example:8443/chat"),
        ("ws://[::1]:9000", "ws://[::1]:9000"),
        ("ws://[::1", ""),
    ],
)
def test_public_url_drops_user_info_query_and_fragment(url: str, shown: str) -> None:
    assert public_url(url) == shown
