"""Chatbot statistics: exact histograms, per-reply accounting, and merging as workers and master do."""

from __future__ import annotations

import itertools
import json
import math
import random
from typing import Any

import msgpack
import pytest

from wslocust.errors import BotError, ConnectionClosed, MetricFailure, ReplyTimeout, WsLocustError
from wslocust.outputs import stats_rows, summary
from wslocust.stats import TOKEN_COUNTERS, ChatStats, ConnectStats, Histogram, MetricStats, ReplyStats
from wslocust.wire.reply import Reply
from wslocust.wire.voice import VoiceTimes

from ..conftest import make_reply

TOLERANCE_MS = 0.05 + 1e-9
FRACTIONS = (0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0)


def through_msgpack(wire: Any) -> Any:
    """What a worker's report becomes on the master's side."""
    return msgpack.loads(msgpack.dumps(wire), raw=False, strict_map_key=False)


def nearest_rank(ordered: list[float], fraction: float) -> float:
    """The exact nearest-rank percentile of sorted values."""
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def spread_values(rng: random.Random, count: int) -> list[float]:
    """Values from 0.05 ms to 100 s, log-uniform, so every magnitude is present."""
    return [10 ** rng.uniform(math.log10(0.05), 5.0) for _ in range(count)]


def histogram_of(values: list[float]) -> Histogram:
    histogram = Histogram()
    for value in values:
        histogram.record(value)
    return histogram


# --- Histogram -----------------------------------------------------------------------------------


def test_histogram_percentiles_equal_exact_nearest_rank_within_half_a_bin() -> None:
    values = spread_values(random.Random(1234), 20_000)
    ordered = sorted(values)

    results = histogram_of(values).percentiles(FRACTIONS)

    for fraction, result in zip(FRACTIONS, results, strict=True):
        assert result is not None
        assert abs(result - nearest_rank(ordered, fraction)) <= TOLERANCE_MS, fraction


def test_histogram_percentiles_are_exact_for_small_sets_of_every_size() -> None:
    rng = random.Random(99)
    for count in range(1, 60):
        values = [round(rng.uniform(0.0, 50.0), 3) for _ in range(count)]
        ordered = sorted(values)
        results = histogram_of(values).percentiles((0.5, 0.9, 0.95, 0.99))
        for fraction, result in zip((0.5, 0.9, 0.95, 0.99), results, strict=True):
            assert result is not None
            assert abs(result - nearest_rank(ordered, fraction)) <= TOLERANCE_MS, (count, fraction)


def test_histogram_single_percentile_matches_the_list_form() -> None:
    histogram = histogram_of(spread_values(random.Random(5), 500))

    assert histogram.percentile(0.95) == histogram.percentiles((0.95,))[0]


def test_histogram_percentiles_keep_the_order_they_were_asked_in() -> None:
    histogram = histogram_of([float(v) for v in range(1, 101)])

    assert histogram.percentiles((0.99, 0.5, 0.9)) == [99.0, 50.0, 90.0]


def test_histogram_p0_and_p100_are_exact_min_and_max_of_random_values() -> None:
    values = spread_values(random.Random(7), 5_000)
    histogram = histogram_of(values)

    assert histogram.percentiles((0.0, 1.0)) == [min(values), max(values)]


def test_histogram_p0_is_the_minimum_when_the_minimum_rounds_up_to_its_bin() -> None:
    """0.16 falls in the 0.2 bin; p0 must still be 0.16."""
    histogram = histogram_of([0.16, 5.0])

    assert histogram.percentile(0.0) == 0.16


def test_histogram_p100_is_the_maximum_when_the_maximum_rounds_down_to_its_bin() -> None:
    """0.14 falls in the 0.1 bin; p100 must still be 0.14."""
    histogram = histogram_of([0.01, 0.14])

    assert histogram.percentile(1.0) == 0.14


def test_histogram_of_one_value_gives_that_value_at_every_percentile() -> None:
    histogram = histogram_of([123.456])

    assert histogram.percentiles(FRACTIONS) == [123.456] * len(FRACTIONS)


