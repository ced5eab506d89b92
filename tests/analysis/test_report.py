"""``report``: one self-contained HTML file with the summary, tables, failures and figures."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from analysis.load import load_run
from analysis.report import main, render_report

from .conftest import CopyRun, Runs

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
    assert len([t for t, _ in streaming.tags if t == "img"]) == 3
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
