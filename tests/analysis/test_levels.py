"""Per-interval figures and the users-level table, from real stepped runs and from crafted histories."""

from __future__ import annotations

import csv
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from analysis.levels import users_levels
from analysis.load import load_run
from analysis.timeline import KINDS, intervals, kind_shares, reply_seconds, type_intervals

from .conftest import CopyRun, KnownRun, Runs, known_seconds

HISTORY_HEADER = (
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,"
    "Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,"
    "Total Min Response Time,Total Max Response Time,Total Average Content Size"
)
FAILURES_HEADER = ["Method", "Name", "Error", "Occurrences", "First Seen", "Last Seen"]
CHAT_HISTORY_HEADER = (
    "Timestamp,User Count,Name,Replies/s,Failures/s,Goodput/s,Output Tokens/s,Latency p50 (ms),"
    "Latency p95 (ms),TTFT p50 (ms),TTFT p95 (ms),TTFT p99 (ms),Chunk Gap p50 (ms)"
)
T0 = 1_700_000_000  # 2023-11-14T22:13:20Z

pytestmark = pytest.mark.slow  # reads the session's real Locust runs (subprocesses)


def write_history(prefix: Path, rows: list[tuple[int, int, int, int, float, float]]) -> None:
    """Rows of (seconds from T0, users, total requests, total failures, running avg ms, running max ms)."""
    lines = [HISTORY_HEADER]
    for second, users, requests, failures, avg, top in rows:
        pct = ",".join(["N/A"] * 11) if requests == 0 else ",".join(str(int(avg)) for _ in range(11))
        lines.append(
            f"{T0 + second},{users},,Aggregated,0.000000,0.000000,{pct},{requests},{failures},{int(avg)},"
            f"{avg},1.0,{top},10.0"
        )
    prefix.with_name(prefix.name + "_stats_history.csv").write_text("\n".join(lines) + "\n")