def test_histogram_mean_min_max_count_and_total_are_exact() -> None:
    values = spread_values(random.Random(11), 3_000)
    histogram = histogram_of(values)

    assert histogram.count == len(values)
    assert histogram.total == pytest.approx(math.fsum(values), rel=1e-12)
    assert histogram.mean == pytest.approx(math.fsum(values) / len(values), rel=1e-12)
    assert histogram.minimum == min(values)
    assert histogram.maximum == max(values)


def test_empty_histogram_has_no_mean_and_no_percentiles() -> None:
    histogram = Histogram()

    assert histogram.count == 0
    assert histogram.mean is None
    assert histogram.percentile(0.5) is None
    assert histogram.percentiles((0.0, 0.5, 1.0)) == [None, None, None]


def test_histogram_merge_of_two_halves_equals_one_histogram_of_all_values() -> None:
    values = spread_values(random.Random(21), 10_000)
    whole = histogram_of(values)
    merged = histogram_of(values[:4_000])
    merged.merge(histogram_of(values[4_000:]))

    assert merged.counts == whole.counts
    assert merged.count == whole.count
    assert merged.minimum == whole.minimum
    assert merged.maximum == whole.maximum
    assert merged.total == pytest.approx(whole.total, rel=1e-12)
    assert merged.percentiles(FRACTIONS) == whole.percentiles(FRACTIONS)


def test_histogram_merge_with_an_empty_histogram_changes_nothing() -> None:
    values = [1.0, 2.5, 900.0]
    histogram = histogram_of(values)
    histogram.merge(Histogram())
    empty = Histogram()
    empty.merge(histogram_of(values))

    for merged in (histogram, empty):
        assert merged.count == 3
        assert (merged.minimum, merged.maximum) == (1.0, 900.0)
        assert merged.percentiles((0.5,)) == [2.5]


def test_histogram_wire_round_trip_through_msgpack_gives_equal_results() -> None:
    values = spread_values(random.Random(31), 5_000)
    histogram = histogram_of(values)

    rebuilt = Histogram.from_wire(through_msgpack(histogram.to_wire()))

    assert rebuilt.counts == histogram.counts
    assert rebuilt.count == histogram.count
    assert rebuilt.total == histogram.total
    assert rebuilt.minimum == histogram.minimum
    assert rebuilt.maximum == histogram.maximum
    assert rebuilt.mean == histogram.mean
    assert rebuilt.percentiles(FRACTIONS) == histogram.percentiles(FRACTIONS)


def test_empty_histogram_wire_round_trip_stays_empty_and_mergeable() -> None:
    rebuilt = Histogram.from_wire(through_msgpack(Histogram().to_wire()))
    rebuilt.merge(histogram_of([5.0]))

    assert rebuilt.count == 1
    assert (rebuilt.minimum, rebuilt.maximum) == (5.0, 5.0)


def test_histogram_wire_form_has_no_infinities() -> None:
    wire = Histogram().to_wire()

    assert all(not (isinstance(item, float) and math.isinf(item)) for item in wire)


# --- MetricStats / ConnectStats ------------------------------------------------------------------


def test_metric_stats_wire_round_trip_keeps_unscored_missed_and_errors() -> None:
    stats = MetricStats(missed=2, errors=3)

    rebuilt = MetricStats.from_wire(through_msgpack(stats.to_wire()))

    assert rebuilt == stats
    assert rebuilt.mean is None


def test_connect_stats_count_attempts_failures_by_kind_and_time_only_successes() -> None:
    stats = ConnectStats()
    stats.add(12.0, None)
    stats.add(30.0, "connection_refused")
    stats.add(14.0, None)
    stats.add(5.0, "handshake_rejected")

    assert (stats.attempts, stats.failures) == (4, 2)
    assert stats.errors == {"connection_refused": 1, "handshake_rejected": 1}
    assert stats.time.count == 2
    assert (stats.time.minimum, stats.time.maximum) == (12.0, 14.0)


# --- ReplyStats ----------------------------------------------------------------------------------


