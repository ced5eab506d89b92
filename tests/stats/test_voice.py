"""The statistics of audio turns: underruns and real-time factor of hand-made answers, each turn's
figures, text replies left out, and exact merging across workers."""

from __future__ import annotations

import pytest

from wslocust.errors import ReplyTimeout
from wslocust.stats.aggregates import ChatStats
from wslocust.stats.voice import UNDERRUN_TOLERANCE_MS, VoiceStats, real_time_factor, underruns
from wslocust.wire.reply import Reply
from wslocust.wire.voice import VoiceTimes

from ..conftest import make_reply


def voice_reply(
    name: str = "greet",
    *,
    speech_end_ms: float = 1000.0,
    server_speech_end_ms: float | None = None,
    audio_times_ms: tuple[float, ...] = (1300.0, 1400.0),
    audio_seconds: tuple[float, ...] = (0.1, 0.1),
    lateness_ms: tuple[float, ...] = (0.5, 1.5, 0.25),
    first_transcript_ms: float | None = 1250.0,
    final_transcript_ms: float | None = 1600.0,
    failed: bool = False,
    started_at: float = 1_000.0,
) -> Reply:
    """An audio turn's reply, as the client builds it, with its voice times filled in."""
    reply = make_reply(name, error=ReplyTimeout("no end") if failed else None, started_at=started_at)
    reply.voice = VoiceTimes(
        speech_ms=1000.0,
        frames_sent=len(lateness_ms),
        lateness_ms=list(lateness_ms),
        speech_end_ms=speech_end_ms,
        server_speech_end_ms=server_speech_end_ms,
        audio_times_ms=list(audio_times_ms),
        audio_seconds=list(audio_seconds),
        first_transcript_ms=first_transcript_ms,
        final_transcript_ms=final_transcript_ms,
    )
    return reply


# --- underruns and real-time factor: pure functions of the arrivals and lengths ---------------------


def test_a_steady_real_time_stream_has_no_underrun() -> None:
    times = [500.0 + 20.0 * index for index in range(50)]  # 20 ms pieces, each as the last ends
    assert underruns(times, [0.02] * 50) == (0, 0.0)


def test_a_stream_at_half_speed_underruns_once_a_piece_after_the_first() -> None:
    # 100 ms pieces every 200 ms: each runs out 100 ms before the next arrives.
    assert underruns([0.0, 200.0, 400.0, 600.0], [0.1] * 4) == (3, 300.0)


def test_gaps_are_measured_from_when_the_audio_played_so_far_runs_out() -> None:
    # 300 ms buffered by 10 ms; the third piece at 350 ms finds it ran out at 300 ms; the fourth comes
    # 50 ms into the third's 100 ms: no gap.
    assert underruns([0.0, 10.0, 350.0, 400.0], [0.2, 0.1, 0.1, 0.1]) == (1, pytest.approx(50.0))


def test_a_burst_faster_than_real_time_has_no_underrun() -> None:
    assert underruns([100.0, 101.0, 102.0], [1.0, 1.0, 1.0]) == (0, 0.0)


def test_a_gap_below_the_tolerance_is_not_an_underrun_but_one_at_it_is() -> None:
    below = UNDERRUN_TOLERANCE_MS / 2
    assert underruns([0.0, 100.0 + below], [0.1, 0.1]) == (0, 0.0)
    assert underruns([0.0, 100.0 + UNDERRUN_TOLERANCE_MS], [0.1, 0.1]) == (1, UNDERRUN_TOLERANCE_MS)


def test_an_answer_without_audio_has_no_underrun_and_no_real_time_factor() -> None:
    assert underruns([], []) == (0, 0.0)
    assert real_time_factor([], []) is None


def test_a_real_time_stream_has_a_real_time_factor_of_one() -> None:
    times = [20.0 * index for index in range(10)]
    assert real_time_factor(times, [0.02] * 10) == pytest.approx(1.0)


def test_a_stream_at_half_speed_has_a_real_time_factor_of_n_over_2n_minus_1() -> None:
    # 4 pieces of 100 ms every 200 ms: 400 ms of audio over 600 + 100 ms.
    assert real_time_factor([0.0, 200.0, 400.0, 600.0], [0.1] * 4) == pytest.approx(400 / 700)


