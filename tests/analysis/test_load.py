"""The CSV contract: Locust's own columns, real runs read back, and bad input reported in one line."""

from __future__ import annotations

from locust.env import Environment
from locust.stats import PERCENTILES_TO_REPORT, StatsCSVFileWriter

from pathlib import Path

import numpy as np
import pytest

from analysis.load import COLUMNS, InputError, load_run, percentile_key, resolve_prefix

from .conftest import CopyRun, Runs

pytestmark = pytest.mark.slow  # reads the session's real Locust runs (subprocesses)


def _known(kind: str, column: str) -> bool:
    return column in COLUMNS[kind] or percentile_key(column) is not None


def test_the_contract_matches_the_columns_locust_writes(tmp_path: Path) -> None:
    writer = StatsCSVFileWriter(Environment(), PERCENTILES_TO_REPORT, str(tmp_path / "x"), full_history=True)
    try:
        assert all(_known("stats", c) for c in writer.requests_csv_columns)
        assert all(_known("history", c) for c in writer.stats_history_csv_columns)
        assert writer.failures_columns == list(COLUMNS["failures"])
        assert writer.exceptions_columns == list(COLUMNS["exceptions"])
        # and nothing the contract names is missing from Locust's files
        assert set(COLUMNS["stats"]) <= set(writer.requests_csv_columns)
        assert set(COLUMNS["history"]) <= set(writer.stats_history_csv_columns)
    finally:
        writer.close_files()


def test_the_steps_contract_matches_wslocust() -> None:
    shapes = pytest.importorskip("wslocust.load.shapes")
    assert tuple(COLUMNS["steps"]) == tuple(shapes.STEP_CSV_COLUMNS)


def test_wslocust_files_of_a_real_run_are_read(runs: Runs) -> None:
    run = load_run(runs.chatbot)
    assert run.chat_stats is not None
    assert run.chat_history is not None
    names = set(run.stats.loc[run.stats["type"] == "WS", "name"])
    assert set(run.chat_stats["name"]) == names | {"Aggregated"}
    total = run.chat_stats.set_index("name").loc["Aggregated"]
    # the two are counted apart (Locust's CSV is written again once every reply is in)
    assert total["replies"] == run.stats.loc[run.stats["type"] == "WS", "requests"].sum()
    assert 0 < total["ttft_p50_ms"] <= total["ttft_p95_ms"] <= total["ttft_max_ms"]
    assert run.chat_history["timestamp"].is_monotonic_increasing
    if run.failed_replies is not None and len(run.failed_replies):
        assert set(run.failed_replies["kind"]) <= {"server", "unexpected", "client"}


def test_a_full_history_run_is_read_with_its_names_and_percentiles(runs: Runs) -> None:
    run = load_run(runs.synthetic_full)
    assert run.label == "run"
    assert run.full_history
    names = set(run.stats["name"])
    assert {"billing", "shipping", "NA", 'order "status", eu', "connect"} <= names  # "NA" is a name
    assert set(run.history_by_name["name"]) == names
    assert (run.history["name"] == "Aggregated").all()
    assert run.history["timestamp"].is_monotonic_increasing
    assert run.history["timestamp"].is_unique
    assert run.percentiles[0] == "p50"
    assert run.percentiles[-1] == "p100"
    assert run.total["requests"] == run.stats["requests"].sum() > 100
    assert set(run.failures["kind"]) == {"client", "server", "unexpected"}
    replies = run.failed_replies
    assert replies is not None
    assert set(replies["kind"]) == {"server", "unexpected"}  # handshakes are not failed replies
    assert (replies["end"] > replies["time"]).all()
    # Locust's last CSV write may miss a failure or two of the stop; the JSON lines are written after
    in_csv = run.failures[run.failures["method"] == "WS"]["occurrences"].sum()
    assert in_csv <= len(replies) <= in_csv + 5
    assert run.exceptions["count"].sum() >= 0


def test_a_plain_run_has_cumulative_history_and_no_wslocust_file(runs: Runs) -> None:
    run = load_run(runs.synthetic_plain)
    assert not run.full_history
    assert run.history_by_name.empty
    assert run.failed_replies is None
    assert run.chat_stats is None
    assert run.steps is None
    # Locust writes N/A before the first request: NaN, not a string, and the column stays numeric
    assert np.isnan(run.history["p50"].iloc[0])
    assert run.history["p50"].dtype == np.float64


def test_a_zero_request_run_reads_as_zeros_and_nans(runs: Runs) -> None:
    run = load_run(runs.silent)
    assert run.stats.empty
    assert run.total["requests"] == 0
    assert np.isnan(run.total["p50"])
    assert run.failures.empty
    assert len(run.history) >= 2