def test_reply_stats_count_failures_by_kind_and_keep_no_timing_of_failed_replies() -> None:
    stats = ReplyStats()
    stats.add(make_reply(error=ReplyTimeout("slow"), total_time_ms=60_000.0), 0)
    stats.add(make_reply(error=ReplyTimeout("slow"), total_time_ms=60_000.0), 0)
    stats.add(make_reply(error=BotError("nope")), 0)
    stats.add(make_reply(error=ConnectionClosed(1011)), 0)

    assert (stats.replies, stats.failures, stats.good) == (4, 4, 0)
    assert stats.errors == {"timeout": 2, "bot_error": 1, "closed_mid_reply": 1}
    for histogram in (stats.latency, stats.ttft, stats.gap, stats.token_rate):
        assert histogram.count == 0
    assert (stats.chunks, stats.tokens) == (0, 0)


def test_reply_stats_time_successful_replies() -> None:
    stats = ReplyStats()
    stats.add(make_reply(chunk_times_ms=[15.0, 25.0, 45.0], total_time_ms=50.0), 3)

    assert (stats.replies, stats.failures) == (1, 0)
    assert stats.latency.percentile(0.5) == 50.0
    assert stats.ttft.percentile(0.5) == 15.0
    assert (stats.chunks, stats.tokens) == (3, 3)


def test_histogram_bins_a_value_v_as_trunc_of_v_times_the_int_ten_plus_a_half() -> None:
    """A value ``v`` counts in bin ``trunc(v * 10 + 0.5)`` and a bin ``k`` reads as ``k / 10``, with
    the int 10 (the bin width is a float only to be quicker), recorded alone, as a gap, or as a
    reply's latency and TTFT, float or int."""
    rng = random.Random(3)
    values = [*spread_values(rng, 3_000), *(rng.randint(0, 10**6) for _ in range(300)), 0, 0.05, 0.15, 1e-300]
    rng.shuffle(values)

    def bins(of: list[float]) -> dict[int, int]:
        counts: dict[int, int] = {}
        for value in of:
            key = math.trunc(value * 10 + 0.5)
            counts[key] = counts.get(key, 0) + 1
        return counts

    alone, gaps, stats = Histogram(), Histogram(), ReplyStats()
    for value in values:
        alone.record(value)
        stats.add(make_reply(chunk_times_ms=[value / 3], total_time_ms=value), 1)
    gaps.record_gaps([0.0, *itertools.accumulate(values)])
    ranks = sorted(alone.counts)
    middle = alone.percentile(0.5)

    assert alone.counts == bins(values) == stats.latency.counts
    assert stats.ttft.counts == bins([value / 3 for value in values])
    assert gaps.counts == bins(
        [later - earlier for earlier, later in itertools.pairwise([0.0, *itertools.accumulate(values)])]
    )
    assert middle in [min(max(key / 10, alone.minimum), alone.maximum) for key in ranks]


def _histogram_state(histogram: Histogram) -> tuple[Any, ...]:
    return histogram.counts, histogram.count, histogram.total, histogram.minimum, histogram.maximum


def test_reply_stats_latency_and_ttft_are_the_histograms_their_values_recorded_one_by_one_make() -> None:
    """ReplyStats.add bins a reply's latency and TTFT itself (no Histogram.record call): the same
    bins, count, sum and extremes, whether the first chunk ended the reply or came before."""
    rng = random.Random(17)
    stats, latency, ttft = ReplyStats(), Histogram(), Histogram()
    for _ in range(2_000):
        total_ms = rng.choice([rng.uniform(0.0, 3_000.0), round(rng.uniform(0.0, 50.0), 2), 0.05, 0.15])
        shape = rng.randrange(4)
        times = (
            [] if shape == 0
            else [total_ms] if shape == 1
            else [rng.uniform(0.0, total_ms)] if shape == 2
            else sorted(rng.uniform(0.0, total_ms) for _ in range(rng.randrange(2, 6)))
        )  # fmt: skip
        stats.add(make_reply(chunk_times_ms=times, total_time_ms=total_ms), len(times))
        latency.record(total_ms)
        if times:
            ttft.record(times[0])

    assert _histogram_state(stats.latency) == _histogram_state(latency)
    assert _histogram_state(stats.ttft) == _histogram_state(ttft)