def test_an_answer_in_one_piece_has_a_real_time_factor_of_one() -> None:
    assert real_time_factor([250.0], [2.0]) == pytest.approx(1.0)


# --- a turn's figures -------------------------------------------------------------------------------


def test_a_turn_records_each_voice_figure_from_its_times() -> None:
    stats = VoiceStats()
    stats.add(voice_reply(audio_times_ms=(1300.0, 1500.0), audio_seconds=(0.1, 0.1)))

    assert stats.voice_to_voice.percentile(0.5) == pytest.approx(300.0)
    assert stats.first_audio.percentile(0.5) == pytest.approx(1300.0)
    assert stats.first_transcript.percentile(0.5) == pytest.approx(1250.0)
    assert stats.final_transcript.percentile(0.5) == pytest.approx(600.0)  # end of speech → final
    assert (stats.audio_s, stats.audio_out.maximum) == (pytest.approx(0.2), pytest.approx(200.0))
    assert stats.factor(0.5) == pytest.approx(200 / 300)
    assert (stats.underruns, stats.underrun_turns, stats.underrun.maximum) == (1, 1, pytest.approx(100.0))
    assert (stats.frames, stats.lateness.count, stats.lateness.maximum) == (3, 3, 1.5)


def test_the_servers_end_of_speech_wins_over_the_last_frame_sent() -> None:
    stats = VoiceStats()
    stats.add(voice_reply(speech_end_ms=1000.0, server_speech_end_ms=1100.0))

    assert stats.voice_to_voice.percentile(0.5) == pytest.approx(200.0)
    assert stats.final_transcript.percentile(0.5) == pytest.approx(500.0)


def test_a_failed_turn_counts_its_frames_lateness_but_no_answer_figure() -> None:
    stats = VoiceStats()
    stats.add(voice_reply(failed=True))

    assert (stats.turns, stats.failures, stats.frames, stats.lateness.count) == (1, 1, 3, 3)
    assert (stats.voice_to_voice.count, stats.first_audio.count, stats.with_audio) == (0, 0, 0)


def test_a_turn_answered_without_audio_has_transcripts_but_no_audio_figure() -> None:
    stats = VoiceStats()
    stats.add(voice_reply(audio_times_ms=(), audio_seconds=()))

    assert (stats.first_transcript.count, stats.final_transcript.count) == (1, 1)
    assert (stats.with_audio, stats.voice_to_voice.count, stats.underrun.count) == (0, 0, 0)


# --- in the run's statistics ------------------------------------------------------------------------


def test_text_replies_leave_no_voice_statistics_and_no_voice_in_a_workers_report() -> None:
    stats = ChatStats()
    for index in range(5):
        stats.record(make_reply(f"ask{index % 2}"))

    assert stats.voice.empty
    assert "voice" not in stats.to_wire()


def test_only_replies_with_voice_times_count_in_the_voice_figures() -> None:
    stats = ChatStats()
    stats.record(make_reply("greet"))
    stats.record(voice_reply("greet"))
    stats.record(make_reply("bye"))

    assert list(stats.voice.by_name) == ["greet"]
    assert (stats.voice.total.turns, stats.total.replies) == (1, 3)


def test_voice_figures_merged_from_workers_are_those_of_one_process() -> None:
    v2v_ends = [1300.0 + 37.0 * index for index in range(40)]
    one = ChatStats()
    workers = [ChatStats(), ChatStats(), ChatStats()]
    for index, first_ms in enumerate(v2v_ends):
        name = "greet" if index % 3 else "order"
        one.record(voice_reply(name, audio_times_ms=(first_ms, first_ms + 50.0)))
        workers[index % 3].record(voice_reply(name, audio_times_ms=(first_ms, first_ms + 50.0)))
    master = ChatStats()
    for worker in workers:
        master.merge(ChatStats.from_wire(worker.to_wire()))

    for name in ("greet", "order"):
        mine, theirs = master.voice.by_name[name], one.voice.by_name[name]
        fractions = (0.5, 0.95, 0.99, 1.0)
        assert mine.voice_to_voice.percentiles(fractions) == theirs.voice_to_voice.percentiles(fractions)
        assert (mine.turns, mine.frames, mine.underruns) == (theirs.turns, theirs.frames, theirs.underruns)
    assert master.voice.total.first_audio.counts == one.voice.total.first_audio.counts
