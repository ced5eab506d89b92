"""The failed replies file: one JSON object a failed reply."""

from __future__ import annotations

import json
from pathlib import Path

from wslocust.errors import BotError, MetricFailure
from wslocust.outputs import FailedPairsWriter
from wslocust.stats import ChatStats

from ..conftest import make_reply


def test_failed_pairs_file_has_one_json_object_a_line(tmp_path: Path) -> None:
    stats = ChatStats()
    stats.record(make_reply("a", text="nope", error=BotError("bot failed")))
    stats.record(
        make_reply(
            "b",
            text="réponse",
            error=MetricFailure("metric failed: recall=0"),
            scores={"recall": 0.0},
            missed=["recall"],
        )
    )
    stats.record(make_reply("c"))
    path = tmp_path / "failed.jsonl"
    writer = FailedPairsWriter(path)

    writer.write(stats.take_failed())
    writer.close()

    lines = path.read_text(encoding="utf-8").splitlines()
    pairs = [json.loads(line) for line in lines]
    assert len(pairs) == 2
    assert {key for pair in pairs for key in pair} >= {"prompt", "reply", "error", "kind", "scores"}
    assert (pairs[0]["prompt"], pairs[0]["reply"], pairs[0]["error"], pairs[0]["kind"]) == (
        "ask a",
        "nope",
        "bot failed",
        "bot_error",
    )
    assert (pairs[1]["reply"], pairs[1]["kind"], pairs[1]["scores"]) == (
        "réponse",
        "metric_failure",
        {"recall": 0.0},
    )
    assert "réponse" in lines[1]


def test_failed_pairs_writer_appends_over_calls(tmp_path: Path) -> None:
    path = tmp_path / "failed.jsonl"
    writer = FailedPairsWriter(path)

    writer.write([{"prompt": "1"}])
    writer.write([{"prompt": "2"}, {"prompt": "3"}])
    writer.close()

    assert [json.loads(line)["prompt"] for line in path.read_text(encoding="utf-8").splitlines()] == [
        "1",
        "2",
        "3",
    ]