def test_reply_stats_goodput_counts_only_replies_without_error_or_missed_metric() -> None:
    stats = ReplyStats()
    stats.add(make_reply(), 3)
    stats.add(make_reply(scores={"latency": 900.0}, missed=["latency"]), 3)
    stats.add(make_reply(error=BotError("x")), 0)
    stats.add(
        make_reply(error=MetricFailure("metric failed: recall=0"), scores={"recall": 0.0}, missed=["recall"]),
        0,
    )
    stats.add(make_reply(scores={"recall": 1.0}), 3)

    assert stats.replies == 5
    assert stats.failures == 2
    assert stats.good == 2


def test_reply_stats_gaps_are_the_differences_of_chunk_times() -> None:
    stats = ReplyStats()
    stats.add(make_reply(chunk_times_ms=[10.0, 12.5, 20.0, 20.0]), 4)

    assert stats.gap.count == 3
    assert stats.gap.percentiles((0.0, 0.5, 1.0)) == [0.0, 2.5, 7.5]


def test_reply_stats_one_chunk_reply_has_ttft_but_no_gap_and_no_token_rate() -> None:
    stats = ReplyStats()
    stats.add(make_reply(chunk_times_ms=[30.0]), 5)

    assert stats.ttft.count == 1
    assert stats.gap.count == 0
    assert stats.token_rate.count == 0


def test_reply_stats_reply_without_chunks_has_latency_but_no_ttft() -> None:
    stats = ReplyStats()
    stats.add(make_reply(chunk_times_ms=[], text=""), 0)

    assert stats.latency.count == 1
    assert stats.ttft.count == 0


def test_reply_stats_token_rate_is_tokens_after_the_first_per_second_after_the_first_chunk() -> None:
    """A reply that ends with its last chunk: (tokens - 1) over the time from first chunk to end."""
    stats = ReplyStats()
    stats.add(make_reply(chunk_times_ms=[100.0, 300.0, 600.0], total_time_ms=600.0), 11)

    assert stats.token_rate.count == 1
    assert stats.token_rate.percentile(0.5) == pytest.approx((11 - 1) * 1000.0 / (600.0 - 100.0))


def test_reply_stats_no_token_rate_for_one_token() -> None:
    stats = ReplyStats()
    stats.add(make_reply(chunk_times_ms=[100.0, 300.0]), 1)

    assert stats.token_rate.count == 0


def test_reply_stats_metric_scores_missed_and_errors_are_counted() -> None:
    stats = ReplyStats()
    stats.add(make_reply(scores={"recall": 0.5, "latency": 100.0}), 3)
    stats.add(make_reply(scores={"recall": 1.0, "latency": 900.0}, missed=["latency"]), 3)
    stats.add(
        make_reply(error=MetricFailure("recall=0"), scores={"recall": 0.0}, missed=["recall"]),
        0,
    )
    stats.add(make_reply(metric_errors={"broken": "RuntimeError: x"}), 3)

    recall = stats.metrics["recall"]
    assert (recall.scored, recall.missed, recall.errors) == (3, 1, 0)
    assert recall.mean == pytest.approx(0.5)
    assert (recall.minimum, recall.maximum) == (0.0, 1.0)
    assert stats.metrics["latency"].missed == 1
    broken = stats.metrics["broken"]
    assert (broken.scored, broken.errors, broken.mean) == (0, 1, None)


def test_reply_stats_wire_round_trip_through_msgpack_keeps_everything() -> None:
    stats = ReplyStats()
    stats.add(make_reply(scores={"recall": 0.5}, missed=["recall"]), 3)
    stats.add(make_reply(error=ReplyTimeout("slow")), 0)
    stats.add(make_reply(metric_errors={"broken": "x"}), 3)

    rebuilt = ReplyStats.from_wire(through_msgpack(stats.to_wire()))

    assert rebuilt.to_wire() == stats.to_wire()


# --- token counters ------------------------------------------------------------------------------


