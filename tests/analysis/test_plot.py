"""``plot``: the figures hold the series they claim, with titles and units, and the PNG files are written."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from matplotlib.axes import Axes

from analysis.levels import users_levels
from analysis.load import load_run
from analysis.plot import levels_figure, main, streaming_figure, timeseries_figure, write_figures
from analysis.timeline import intervals, reply_seconds

from .conftest import CopyRun, KnownRun, Runs, known_seconds
from .test_levels import (
    CHAT_HISTORY_HEADER,
    T0,
    chat_seconds,
    drop_chat_column,
    strip_full_history,
    write_history,
)

pytestmark = pytest.mark.slow  # reads the session's real Locust runs (subprocesses)


PNG = b"\x89PNG\r\n\x1a\n"


def _line(ax: Axes, label: str) -> tuple[np.ndarray, np.ndarray]:
    for line in ax.lines:
        if line.get_label() == label:
            return np.asarray(line.get_xdata(), dtype=float), np.asarray(line.get_ydata(), dtype=float)
    raise AssertionError(f"no line {label!r} in {ax.get_title()!r}: {[ln.get_label() for ln in ax.lines]}")


def test_the_levels_figure_plots_the_five_panels_against_users(runs: Runs) -> None:
    run = load_run(runs.synthetic_full)
    levels = users_levels(run)
    fig = levels_figure([run])
    axes = fig.axes
    titles = [ax.get_title(loc="left") for ax in axes]
    assert titles[:5] == [
        "Average latency",
        "Max latency",
        "General error rate (all failures)",
        "Client error rate (4xx, configuration)",
        "Unexpected error rate (unclassified)",
    ]
    assert [ax.get_ylabel() for ax in axes[:5]] == [
        "ms",
        "ms",
        "% of requests",
        "% of requests",
        "% of requests",
    ]
    expected = [
        levels["avg_ms"],
        levels["max_ms"],
        100 * levels["error_rate"],
        100 * levels["client_error_rate"],
        100 * levels["unexpected_error_rate"],
        levels["requests_per_s"],
    ]
    for ax, values in zip(axes, expected, strict=True):
        x, y = _line(ax, "run")
        assert x.tolist() == levels["users"].tolist()
        assert np.allclose(y, values.to_numpy(dtype=float), equal_nan=True)
    assert axes[-1].get_xlabel() == "users"
    _, unexpected = _line(axes[4], "run")
    assert unexpected[0] == 0
    assert unexpected[-1] > 0


def test_overlaid_runs_get_one_labelled_line_each(runs: Runs) -> None:
    base, other = load_run(runs.synthetic_full), load_run(runs.synthetic_plain)
    fig = levels_figure([replace(base, label="base"), replace(other, label="new")])
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert labels == ["base", "new"]
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["base", "new"]


def test_the_timeseries_figure_plots_users_throughput_latency_and_failures(runs: Runs) -> None:
    run = load_run(runs.synthetic_full)
    frame = intervals(run)
    fig = timeseries_figure([run])
    users, throughput, latency, failures = fig.axes
    _, y = _line(users, "users")
    assert y.tolist() == run.history["users"].tolist()
    _, y = _line(throughput, "requests/s")
    assert np.allclose(y, frame["rps"], equal_nan=True)
    _, p95 = _line(latency, "p95")
    _, p50 = _line(latency, "p50")
    assert np.nanmax(p95) >= np.nanmax(p50) > 0
    _line(latency, "average")
    _, y = _line(failures, "all failures")
    assert np.allclose(y, frame["fps"], equal_nan=True)
    for kind in ("client", "server", "unexpected"):
        _line(failures, kind)
    assert failures.get_xlabel() == "time since start (s)"
    assert throughput.get_ylabel() == "requests/s"
    assert latency.get_ylabel() == "ms"


def test_the_streaming_figure_needs_wslocust_files(runs: Runs) -> None:
    assert streaming_figure(load_run(runs.synthetic_plain)) is None
    run = load_run(runs.chatbot)
    assert run.chat_history is not None
    assert run.chat_stats is not None
    fig = streaming_figure(run)
    assert fig is not None
    over_time, gaps, by_name, by_users = fig.axes
    seconds = run.chat_history[run.chat_history["name"] == "Aggregated"]
    _, p50 = _line(over_time, "p50")
    _, p95 = _line(over_time, "p95")
    assert np.allclose(p50, seconds["ttft_p50_ms"], equal_nan=True)
    assert np.nanmin(p95 - p50) >= 0
    _line(gaps, "p50")
    names = [t.get_text() for t in by_name.get_xticklabels()]
    assert names == [n for n in run.chat_stats["name"] if n != "Aggregated"]
    assert len(by_name.patches) == 3 * len(names)  # p50, p95, p99 bars
    users, ttft = _line(by_users, "p50")
    assert users[-1] == 6
    assert (ttft > 0).all()


def test_a_long_run_is_binned_to_stay_readable(runs: Runs, copy_run: CopyRun) -> None:
    prefix = copy_run(runs.synthetic_plain)
    rows = [(s, 10 + s // 1000, 5 * s, s // 50, 20.0, 100.0) for s in range(5000)]
    write_history(prefix, rows)
    fig = timeseries_figure([load_run(prefix)])
    x, rps = _line(fig.axes[1], "requests/s")
    assert len(x) <= 1200
    assert np.allclose(rps[1:-1], 5.0)
    assert fig.axes[-1].get_xlabel() == "time since start (min)"


def test_a_long_run_of_ws_replies_is_binned_too(runs: Runs, copy_run: CopyRun) -> None:
    prefix = copy_run(runs.synthetic_plain)
    write_history(prefix, [(s, 10, 5 * s, 0, 20.0, 100.0) for s in range(5000)])
    lines = [CHAT_HISTORY_HEADER]
    lines += [f"{T0 + s},10,Aggregated,4,0,4,40,{20 + s % 5}.0,30.0,,,," for s in range(4999)]
    prefix.with_name("run_chat_stats_history.csv").write_text("\n".join(lines) + "\n")
    fig = timeseries_figure([load_run(prefix)])
    x, replies = _line(fig.axes[1], "replies/s (WS)")
    assert len(x) <= 1200
    assert np.allclose(replies, 4.0)
    _, p50 = _line(fig.axes[2], "p50 (WS)")
    assert np.allclose(p50[1:-1], 22.0)  # 5-second bins: the seconds' p50 (20 to 24), averaged


def test_a_zero_request_run_says_so(runs: Runs) -> None:
    fig = levels_figure([load_run(runs.silent)])
    assert all("no requests recorded" in [t.get_text() for t in ax.texts] for ax in fig.axes)
    fig = timeseries_figure([load_run(runs.silent)])
    assert "no requests recorded" in [t.get_text() for t in fig.axes[1].texts]


def test_write_figures_writes_pngs(runs: Runs, tmp_path: Path) -> None:
    paths = write_figures(load_run(runs.chatbot), tmp_path / "figs")
    assert [p.name for p in paths] == [
        "run_levels.png",
        "run_timeseries.png",
        "run_streaming.png",
        "run_cdf.png",
    ]
    for path in paths:
        data = path.read_bytes()
        assert data.startswith(PNG)
        assert len(data) > 20_000


def test_main_writes_next_to_the_csvs_by_default(
    runs: Runs, copy_run: CopyRun, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = copy_run(runs.chatbot)
    assert main([str(prefix)]) == 0
    printed = capsys.readouterr().out.split()
    assert printed[:2] == [
        str(prefix.with_name("run_levels.png")),
        str(prefix.with_name("run_timeseries.png")),
    ]
    assert all(Path(p).read_bytes().startswith(PNG) for p in printed)


def test_with_wslocust_the_levels_figure_is_of_ws_replies(runs: Runs) -> None:
    run = load_run(runs.chatbot)
    levels = users_levels(run)
    fig = levels_figure([run])
    average, top, errors, _, _, throughput = fig.axes
    assert average.get_title(loc="left") == "Average latency of WS replies"
    assert throughput.get_title(loc="left") == "Throughput of WS replies"
    assert throughput.get_ylabel() == "replies/s (WS)"
    assert errors.get_ylabel() == "% of replies"
    expected = [levels["avg_ms"], levels["max_ms"], 100 * levels["error_rate"], levels["requests_per_s"]]
    for ax, values in zip((average, top, errors, throughput), expected, strict=True):
        x, y = _line(ax, "run")
        assert x.tolist() == levels["users"].tolist()
        assert np.allclose(y, values.to_numpy(dtype=float), equal_nan=True)
    _, replies = _line(throughput, "run")
    assert replies.sum() > 0
    suptitle = fig.get_suptitle()
    assert "WS replies" in suptitle
    assert "handshakes apart" in suptitle


def test_without_any_average_the_levels_figure_shows_the_median(runs: Runs, copy_run: CopyRun) -> None:
    prefix = copy_run(runs.chatbot)
    drop_chat_column(prefix, "Latency Avg (ms)")  # an older chat history
    strip_full_history(prefix)
    run = load_run(prefix)
    levels = users_levels(run)
    median = levels_figure([run]).axes[0]
    assert median.get_title(loc="left").startswith("Median latency of WS replies (p50: no average")
    _, y = _line(median, "run")
    assert np.allclose(y, levels["p50_ms"], equal_nan=True)


def test_with_wslocust_the_timeseries_throughput_and_latency_are_of_ws_replies(runs: Runs) -> None:
    run = load_run(runs.chatbot)
    seconds = reply_seconds(run)
    assert seconds is not None
    fig = timeseries_figure([run])
    _, throughput, latency, failures = fig.axes
    assert "WS replies" in throughput.get_title(loc="left")
    assert throughput.get_ylabel() == "replies/s (WS)"
    assert "WS replies" in latency.get_title(loc="left")
    _, replies = _line(throughput, "replies/s (WS)")
    assert replies.tolist() == seconds["requests"].tolist()
    assert replies.sum() == sum(int(row["Replies/s"]) for row in chat_seconds(runs.chatbot))
    _, p50 = _line(latency, "p50 (WS)")
    _, p95 = _line(latency, "p95 (WS)")
    written = {float(row["Timestamp"]): row for row in chat_seconds(runs.chatbot)}
    for start, value, high in zip(seconds["start"], p50, p95, strict=True):
        row = written.get(float(start))
        if row and row["Latency p50 (ms)"]:
            assert value == float(row["Latency p50 (ms)"])
            assert high == float(row["Latency p95 (ms)"])
    _, average = _line(latency, "average (WS)")
    assert np.nanmin(average) > 0
    assert latency.get_title(loc="left").startswith("Response time of successful WS replies")
    # failures stay Locust's, of every request (failed handshakes included)
    _, all_failures = _line(failures, "all failures")
    assert np.allclose(all_failures, intervals(run)["fps"], equal_nan=True)
    assert "CONNECT" in failures.get_title(loc="left")


def test_without_any_average_the_timeseries_has_no_reply_average(runs: Runs, copy_run: CopyRun) -> None:
    prefix = copy_run(runs.chatbot)
    drop_chat_column(prefix, "Latency Avg (ms)")  # an older chat history
    strip_full_history(prefix)
    latency = timeseries_figure([load_run(prefix)]).axes[2]
    assert "no average: chat history without it, and no --csv-full-history" in latency.get_title(loc="left")
    assert [line.get_label() for line in latency.lines] == ["p50 (WS)", "p95 (WS)"]


def test_overlaid_runs_say_which_counts_ws_replies(runs: Runs) -> None:
    chat, plain = load_run(runs.chatbot), load_run(runs.synthetic_full)
    fig = levels_figure([replace(chat, label="chat"), replace(plain, label="plain")])
    assert [line.get_label() for line in fig.axes[0].lines] == ["chat", "plain (all requests)"]
    fig = timeseries_figure([replace(chat, label="chat"), replace(plain, label="plain")])
    labels = [line.get_label() for line in fig.axes[1].lines]
    assert labels == ["chat replies/s (WS)", "plain requests/s"]


def test_the_ws_average_over_time_is_each_seconds_exact_mean_of_its_successful_replies(
    known_run: KnownRun,
) -> None:
    ok, failed = known_seconds(known_run)
    slowest = max(max(times) for times in ok.values())
    assert sum(1 for time in failed if time > slowest) >= 5  # failed replies far above the successful
    run = load_run(known_run.prefix)
    latency = timeseries_figure([run]).axes[2]
    assert latency.get_title(loc="left").startswith("Response time of successful WS replies")
    x, average = _line(latency, "average (WS)")
    origin = float(run.history["timestamp"].iloc[0])
    plotted = {round(at + origin - 1.0): value for at, value in zip(x, average, strict=True)}
    assert {second for second, value in plotted.items() if np.isfinite(value)} == set(ok)
    for second, times in ok.items():
        # the CSV rounds to 0.01 ms
        assert min(times) - 0.005 <= plotted[second] <= max(times) + 0.005, second
        assert plotted[second] == pytest.approx(float(np.mean(times)), abs=0.005), second


def test_the_ws_average_per_users_level_is_of_the_successful_replies(known_run: KnownRun) -> None:
    ok, _ = known_seconds(known_run)
    levels = users_levels(load_run(known_run.prefix))
    successes = levels["requests"] - levels["failures"]
    # A level can hold only failed replies (a short one, with hung and failed replies drawn at
    # random): it has no average, rather than one of its failures.
    assert (levels.loc[successes > 0, "avg_scope"] == "successful replies").all()
    assert (levels.loc[successes == 0, "avg_scope"] == "").all()
    assert levels.loc[successes == 0, "avg_ms"].isna().all()
    assert successes.sum() > 0
    weighted = float((levels["avg_ms"] * successes).sum() / successes.sum())
    every = [time for times in ok.values() for time in times]
    assert weighted == pytest.approx(float(np.mean(every)), abs=0.005)