def test_the_prefix_can_be_given_as_a_file_or_a_directory(runs: Runs) -> None:
    prefix = runs.chatbot
    assert resolve_prefix(prefix) == prefix
    assert resolve_prefix(prefix.with_name("run_stats_history.csv")) == prefix
    assert resolve_prefix(str(prefix.with_name("run_failures.csv"))) == prefix
    assert resolve_prefix(prefix.parent) == prefix


def _error(spec: Path | str) -> str:
    with pytest.raises(InputError) as caught:
        load_run(spec)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_missing_history_file_is_named(runs: Runs, copy_run: CopyRun) -> None:
    prefix = copy_run(runs.synthetic_plain, skip=("_stats_history.csv",))
    message = _error(prefix)
    assert message.startswith(f"{prefix}_stats_history.csv: no such file")


def test_an_unknown_prefix_is_named(tmp_path: Path) -> None:
    assert "no Locust CSV output with prefix" in _error(tmp_path / "nothing")


def test_a_directory_with_two_runs_asks_for_a_prefix(runs: Runs, copy_run: CopyRun) -> None:
    first = copy_run(runs.synthetic_plain, "a")
    copy_run(runs.synthetic_plain, "b")
    assert "found a_stats.csv, b_stats.csv" in _error(first.parent)


def test_an_empty_file_is_named(runs: Runs, copy_run: CopyRun) -> None:
    prefix = copy_run(runs.synthetic_plain)
    prefix.with_name("run_failures.csv").write_text("")
    assert _error(prefix) == f"{prefix}_failures.csv: empty file (no CSV header)"


def test_a_file_of_another_kind_is_named_with_the_missing_column(runs: Runs, copy_run: CopyRun) -> None:
    prefix = copy_run(runs.synthetic_plain)
    prefix.with_name("run_stats.csv").write_text("a,b\n1,2\n")
    message = _error(prefix)
    assert message.startswith(f"{prefix}_stats.csv: missing column 'Type'")


def test_a_value_that_is_not_a_number_is_named_with_its_line(runs: Runs, copy_run: CopyRun) -> None:
    prefix = copy_run(runs.synthetic_plain)
    path = prefix.with_name("run_stats_history.csv")
    lines = path.read_text().splitlines()
    cells = lines[3].split(",")
    cells[-7] = "lots"  # Total Request Count
    lines[3] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    assert _error(prefix) == f"{path}: line 4, column 'Total Request Count': not a number: 'lots'"


def test_a_broken_failed_replies_line_is_named(runs: Runs, copy_run: CopyRun) -> None:
    prefix = copy_run(runs.synthetic_plain)
    prefix.with_name("run_failed_replies.jsonl").write_text('{"time": 1, "name": "a"}\n{"name": "b"}\n')
    assert _error(prefix).startswith(f"{prefix}_failed_replies.jsonl: line 2: not a failed reply")


def test_a_binary_file_is_reported_not_raised(runs: Runs, copy_run: CopyRun) -> None:
    prefix = copy_run(runs.synthetic_plain)
    prefix.with_name("run_failures.csv").write_bytes(b"\xff\xfe\x00garbage\n\x00\x81")
    assert "not a readable CSV file" in _error(prefix)


def test_a_history_cut_short_by_a_killed_run_loses_only_its_last_line(
    runs: Runs, copy_run: CopyRun, caplog: pytest.LogCaptureFixture
) -> None:
    prefix = copy_run(runs.synthetic_plain)
    path = prefix.with_name("run_stats_history.csv")
    complete = load_run(prefix).history
    text = path.read_text()
    path.write_text(text + text.splitlines()[-1][:30])  # a row written halfway
    history = load_run(prefix).history
    assert len(history) == len(complete)
    assert "ignored 1 incomplete row" in caplog.text


def test_a_broken_histograms_line_is_named(runs: Runs, copy_run: CopyRun) -> None:
    prefix = copy_run(runs.chatbot)
    path = prefix.with_name("run_chat_histograms.jsonl")
    first = path.read_text().splitlines()[0]
    path.write_text(first + '\n{"time": 2, "name": "b", "latency_ms": {"count": 1}}\n')
    assert _error(prefix).startswith(f"{path}: line 2: not a second's histograms")


def test_the_histograms_of_a_real_run_hold_each_seconds_successful_replies(runs: Runs) -> None:
    run = load_run(runs.chatbot)
    assert run.chat_histograms is not None
    assert run.chat_history is not None
    rows = run.chat_history[run.chat_history["name"] == "Aggregated"]
    successes = {int(row.timestamp): int(row.replies_per_s - row.failures_per_s) for row in rows.itertuples()}
    counts = {second: fields["latency_ms"].count for second, fields in run.chat_histograms.items()}
    assert {second: count for second, count in counts.items() if count} == {
        second: count for second, count in successes.items() if count
    }