def test_token_counters_count_words_chars_over_four_chunks_and_usage() -> None:
    reply = make_reply(text="hello there world!", chunk_times_ms=[1.0, 2.0])
    with_usage = make_reply(text="a b", meta={"usage": {"output_tokens": 42}})

    assert TOKEN_COUNTERS["words"](reply) == 3
    assert TOKEN_COUNTERS["chars4"](reply) == math.ceil(18 / 4)
    assert TOKEN_COUNTERS["chunks"](reply) == 2
    assert TOKEN_COUNTERS["usage"](with_usage) == 42
    assert TOKEN_COUNTERS["usage"](reply) == 3


def test_usage_counting_counts_the_successful_replies_without_a_usage_report_across_workers() -> None:
    worker = ChatStats(TOKEN_COUNTERS["usage"])
    worker.record(make_reply(text="a b", meta={"usage": {"output_tokens": 42}}))
    worker.record(make_reply(text="one two three"))  # no usage: counted in words, and counted as such
    worker.record(make_reply(text="x", meta={"usage": {"output_tokens": True}}))  # not a count either
    worker.record(make_reply(text="", error=BotError("down")))  # a failure has no tokens to report
    master = ChatStats(TOKEN_COUNTERS["usage"])
    master.merge(ChatStats.from_wire(msgpack.unpackb(msgpack.packb(worker.to_wire()))))

    assert worker.without_usage == 2
    assert master.without_usage == 2
    assert master.total.tokens == 42 + 3 + 1


def test_other_token_counters_count_no_reply_as_without_usage() -> None:
    stats = ChatStats(TOKEN_COUNTERS["words"])
    stats.record(make_reply(text="one two"))

    assert stats.without_usage == 0


# --- ChatStats -----------------------------------------------------------------------------------


def test_chat_stats_count_each_reply_under_its_name_and_in_total() -> None:
    stats = ChatStats()
    stats.record(make_reply("billing", total_time_ms=100.0))
    stats.record(make_reply("billing", total_time_ms=300.0))
    stats.record(make_reply("greeting", error=BotError("x")))

    assert sorted(stats.by_name) == ["billing", "greeting"]
    assert (stats.by_name["billing"].replies, stats.by_name["billing"].failures) == (2, 0)
    assert (stats.by_name["greeting"].replies, stats.by_name["greeting"].failures) == (1, 1)
    assert (stats.total.replies, stats.total.failures) == (3, 1)
    assert stats.total.latency.percentiles((0.0, 1.0)) == [100.0, 300.0]


def test_chat_stats_count_tokens_of_successful_replies_with_the_given_counter() -> None:
    stats = ChatStats(count_tokens=TOKEN_COUNTERS["chunks"])
    stats.record(make_reply(chunk_times_ms=[1.0, 2.0, 3.0, 4.0]))
    stats.record(make_reply(chunk_times_ms=[1.0, 2.0], error=ReplyTimeout("slow")))

    assert stats.total.tokens == 4


def test_chat_stats_file_each_reply_under_the_second_it_ended() -> None:
    stats = ChatStats()
    stats.record(make_reply("a", started_at=100.2, total_time_ms=500.0))
    stats.record(make_reply("a", started_at=100.2, total_time_ms=900.0))
    stats.record(make_reply("b", started_at=101.5, total_time_ms=100.0))

    assert sorted(stats.seconds) == [100, 101]
    assert stats.seconds[100]["a"].replies == 1
    assert stats.seconds[101]["a"].replies == 1
    assert stats.seconds[101]["b"].replies == 1


def test_take_seconds_removes_and_returns_seconds_before_the_given_one_in_order() -> None:
    stats = ChatStats()
    for second in (105, 101, 103, 102):
        stats.record(make_reply("a", started_at=float(second), total_time_ms=10.0))

    taken = stats.take_seconds(before=103)

    assert [second for second, _ in taken] == [101, 102]
    assert all(names["a"].replies == 1 for _, names in taken)
    assert sorted(stats.seconds) == [103, 105]
    assert [second for second, _ in stats.take_seconds()] == [103, 105]
    assert stats.seconds == {}


def test_take_seconds_does_not_touch_totals() -> None:
    stats = ChatStats()
    stats.record(make_reply(started_at=10.0))

    stats.take_seconds()

    assert stats.total.replies == 1


