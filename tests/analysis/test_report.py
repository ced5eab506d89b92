"""``report``: one self-contained HTML file with the summary, tables, failures and figures."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from analysis.load import load_run
from analysis.report import main, render_report

from .conftest import STRESS_SECRET, CopyRun, Runs

pytestmark = pytest.mark.slow  # reads the session's real Locust runs (subprocesses)


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(document: str) -> _Collect:
    parser = _Collect()
    parser.feed(document)
    return parser


def test_the_report_is_self_contained_with_every_section(runs: Runs) -> None:
    document = render_report(load_run(runs.synthetic_full))
    parsed = _parse(document)
    streaming = _parse(render_report(load_run(runs.chatbot)))
    assert "Streaming replies" in " ".join(streaming.text)
    for card in ("replies (WS)", "replies/s (WS)", "avg ms (WS)", "Per users level (WS replies)"):
        assert card in streaming.text
    assert len([t for t, _ in streaming.tags if t == "img"]) == 4  # with the CDF of its histograms
    text = " ".join(parsed.text)
    for heading in (
        "Errors by kind",
        "Per users level",
        "Per request name",
        "Failures by error",
        "Exceptions in tasks",
        "Figures",
        "Definitions",
    ):
        assert heading in text
    # nothing fetched from elsewhere: no external script, stylesheet or image
    assert not [t for t, a in parsed.tags if t in {"script", "link"}]
    images = [a["src"] or "" for t, a in parsed.tags if t == "img"]
    assert len(images) == 2
    for src in images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG")
    assert not re.search(r"""(src|href)=["']https?:""", document)
    # names and errors are escaped, not injected
    assert "order &quot;status&quot;, eu" in document
    assert "ProtocolError(&quot;unreadable message" in document


def test_a_zero_request_report_still_renders(runs: Runs) -> None:
    document = render_report(load_run(runs.silent))
    text = " ".join(_parse(document).text)
    assert "Load test report: run" in text
    assert "Failures by error" not in text


def test_main_writes_prefix_report_html(
    runs: Runs, copy_run: CopyRun, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = copy_run(runs.chatbot)
    assert main([str(prefix)]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path == prefix.with_name("run_report.html")
    assert path.read_text().startswith("<!DOCTYPE html>")
    assert path.stat().st_size > 50_000


def test_the_report_says_what_was_run_the_verdict_and_the_breaking_point(
    stress_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = json.loads(Path(f"{stress_run}.json").read_text())
    point = summary["steps"]["breaking_point"]
    assert point is not None
    assert point["users"] == 2  # the step of 2 users passed, that of 4 broke
    assert main([str(stress_run)]) == 0  # finds PREFIX.json by itself
    document = Path(capsys.readouterr().out.strip()).read_text()
    text = " ".join(_parse(document).text)
    assert f"Target host {summary['run']['host']}" in text
    assert summary["run"]["host"].startswith("ws://127.0.0.1:")
    assert "s3cr3t" not in document  # neither the header's nor the URL's query
    assert STRESS_SECRET not in document
    assert "Users set by the load shape" in text
    for setting in ("Protocol json", "Load shape stress", "--step-users 2", "--stress-p95-ms 250"):
        assert setting in text, setting
    assert "Verdict: FAIL (1 of 2 gates failed)" in text
    assert "min_rps >= 100,000 req/s" in text
    assert "Breaking point (users of the last good step) 2" in text
    assert f"Why it broke {point['reason']}" in text
    assert summary["steps"]["message"] in text


def test_without_a_summary_the_report_says_what_it_cannot_tell(runs: Runs) -> None:
    text = " ".join(_parse(render_report(load_run(runs.chatbot))).text)
    assert "Target and settings unknown: no JSON summary" in text
    assert "Verdict" not in text


def test_a_summary_that_is_not_json_is_one_line_naming_it(
    runs: Runs, copy_run: CopyRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = copy_run(runs.chatbot)
    broken = tmp_path / "summary.json"
    broken.write_text("{not json")
    assert main([str(prefix), "--summary-json", str(broken)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert error.endswith(
        f"{broken}: not a JSON summary (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"
    )
