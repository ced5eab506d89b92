"""`repeat`: a test N times, each headline figure with its spread; `compare` of two sets by spread."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from analysis.compare import main as compare_main
from analysis.repeat import compare_sets
from analysis.repeat import main as repeat_main

from .conftest import CopyRun, Runs

COPY_RUN = """
import shutil, sys
from pathlib import Path
source, target = Path(sys.argv[1]), sys.argv[sys.argv.index("--csv") + 1]
for path in source.parent.glob(source.name + "_*"):
    shutil.copy(path, target + path.name[len(source.name):])
"""
"""A stand-in for a Locust command: writes a finished run's files under the --csv prefix it is given."""


def test_repeat_runs_the_command_n_times_each_under_its_own_prefix(
    runs: Runs, copy_run: CopyRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = copy_run(runs.chatbot, "source")
    command = [sys.executable, "-c", COPY_RUN, str(source)]
    assert repeat_main(["-n", "3", "-o", str(tmp_path / "set"), "--", *command]) == 0
    result = json.loads((tmp_path / "set_repeat.json").read_text())
    assert result["runs"] == [str(tmp_path / f"set_{index}") for index in (1, 2, 3)]
    replies = result["figures"]["requests_per_s"]
    assert len(replies["values"]) == 3
    # the same files three times: no spread
    assert replies["min"] == replies["median"] == replies["max"] > 0
    assert replies["spread"] == 0
    assert "replies/s" in capsys.readouterr().out


def test_repeat_reports_the_spread_of_runs_made_already(
    runs: Runs, copy_run: CopyRun, tmp_path: Path
) -> None:
    prefixes = [
        str(copy_run(prefix, name)) for prefix, name in ((runs.chatbot, "a"), (runs.synthetic_full, "b"))
    ]
    assert repeat_main(["-o", str(tmp_path / "set"), "--runs", *prefixes]) == 0
    figure = json.loads((tmp_path / "set_repeat.json").read_text())["figures"]["p95_ms"]
    assert figure["min"] == min(figure["values"])
    assert figure["max"] == max(figure["values"])
    assert figure["spread"] == pytest.approx((figure["max"] - figure["min"]) / figure["median"])


def test_repeat_without_a_command_or_runs_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert repeat_main(["-o", str(tmp_path / "set")]) == 2
    assert "give the command to repeat" in capsys.readouterr().err


def figure_set(**figures: tuple[float, float, float]) -> dict[str, Any]:
    """A repeat set of figures given as (min, median, max); ``error_rate`` is a rate (points)."""
    return {
        "figures": {
            key: {
                "title": key,
                "better": "higher" if key == "requests_per_s" else "lower",
                "points": key == "error_rate",
                "min": low,
                "median": mid,
                "max": high,
            }
            for key, (low, mid, high) in figures.items()
        }
    }


@pytest.mark.parametrize(
    ("base", "run", "verdict"),
    [
        ((100, 105, 110), (130, 135, 140), "regression"),  # +29 %, the ranges apart
        ((100, 105, 150), (130, 135, 140), "noise"),  # +29 %, within the baseline's own spread
        ((100, 105, 110), (108, 110, 112), "same"),  # +5 %, under the tolerance
        ((100, 105, 110), (70, 75, 80), "better"),
    ],
)
def test_a_latency_regresses_only_past_the_tolerance_and_outside_the_spread(
    base: tuple[float, float, float], run: tuple[float, float, float], verdict: str
) -> None:
    (row,) = compare_sets(figure_set(p95_ms=base), figure_set(p95_ms=run), tolerance=10, error_tolerance=1)
    assert row["verdict"] == verdict


def test_a_throughput_falling_apart_from_the_baseline_regresses() -> None:
    (row,) = compare_sets(
        figure_set(requests_per_s=(95, 100, 105)), figure_set(requests_per_s=(70, 75, 80)),
        tolerance=10, error_tolerance=1,
    )  # fmt: skip
    assert (row["verdict"], round(row["change"])) == ("regression", -25)


def test_an_error_rate_is_judged_in_percentage_points() -> None:
    (row,) = compare_sets(
        figure_set(error_rate=(0.01, 0.01, 0.012)), figure_set(error_rate=(0.03, 0.035, 0.04)),
        tolerance=10, error_tolerance=1,
    )  # fmt: skip
    assert (row["verdict"], row["change"]) == ("regression", pytest.approx(2.5))


def test_compare_of_two_sets_exits_1_on_a_regression_and_0_on_noise(tmp_path: Path) -> None:
    sets = {
        "base": figure_set(p95_ms=(100, 105, 110)),
        "worse": figure_set(p95_ms=(130, 135, 140)),
        "noisy": figure_set(p95_ms=(100, 135, 140)),
    }
    for name, content in sets.items():
        (tmp_path / f"{name}_repeat.json").write_text(json.dumps(content))
    assert compare_main([str(tmp_path / "base"), str(tmp_path / "worse")]) == 1
    assert compare_main([str(tmp_path / "base"), str(tmp_path / "noisy")]) == 0