def test_failed_replies_are_kept_up_to_keep_failed_then_counted_as_dropped() -> None:
    stats = ChatStats(keep_failed=3)
    for index in range(5):
        stats.record(make_reply(text=f"reply {index}", error=BotError(f"bad {index}")))
    stats.record(make_reply())

    assert [pair["reply"] for pair in stats.failed] == ["reply 0", "reply 1", "reply 2"]
    assert stats.failed_dropped == 2


def test_failed_pair_holds_prompt_reply_error_kind_and_scores() -> None:
    stats = ChatStats()
    stats.record(
        make_reply(
            "billing",
            text="nope",
            error=MetricFailure("metric failed: recall=0"),
            scores={"recall": 0.0},
            missed=["recall"],
            started_at=12.34567,
            total_time_ms=250.0,
        )
    )

    [pair] = stats.failed
    assert pair["prompt"] == "ask billing"
    assert pair["reply"] == "nope"
    assert pair["error"] == "metric failed: recall=0"
    assert pair["kind"] == "metric_failure"
    assert pair["scores"] == {"recall": 0.0}
    assert pair["missed"] == ["recall"]
    assert pair["name"] == "billing"
    assert pair["time"] == 12.346
    assert pair["latency_ms"] == 250.0
    assert pair["record"] == {"Intent": "billing"}


def test_take_failed_returns_and_clears_the_kept_failed_replies() -> None:
    stats = ChatStats()
    stats.record(make_reply(error=BotError("x")))

    assert len(stats.take_failed()) == 1
    assert stats.take_failed() == []


def test_merge_respects_keep_failed_and_counts_the_rest_as_dropped() -> None:
    master = ChatStats(keep_failed=4)
    for _ in range(3):
        master.record(make_reply(error=BotError("master")))
    worker = ChatStats(keep_failed=10)
    for _ in range(5):
        worker.record(make_reply(error=BotError("worker")))
    worker.failed_dropped = 7

    master.merge(ChatStats.from_wire(through_msgpack(worker.to_wire())))

    assert len(master.failed) == 4
    assert [pair["error"] for pair in master.failed] == ["master"] * 3 + ["worker"]
    assert master.failed_dropped == 7 + 4


def test_failed_pair_of_an_unscored_reply_holds_a_plain_empty_dict_and_list() -> None:
    """The failed-pairs file is JSON and a worker's report msgpack: the shared empty defaults go out
    as a plain ``{}`` and ``[]``."""
    stats = ChatStats()
    stats.record(Reply(prompt="q", name="n", error=MetricFailure("no")))

    [pair] = stats.failed
    assert (type(pair["scores"]), type(pair["missed"])) == (dict, list)
    assert json.loads(json.dumps(pair))["scores"] == {}
    assert msgpack.unpackb(msgpack.packb(pair))["missed"] == []


def test_merge_into_a_full_master_drops_every_failed_pair() -> None:
    master = ChatStats(keep_failed=0)
    worker = ChatStats()
    worker.record(make_reply(error=BotError("x")))

    master.merge(worker)

    assert master.failed == []
    assert master.failed_dropped == 1


def test_chat_stats_wire_round_trip_through_msgpack_keeps_seconds_and_connects() -> None:
    stats = ChatStats()
    stats.record(make_reply("a", started_at=50.0))
    stats.record(make_reply("b", started_at=51.0, error=BotError("x")))
    stats.connects.add(12.0, None)
    stats.connects.add(3.0, "handshake_rejected")

    rebuilt = ChatStats.from_wire(through_msgpack(stats.to_wire()))

    assert rebuilt.to_wire() == stats.to_wire()
    assert sorted(rebuilt.seconds) == [50, 51]
    assert rebuilt.connects.errors == {"handshake_rejected": 1}


# --- the distributed property --------------------------------------------------------------------


NAMES = ("billing", "shipping", "greeting", "refund", "a name with spaces")


