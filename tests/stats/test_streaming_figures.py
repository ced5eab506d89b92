"""The streaming figures of one reply, exactly: TTFT, E2E, ITL (chunk gaps), TPOT and output tokens/s
per reply (docs/metrics.md), and their histograms merged across processes."""

from __future__ import annotations

import itertools
import random

import pytest

from wslocust.errors import ReplyTimeout
from wslocust.stats.aggregates import ChatStats, Histogram, ReplyStats, time_per_output_token_ms
from wslocust.wire.reply import Reply

from ..conftest import make_reply

# Sent at 0; chunks at 120, 150, 190, 200 and 260 ms; the end at 280 ms; 9 output tokens.
TIMES_MS = (120.0, 150.0, 190.0, 200.0, 260.0)
END_MS = 280.0
TOKENS = 9


def one_reply_stats() -> ReplyStats:
    stats = ReplyStats()
    stats.add(make_reply(chunk_times_ms=TIMES_MS, total_time_ms=END_MS), TOKENS)
    return stats


def test_ttft_is_send_to_first_chunk_and_e2e_send_to_end() -> None:
    stats = one_reply_stats()

    assert (stats.ttft.count, stats.ttft.minimum, stats.ttft.maximum) == (1, 120.0, 120.0)
    assert (stats.latency.count, stats.latency.minimum, stats.latency.maximum) == (1, 280.0, 280.0)


def test_itl_is_every_gap_between_consecutive_chunks() -> None:
    stats = one_reply_stats()

    assert stats.gap.count == 4
    assert stats.gap.counts == {300: 1, 400: 1, 100: 1, 600: 1}  # 30, 40, 10, 60 ms in 0.1 ms bins
    assert (stats.gap.minimum, stats.gap.maximum, stats.gap.total) == (10.0, 60.0, 140.0)
    assert stats.gap.percentiles((0.5, 0.75)) == [30.0, 40.0]


def test_tpot_is_e2e_minus_ttft_over_the_tokens_after_the_first() -> None:
    stats = one_reply_stats()

    assert stats.tpot.count == 1
    assert stats.tpot.minimum == pytest.approx((280.0 - 120.0) / (9 - 1))  # 20 ms


def test_output_tokens_per_second_of_a_reply_is_1000_over_its_tpot() -> None:
    stats = one_reply_stats()

    assert stats.token_rate.count == 1
    assert stats.token_rate.minimum == pytest.approx((9 - 1) * 1000.0 / (280.0 - 120.0))  # 50 tokens/s


def test_time_per_output_token_ms_gives_what_the_statistics_record() -> None:
    reply = make_reply(chunk_times_ms=TIMES_MS, total_time_ms=END_MS)

    assert time_per_output_token_ms(reply, TOKENS) == one_reply_stats().tpot.minimum


@pytest.mark.parametrize(
    ("times", "end_ms", "tokens"),
    [
        ((120.0,), 280.0, 9),  # one chunk: no decoding time to share out
        (TIMES_MS, END_MS, 1),  # one token
        ((), 280.0, 0),  # no chunk
    ],
)
def test_no_tpot_nor_token_rate_for_a_reply_of_one_chunk_or_one_token(
    times: tuple[float, ...], end_ms: float, tokens: int
) -> None:
    stats = ReplyStats()
    reply = make_reply(chunk_times_ms=times, total_time_ms=end_ms)
    stats.add(reply, tokens)

    assert time_per_output_token_ms(reply, tokens) is None
    assert (stats.tpot.count, stats.token_rate.count) == (0, 0)


def test_a_failed_reply_adds_to_no_timing() -> None:
    stats = ReplyStats()
    stats.add(make_reply(chunk_times_ms=TIMES_MS, total_time_ms=END_MS, error=ReplyTimeout("late")), 0)

    assert [h.count for h in (stats.latency, stats.ttft, stats.gap, stats.tpot, stats.token_rate)] == [0] * 5


def test_recording_the_gaps_at_once_equals_recording_each_gap() -> None:
    rng = random.Random(7)
    at_once, one_by_one = Histogram(), Histogram()
    for _ in range(200):
        times = sorted(rng.uniform(0, 5_000) for _ in range(rng.randint(2, 30)))
        at_once.record_gaps(times)
        for earlier, later in itertools.pairwise(times):
            one_by_one.record(later - earlier)

    assert at_once.counts == one_by_one.counts
    assert (at_once.count, at_once.minimum, at_once.maximum) == (
        one_by_one.count,
        one_by_one.minimum,
        one_by_one.maximum,
    )
    assert at_once.total == pytest.approx(one_by_one.total)


def _replies(seed: int, count: int) -> list[Reply]:
    """Replies of 1 to 12 chunks and 1 to 40 words, under three names, over 30 seconds."""
    rng = random.Random(seed)
    replies = []
    for index in range(count):
        chunks = rng.randint(1, 12)
        first = rng.uniform(50, 900)
        times = [first]
        for _ in range(chunks - 1):
            times.append(times[-1] + rng.uniform(1, 80))
        replies.append(
            make_reply(
                f"name{index % 3}",
                text=" ".join(["word"] * rng.randint(1, 40)),
                chunk_times_ms=times,
                total_time_ms=times[-1] + rng.uniform(0, 30),
                started_at=1_000.0 + index * 0.05,
            )
        )
    return replies


def test_two_workers_figures_merged_equal_the_figures_of_all_their_replies_together() -> None:
    replies = _replies(11, 600)
    together, first, second = ChatStats(), ChatStats(), ChatStats()
    for index, reply in enumerate(replies):
        together.record(reply)
        (first if index % 2 else second).record(reply)
    master = ChatStats()
    for worker in (first, second):
        master.merge(ChatStats.from_wire(worker.to_wire()))  # as a worker's report reaches the master

    fractions = (0.0, 0.5, 0.9, 0.95, 0.99, 1.0)
    for which in ("latency", "ttft", "gap", "tpot", "token_rate"):
        pairs = [(master.total, together.total)]
        pairs += [(master.by_name[name], together.by_name[name]) for name in together.by_name]
        pairs += [
            (master.seconds[second][name], stats)
            for second, names in together.seconds.items()
            for name, stats in names.items()
        ]
        for merged, whole in pairs:
            mine: Histogram = getattr(merged, which)
            theirs: Histogram = getattr(whole, which)
            assert mine.counts == theirs.counts, which
            assert mine.count == theirs.count, which
            assert mine.percentiles(fractions) == theirs.percentiles(fractions), which
            assert mine.total == pytest.approx(theirs.total), which
    assert master.total.tpot.count > 100  # the replies had figures to merge
