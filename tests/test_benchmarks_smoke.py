"""The benchmarks still run: each figure of ``benchmarks/run.py`` for about a second (``--quick``),
``wss://`` ones against the target's TLS mode and users per core against its LLM-paced mode.

This measures nothing (the figures of a one-second run on a busy CI machine mean little); it keeps
the benchmark programs, the Node target and their install step working. ``run.py`` installs the
target's ``ws`` package with ``npm ci --prefix benchmarks`` when ``benchmarks/node_modules`` lacks it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, UNIT

FIGURES = "efficiency,compression,streaming,connections,fidelity,per_chunk,efficiency_wss,fidelity_wss,users_per_core"


@pytest.mark.slow
def test_every_benchmark_runs_for_a_second_and_reports_its_figures(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--only", FIGURES, "--json", str(output)],
        cwd=ROOT, capture_output=True, text=True, timeout=300 * UNIT, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(output.read_text())
    medians = report["medians"]
    assert report["machine"]["versions"]["ws"]
    for user in ("wslocust", "naive"):
        efficiency = medians["efficiency"][user]
        assert efficiency["round_trips"] > 0
        assert efficiency["failures"] == 0
        assert efficiency["us_per_round_trip"] > 0
    runs = report["runs"]["efficiency"]
    assert [run["relative_to_naive"] for run in runs] == [
        run["wslocust"]["us_per_round_trip"] / run["naive"]["us_per_round_trip"] for run in runs
    ]
    compression = medians["compression"]
    for name in ("none", "deflate"):
        assert compression[name]["round_trips"] > 0
        assert compression[name]["failures"] == 0
    assert (
        compression["deflate"]["server"]["deflated"] == compression["deflate"]["users"]
    )  # every one compressed
    assert compression["none"]["server"]["deflated"] == 0
    assert compression["relative_to_uncompressed"] > 0
    assert compression["codec_us_per_round_trip"] > 0
    for pace in ("burst", "paced"):
        streaming = medians["streaming"][pace]
        assert streaming["failures"] == 0
        assert streaming["chunks"] == 100 * streaming["replies_recorded"] > 0
        assert streaming["us_per_chunk"] > 0
    connections = medians["connections"]["200"]  # the quick run holds 200 idle connections
    assert connections["held"] == connections["users"] == 200
    assert connections["connections_without_pong"] == 0
    assert connections["server"]["terminated"] == 0
    assert 0 < connections["bytes_per_connection"] < 1_000_000
    fidelity = medians["fidelity"]
    assert fidelity["reference"]["replies"] > 0
    assert fidelity["replies_recorded"] > 0
    for key in ("ttft_p50_ms", "ttft_p99_ms", "total_p50_ms", "total_p99_ms"):
        assert fidelity[key] >= 20.0  # the target injects 20 ms before the first chunk
        assert fidelity[f"{key}_difference"] is not None
    assert "| Figure |" in result.stdout
    assert "scaled to where the reference costs 28 µs" in result.stdout
    # The quick run's one per-chunk case: openai-realtime chunks 2 ms apart on wss://.
    for case in ("wss openai-realtime paced",):
        figure = medians["per_chunk"][case]
        for user in ("wslocust", "naive-stream"):
            assert figure[user]["failures"] == 0
            assert figure[user]["us_per_chunk"] > 0
        assert figure["wslocust"]["chunks"] == 10 * figure["wslocust"]["replies_recorded"] > 0
        assert figure["relative_to_naive"] == pytest.approx(
            figure["wslocust"]["us_per_chunk"] / figure["naive-stream"]["us_per_chunk"]
        )
    efficiency = medians["efficiency_wss"]
    for user in ("wslocust", "naive"):
        assert efficiency[user]["round_trips"] > 0
        assert efficiency[user]["failures"] == 0
        assert efficiency[user]["server"]["connections"] == efficiency[user]["users"]  # over TLS
    assert efficiency["relative_to_naive"] > 0
    assert efficiency["wslocust_ws"]["round_trips"] > 0  # the floor's ws:// round trip, same run
    assert efficiency["wslocust_ws"]["failures"] == 0
    assert efficiency["tls_records_us_per_round_trip"] > 0
    assert efficiency["floor_relative_to_naive"] == pytest.approx(
        (efficiency["wslocust_ws"]["us_per_round_trip"] + efficiency["tls_records_us_per_round_trip"])
        / efficiency["naive"]["us_per_round_trip"]
    )
    fidelity = medians["fidelity_wss"]
    assert fidelity["reference"]["replies"] > 0
    assert fidelity["replies_recorded"] > 0
    for key in ("ttft_p50_ms", "ttft_p99_ms", "total_p50_ms", "total_p99_ms"):
        assert fidelity[key] >= 20.0  # the target injects 20 ms before the first chunk
        assert fidelity[f"{key}_difference"] is not None
    users_per_core = medians["users_per_core"]
    assert users_per_core["failures"] == 0
    assert users_per_core["connected"] == users_per_core["users"] >= 20  # 20 first, 40 at most
    assert report["runs"]["users_per_core"][0]["ramp_ended"] in (
        "reached",
        "target late",
        "ceiling",
        "rounds",
    )
    assert users_per_core["replies_recorded"] > 0
    assert users_per_core["reference"]["replies"] > 0
    # A client sees each chunk after the target sent it: its time beyond the target's is positive.
    assert users_per_core["ttft_beyond_target_p50_ms"] > 0
    assert users_per_core["reference"]["total_beyond_target_p50_ms"] > 0
    for key in ("ttft_p99_ms", "ttft_beyond_target_p50_ms", "total_beyond_target_p99_ms"):
        assert users_per_core[f"{key}_difference"] is not None
    assert users_per_core["users_per_core"] > 0
    # The target's own CPU a chunk (its counts over the window), and what 10,000 users would need.
    assert users_per_core["server_us_per_chunk"] > 0
    assert users_per_core["needs"]["locust_cores"] > 0
    assert users_per_core["needs"]["target_cores"] > 0
    assert "what 10,000 users need" in result.stdout
    # Where a chunk's CPU goes: the kernel's TCP counts of the users' connections over the window
    # (a data segment read is ACKed, at once or with the next) and the collector's share.
    assert users_per_core["segments_received"] > 0
    assert 0.3 <= users_per_core["acks_per_segment"] <= 2.0
    assert 0 <= users_per_core["gc_share_of_cpu"] < 1
    assert "ACKs a segment" in result.stdout
    for target in ("≤ 0.25 of the naive user's", "| ≤ 0.6 |", "≥ 10,000"):
        assert target in result.stdout