def recorded_replies(seed: int, count: int) -> list[Reply]:
    """A run's replies: several names, seconds, failures of each kind, metric scores and objectives."""
    rng = random.Random(seed)
    replies = []
    for index in range(count):
        name = rng.choice(NAMES)
        chunks = rng.randint(0, 12)
        first = 10 ** rng.uniform(0.0, 4.0)
        times = [first]
        for _ in range(chunks - 1):
            times.append(times[-1] + rng.expovariate(1 / 30.0))
        times = times[:chunks]
        total = (times[-1] if times else 0.0) + rng.uniform(0.0, 50.0)
        words = " ".join(f"w{n}" for n in range(rng.randint(0, 40)))
        roll = rng.random()
        error: WsLocustError | None = None
        scores: dict[str, float] = {"recall": rng.choice((0.0, 0.25, 0.5, 0.75, 1.0)), "latency": total}
        missed = [metric for metric, limit in (("latency", 2_000.0),) if total > limit]
        metric_errors: dict[str, str] = {}
        if roll < 0.05:
            error, scores, missed = ReplyTimeout("slow"), {}, []
        elif roll < 0.08:
            error, scores, missed = BotError("bot said no"), {}, []
        elif roll < 0.10:
            error, scores, missed = ConnectionClosed(1011, "bye"), {}, []
        elif scores["recall"] == 0.0:
            error = MetricFailure("metric failed: recall=0")
            missed = ["recall", *missed]
        if rng.random() < 0.03:
            metric_errors["judge"] = "RuntimeError: judge down"
        replies.append(
            Reply(
                prompt=f"prompt {index}",
                name=name,
                record={"Intent": name, "Keywords": "a;b;c;d"},
                text=words,
                chunks=chunks,
                bytes=len(words),
                time_to_first_chunk_ms=times[0] if times else None,
                total_time_ms=total,
                chunk_times_ms=times,
                error=error,
                started_at=1_700_000_000.0 + index * 0.013 + rng.uniform(0.0, 0.5),
                scores=scores,
                missed=missed,
                metric_errors=metric_errors,
            )
        )
    return replies


def connect_events(seed: int, count: int) -> list[tuple[float, str | None]]:
    rng = random.Random(seed)
    kinds = (None, None, None, "connection_refused", "handshake_rejected")
    return [(rng.uniform(1.0, 200.0), rng.choice(kinds)) for _ in range(count)]


def test_workers_merged_on_the_master_give_the_same_numbers_as_one_process() -> None:
    replies = recorded_replies(seed=2024, count=2_000)
    connects = connect_events(seed=1, count=40)
    single = ChatStats()
    worker_one, worker_two = ChatStats(), ChatStats()
    for index, reply in enumerate(replies):
        single.record(reply)
        (worker_one if index % 3 else worker_two).record(reply)
    for index, (time_ms, kind) in enumerate(connects):
        single.connects.add(time_ms, kind)
        (worker_one if index % 2 else worker_two).connects.add(time_ms, kind)
    master = ChatStats()
    for worker in (worker_one, worker_two):
        master.merge(ChatStats.from_wire(through_msgpack(worker.to_wire())))

    assert stats_rows(master, 60.0) == stats_rows(single, 60.0)
    assert summary(master, 60.0) == summary(single, 60.0)


def test_workers_merged_on_the_master_have_the_same_per_second_statistics() -> None:
    replies = recorded_replies(seed=77, count=600)
    single = ChatStats()
    workers = [ChatStats(), ChatStats()]
    for index, reply in enumerate(replies):
        single.record(reply)
        workers[index % 2].record(reply)
    master = ChatStats()
    for worker in workers:
        master.merge(ChatStats.from_wire(through_msgpack(worker.to_wire())))

    expected = single.take_seconds()
    merged = master.take_seconds()

    assert [second for second, _ in merged] == [second for second, _ in expected]
    for (_, mine), (_, theirs) in zip(merged, expected, strict=True):
        assert sorted(mine) == sorted(theirs)
        for name in mine:
            assert mine[name].replies == theirs[name].replies
            assert mine[name].latency.counts == theirs[name].latency.counts
            assert mine[name].ttft.percentiles((0.5, 0.95)) == theirs[name].ttft.percentiles((0.5, 0.95))