def write_failures(prefix: Path, rows: list[tuple[str, int, int, int]]) -> None:
    """Rows of (error, occurrences, first seen, last seen in seconds from T0)."""
    from analysis.fmt import iso

    with prefix.with_name(prefix.name + "_failures.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(FAILURES_HEADER)
        for error, count, first, last in rows:
            writer.writerow(["WS", "billing", error, count, iso(T0 + first), iso(T0 + last)])


def chat_seconds(prefix: Path) -> list[dict[str, str]]:
    """The Aggregated rows of wslocust's chat history, as written."""
    with prefix.with_name(prefix.name + "_chat_stats_history.csv").open(newline="") as handle:
        return [row for row in csv.DictReader(handle) if row["Name"] == "Aggregated"]


def strip_full_history(prefix: Path) -> None:
    """Keep only the Aggregated rows of a history, as a run without ``--csv-full-history`` has."""
    path = prefix.with_name(prefix.name + "_stats_history.csv")
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    kept = [
        row for row in rows[1:] if row[header.index("Name")] == "Aggregated" and not row[header.index("Type")]
    ]
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([header, *kept])


def test_the_intervals_add_up_to_the_running_totals(runs: Runs) -> None:
    for prefix in (runs.synthetic_full, runs.synthetic_plain, runs.chatbot):
        run = load_run(prefix)
        frame = intervals(run)
        assert frame["requests"].sum() == run.history["requests"].iloc[-1]
        assert frame["failures"].sum() == run.history["failures"].iloc[-1]
        kinds = sum(frame[f"{kind}_failures"] for kind in KINDS)
        assert np.allclose(kinds, frame["failures"])
        assert (frame["duration_s"] > 0).all()


def test_a_stepped_run_gives_one_row_per_step(runs: Runs) -> None:
    run = load_run(runs.synthetic_full)
    levels = users_levels(run, min_seconds=1.5)
    assert levels["users"].tolist() == [2, 4, 6]
    assert levels["avg_ms"].is_monotonic_increasing  # latency grows with users in the locustfile
    assert (levels["requests_per_s"] > 0).all()
    assert np.allclose(levels["error_rate"], levels["failures"] / levels["requests"])
    assert np.allclose(sum(levels[f"{k}_error_rate"] for k in KINDS), levels["error_rate"])
    assert (levels["percentile_scope"] == "last 10 s").all()
    assert levels["p95_ms"].notna().all()
    assert (levels["p95_ms"] >= levels["p50_ms"]).all()
    # the failed replies are placed by their times: the protocol errors the locustfile
    # only makes at 6 users are found there only (the handshake rejections are estimated)
    assert not levels["kinds_exact"].all()
    unexpected = levels.set_index("users")["unexpected_error_rate"]
    assert unexpected[2] == 0
    assert unexpected[4] == 0
    assert unexpected[6] > 0
    assert (levels["client_error_rate"] > 0).any()


def test_without_the_wslocust_file_kinds_are_estimated_and_percentiles_cumulative(runs: Runs) -> None:
    run = load_run(runs.synthetic_plain)
    levels = users_levels(run, min_seconds=1.5)
    assert levels["users"].tolist() == [2, 4, 6]
    assert not levels["kinds_exact"].all()
    assert (levels["percentile_scope"] == "run so far").all()
    # the general rate stays exact: failures per level add up to the run's
    everything = users_levels(run)
    assert everything["failures"].sum() == run.history["failures"].iloc[-1]


def test_a_ramp_gives_a_row_per_user_count_with_wslocust_time_to_first_chunk(runs: Runs) -> None:
    levels = users_levels(load_run(runs.chatbot))
    assert levels["users"].iloc[-1] == 6
    assert len(levels) >= 2
    assert levels["requests"].sum() > 0
    top = levels.iloc[-1]
    assert 0 < top["ttft_p50_ms"] <= top["ttft_p95_ms"]
    assert 15 < top["ttft_p50_ms"] < 1000  # the demo bot waits 20 ms before its first chunk


def test_a_max_that_did_not_rise_is_an_upper_bound(runs: Runs, copy_run: CopyRun) -> None:
    prefix = copy_run(runs.synthetic_plain)
    write_history(
        prefix,
        [
            (0, 0, 0, 0, 0.0, 0.0),
            (1, 1, 10, 0, 50.0, 80.0),
            (2, 1, 20, 0, 50.0, 100.0),
            (3, 2, 30, 0, 40.0, 100.0),
            (4, 2, 40, 0, 35.0, 100.0),
            (5, 3, 50, 0, 40.0, 120.0),
        ],
    )
    levels = users_levels(load_run(prefix)).set_index("users")
    assert levels.loc[1, "max_ms"] == 100
    assert not levels.loc[1, "max_is_upper_bound"]
    assert levels.loc[2, "max_ms"] == 100
    assert levels.loc[2, "max_is_upper_bound"]
    assert levels.loc[3, "max_ms"] == 120
    assert not levels.loc[3, "max_is_upper_bound"]
    # exact averages from the running ones: (30*40 - 20*50) / 10 and (40*35 - 20*50) / 20
    assert levels.loc[2, "avg_ms"] == pytest.approx((40 * 35 - 20 * 50) / 20)
    assert levels.loc[2, "requests"] == 20
    assert levels.loc[2, "duration_s"] == 2


def test_reset_stats_restarts_the_totals(runs: Runs, copy_run: CopyRun) -> None:
    prefix = copy_run(runs.synthetic_plain)
    write_history(
        prefix,
        [
            (1, 5, 10, 1, 10.0, 20.0),
            (2, 5, 20, 2, 10.0, 20.0),
            (3, 10, 4, 0, 30.0, 40.0),
            (4, 10, 14, 1, 30.0, 40.0),
        ],
    )
    frame = intervals(load_run(prefix))
    assert frame["requests"].tolist() == [10, 10, 4, 10]
    assert frame["failures"].tolist() == [1, 1, 0, 1]
    assert frame["max_ms"].tolist()[2] == 40  # the first maximum after a reset is exact


def test_kinds_are_spread_over_their_first_and_last_seen(runs: Runs, copy_run: CopyRun) -> None:
    prefix = copy_run(runs.synthetic_plain)
    write_history(
        prefix,
        [
            (0, 1, 0, 0, 0.0, 0.0),
            (2, 1, 20, 4, 10.0, 20.0),
            (4, 2, 60, 10, 10.0, 20.0),
            (6, 2, 100, 10, 10.0, 20.0),
        ],
    )
    write_failures(
        prefix,
        [
            ("HandshakeRejected('handshake rejected: HTTP 401 Unauthorized')", 4, 0, 1),
            ("ReplyTimeout('no complete reply within 5.0 s')", 6, 2, 3),
        ],
    )
    levels = users_levels(load_run(prefix)).set_index("users")
    assert levels.loc[1, "client_error_rate"] == pytest.approx(4 / 20)
    assert levels.loc[1, "server_error_rate"] == 0
    assert levels.loc[2, "client_error_rate"] == 0
    assert levels.loc[2, "server_error_rate"] == pytest.approx(6 / 80)


def test_failed_replies_place_every_reply_failure(runs: Runs, copy_run: CopyRun) -> None:
    # the demo bot fails replies only (BotError, MetricFailure): nothing is estimated
    levels = users_levels(load_run(runs.chatbot))
    assert levels["kinds_exact"].all()
    assert np.allclose(levels["server_error_rate"], levels["error_rate"], equal_nan=True)
    # without the file, one kind of failure is still exact
    prefix = copy_run(runs.chatbot, skip=("_failed_replies.jsonl",))
    assert users_levels(load_run(prefix))["kinds_exact"].all()


def test_kind_shares() -> None:
    assert kind_shares({"client": 1, "server": 3}) == {"client": 0.25, "server": 0.75, "unexpected": 0.0}
    assert kind_shares({}) == {"client": 0.0, "server": 0.0, "unexpected": 1.0}


def test_min_seconds_leaves_out_ramp_transients(runs: Runs) -> None:
    run = load_run(runs.chatbot)
    everything = users_levels(run)
    held = users_levels(run, min_seconds=2.0)
    assert set(held["users"]) <= set(everything["users"])
    assert (held["duration_s"] >= 2.0).all()


def test_wslocust_step_results_give_the_percentiles_of_their_steps(runs: Runs, copy_run: CopyRun) -> None:
    prefix = copy_run(runs.synthetic_full)
    header = (
        "Step,Users,Start,End,Duration (s),Requests,Failures,Requests/s,p50 (ms),p95 (ms),Max (ms),Error Rate"
    )
    prefix.with_name("run_steps.csv").write_text(
        f"{header}\n1,2,0.0,2.5,2.5,100,1,40.00,11,22,33,0.0100\n2,4,2.5,5.0,2.5,100,1,40.00,44,55,66,0.0100\n"
    )
    levels = users_levels(load_run(prefix), min_seconds=1.5).set_index("users")
    assert levels.loc[2, ["p50_ms", "p95_ms", "max_ms"]].tolist() == [11, 22, 33]
    assert levels.loc[4, "percentile_scope"] == "step"
    assert levels.loc[6, "percentile_scope"] == "last 10 s"


def test_the_reply_seconds_are_wslocusts_rows(runs: Runs) -> None:
    run = load_run(runs.chatbot)
    seconds = reply_seconds(run)
    assert seconds is not None
    rows = chat_seconds(runs.chatbot)
    by_second = seconds.set_index("start")
    for row in rows:
        second = by_second.loc[float(row["Timestamp"])]
        assert second["requests"] == int(row["Replies/s"])
        assert second["failures"] == int(row["Failures/s"])
        if row["Latency p50 (ms)"]:
            assert second["latency_p50_ms"] == float(row["Latency p50 (ms)"])
            assert second["latency_p95_ms"] == float(row["Latency p95 (ms)"])
        if row["User Count"] not in ("", "0"):
            assert second["users"] == int(row["User Count"])
    written = {float(row["Timestamp"]) for row in rows}
    assert (by_second.loc[~by_second.index.isin(written), "requests"] == 0).all()  # no reply ended
    assert (seconds["end"] - seconds["start"] == 1).all()
    assert np.allclose(sum(seconds[f"{kind}_failures"] for kind in KINDS), seconds["failures"])


def test_with_the_chat_history_a_level_is_of_ws_replies(runs: Runs) -> None:
    run = replace(load_run(runs.chatbot), chat_histograms=None)  # without them: per-second percentiles
    levels = users_levels(run)
    seconds = reply_seconds(run)
    assert seconds is not None
    rows = chat_seconds(runs.chatbot)
    assert (levels["source"] == "wslocust").all()
    # the counts are wslocust's replies, handshakes apart
    assert levels["requests"].sum() == sum(int(row["Replies/s"]) for row in rows)
    assert levels["failures"].sum() == sum(int(row["Failures/s"]) for row in rows)
    for _, level in levels.iterrows():
        mine = seconds[seconds["users"] == level["users"]]
        assert level["duration_s"] == len(mine)
        assert level["requests"] == mine["requests"].sum()
        assert level["requests_per_s"] == pytest.approx(mine["requests"].sum() / len(mine))
        # p50 and p95: wslocust's exact per-second values, weighted by the successful replies
        ok = mine["requests"] - mine["failures"]
        for key in ("p50", "p95"):
            valid = mine[f"latency_{key}_ms"].notna() & (ok > 0)
            if not valid.any():  # a level whose replies all failed (a short one while users ramp)
                assert np.isnan(level[f"{key}_ms"])
                continue
            expected = np.average(mine.loc[valid, f"latency_{key}_ms"], weights=ok[valid])
            assert level[f"{key}_ms"] == pytest.approx(expected)
        # the average: wslocust's exact per-second averages of the successful replies, weighted the same
        valid = mine["latency_avg_ms"].notna() & (ok > 0)
        if valid.any():
            expected = np.average(mine.loc[valid, "latency_avg_ms"], weights=ok[valid])
            assert level["avg_ms"] == pytest.approx(expected)
    assert (levels["percentile_scope"] == "per-second, reply-weighted").all()
    # the average and max are of the WS rows of --csv-full-history, without the failed replies
    answered = levels[levels["requests"] > levels["failures"]]  # levels with a successful reply
    assert (answered["avg_scope"] == "successful replies").all()
    assert (answered["avg_ms"] > 0).all()
    # the max is wslocust's exact per-second max of the same replies and seconds as the p95
    assert (answered["max_ms"] >= answered["p95_ms"] - 0.005).all()  # the CSV rounds to 0.01 ms
    assert not answered["max_is_upper_bound"].any()
    assert answered["max_ms"].tolist() == [
        float(m["latency_max_ms"].max())
        for users, m in seconds.groupby("users")
        if users in set(answered["users"])
    ]
    # Locust's Aggregated rows mix in the handshakes: a level of Locust's history alone counts the
    # WS round trips and the CONNECT requests at its user count, and averages them together
    everything = users_levels(replace(run, chat_history=None))
    assert (everything["source"] == "locust").all()
    steps, ws, connect = intervals(run), type_intervals(run, "WS"), type_intervals(run, "CONNECT")
    assert ws is not None
    assert connect is not None
    for _, level in everything.iterrows():
        at = steps["users"] == level["users"]
        assert level["requests"] == ws.loc[at, "requests"].sum() + connect.loc[at, "requests"].sum()
        both_ms = ws.loc[at, "rt_sum_ms"].sum() + connect.loc[at, "rt_sum_ms"].sum()
        assert level["avg_ms"] == pytest.approx(both_ms / level["requests"])
    connects = run.history_by_name[run.history_by_name["type"] == "CONNECT"]
    assert 0 < levels["handshakes"].sum() <= connects["requests"].max()


def test_without_full_history_a_reply_level_has_wslocusts_average(runs: Runs, copy_run: CopyRun) -> None:
    prefix = copy_run(runs.chatbot)
    strip_full_history(prefix)
    run = load_run(prefix)
    assert not run.full_history
    levels = users_levels(run)
    full = users_levels(load_run(runs.chatbot))
    assert (levels["source"] == "wslocust").all()
    # the average is the chat history's, of the successful replies: Locust's rows are not needed
    answered = levels["requests"] > levels["failures"]  # a short level of failures only has none
    assert (levels.loc[answered, "avg_scope"] == "successful replies").all()
    assert levels.loc[~answered, "avg_ms"].isna().all()
    assert np.allclose(levels["avg_ms"], full["avg_ms"], equal_nan=True)
    assert levels["handshakes"].isna().all()
    assert levels["requests"].tolist() == full["requests"].tolist()
    assert np.allclose(levels["p50_ms"], full["p50_ms"], equal_nan=True)
    # the max needs no full history: it is wslocust's exact per-second max of the replies
    assert not levels.loc[answered, "max_is_upper_bound"].any()
    assert np.allclose(levels.loc[answered, "max_ms"], full.loc[answered, "max_ms"])


def drop_chat_column(prefix: Path, column: str) -> None:
    """Remove a column of the chat history, as in a file written before wslocust added it."""
    path = prefix.with_name(prefix.name + "_chat_stats_history.csv")
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    index = rows[0].index(column)
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([row[:index] + row[index + 1 :] for row in rows])


def test_an_older_chat_history_without_averages_takes_locusts_ws_rows(runs: Runs, copy_run: CopyRun) -> None:
    prefix = copy_run(runs.chatbot)
    drop_chat_column(prefix, "Latency Avg (ms)")
    levels = users_levels(load_run(prefix))
    assert (levels["avg_scope"] == "WS round trips").all()  # failed replies included: said so
    assert (levels["avg_ms"] > 0).all()
    strip_full_history(prefix)
    levels = users_levels(load_run(prefix))
    assert levels["avg_ms"].isna().all()  # the replies' times cannot be told from the handshakes'
    assert (levels["avg_scope"] == "").all()


def test_handshakes_are_counted_apart_from_the_replies(runs: Runs, copy_run: CopyRun) -> None:
    # the synthetic run's handshakes are rejected (HTTP 401) at every level; give it a chat history
    prefix = copy_run(runs.synthetic_full)
    history = load_run(prefix).history
    # one row a second, as wslocust writes it (Locust's own rows may skip a second or repeat one)
    users_at = {int(t) - 1: int(u) for t, u in zip(history["timestamp"], history["users"], strict=True)}
    lines = [CHAT_HISTORY_HEADER]
    users = 0
    for second in range(min(users_at), max(users_at) + 1):
        users = users_at.get(second, users)
        if users > 0:
            lines.append(f"{second},{users},Aggregated,10,0,10,100,20.0,30.0,,,,")
    prefix.with_name("run_chat_stats_history.csv").write_text("\n".join(lines) + "\n")
    run = load_run(prefix)
    levels = users_levels(run, min_seconds=1.5)
    assert levels["users"].tolist() == [2, 4, 6]
    assert (levels["requests_per_s"] == 10).all()
    assert (levels["p50_ms"] == 20).all()
    assert (levels["error_rate"] == 0).all()  # no failed reply...
    assert (levels["client_error_rate"] == 0).all()
    # ...but failed handshakes, all of Locust's CONNECT rows
    connects = run.history_by_name[run.history_by_name["type"] == "CONNECT"]
    everything = users_levels(run)
    assert everything["handshakes"].sum() == connects["requests"].iloc[-1]
    assert everything["handshake_failures"].sum() == connects["failures"].iloc[-1] > 0
    assert (levels["handshake_error_rate"] > 0).any()
    assert (users_levels(replace(run, chat_history=None))["client_error_rate"] > 0).any()


def test_with_the_histograms_a_levels_p50_and_p95_are_those_of_its_successful_replies(
    known_run: KnownRun,
) -> None:
    ok, _ = known_seconds(known_run)
    run = load_run(known_run.prefix)
    assert run.chat_histograms is not None
    levels = users_levels(run)
    seconds = reply_seconds(run)
    assert seconds is not None
    checked = 0
    for _, level in levels.iterrows():
        mine = seconds[seconds["users"] == level["users"]]
        times = sorted(time for second in mine["start"] for time in ok.get(int(second), []))
        assert level["percentile_scope"] == "exact"
        if not times:
            assert np.isnan(level["p95_ms"])
            continue
        for fraction, key in ((0.5, "p50_ms"), (0.95, "p95_ms")):
            nearest_rank = times[max(1, math.ceil(fraction * len(times))) - 1]
            assert level[key] == pytest.approx(nearest_rank, abs=0.05), (level["users"], key)  # 0.1 ms bins
        assert level["p95_ms"] <= level["max_ms"] + 0.005  # the max: of the history CSV, to 0.01 ms
        checked += 1
    assert checked >= 2