def test_workers_merge_their_failed_pairs_and_drop_counts() -> None:
    replies = recorded_replies(seed=5, count=400)
    failed = sum(reply.error is not None for reply in replies)
    workers = [ChatStats(keep_failed=5), ChatStats(keep_failed=5)]
    for index, reply in enumerate(replies):
        workers[index % 2].record(reply)
    master = ChatStats(keep_failed=8)
    for worker in workers:
        master.merge(ChatStats.from_wire(through_msgpack(worker.to_wire())))

    assert len(master.failed) == 8
    assert len(master.failed) + master.failed_dropped == failed


# --- the recording path --------------------------------------------------------------------------


class EveryEndBinned(ChatStats):
    """ChatStats with no second kept from the last reply: each reply's end is binned to its second."""

    def record(self, reply: Reply) -> None:
        self._second_from, self._second_to = math.inf, -math.inf
        super().record(reply)


SPACES = (
    " ",
    " ",
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x1f",
    "\x85",
    "\xa0",
    "\u2003",
    "\u3000",
)


def random_reply(rng: random.Random, started_at: float) -> Reply:
    """A reply of any name, text, chunks, outcome and (now and then) audio, sent at ``started_at``."""
    pieces = [rng.choice(("a", "word", "PayPal?", "é", "中文", "-")) for _ in range(rng.randint(0, 9))]
    text = "".join(rng.choice(SPACES) * rng.randint(0, 1) + piece + rng.choice(SPACES) for piece in pieces)
    total = rng.choice([0.0, rng.uniform(0.0, 2_500.0), round(rng.uniform(0.0, 5.0), 1)])
    times = sorted(rng.uniform(0.0, total) for _ in range(rng.randint(0, 4)))
    roll = rng.random()
    error: WsLocustError | None = (
        ReplyTimeout("slow") if roll < 0.05 else BotError("no") if roll < 0.1 else None
    )
    reply = make_reply(
        rng.choice(NAMES[:3]),
        text=text,
        chunk_times_ms=times,
        total_time_ms=total,
        error=error,
        started_at=started_at,
        scores={"recall": 0.5} if rng.random() < 0.1 else None,
    )
    if rng.random() < 0.05:
        reply.voice = VoiceTimes(
            speech_ms=900.0, frames_sent=45, speech_end_ms=920.0, audio_times_ms=[total], audio_seconds=[0.5]
        )
    return reply


@pytest.mark.parametrize("start", [1_700_000_000.0, 0.0, -3.0])
def test_chat_stats_record_replies_in_the_last_replys_second_as_if_each_end_were_binned(start: float) -> None:
    """A reply that ends in the second of the reply before it is filed without binning its end, and its
    words are counted without calling the counter: every figure, second by second, is that of binning
    each end and calling the counter, whatever the order of the ends and the reads and takes between."""
    rng = random.Random(int(start) + 41)
    kept = ChatStats()
    binned = EveryEndBinned(count_tokens=lambda reply: TOKEN_COUNTERS["words"](reply))
    now = start
    for _ in range(3_000):
        now += rng.choice(
            [0.0, 0.004, rng.uniform(0.0, 0.3), -rng.uniform(0.0, 1.5)]
        )  # ends out of order too
        reply = random_reply(
            rng, rng.choice([now, float(math.floor(now))])
        )  # some ending on a second exactly
        kept.record(reply)
        binned.record(reply)
        roll = rng.random()
        if roll < 0.02:
            before = math.trunc(now) + rng.randint(-2, 1)
            taken = [
                (second, {name: s.to_wire() for name, s in names.items()})
                for second, names in kept.take_seconds(before)
            ]
            assert taken == [
                (second, {name: s.to_wire() for name, s in names.items()})
                for second, names in binned.take_seconds(before)
            ]
        elif roll < 0.04:
            assert kept.total.to_wire() == binned.total.to_wire()

    assert kept.to_wire() == binned.to_wire()
    assert [(s, b.to_wire()) for s, b in kept.take_voice_seconds()] == [
        (s, b.to_wire()) for s, b in binned.take_voice_seconds()
    ]
